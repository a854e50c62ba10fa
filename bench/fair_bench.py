#!/usr/bin/env python3
"""Fairness under load (issue 10, item 5), natively against under
LD_PRELOAD=libgreen.so, interleaved rounds:

  privoxy  Debian's privoxy (a thread per client) in front of a native nginx
           origin; wrk -c 200 through it with "Connection: close" (a new
           connection per request, so the accept thread competes with the
           busy connection threads). Reports requests/s, p50/p99 and the
           kernel's TcpExtListenOverflows/ListenDrops meanwhile (nstat; as
           root the bench runs in a network namespace of its own, so other
           programs' servers do not count, otherwise they do).
  iperf    Debian's iperf2 server (a thread per stream) under test, the
           client natively with -P 20: the spread of the per-stream rates.

usage: bench/fair_bench.py [--lib build/libgreen.so[,other/libgreen.so]] [--rounds 2] [--duration 8]
                           [--only privoxy,iperf]
Needs privoxy, iperf, wrk, nginx (scripts/setup installs privoxy and iperf).
Loopback only; every step has its own time limit."""

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, limit=20.0):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError("server exited with %s" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("port %d not listening after %.0f s" % (port, limit))


def start(argv, lib=None, **kw):
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    if lib:
        env["LD_PRELOAD"] = lib
    return subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, start_new_session=True, **kw)


def stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def nstat():
    out = subprocess.run(["nstat", "-az", "TcpExtListenOverflows", "TcpExtListenDrops"],
                         capture_output=True, text=True, timeout=10).stdout
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^TcpExt(\w+)\s+(\d+)", out, re.M)}


def origin(tmp):
    """A native nginx serving a 1 KiB page on a free port."""
    port = free_port()
    www = os.path.join(tmp, "www")
    os.makedirs(www, exist_ok=True)
    with open(os.path.join(www, "index.html"), "w") as f:
        f.write("x" * 1024)
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write("worker_processes 1; daemon off; pid %s/nginx.pid; error_log stderr error;\n"
                "events { worker_connections 4096; }\n"
                "http { access_log off; server { listen 127.0.0.1:%d backlog=4096; root %s; } }\n"
                % (tmp, port, www))
    proc = start(["nginx", "-c", conf, "-p", tmp], stderr=subprocess.DEVNULL)
    wait_port(port, proc)
    return proc, port


def privoxy_round(lib, tmp, origin_port, a):
    port = free_port()
    conf = os.path.join(tmp, "privoxy.conf")
    with open(conf, "w") as f:
        # No filters or actions: the bench is about threads and accept, not rules.
        f.write("listen-address 127.0.0.1:%d\nmax-client-connections 1024\n"
                "keep-alive-timeout 5\nsocket-timeout 30\n" % port)
    proc = start(["privoxy", "--no-daemon", conf], lib, stdout=subprocess.DEVNULL,
                 stderr=subprocess.DEVNULL)
    try:
        wait_port(port, proc)
        lua = os.path.join(tmp, "proxy.lua")
        with open(lua, "w") as f:
            f.write('wrk.path = "http://127.0.0.1:%d/"\n' % origin_port)
        before = nstat()
        r = subprocess.run(["wrk", "-t", "2", "-c", str(a.clients), "-d", "%ds" % a.duration,
                            "--latency", "--timeout", "10s", "-H", "Connection: close", "-s", lua,
                            "http://127.0.0.1:%d/" % port],
                           capture_output=True, text=True, timeout=a.duration + 60)
        after = nstat()
    finally:
        stop(proc)
    out = r.stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    pct = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", out, re.M))
    errors = re.search(r"Socket errors: (.*)", out)
    return ("privoxy %s: %s req/s, p50 %s, p99 %s, ListenOverflows +%d, ListenDrops +%d%s" % (
        label(lib, a), rate.group(1) if rate else "?", pct.get("50", "?"),
        pct.get("99", "?"), after.get("ListenOverflows", 0) - before.get("ListenOverflows", 0),
        after.get("ListenDrops", 0) - before.get("ListenDrops", 0),
        ", socket errors: " + errors.group(1) if errors else ""))


