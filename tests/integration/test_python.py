"""Real, unmodified Python programs under LD_PRELOAD=libgreen.so (issue 3):
Debian's /usr/bin/python3.11 builds its threads, its GIL and every lock of
the threading module on pthread mutexes, condition variables and semaphores,
so nothing threaded in Python works under the preload until those are green.

- threading semantics (python/threading_semantics.py): deterministic verdicts,
  natively equal to expected/python-threading_semantics.out, and the same
  under the preload; 50 threads at a barrier are 50 OS threads natively and
  at most GREEN_PY_MAX_THREADS under the preload.
- ThreadPoolExecutor(50) + urllib fetching 500 URLs (python/pool_fetch.py)
  from a native server started by the test: every body correct, natively
  50+ OS threads, under the preload at most GREEN_PY_MAX_THREADS.
- http.server's ThreadingHTTPServer (python/threading_http_server.py: only a
  4096 backlog and HTTP/1.1) under 1,000 concurrent keep-alive connections
  from wrk: under the preload no socket errors (so no request waited 3 s),
  no non-2xx answers, 1,000 connections open in the server at once, at most
  GREEN_PY_MAX_THREADS OS threads. Natively CPython cannot do this on two
  cores: its accept loop starves behind the GIL among the connection
  threads, and after 10 s it has accepted only about 300 of the 1,000
  connections. So the native run only checks that the set-up works (wrk
  runs, every answer is a 200, a thread per connection: 100+ OS threads).
- plain `python3.11 -m http.server` serves a file and a listing.

The preloaded scripts (threading semantics, the pool) are killed early, and
said so, when the hub's OS thread sits in a futex wait for 2 s (a glibc lock
blocking every green thread); a hung server shows as a fetch timing out."""

import os
import re
import select
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import pytest

import harness

HERE = Path(__file__).resolve().parent / "python"

# The program's one OS thread (the hub's), one spare, plus the hub's thread
# pool (GREEN_THREADPOOL, 16 by default), which starts when DNS or file work
# needs it: ThreadingHTTPServer resolves its own name with getfqdn() when it
# binds.
GREEN_PY_MAX_THREADS = 2 + 16
STALL_AFTER = 2.0
RUN_TIMEOUT = 30.0

CONNECTIONS = 1000
WRK_SECONDS = 4
WRK_TIMEOUT = 3  # seconds: a request unanswered that long is a socket error
NATIVE_MIN_THREADS = 100


def wrk_path():
    return shutil.which("wrk")


def python_env(extra=None):
    env = {"PYTHONDONTWRITEBYTECODE": "1"}
    env.update(extra or {})
    return env


# ---- threading semantics ----

_native = {}


def native_threading():
    if "threading" not in _native:
        _native["threading"] = harness.run(
            [harness.PYTHON, HERE / "threading_semantics.py"], env=python_env())
    return _native["threading"]


def check_threading(r, how):
    assert not r.timed_out, r.describe()
    expected = harness.golden("python-threading_semantics")
    assert r.stdout == expected, "%s output differs from the expected:\n%s\n%s" % (
        how, harness.diff(expected, r.stdout, "expected", how), r.describe())
    assert r.returncode == 0 and r.stderr == "", r.describe()


def test_threading_semantics_native():
    r = native_threading()
    check_threading(r, "native")
    assert r.peak_threads >= 50, f"natively only {r.peak_threads} OS threads\n" + r.describe()


@harness.needs_green_sync
def test_threading_semantics_preload():
    n = native_threading()
    r = harness.run([harness.PYTHON, HERE / "threading_semantics.py"], preload=True,
                    env=python_env(), timeout=RUN_TIMEOUT, stall_after=STALL_AFTER)
    assert not r.timed_out, r.describe()
    assert r.stdout == n.stdout, "stdout differs from the native run:\n%s\n%s" % (
        harness.diff(n.stdout, r.stdout, "native", "preloaded"), r.describe())
    check_threading(r, "preloaded")
    assert r.peak_threads <= GREEN_PY_MAX_THREADS, (
        f"{r.peak_threads} OS threads under the preload\n" + r.describe())


