"""The synchronisation legacy programs (issue 3), natively and under
LD_PRELOAD=libgreen.so: mutexes, condition variables, rwlocks, a barrier of
100 threads, pthread_once, thread-specific data, semaphores, the calls that
take a pthread_t with cancellation and spin locks, and the C++ standard
library's threads and locks.

Natively: the output must be the known-good one in expected/NAME.out (every
verdict line good), exit status 0, nothing on stderr, within 20 seconds,
and where a phase keeps many threads alive the OS must have seen them.

Under the preload: stdout, stderr and exit status identical to the native run
(and so to expected/NAME.out), and where a phase keeps many threads alive the
OS sees at most 2. A run whose hub sits in a glibc futex wait for 2 s is
killed at once and reported as such (that is the hang these programs provoke
while the locks are glibc's)."""

from dataclasses import dataclass

import pytest

import harness

# The programs sleep about 2 s in all; many of their sleeps are 1 ms ones taken in turn, which
# a loaded 2-core CI machine (ctest -j 2 beside the ASan build) stretches: generous on purpose.
NATIVE_MAX_SECONDS = 20
GREEN_MAX_THREADS = 2
STALL_AFTER = 2.0  # seconds in futex on the hub's OS thread: a hang
PRELOAD_TIMEOUT = 20.0


@dataclass(frozen=True)
class Case:
    name: str
    # the program prints "ready" while at least this many threads are alive
    # (0: no such phase)
    many_threads: int = 0

    @property
    def id(self):
        return self.name


CASES = [
    Case("mutexes", many_threads=64),  # 64 queued on a mutex held across a read
    Case("condvar", many_threads=32),  # 32 waiting for one broadcast
    Case("rwlock"),
    Case("barrier", many_threads=100),  # a barrier of 100 threads
    Case("once"),
    Case("tsd"),
    Case("semaphores"),
    Case("thread_ops"),
    Case("cxx_sync"),
    Case("pshared"),  # a process-shared mutex, condvar and barrier with a forked child
]


def check_verdicts(case, r, how):
    assert not r.timed_out, r.describe()
    expected = harness.golden(case.id)
    assert r.stdout == expected, "%s output differs from expected/%s.out:\n%s\n%s" % (
        how, case.id, harness.diff(expected, r.stdout, "expected", how), r.describe())
    assert r.returncode == 0, r.describe()
    assert r.stderr == "", r.describe()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_native(case):
    r = harness.native(case.name)
    check_verdicts(case, r, "native")
    assert r.elapsed < NATIVE_MAX_SECONDS, r.describe()
    if case.many_threads:
        assert r.threads_at_ready is not None, "no 'ready' line was seen\n" + r.describe()
        assert r.peak_threads >= case.many_threads, (
            f"natively only {r.peak_threads} OS threads were seen: the program did not "
            f"really keep {case.many_threads} threads alive\n" + r.describe())


@harness.needs_green_sync
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_preload(case):
    n = harness.native(case.name)
    r = harness.run([harness.program(case.name)], preload=True, timeout=PRELOAD_TIMEOUT,
                    stall_after=STALL_AFTER)
    assert not r.timed_out, r.describe()
    assert r.stdout == n.stdout, "stdout differs from the native run:\n%s\n%s" % (
        harness.diff(n.stdout, r.stdout, "native", "preloaded"), r.describe())
    assert r.returncode == n.returncode, (
        f"exit status {r.returncode} under the preload, {n.returncode} natively\n" + r.describe())
    assert r.stderr == n.stderr, "stderr differs from the native run:\n%s\n%s" % (
        harness.diff(n.stderr, r.stderr, "native", "preloaded"), r.describe())
    check_verdicts(case, r, "preloaded")
    if case.many_threads:
        assert r.peak_threads <= GREEN_MAX_THREADS, (
            f"under the preload the OS saw {r.peak_threads} threads (at most "
            f"{GREEN_MAX_THREADS} expected): the program's threads were not green\n"
            + r.describe())
