"""Deadlocks under LD_PRELOAD=libgreen.so, and GREEN_DEADLOCK (issue 3).

tests/legacy/deadlock.c: two threads lock two mutexes in opposite order and
block forever while main joins them. Natively it just hangs, so it only runs
under the preload, with a timeout. Before deadlocking it prints each locker's
name and pthread_t and each mutex's address; the report on stderr must have,
for each locker, a line naming it (by its name or its pthread_t in hex) and
the address of the mutex it waits on (the other one).

  GREEN_DEADLOCK=abort        the report, then SIGABRT
  unset or GREEN_DEADLOCK=report
                              the report once, then the process hangs as it
                              would natively (the test kills it)
  any other value             one line on stderr naming GREEN_DEADLOCK and
                              both accepted values, exit status 2, before the
                              program runs
"""

import re
import signal
import subprocess
import threading
import time

import pytest

import harness

REPORT_TIMEOUT = 10.0  # the report comes as soon as the last thread parks
QUIET_PERIOD = 1.5  # after the report: nothing more on stderr, still running


class Running:
    """The deadlock program under the preload, its output collected as it
    comes."""

    def __init__(self, env):
        self.proc = subprocess.Popen([str(harness.program("deadlock"))],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE,
                                     env=harness.environment(True, env))
        self._out, self._err = [], []
        self._lock = threading.Lock()
        self._readers = [threading.Thread(target=self._pump, args=(self.proc.stdout, self._out),
                                          daemon=True),
                         threading.Thread(target=self._pump, args=(self.proc.stderr, self._err),
                                          daemon=True)]
        for r in self._readers:
            r.start()

    def _pump(self, stream, sink):
        for chunk in iter(lambda: stream.read1(65536), b""):
            with self._lock:
                sink.append(chunk)

    @property
    def stdout(self):
        with self._lock:
            return b"".join(self._out).decode(errors="replace")

    @property
    def stderr(self):
        with self._lock:
            return b"".join(self._err).decode(errors="replace")

    def finish(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for r in self._readers:
            r.join(5)

    def describe(self):
        return (f"status {self.proc.poll()}\n--- stdout ---\n{self.stdout}"
                f"--- stderr ---\n{self.stderr}")


def named(stdout):
    """What the program printed before deadlocking: {name: hex value}."""
    found = dict(re.findall(r"^(?:thread|mutex) (\S+) (0x[0-9a-f]+)$", stdout, re.M))
    if set(found) != {"locker-a", "locker-b", "lock_a", "lock_b"} or "deadlocking" not in stdout:
        return None
    return found


def _mentions_hex(line, value):
    digits = value.lower().removeprefix("0x").lstrip("0")
    return re.search(r"(?<![0-9a-f])(0x)?0*" + digits + r"(?![0-9a-f])", line.lower()) is not None


def report_problems(stdout, stderr):
    """Why stderr is not yet a good report (None: it is)."""
    ids = named(stdout)
    if ids is None:
        return "the program did not print its thread and mutex names"
    problems = []
    for locker, waits_on in (("locker-a", "lock_b"), ("locker-b", "lock_a")):
        if not any((locker in line or _mentions_hex(line, ids[locker]))
                   and _mentions_hex(line, ids[waits_on]) for line in stderr.splitlines()):
            problems.append(f"no line names {locker} (or {ids[locker]}) with the mutex it waits "
                            f"on, {waits_on} at {ids[waits_on]}")
    return "; ".join(problems) or None


def wait_for_report(run, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if report_problems(run.stdout, run.stderr) is None:
            return True
        if run.proc.poll() is not None:
            time.sleep(0.2)  # the last output on its way
            return report_problems(run.stdout, run.stderr) is None
        time.sleep(0.05)
    return False


@harness.needs_green_sync
def test_deadlock_abort():
    run = Running({"GREEN_DEADLOCK": "abort"})
    try:
        run.proc.wait(timeout=REPORT_TIMEOUT)
    except subprocess.TimeoutExpired:
        pass
    finally:
        run.finish()
    assert run.proc.returncode == -signal.SIGABRT, (
        "expected the process to die of SIGABRT\n" + run.describe())
    problems = report_problems(run.stdout, run.stderr)
    assert problems is None, problems + "\n" + run.describe()


@harness.needs_green_sync
@pytest.mark.parametrize("value", [None, "report"], ids=["unset", "report"])
def test_deadlock_report_and_hang(value):
    run = Running({"GREEN_DEADLOCK": value} if value else None)
    try:
        reported = wait_for_report(run, REPORT_TIMEOUT)
        assert reported, (f"no deadlock report within {REPORT_TIMEOUT} s: "
                          f"{report_problems(run.stdout, run.stderr)}\n" + run.describe())
        time.sleep(0.3)  # the rest of the report
        first = run.stderr
        time.sleep(QUIET_PERIOD)
        assert run.proc.poll() is None, (
            "the process ended after the report instead of hanging as it would natively\n"
            + run.describe())
        assert run.stderr == first, (
            f"more was printed on stderr after the report (it must come once):\n"
            f"--- at first ---\n{first}--- {QUIET_PERIOD} s later ---\n{run.stderr}")
    finally:
        run.finish()


# ---- GREEN_DEADLOCK values ----

@harness.needs_green_sync
@pytest.mark.parametrize("value", ["bogus", "ABORT", "1"])
def test_bad_deadlock_value(value):
    r = harness.run([harness.program("tsd")], preload=True, env={"GREEN_DEADLOCK": value},
                    stall_after=2.0)
    assert not r.timed_out, r.describe()
    assert r.returncode == 2, f"GREEN_DEADLOCK={value!r}: expected exit status 2\n" + r.describe()
    lines = r.stderr.splitlines()
    assert len(lines) == 1, (
        f"GREEN_DEADLOCK={value!r}: expected exactly one line on stderr\n" + r.describe())
    for word in ("GREEN_DEADLOCK", "report", "abort"):
        assert word in lines[0], f"the line does not mention {word!r}\n" + r.describe()
    assert r.stdout == "", "the program ran anyway\n" + r.describe()


@harness.needs_green_sync
@pytest.mark.parametrize("value", ["report", "abort"])
def test_good_deadlock_value(value):
    """A program without a deadlock runs as natively whatever the setting."""
    n = harness.native("condvar")
    r = harness.run([harness.program("condvar")], preload=True, env={"GREEN_DEADLOCK": value},
                    stall_after=2.0)
    assert not r.timed_out, r.describe()
    assert r.returncode == 0 and r.stderr == "", r.describe()
    assert r.stdout == n.stdout, harness.diff(n.stdout, r.stdout, "native",
                                              f"GREEN_DEADLOCK={value}")
