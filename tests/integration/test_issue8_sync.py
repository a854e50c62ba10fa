"""Issue 8, items 1, 3, 12 (parts), 13 and 14: plain C programs natively and
under LD_PRELOAD=libgreen.so, and Python's multiprocessing.

- pshared_procs: named and process-shared semaphores posted back and forth
  with a forked child, 100 threads on one process-shared condition variable
  woken by the child's broadcast, pthread_cancel of a waiter on one, a
  process-shared barrier of 40 threads and the child.
- wrong_end: I/O on a pipe's other end, on fds opened for the other
  direction, on sockets shut down one way: the native errno at once.
- raw_syscalls: syscall(SYS_read, ...) and friends take the green path (a
  ticker thread runs while they wait); a raw io_uring_enter waits green.
- thread_ids: a second pthread_join, a detach of a joined thread, the
  scheduling policy and parameters of green threads, rwlock_destroy of a
  held lock.
- python/multiproc.py: multiprocessing's Lock, Queue, Event, BoundedSemaphore
  and ProcessPoolExecutor (sem_open semaphores) under the preload; a child and
  a pool worker killed by a SIGSEGV they send themselves (BrokenProcessPool).

Natively: the known-good output in expected/NAME.out. Under the preload:
stdout, stderr and exit status identical to the native run."""

from pathlib import Path

import pytest

import harness

CASES = ["pshared_procs", "wrong_end", "raw_syscalls", "thread_ids"]
PRELOAD_TIMEOUT = 20.0
HERE = Path(__file__).resolve().parent / "python"


def check(expected_name, r, how):
    assert not r.timed_out, r.describe()
    expected = harness.golden(expected_name)
    assert r.stdout == expected, "%s output differs from expected/%s.out:\n%s\n%s" % (
        how, expected_name, harness.diff(expected, r.stdout, "expected", how), r.describe())
    assert r.returncode == 0, r.describe()
    assert r.stderr == "", r.describe()


@pytest.mark.parametrize("name", CASES)
def test_native(name):
    check(name, harness.native(name), "native")


@pytest.mark.parametrize("name", CASES)
def test_preload(name):
    n = harness.native(name)
    r = harness.run([harness.program(name)], preload=True, timeout=PRELOAD_TIMEOUT)
    assert r.stdout == n.stdout, "stdout differs from the native run:\n%s\n%s" % (
        harness.diff(n.stdout, r.stdout, "native", "preloaded"), r.describe())
    check(name, r, "preloaded")


def run_multiproc(preload):
    return harness.run([harness.PYTHON, HERE / "multiproc.py"], preload=preload,
                       env={"PYTHONDONTWRITEBYTECODE": "1"}, timeout=60)


def test_multiprocessing_native():
    check("python-multiproc", run_multiproc(False), "native")


def test_multiprocessing_preload():
    harness.require_lib()
    check("python-multiproc", run_multiproc(True), "preloaded")