# ---- servers ----

def read_line(proc, timeout):
    """The first line of a child's stdout, read unbuffered."""
    fd = proc.stdout.fileno()
    deadline = time.monotonic() + timeout
    line = b""
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return None
        b = os.read(fd, 1)
        if not b:
            break
        line += b
    return line.decode()


class Server:
    """A server process whose first line of output names its port."""

    def __init__(self, argv, preload, port_pattern=r"^(\d+)$", env=None, cwd=None):
        self.preload = preload
        self.err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([str(a) for a in argv], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=self.err, cwd=cwd,
                                     env=harness.environment(preload, python_env(env)))
        first = read_line(self.proc, 20)
        m = re.search(port_pattern, first or "")
        if not m:
            self.stop()
            raise AssertionError(f"{argv} printed no port: {first!r}\n{self.stderr()}")
        self.port = int(m.group(1))
        self.url = f"http://127.0.0.1:{self.port}"

    def stderr(self, limit=4000):
        self.err.seek(0)
        text = self.err.read().decode(errors="replace")
        if limit is None or len(text) <= limit:
            return text
        return text[:limit // 2] + "\n...\n" + text[-limit // 2:]

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()


def fetch(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read()


# ---- ThreadPoolExecutor + urllib against a native server ----

@pytest.fixture(scope="module")
def item_server():
    s = Server([harness.PYTHON, HERE / "item_server.py"], preload=False, cwd=HERE)
    yield s
    s.stop()


_pool = {}


def run_pool(server, preload):
    argv = [harness.PYTHON, HERE / "pool_fetch.py", server.url]
    if preload:
        return harness.run(argv, preload=True, env=python_env(), timeout=RUN_TIMEOUT,
                           stall_after=STALL_AFTER)
    if "native" not in _pool:
        _pool["native"] = harness.run(argv, env=python_env())
    return _pool["native"]


POOL_EXPECTED = "500 URLs fetched by ThreadPoolExecutor(50): 500 correct, 0 wrong, 0 errors\n"


def test_pool_fetch_native(item_server):
    r = run_pool(item_server, preload=False)
    assert not r.timed_out and r.returncode == 0, r.describe()
    assert r.stdout == POOL_EXPECTED and r.stderr == "", r.describe()
    assert r.peak_threads >= 50, f"natively only {r.peak_threads} OS threads\n" + r.describe()


@harness.needs_green_sync
def test_pool_fetch_preload(item_server):
    r = run_pool(item_server, preload=True)
    assert not r.timed_out and r.returncode == 0, r.describe()
    assert r.stdout == POOL_EXPECTED and r.stderr == "", r.describe()
    assert r.peak_threads <= GREEN_PY_MAX_THREADS, (
        f"{r.peak_threads} OS threads under the preload\n" + r.describe())
    assert item_server.alive(), "the native item server died\n" + item_server.stderr()


# ---- ThreadingHTTPServer under wrk ----

@pytest.fixture(scope="module")
def site():
    d = Path(tempfile.mkdtemp(prefix="green-site-"))
    (d / "hello.txt").write_bytes(b"hello from a thread per connection\n" * 20)
    (d / "data.bin").write_bytes(bytes(range(256)) * 800)
    yield d
    shutil.rmtree(d)


class Counter:
    """Samples the server's OS threads and open sockets while it runs."""

    def __init__(self, pid):
        self.pid = pid
        self.threads = harness.ThreadSampler(pid)
        self.sockets = []
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        while not self._stop.wait(0.1):
            n = harness.socket_count(self.pid)
            if n is None:
                return
            self.sockets.append(n)

    def stop(self):
        self._stop.set()
        self._t.join()
        self.threads.stop()


def run_wrk(site, preload):
    if not wrk_path():
        pytest.fail("wrk is not installed: scripts/setup installs Debian's package wrk")
    server = Server([harness.PYTHON, HERE / "threading_http_server.py", site], preload)
    try:
        status, body = fetch(server.url + "/hello.txt")
        assert status == 200 and body == (site / "hello.txt").read_bytes(), (status, body)
        counter = Counter(server.proc.pid)
        try:
            wrk = subprocess.run(
                [wrk_path(), "-t2", f"-c{CONNECTIONS}", f"-d{WRK_SECONDS}s", "--timeout", f"{WRK_TIMEOUT}s",
                 server.url + "/hello.txt"],
                stdin=subprocess.DEVNULL, capture_output=True, text=True,
                timeout=WRK_SECONDS + 30, env=harness.environment(False))
        finally:
            counter.stop()
        alive = server.alive()
        return dict(wrk=wrk.stdout + wrk.stderr, wrk_status=wrk.returncode,
                    threads=counter.threads.peak, sockets=max(counter.sockets, default=0),
                    alive=alive, stderr=server.stderr(),
                    exceptions=server_exceptions(server.stderr(limit=None)))
    finally:
        server.stop()


# wrk closes its connections when its time is up, some in the middle of a
# response: the handler threads then log these, natively too.
EXPECTED_AT_THE_END = {"BrokenPipeError", "ConnectionResetError"}


def server_exceptions(stderr):
    """The exception types in the server's tracebacks other than those."""
    found = re.findall(r"^(\w+(?:Error|Exception|Exit|Interrupt)\b)", stderr, re.M)
    return sorted(set(found) - EXPECTED_AT_THE_END)


def check_wrk(r, how, all_served):
    out = r["wrk"]
    desc = (f"{how}: wrk status {r['wrk_status']}, server peak OS threads {r['threads']}, "
            f"peak sockets {r['sockets']}, alive {r['alive']}\n--- wrk ---\n{out}"
            f"--- server stderr ---\n{r['stderr']}")
    assert r["wrk_status"] == 0, desc
    m = re.search(r"(\d+) requests in", out)
    assert m and int(m.group(1)) >= CONNECTIONS, desc
    assert "Non-2xx" not in out, desc
    assert r["alive"], "the server died\n" + desc
    assert not r["exceptions"], f"the server raised {r['exceptions']}\n" + desc
    if all_served:
        assert "Socket errors" not in out, desc
        # every connection was accepted and held at once (plus the listener)
        assert r["sockets"] >= CONNECTIONS, desc
    return desc


def test_threading_http_server_native(site):
    r = run_wrk(site, preload=False)
    desc = check_wrk(r, "native", all_served=False)
    assert r["threads"] >= NATIVE_MIN_THREADS, desc


@harness.needs_green_sync
def test_threading_http_server_preload(site):
    r = run_wrk(site, preload=True)
    desc = check_wrk(r, "preloaded", all_served=True)
    assert r["threads"] <= GREEN_PY_MAX_THREADS, desc


# ---- plain python3 -m http.server ----

def serve_plain(site, preload):
    server = Server([harness.PYTHON, "-m", "http.server", "0", "--bind", "127.0.0.1",
                     "--directory", site], preload, port_pattern=r"port (\d+)",
                    env={"PYTHONUNBUFFERED": "1"})
    try:
        sampler = harness.ThreadSampler(server.proc.pid)
        try:
            status, data = fetch(server.url + "/data.bin")
            lstatus, listing = fetch(server.url + "/")
        finally:
            sampler.stop()
        return dict(ok=status == 200 and data == (site / "data.bin").read_bytes(),
                    listing=lstatus == 200 and b"hello.txt" in listing, threads=sampler.peak,
                    alive=server.alive(), stderr=server.stderr())
    finally:
        server.stop()


def test_plain_http_server_native(site):
    r = serve_plain(site, preload=False)
    assert r["ok"] and r["listing"] and r["alive"], r


@harness.needs_green_sync
def test_plain_http_server_preload(site):
    r = serve_plain(site, preload=True)
    assert r["ok"] and r["listing"] and r["alive"], r
    assert r["threads"] <= GREEN_PY_MAX_THREADS, r
