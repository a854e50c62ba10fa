"""Helpers for running the unmodified legacy programs natively and under
LD_PRELOAD=libgreen.so, and for counting their OS threads while they run.

Paths come from GREEN_BUILD_DIR (default: <repo>/build):
  $GREEN_BUILD_DIR/libgreen.so        the preload library
  $GREEN_BUILD_DIR/legacy/NAME        the legacy programs

needs_green_sync marks every test that runs a program under the preload and
needs the green synchronisation primitives (issue 3).
"""

import difflib
import os
import resource
import subprocess
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("GREEN_BUILD_DIR", REPO / "build")).resolve()
LIB = BUILD / "libgreen.so"
LEGACY = BUILD / "legacy"
EXPECTED = Path(__file__).resolve().parent / "expected"

# Natively every program ends in well under 5 s; this only stops a hang.
TIMEOUT = float(os.environ.get("GREEN_TEST_TIMEOUT", "30"))
SAMPLE_INTERVAL = 0.02

# Issue 3: the tests that need green mutexes, condition variables, rwlocks,
# barriers, once, semaphores, thread-specific data and the deadlock report are
# expected to fail until those land. Set this to False (one place) when they
# have: the marked tests then run as ordinary tests.
GREEN_SYNC_PENDING = False
needs_green_sync = pytest.mark.xfail(
    GREEN_SYNC_PENDING, strict=True,
    reason="issue 3: green synchronisation primitives not finished")

# Debian's interpreter, the program under test in the Python tests (not
# whatever python3 is first on PATH).
PYTHON = "/usr/bin/python3.11"

# Variables the runs must not inherit from whoever started the harness.
_SCRUB = ("LD_PRELOAD", "LD_LIBRARY_PATH")


def raise_fd_limit():
    """1000 client sockets in this process, and 2000+ fds in some programs."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def program(name):
    path = LEGACY / name
    if not path.exists():
        raise AssertionError(f"{path} is missing: build the project first (scripts/setup)")
    return path


def require_lib():
    if not LIB.exists():
        raise AssertionError(f"{LIB} is missing: the preload library has not been built")


def environment(preload, extra=None):
    env = {k: v for k, v in os.environ.items() if k not in _SCRUB and not k.startswith("GREEN_")}
    if preload:
        require_lib()
        env["LD_PRELOAD"] = str(LIB)
    if extra:
        env.update(extra)
    return env


def socket_count(pid):
    """How many sockets the process has open, or None once it is gone."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return None
    n = 0
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                n += 1
        except OSError:
            pass
    return n


_FUTEX = "202"  # x86_64 syscall number, the first field of /proc/PID/syscall


def in_futex(pid):
    """Whether the process's first OS thread (under the preload: the hub's)
    sits in a futex wait right now."""
    try:
        with open(f"/proc/{pid}/task/{pid}/syscall") as f:
            return f.read().split(" ", 1)[0] == _FUTEX
    except OSError:
        return False


