"""Helpers for the tests that run real Debian servers (MariaDB, Redis) and
their load tools, natively and under LD_PRELOAD=libgreen.so.

Every process started here gets its own process group (start_new_session),
so a timeout or a failed assertion kills the whole group, helpers and
children included, and nothing outlives the test. Every wait has a
deadline: a Budget is the test's hard time limit, and each step gets what
is left of it. Servers listen on 127.0.0.1 only, on a port the kernel
picked free."""

import os
import signal
import socket
import subprocess
import tempfile
import time

import harness

# Under the preload: the hub's OS thread, the time-slice watchdog, and the
# hub's thread pool, sized here so the count is known.
HUB_THREADS = 2
POOL_THREADS = 4
POOL_ENV = {"GREEN_THREADPOOL": str(POOL_THREADS)}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Budget:
    """A test's hard time limit: left() is what remains for the next step."""

    def __init__(self, seconds):
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def left(self, at_most=None):
        left = self.end - time.monotonic()
        if left <= 0:
            raise AssertionError(f"the test's time limit of {self.seconds:.0f} s ran out")
        return left if at_most is None else min(left, at_most)


def kill_group(proc):
    """SIGKILL proc's whole process group and reap proc."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


class Tool:
    """The result of run_tool."""

    def __init__(self, argv, returncode, out, elapsed, timed_out):
        self.argv, self.returncode, self.out = argv, returncode, out
        self.elapsed, self.timed_out = elapsed, timed_out

    def describe(self):
        how = "TIMED OUT and killed" if self.timed_out else f"status {self.returncode}"
        return f"{' '.join(self.argv)}: {how} after {self.elapsed:.1f} s\n{self.out[-3000:]}"


def run_tool(argv, timeout, stdin_text=None, env=None):
    """Run a client tool natively in its own process group; on timeout the
    group is killed. Its stdout and stderr together, as text."""
    argv = [str(a) for a in argv]
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin_text is not None else
                            subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=harness.environment(False, env), start_new_session=True)
    timed_out = False
    try:
        out, _ = proc.communicate(stdin_text.encode() if stdin_text is not None else None,
                                  timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        kill_group(proc)
        out, _ = proc.communicate()
    finally:
        if proc.poll() is None:
            kill_group(proc)
    return Tool(argv, proc.returncode, out.decode(errors="replace"), time.monotonic() - start,
                timed_out)


class Server:
    """A server process in its own process group, natively or preloaded,
    with its stdout and stderr in a temporary file and its OS threads
    sampled while it lives. Use as a context manager: leaving it kills the
    group if the server is still there."""

    def __init__(self, argv, preload, env=None, cwd=None):
        self.argv = [str(a) for a in argv]
        self.preload = preload
        self.log = tempfile.TemporaryFile()
        extra = dict(POOL_ENV if preload else {})
        extra.update(env or {})
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=self.log, cwd=cwd, start_new_session=True,
                                     env=harness.environment(preload, extra))
        self.sampler = harness.ThreadSampler(self.proc.pid)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()
        return False

    def output(self):
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def threads(self):
        return harness.thread_count(self.proc.pid)

    def thread_names(self):
        """{comm: count} of its OS threads right now (for reports)."""
        names = {}
        try:
            for tid in os.listdir(f"/proc/{self.proc.pid}/task"):
                with open(f"/proc/{self.proc.pid}/task/{tid}/comm") as f:
                    name = f.read().strip()
                names[name] = names.get(name, 0) + 1
        except OSError:
            pass
        return names

    def wait_port(self, port, timeout):
        """Until 127.0.0.1:port accepts; AssertionError if the server ends
        or the time runs out first."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise AssertionError(f"{self.argv[0]} ended with status "
                                         f"{self.proc.returncode} before it listened:\n"
                                         f"{self.output()[-3000:]}")
                if time.monotonic() > deadline:
                    raise AssertionError(f"{self.argv[0]} did not listen on port {port} "
                                         f"within {timeout:.0f} s:\n{self.output()[-3000:]}")
                time.sleep(0.05)

    def wait(self, timeout):
        """Its exit status, or None if it is still running after timeout."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self):
        if self.proc.poll() is None:
            kill_group(self.proc)
        else:  # its children, if any were left in the group
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.sampler.stop()
