"""tests/legacy/fork_pool: children of a process that has resolved names
(its thread pool started) exit and resolve names themselves, as PostgreSQL's
start-up process and backends do. Found by test_postgres.py.

Under the preload today (issue 8 item 9, on another branch): the child's
exit() dies with SIGSEGV (libuv's exit-time uv_library_shutdown joins pool
threads the child does not have), and the child's getnameinfo never returns
or crashes: libuv starts a new pool in the child, but the parking lot
(hub/parking_lot.cc) still queues the parent's pool threads as waiters on
libuv's pool condition variable, so the child's signal wakes a thread that
does not exist and the new pool threads sleep on."""

import pytest

import harness

NAME = "fork_pool"


def test_native():
    r = harness.native(NAME)
    assert not r.timed_out and r.returncode == 0, r.describe()
    assert r.stdout == harness.golden(NAME), harness.diff(harness.golden(NAME), r.stdout)


@pytest.mark.xfail(strict=True, reason="issue 8 item 9: a forked child's exit and thread pool")
def test_preload():
    n = harness.native(NAME)
    r = harness.preloaded(NAME)
    assert not r.timed_out, r.describe()
    assert r.stdout == n.stdout, harness.diff(n.stdout, r.stdout, "native", "preloaded")
    assert r.returncode == n.returncode, r.describe()