def thread_count(pid):
    """The Threads: line of /proc/PID/status, or None once the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, ValueError):
        pass
    return None


class ThreadSampler:
    """Samples /proc/PID/status every SAMPLE_INTERVAL seconds while the
    process lives; sample() can be called at any moment for an extra one."""

    def __init__(self, pid):
        self.pid = pid
        self.samples = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def sample(self):
        n = thread_count(self.pid)
        if n is not None:
            self.samples.append(n)
        return n

    def _run(self):
        while not self._stop.is_set():
            if self.sample() is None:
                break
            self._stop.wait(SAMPLE_INTERVAL)

    def stop(self):
        self._stop.set()
        self._thread.join()

    @property
    def peak(self):
        return max(self.samples, default=0)


def where_blocked(pid):
    """For a hung process: each OS thread's kernel wait channel and the
    syscall it sits in (from /proc), since its block-buffered stdout is lost
    when it is killed."""
    lines = []
    try:
        tids = sorted(os.listdir(f"/proc/{pid}/task"), key=int)
    except OSError:
        return "(process gone)"
    for tid in tids[:8]:
        info = []
        for what in ("comm", "wchan", "syscall"):
            try:
                with open(f"/proc/{pid}/task/{tid}/{what}") as f:
                    info.append(f"{what}={f.read().strip().split(' ')[0] or '-'}")
            except OSError:
                pass
        lines.append(f"  thread {tid}: " + " ".join(info))
    if len(tids) > 8:
        lines.append(f"  ... and {len(tids) - 8} more threads")
    return "\n".join(lines)


class Result:
    def __init__(self, argv, preload, returncode, stdout, stderr, elapsed, peak, at_ready, timed_out,
                 blocked="", stalled=0.0):
        self.argv = argv
        self.preload = preload
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.elapsed = elapsed
        self.peak_threads = peak
        self.threads_at_ready = at_ready
        self.timed_out = timed_out
        self.blocked = blocked
        self.stalled = stalled  # seconds the hub's OS thread sat in futex before the kill

    def describe(self):
        how = "under LD_PRELOAD" if self.preload else "natively"
        hung = ""
        if self.stalled:
            hung = (f" (KILLED: its first OS thread, the hub's, sat in a futex wait for "
                    f"{self.stalled:.1f} s: a glibc lock or condition variable blocked every "
                    f"green thread; stdout is block-buffered, so its last lines are lost)\n"
                    f"where it hung:\n{self.blocked}")
        elif self.timed_out:
            hung = (" (TIMED OUT and killed: stdout is block-buffered, so its last lines are "
                    f"lost)\nwhere it hung:\n{self.blocked}")
        return (f"{' '.join(map(str, self.argv))} {how}: status {self.returncode}, "
                f"{self.elapsed:.2f} s, peak threads {self.peak_threads}{hung}\n"
                f"--- stdout ---\n{self.stdout}--- stderr ---\n{self.stderr}")


def run(argv, preload=False, env=None, timeout=TIMEOUT, ready_line="ready", stall_after=None,
        ready_fd=False):
    """Run argv to completion, natively or preloaded, while counting its OS
    threads: every SAMPLE_INTERVAL, and right when it prints ready_line.

    ready_fd: the program (legacy.h say_ready) waits after ready_line until
    the count is taken; it gets a pipe's read end as LEGACY_READY_FD and one
    byte there once the samples are in.

    stall_after (seconds; for preloaded runs only): kill the process early
    once its first OS thread has sat in a futex wait that long. Under the
    preload that thread is the hub's, which only ever waits in epoll: a futex
    wait there is a glibc lock blocking every green thread, i.e. a hang."""
    argv = [str(a) for a in argv]
    env = environment(preload, env)
    go_read = go_write = None
    if ready_fd:
        go_read, go_write = os.pipe()
        env["LEGACY_READY_FD"] = str(go_read)
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env,
                            pass_fds=(go_read,) if ready_fd else ())
    if ready_fd:
        os.close(go_read)
    sampler = ThreadSampler(proc.pid)
    out, err = [], []
    at_ready = []

    def counted():
        nonlocal go_write
        if go_write is not None:
            os.write(go_write, b"x")
            os.close(go_write)
            go_write = None

    def read_out():
        for line in proc.stdout:
            if ready_line and line.rstrip(b"\n") == ready_line.encode():
                # all the program's threads exist now; take a few samples
                for _ in range(3):
                    n = sampler.sample()
                    if n is not None:
                        at_ready.append(n)
                counted()
            out.append(line)
        counted()  # (a program that never said ready must not wait forever)

    def read_err():
        err.append(proc.stderr.read())

    readers = [threading.Thread(target=read_out, daemon=True),
               threading.Thread(target=read_err, daemon=True)]
    for r in readers:
        r.start()
    timed_out = False
    blocked = ""
    stalled = 0.0
    try:
        if stall_after is None:
            proc.wait(timeout=timeout)
        else:
            stalled = _wait_watching_futex(proc, timeout, stall_after)
            if stalled:
                timed_out = True
                blocked = where_blocked(proc.pid)
                proc.kill()
                proc.wait()
    except subprocess.TimeoutExpired:
        timed_out = True
        blocked = where_blocked(proc.pid)
        proc.kill()
        proc.wait()
    elapsed = time.monotonic() - start
    for r in readers:
        r.join(5)
    sampler.stop()
    return Result(argv, preload, proc.returncode, b"".join(out).decode(errors="replace"),
                  b"".join(err).decode(errors="replace"), elapsed, sampler.peak,
                  max(at_ready, default=None), timed_out, blocked, stalled)


def _wait_watching_futex(proc, timeout, stall_after):
    """proc.wait(timeout), but returns how long the first OS thread had sat
    in futex once that reaches stall_after (0.0 if the process ended)."""
    deadline = time.monotonic() + timeout
    since = None
    while True:
        try:
            proc.wait(timeout=0.1)
            return 0.0
        except subprocess.TimeoutExpired:
            pass
        now = time.monotonic()
        if in_futex(proc.pid):
            since = since or now
            if now - since >= stall_after:
                return now - since
        else:
            since = None
        if now >= deadline:
            raise subprocess.TimeoutExpired(proc.args, timeout)


_native_cache = {}


def native(name, args=(), ready_fd=False):
    """The native run of a legacy program, once per session."""
    key = (name, tuple(args), ready_fd)
    if key not in _native_cache:
        _native_cache[key] = run([program(name), *args], ready_fd=ready_fd)
    return _native_cache[key]


def preloaded(name, args=(), env=None, ready_fd=False):
    require_lib()
    return run([program(name), *args], preload=True, env=env, ready_fd=ready_fd)


def diff(expected, actual, a="expected", b="actual"):
    return "".join(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True), a, b))


def golden(case_id):
    return (EXPECTED / f"{case_id}.out").read_text()
