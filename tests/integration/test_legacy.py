"""Each unmodified legacy program, natively and under LD_PRELOAD=libgreen.so.

Natively: the output must be the known-good one in expected/CASE.out (every
verdict line good), with the expected exit status, and where the program
keeps 1,000+ threads alive the OS must really have seen 1,000+ threads.

Under the preload: stdout, stderr and exit status identical to the native run,
and where the program keeps 1,000+ threads alive the OS sees at most 2."""

import os
from dataclasses import dataclass

import pytest

import harness


@dataclass(frozen=True)
class Case:
    name: str
    args: tuple = ()
    status: int = 0
    many_threads: bool = False  # prints "ready" with 1,000+ threads alive
    max_seconds: float = 0  # it must end this quickly (0: only the run timeout)

    @property
    def id(self):
        return "-".join((self.name, *self.args))


CASES = [
    Case("sleepers", many_threads=True),
    Case("pipes"),
    Case("rcvtimeo_fanout", many_threads=True),
    Case("multiplexer"),
    Case("threads"),
    Case("signals", ("read",)),
    Case("signals", ("wait",)),
    # the blocked threads sleep 10 s: ending sooner proves nobody waited for them
    # (9 s leaves room for a loaded machine)
    Case("exit_paths", ("exit",), status=7, max_seconds=9),
    Case("exit_paths", ("return",), status=3, max_seconds=9),
    Case("exit_paths", ("pthread_exit",), status=0, max_seconds=9),
    # every successful hooked call leaves errno alone
    Case("errno_kept"),
    # per-thread masks and pending sets; handlers never on the hub
    *(Case("signal_fidelity", (phase,))
      for phase in ("pending", "process", "inherit", "fork", "exit", "join", "pipe", "abort",
                    "jump", "block")),
    # issue 9: each green thread a whole thread (TLS, ids, exception state)
    Case("tls_vars", many_threads=True),
    Case("tls_objects"),
    Case("tls_server"),
    Case("stack_guard"),
    Case("pshared_owner"),  # issue 8 item 2: owners of glibc's own mutexes by thread id
    Case("string_buffers"),
    Case("ie_tls_dlopen"),
    Case("malloc_threads"),  # green threads share their OS thread's malloc arena and cache  # issue 9: initial-exec TLS of a library dlopen'ed while threads live  # issue 9 item 6: strsignal/strerror buffers per thread, freed at exit
    Case("preempt"),  # issue 10: time slices, spinning polls, asynchronous cancellation
    Case("lone_compute"),  # issue 10: a thread that computes with nobody else to run
    # issue 10: blocking System V calls that the kernel never restarts get no
    # EINTR from the runtime's time slices while another thread computes
    Case("sysv_waits"),
    # issue 8 items 9, 10, 15: a forked child exits after the pool ran, ptrace
    # and job-control stops reach waitpid, exit with the heap exhausted
    Case("child_exits"),
    Case("child_exits", ("heap-self",), status=5),
    # issue 8 item 8: the runtime's own fds are high, hidden and survive
    # the program's closing of every fd
    Case("own_fds"),
    # ... and fstat's kin do not see them, also under a lowered RLIMIT_NOFILE
    Case("fd_probes"),
    # a SIGSEGV sent with raise or kill ends the process, as natively
    Case("sent_faults"),
]
if os.geteuid() == 0:
    # setgid/setuid after the resolver's threads started (drops to nobody)
    CASES.append(Case("signal_fidelity", ("setxid",)))

MANY = 1000
GREEN_MAX_THREADS = 2


def check_native(case, r):
    assert not r.timed_out, r.describe()
    expected = harness.golden(case.id)
    assert r.stdout == expected, "native output differs from expected/%s.out:\n%s\n%s" % (
        case.id, harness.diff(expected, r.stdout, "expected", "native"), r.describe())
    assert r.returncode == case.status, r.describe()
    assert r.stderr == "", r.describe()
    if case.max_seconds:
        assert r.elapsed < case.max_seconds, r.describe()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_native(case):
    r = harness.native(case.name, case.args, ready_fd=case.many_threads)
    check_native(case, r)
    if case.many_threads:
        assert r.peak_threads >= MANY, (
            f"natively only {r.peak_threads} OS threads were seen: the program did not "
            f"really keep {MANY} threads alive\n" + r.describe())


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_preload(case):
    n = harness.native(case.name, case.args, ready_fd=case.many_threads)
    r = harness.preloaded(case.name, case.args, ready_fd=case.many_threads)
    assert not r.timed_out, r.describe()
    assert r.stdout == n.stdout, "stdout differs from the native run:\n%s\n%s" % (
        harness.diff(n.stdout, r.stdout, "native", "preloaded"), r.describe())
    assert r.returncode == n.returncode, (
        f"exit status {r.returncode} under the preload, {n.returncode} natively\n" + r.describe())
    assert r.stderr == n.stderr, "stderr differs from the native run:\n%s\n%s" % (
        harness.diff(n.stderr, r.stderr, "native", "preloaded"), r.describe())
    # the same verdicts as the known-good output, even if the native run was off
    check_native(case, r)
    if case.many_threads:
        assert r.peak_threads <= GREEN_MAX_THREADS, (
            f"under the preload the OS saw {r.peak_threads} threads (at most "
            f"{GREEN_MAX_THREADS} expected): the program's threads were not green\n" + r.describe())


# With GREEN_TLS=shared the green threads of one OS thread share their
# thread-local storage: the TLS programs must see it, or they prove nothing.
@pytest.mark.parametrize("name", ["tls_vars", "tls_objects", "tls_server", "pshared_owner",
                                  "string_buffers", "ie_tls_dlopen"])
def test_shared_tls_is_visible(name):
    r = harness.preloaded(name, env={"GREEN_TLS": "shared"})
    assert not r.timed_out, r.describe()
    assert r.stdout != harness.native(name).stdout, (
        "with GREEN_TLS=shared the output should show the shared TLS\n" + r.describe())


@pytest.mark.parametrize("value", ["bogus", "", "Private"])
def test_bad_tls(value):
    from test_issue4 import assert_rejected
    assert_rejected("GREEN_TLS", value, ("private", "shared"), "threads")


@pytest.mark.parametrize("value", ["0", "1001", "10ms", "", "on"])
def test_bad_timeslice(value):
    from test_issue4 import assert_rejected
    assert_rejected("GREEN_TIMESLICE", value, ("off", "1", "1000"), "threads")
