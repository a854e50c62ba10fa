#!/usr/bin/python3
"""The HTTP server benchmark: green::http::Server (build/bench/http_hello)
beside nginx with one worker, both answering every GET with the same small
static body, under `wrk -c 1000` (keep-alive). Requests/s, and the ratio
green/nginx (issue 12's goal: at least 0.7). Also each server's CPU time per
request (from /proc/PID/stat): when wrk, on its one core, is what limits the
rate, both servers show the same requests/s and this is what tells them apart.

Each server runs pinned to core 0, wrk (one thread) to core 1; the rounds
alternate the two servers and the medians are compared. nginx gets a config
of its own in a temporary directory (one worker, no master, 127.0.0.1 only,
no access log). A benchmark, not a test: it prints figures, and fails only
when a server cannot be run or wrk sees errors.

usage: bench/http_bench.py [--conns 1000] [--rounds 3] [--duration 5] [--warmup 1]
"""

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = Path(os.environ.get("GREEN_BUILD_DIR", ROOT / "build"))
GREEN = BUILD / "bench" / "http_hello"
NGINX = "/usr/sbin/nginx"
BODY = "Hello, World!\n"  # what bench/http_hello.cc answers too

NGINX_CONF = """worker_processes 1;
daemon off;
master_process off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
worker_rlimit_nofile 20000;
events {{ worker_connections 20000; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  keepalive_requests 100000000;
  keepalive_timeout 120s;
  server {{
    listen 127.0.0.1:{port} backlog=4096;
    location / {{ default_type text/plain; return 200 "{body}"; }}
  }}
}}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, proc, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


def start(kind, port, core, tmp):
    if kind == "green":
        argv = [str(GREEN), "127.0.0.1", str(port)]
    else:
        conf = Path(tmp) / "nginx.conf"
        conf.write_text(NGINX_CONF.format(dir=tmp, port=port, body=BODY.replace("\n", "\\n")))
        argv = [NGINX, "-p", tmp, "-c", str(conf)]
    proc = subprocess.Popen(["taskset", "-c", str(core)] + argv, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    wait_listening(port, proc)
    return proc


def stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def wrk(port, conns, duration, core):
    argv = ["taskset", "-c", str(core), "wrk", "-t1", f"-c{conns}", f"-d{duration}s",
            "--timeout", "10s", f"http://127.0.0.1:{port}/"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not m:
        raise RuntimeError("wrk printed no Requests/sec:\n" + out)
    errors = re.search(r"Socket errors: (.*)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return float(m.group(1)), (errors.group(1) if errors else ""), (non2xx.group(1) if non2xx else "")


def cpu_seconds(pid):
    """User + system time of the process (taskset execs the server: same pid)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def trial(kind, a, cores):
    with tempfile.TemporaryDirectory(prefix=f"http_bench_{kind}_") as tmp:
        port = free_port()
        proc = start(kind, port, cores[0], tmp)
        try:
            if a.warmup > 0:
                wrk(port, a.conns, a.warmup, cores[1])
            before = cpu_seconds(proc.pid)
            rps, errors, non2xx = wrk(port, a.conns, a.duration, cores[1])
            cpu = cpu_seconds(proc.pid) - before
        finally:
            stop(proc)
        us_per_request = cpu / (rps * a.duration) * 1e6 if rps else float("inf")
        return rps, us_per_request, cpu / a.duration * 100, errors, non2xx


def pick_cores():
    cpus = sorted(os.sched_getaffinity(0))
    return (cpus[0], cpus[1]) if len(cpus) >= 2 else (cpus[0], cpus[0])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--conns", type=int, default=1000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    a = p.parse_args()
    if not (1 <= a.conns <= 10000 and 1 <= a.rounds <= 20 and 1 <= a.duration <= 600
            and 0 <= a.warmup <= 60):
        p.error("--conns in [1, 10000], --rounds in [1, 20], --duration in [1, 600], --warmup in [0, 60]")
    missing = [str(x) for x in (GREEN, NGINX) if not Path(x).exists()]
    if not shutil.which("wrk"):
        missing.append("wrk")
    if missing:
        print("http_bench: missing " + ", ".join(missing) + " (scripts/setup builds and installs them)")
        return 1
    cores = pick_cores()
    print(f"server on core {cores[0]}, wrk (1 thread, {a.conns} connections) on core {cores[1]}; "
          f"{a.rounds} rounds of {a.warmup} s warmup + {a.duration} s per server")
    rates = {"nginx": [], "green": []}
    costs = {"nginx": [], "green": []}
    bad = False
    for r in range(a.rounds):
        for kind in ("nginx", "green") if r % 2 == 0 else ("green", "nginx"):
            rps, us, busy, errors, non2xx = trial(kind, a, cores)
            note = ""
            if errors or non2xx:
                note = f"  (socket errors: {errors or '-'}; non-2xx: {non2xx or 0})"
                bad = bad or bool(non2xx)
            print(f"  round {r + 1} {kind:5s} {rps:10.0f} requests/s  {us:6.1f} us CPU/request"
                  f"  server {busy:3.0f}% of its core{note}", flush=True)
            rates[kind].append(rps)
            costs[kind].append(us)
    med = {k: (statistics.median(rates[k]), statistics.median(costs[k])) for k in rates}
    for kind, title in (("nginx", "nginx (1 worker)"), ("green", "green::http::Server")):
        print(f"{title:22s} {med[kind][0]:10.0f} requests/s  {med[kind][1]:6.1f} us CPU/request (medians)")
    print(f"ratio green/nginx      {med['green'][0] / med['nginx'][0]:10.2f}  requests/s (goal >= 0.70)")
    print(f"                       {med['nginx'][1] / med['green'][1]:10.2f}  CPU per request, nginx/green")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
