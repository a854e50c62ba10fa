"""GREEN_* configuration read by the preload library at start-up.

A bad GREEN_STACK_SIZE must stop the program before it runs: exit status 2
and exactly one line on stderr naming the variable. A good one (512K) runs
the program normally, with the same output as natively."""

import pytest

import harness

PROGRAM = "pipes"  # short, and exercises threads, pipes and sockets


@pytest.mark.parametrize("value", ["bogus", "0", "12abc"])
def test_bad_stack_size(value):
    r = harness.preloaded(PROGRAM, env={"GREEN_STACK_SIZE": value})
    assert not r.timed_out, r.describe()
    assert r.returncode == 2, f"GREEN_STACK_SIZE={value!r}: expected exit status 2\n" + r.describe()
    lines = r.stderr.splitlines()
    assert len(lines) == 1, (
        f"GREEN_STACK_SIZE={value!r}: expected exactly one line on stderr\n" + r.describe())
    assert "GREEN_STACK_SIZE" in lines[0], r.describe()


def test_good_stack_size():
    n = harness.native(PROGRAM)
    r = harness.preloaded(PROGRAM, env={"GREEN_STACK_SIZE": "512K"})
    assert not r.timed_out, r.describe()
    assert r.returncode == 0, r.describe()
    assert r.stdout == n.stdout, harness.diff(n.stdout, r.stdout, "native", "GREEN_STACK_SIZE=512K")
    assert r.stderr == "", r.describe()