def label(lib, a):
    """native, green, or (with several --lib) green and the library's directory."""
    if not lib:
        return "native"
    return "green" if "," not in a.lib else "green (%s)" % os.path.dirname(lib)


def to_mbits(value, unit):
    v = float(value)
    return v * {"K": 1e-3, "M": 1.0, "G": 1e3}.get(unit[0], 1e-6)


def iperf_round(lib, a):
    port = free_port()
    proc = start(["iperf", "-s", "-p", str(port), "-B", "127.0.0.1"], lib,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, proc)
        time.sleep(0.2)
        r = subprocess.run(["iperf", "-c", "127.0.0.1", "-p", str(port), "-P", str(a.streams),
                            "-t", str(a.duration), "-f", "m"],
                           capture_output=True, text=True, timeout=a.duration + 60)
    finally:
        stop(proc)
    rates = [to_mbits(v, u) for ident, v, u in
             re.findall(r"^\[\s*(\d+)\].*?\s([\d.]+) (\w)bits/sec", r.stdout, re.M)]
    total = re.search(r"^\[SUM\].*?\s([\d.]+) (\w)bits/sec", r.stdout, re.M)
    if not rates:
        return "iperf %s: no result (%s)" % (label(lib, a), r.stdout[-300:])
    rates.sort()
    return ("iperf %s: %d streams, per stream min %.0f median %.0f max %.0f Mbit/s "
            "(max/min %.1fx), sum %s Mbit/s" % (
                label(lib, a), len(rates), rates[0], rates[len(rates) // 2],
                rates[-1], rates[-1] / max(rates[0], 1e-9),
                "%.0f" % to_mbits(*total.groups()) if total else "?"))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--lib", default=os.path.join(ROOT, "build", "libgreen.so"))
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--duration", type=int, default=8)
    p.add_argument("--clients", type=int, default=200)
    p.add_argument("--streams", type=int, default=20)
    p.add_argument("--only", default="privoxy,iperf")
    a = p.parse_args()
    parts = a.only.split(",")
    if (os.geteuid() == 0 and not os.environ.get("GREEN_FAIR_NETNS") and shutil.which("unshare")
            and shutil.which("ip")):
        # A loopback of its own: the listen-queue counters are this bench's alone.
        os.environ["GREEN_FAIR_NETNS"] = "1"
        cmd = "ip link set lo up && exec %s %s" % (
            sys.executable, " ".join("'%s'" % x for x in [os.path.abspath(__file__)] + sys.argv[1:]))
        os.execvp("unshare", ["unshare", "-n", "sh", "-c", cmd])
    missing = [t for t in ("privoxy", "iperf", "wrk", "nginx", "nstat") if not shutil.which(t)]
    if missing:
        print("fair_bench: skipped, missing %s (scripts/setup installs privoxy and iperf)"
              % ", ".join(missing))
        return 0
    print("fair_bench: machine load %s; native and green interleaved, %d rounds of %d s%s" % (
        open("/proc/loadavg").read().split()[0], a.rounds, a.duration,
        "; own network namespace" if os.environ.get("GREEN_FAIR_NETNS") else ""), flush=True)
    with tempfile.TemporaryDirectory(prefix="green-fair-") as tmp:
        ng, origin_port = origin(tmp)
        try:
            for rnd in range(a.rounds):
                for lib in [None] + a.lib.split(","):
                    if "privoxy" in parts:
                        print(privoxy_round(lib, tmp, origin_port, a), flush=True)
                    if "iperf" in parts:
                        print(iperf_round(lib, a), flush=True)
        finally:
            stop(ng)
    return 0


if __name__ == "__main__":
    sys.exit(main())
