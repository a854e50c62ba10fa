#!/usr/bin/python3
"""Echo-server benchmark harness shared by scripts/demo and scripts/bench.

For every connection count, it runs each server in turn, in interleaved rounds
whose order rotates (A B C, B C A, C A B, ...), so that no server always runs
right after the same other one and inherits its after-effects on the host
(closing sockets, caches). (Two builds that differed only in dead code once
came out 7% apart in a fixed order; rotated, they came out 0.5% apart.)
One trial:

  * starts the server pinned to core 0 (`taskset -c 0 env [LD_PRELOAD=...] CMD 0`)
    and reads "listening PORT" from its stdout;
  * runs build/bench/loadclient pinned to core 1 against it;
  * meanwhile samples /proc/PID/status every ~50 ms for the peak `Threads:`,
    and reads `VmHWM` (peak RSS) when the client is done;
  * kills the server.

It prints the medians over rounds as an aligned table, with throughput ratios
relative to the native-threads run and to the epoll ceiling, writes the raw
trials as JSON and a PNG plot (matplotlib, Agg) to bench/results/.

Run it with /usr/bin/python3 (Debian's python3-matplotlib). Only loopback is
used; every wait is bounded.
"""

import argparse
import datetime
import json
import os
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLK_TCK = os.sysconf("SC_CLK_TCK")
SAMPLE_INTERVAL = 0.05
NOISY_PCT = 25.0  # other work on the machine beyond this makes a trial suspect


# --------------------------------------------------------------------- servers

class Server:
    """One kind of server: how to start it and whether it can be had."""

    def __init__(self, key, label, argv, env=None, needs=(), why_missing=None):
        self.key = key
        self.label = label
        self.argv = argv  # the port is appended
        self.env = env or {}
        self.needs = needs  # paths that must exist
        self.why_missing = why_missing  # callable -> reason or None

    def unavailable(self):
        for path in self.needs:
            if not os.path.exists(path):
                return "%s not found" % os.path.relpath(path, ROOT)
        if self.why_missing:
            return self.why_missing()
        return None


def gevent_missing():
    r = subprocess.run(["/usr/bin/python3", "-c", "import gevent"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    return None if r.returncode == 0 else "python3-gevent not installed (import gevent failed)"


def make_servers(build, base_lib=None, base_api=None):
    b = lambda *p: os.path.join(build, *p)
    echo = tool_path(build, "echo_server")
    preload = b("libgreen.so")
    go = b("bench", "go_echo")
    cpu_echo = tool_path(build, "cpu_echo_server")
    return {
        "native": Server("native", "native threads (echo_server)", [echo], needs=[echo]),
        "green": Server("green", "green (echo_server + libgreen)", [echo],
                        env={"LD_PRELOAD": preload}, needs=[echo, preload]),
        "epoll": Server("epoll", "epoll ceiling (epoll_echo)", [tool_path(build, "epoll_echo")],
                        needs=[tool_path(build, "epoll_echo")]),
        "stdio": Server("stdio", "green stdio lines (fdopen/fgets/fputs)",
                        [tool_path(build, "line_echo_server")], env={"LD_PRELOAD": preload},
                        needs=[tool_path(build, "line_echo_server"), preload]),
        "gevent": Server("gevent", "gevent (StreamServer)",
                         ["/usr/bin/python3", os.path.join(ROOT, "bench", "gevent_echo.py")],
                         why_missing=gevent_missing),
        "go": Server("go", "Go goroutines (GOMAXPROCS=1)", [go],
                     env={"GOMAXPROCS": "1"}, needs=[go]),
        # The native API's StreamServer, no preload (issue 12): HOST, then the port.
        "api": Server("api", "green::StreamServer (examples/echo_server)",
                      [b("examples", "echo_server"), "127.0.0.1"],
                      needs=[b("examples", "echo_server")]),
        # Variants of green for side-by-side ratios (issues 9 and 10).
        "green-tls-shared": Server("green-tls-shared", "green, GREEN_TLS=shared", [echo],
                                   env={"LD_PRELOAD": preload, "GREEN_TLS": "shared"},
                                   needs=[echo, preload]),
        "green-tls-private": Server("green-tls-private", "green, GREEN_TLS=private", [echo],
                                    env={"LD_PRELOAD": preload, "GREEN_TLS": "private"},
                                    needs=[echo, preload]),
        "green-slice-off": Server("green-slice-off", "green, GREEN_TIMESLICE=off", [echo],
                                  env={"LD_PRELOAD": preload, "GREEN_TIMESLICE": "off"},
                                  needs=[echo, preload]),
        "green-slice-10": Server("green-slice-10", "green, GREEN_TIMESLICE=10", [echo],
                                 env={"LD_PRELOAD": preload, "GREEN_TIMESLICE": "10"},
                                 needs=[echo, preload]),
        # Issue 11: the blocking monitor's cost (the watchdog looks every 25 ms).
        "green-monitor": Server("green-monitor", "green, GREEN_MONITOR_MS=100", [echo],
                                env={"LD_PRELOAD": preload, "GREEN_MONITOR_MS": "100"},
                                needs=[echo, preload]),
        # --base-lib: the same under another build of libgreen.so, for a
        # before/after comparison of a change in one interleaved run.
        "green-base": Server("green-base", "green, libgreen from --base-lib", [echo],
                             env={"LD_PRELOAD": base_lib or ""}, needs=[echo, base_lib or "/"],
                             why_missing=None if base_lib else lambda: "no --base-lib given"),
        # --base-api: another build of examples/echo_server (it links the hub
        # statically), for the same before/after comparison of the native API.
        "api-base": Server("api-base", "green::StreamServer from --base-api",
                           [base_api or "/", "127.0.0.1"], needs=[base_api or "/"],
                           why_missing=None if base_api else lambda: "no --base-api given"),
        # bench/cpu_echo_server.c: echo_server plus one thread computing forever.
        "native-cpu": Server("native-cpu", "native + CPU-bound thread", [cpu_echo], needs=[cpu_echo]),
        "green-cpu": Server("green-cpu", "green + CPU-bound thread, slice 10 ms", [cpu_echo],
                            env={"LD_PRELOAD": preload, "GREEN_TIMESLICE": "10"},
                            needs=[cpu_echo, preload]),
    }


# ------------------------------------------------------------ tools (C code)

FALLBACK_DIR = "bench-cc"


def tool_path(build, name):
    """build/bench/NAME (build/legacy/echo_server) as CMake builds it, else
    the cc-built fallback in build/bench-cc/."""
    p = os.path.join(build, "legacy" if name == "echo_server" else "bench", name)
    if os.path.exists(p):
        return p
    return os.path.join(build, FALLBACK_DIR, name)


def ensure_tools(build, names=("loadclient", "epoll_echo", "cpu_echo_server"), legacy=True):
    """Compile with cc whatever CMake has not built (e.g. while the runtime's
    build is broken), into build/bench-cc/ so CMake's own outputs are left alone."""
    srcs = {n: os.path.join(ROOT, "bench", n + ".c") for n in names}
    if legacy:
        srcs["echo_server"] = os.path.join(ROOT, "tests", "legacy", "echo_server.c")
    for name, src in srcs.items():
        cmake_out = os.path.join(build, "legacy" if name == "echo_server" else "bench", name)
        if os.path.exists(cmake_out):
            continue
        out_dir = os.path.join(build, FALLBACK_DIR)
        out = os.path.join(out_dir, name)
        if os.path.exists(out) and os.path.getmtime(out) >= os.path.getmtime(src):
            continue
        cc = shutil.which("cc") or shutil.which("gcc")
        if not cc:
            continue
        os.makedirs(out_dir, exist_ok=True)
        print("note: %s was not built by CMake; compiling %s with cc -> %s" % (
            os.path.relpath(cmake_out, ROOT), os.path.relpath(src, ROOT), os.path.relpath(out, ROOT)))
        subprocess.run([cc, "-O2", "-std=gnu11", "-o", out, src, "-lpthread"], check=True, timeout=300)


# ---------------------------------------------------------------- /proc reads

def read_status(pid):
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("Threads", "VmHWM", "VmRSS"):
                    out[k] = int(v.split()[0])
    except (OSError, ValueError, IndexError):
        pass
    return out


def read_cpu_ticks(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime, all threads
    except (OSError, ValueError, IndexError):
        return None


def read_cpu_busy_ticks():
    """Busy ticks of all CPUs together (everything but idle and iowait)."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v[:8]) - v[3] - v[4]
    except (OSError, ValueError, IndexError):
        return None


class Sampler(threading.Thread):
    """Polls every ~50 ms: the server's /proc/PID/status (peak Threads, VmHWM)
    and CPU ticks of the server, of the load client and of the whole machine,
    so CPU use can be computed over the measured window alone."""

    def __init__(self, proc):
        super().__init__(daemon=True)
        self.proc = proc
        self.client_pid = None
        self.stop_event = threading.Event()
        self.threads_peak = 0
        self.vmhwm_kib = 0
        self.samples = 0
        self.cpu = []  # (monotonic time, server ticks, client ticks, machine busy ticks)

    def sample(self):
        st = read_status(self.proc.pid)
        if st:
            self.samples += 1
            self.threads_peak = max(self.threads_peak, st.get("Threads", 0))
            self.vmhwm_kib = max(self.vmhwm_kib, st.get("VmHWM", 0))
        if self.client_pid:
            srv, cli, busy = read_cpu_ticks(self.proc.pid), read_cpu_ticks(self.client_pid), read_cpu_busy_ticks()
            if None not in (srv, cli, busy):
                self.cpu.append((time.monotonic(), srv, cli, busy))
        return st

    def run(self):
        while not self.stop_event.is_set():
            if self.proc.poll() is not None:
                return
            self.sample()
            self.stop_event.wait(SAMPLE_INTERVAL)

    def window_cpu(self, start, end):
        """% of one core used by server, client and everything else between
        start and end (monotonic), or None without enough samples."""
        inside = [c for c in self.cpu if start <= c[0] <= end]
        if len(inside) < 2 or inside[-1][0] - inside[0][0] < 0.5:
            return None
        a, b = inside[0], inside[-1]
        dt = b[0] - a[0]
        srv, cli, busy = ((b[i] - a[i]) / CLK_TCK for i in (1, 2, 3))
        pct = lambda x: round(100.0 * x / dt, 1)
        return pct(srv), pct(cli), pct(max(0.0, busy - srv - cli))


# --------------------------------------------------------------------- a trial

def describe_exit(rc):
    if rc is None:
        return "still running"
    if rc < 0:
        try:
            return "killed by %s" % signal.Signals(-rc).name
        except ValueError:
            return "killed by signal %d" % -rc
    return "exited with status %d" % rc


def tail(path, n=6):
    try:
        with open(path, errors="replace") as f:
            lines = [l.rstrip() for l in f.readlines() if l.strip()]
        return ("(stderr: %s)" % " | ".join(lines[-n:])[-400:]) if lines else ""
    except OSError:
        return ""


def stop_process(proc, grace=3.0):
    if proc.poll() is not None:
        return
    try:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
    except ProcessLookupError:
        pass


def read_listening(proc, timeout):
    """Reads 'listening PORT' from the server's stdout within timeout seconds."""
    deadline = time.monotonic() + timeout
    buf = b""
    fd = proc.stdout.fileno()
    while time.monotonic() < deadline:
        if b"\n" in buf:
            line, _, buf = buf.partition(b"\n")
            words = line.decode(errors="replace").split()
            if len(words) == 2 and words[0] == "listening":
                return int(words[1])
            if len(words) == 3 and words[:2] == ["listening", "on"]:  # examples/: HOST:PORT
                return int(words[2].rsplit(":", 1)[1])
            continue  # some other line: keep looking
        r, _, _ = select.select([fd], [], [], max(0.0, min(0.2, deadline - time.monotonic())))
        if r:
            chunk = os.read(fd, 4096)
            if not chunk:
                raise RuntimeError("server closed stdout before 'listening PORT' (%s)"
                                   % describe_exit(proc.wait(timeout=5)))
            buf += chunk
        elif proc.poll() is not None:
            raise RuntimeError("server %s before 'listening PORT'" % describe_exit(proc.returncode))
    raise RuntimeError("no 'listening PORT' from the server within %.0f s" % timeout)


def run_trial(server, conns, a, cores, logdir):
    """One server, one connection count. Returns a dict (ok or with 'error')."""
    res = {"server": server.key, "conns": conns, "ok": False}
    server_core, client_core = cores
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    # `env` applies LD_PRELOAD to the server only, not to taskset itself.
    argv = (["taskset", "-c", str(server_core), "env"]
            + ["%s=%s" % kv for kv in sorted(server.env.items())]
            + server.argv + ["0"])
    err_path = os.path.join(logdir, "%s-%d-server.stderr" % (server.key, conns))
    with open(err_path, "wb") as err_f:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err_f, stdin=subprocess.DEVNULL,
                                cwd=ROOT, env=env, start_new_session=True)
    sampler = Sampler(proc)
    client = None
    try:
        try:
            port = read_listening(proc, a.startup_timeout)
        except (RuntimeError, ValueError) as e:
            res["error"] = "%s %s" % (e, tail(err_path))
            return res
        sampler.start()
        t0 = time.monotonic()
        cargv = ["taskset", "-c", str(client_core), a.loadclient,
                 "--port", str(port), "--conns", str(conns), "--msg-size", str(a.msg_size),
                 "--duration", str(a.duration), "--warmup", str(a.warmup),
                 "--connect-rate", str(a.connect_rate), "--connect-timeout", str(a.connect_timeout)]
        client = subprocess.Popen(cargv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  stdin=subprocess.DEVNULL, env=env)
        sampler.client_pid = client.pid  # taskset execs the client: same pid
        # The client stops by itself; this is only a backstop.
        limit = a.connect_timeout + a.warmup + a.duration + 30
        out = err = b""
        server_died = None
        while True:
            try:
                out, err = client.communicate(timeout=0.25)
                break
            except subprocess.TimeoutExpired:
                pass
            if proc.poll() is not None and server_died is None:
                server_died = describe_exit(proc.returncode)
                client.kill()  # no point waiting for its timeouts
            if time.monotonic() - t0 > limit:
                client.kill()
                out, err = client.communicate(timeout=30)
                res["error"] = "load client did not finish within %.0f s" % limit
                return res
        wall = time.monotonic() - t0
        final = sampler.sample() if proc.poll() is None else {}
        sampler.stop_event.set()
        sampler.join(timeout=5)
        if server_died:
            res["error"] = "server %s during the run %s" % (server_died, tail(err_path))
            return res
        lines = [l for l in out.decode(errors="replace").splitlines() if l.startswith("{")]
        if not lines:
            res["error"] = "load client gave no result (%s): %s" % (
                describe_exit(client.returncode), err.decode(errors="replace").strip()[-300:])
            return res
        r = json.loads(lines[-1])
        res.update(r)
        res["ok"] = bool(r.get("ok")) and client.returncode == 0
        if not res["ok"]:
            res["error"] = r.get("error") or "load client %s" % describe_exit(client.returncode)
        res["threads_peak"] = sampler.threads_peak
        res["rss_peak_kib"] = max(sampler.vmhwm_kib, final.get("VmHWM", 0))
        res["status_samples"] = sampler.samples
        res["wall_seconds"] = round(wall, 3)
        # CPU use over the measured window (after connect and warmup), a
        # little inside it; other = interrupts and other processes (noise).
        m0 = t0 + r.get("connect_seconds", 0) + a.warmup + 0.1
        w = sampler.window_cpu(m0, m0 + a.duration - 0.2)
        if w:
            res["server_cpu_pct"], res["client_cpu_pct"], res["other_cpu_pct"] = w
        return res
    finally:
        sampler.stop_event.set()
        if client is not None and client.poll() is None:
            client.kill()
            client.wait(timeout=30)
        stop_process(proc)
        if proc.stdout:
            proc.stdout.close()


# ----------------------------------------------------------------- reporting

def median(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def summarize(trials, servers, conn_counts, skipped):
    """{conns: {server: summary}}; a summary is either medians or a reason."""
    out = {}
    for n in conn_counts:
        out[n] = {}
        for key in servers:
            if key in skipped:
                out[n][key] = {"skipped": skipped[key]}
                continue
            ts = [t for t in trials if t["server"] == key and t["conns"] == n]
            good = [t for t in ts if t["ok"]]
            s = {"rounds": len(ts), "good_rounds": len(good)}
            if not good:
                s["failed"] = ts[0].get("error", "no result") if ts else "not run"
            else:
                s["msgs_min"] = min(t["msgs_per_sec"] for t in good)
                s["msgs_max"] = max(t["msgs_per_sec"] for t in good)
                for f in ("msgs_per_sec", "p50_us", "p99_us", "p999_us", "threads_peak", "rss_peak_kib",
                          "server_cpu_pct", "client_cpu_pct", "other_cpu_pct", "connect_seconds"):
                    s[f] = median([t.get(f) for t in good])
                s["cpu_us_per_msg"] = median([cpu_us_per_msg(t) for t in good])
                s["errors"] = sum(t.get("errors", 0) for t in good)
                bad = [t for t in ts if not t["ok"]]
                if bad:
                    s["failed_rounds_error"] = bad[0].get("error", "")
            out[n][key] = s
    return out


def cpu_us_per_msg(t):
    """The server's CPU time per message in microseconds: unlike msgs/s it
    does not depend on which side (server or load client) set the pace."""
    cpu, rate = t.get("server_cpu_pct"), t.get("msgs_per_sec")
    if cpu is None or not rate:
        return None
    return cpu / 100.0 * 1e6 / rate


def fmt_us(v):
    return "-" if v is None else "%.2f" % v


def fmt_int(v):
    return "-" if v is None else "{:,.0f}".format(v)


def fmt_ms(us):
    return "-" if us is None else "%.2f" % (us / 1000.0)


def fmt_mib(kib):
    return "-" if kib is None else "%.1f MiB" % (kib / 1024.0)


def fmt_ratio(a, b):
    if a is None or not b:
        return "-"
    r = a / b
    if 0 < r < 0.1:
        return "1/%.0f" % (1 / r)  # e.g. 1 thread instead of 5,001: "1/5001"
    return "%.2fx" % r


def fmt_pct(v):
    return "-" if v is None else "%.0f%%" % v


def render_rows(summary, servers, labels, a):
    """One block per connection count; one row per server."""
    lines = []
    cols = ["server", "msgs/s", "vs native", "vs epoll", "p50 ms", "p99 ms", "threads",
            "peak RSS", "srv CPU", "cli CPU", "other", "us/msg", "CPU vs epoll", "errors"]
    for n, per in summary.items():
        lines.append("")
        lines.append("%s connections  (median of %d rounds; %g s measured after %g s warmup; %d-byte messages)"
                     % ("{:,}".format(n), a.rounds, a.duration, a.warmup, a.msg_size))
        native = per.get("native", {}).get("msgs_per_sec")
        epoll = per.get("epoll", {}).get("msgs_per_sec")
        epoll_us = per.get("epoll", {}).get("cpu_us_per_msg")
        rows = []
        notes = []
        for key in servers:
            s = per[key]
            if "skipped" in s:
                rows.append([labels[key], "skipped: " + s["skipped"]])
                continue
            if "failed" in s:
                rows.append([labels[key], "failed (%d/%d rounds): %s" % (
                    s["rounds"] - s["good_rounds"], s["rounds"], s["failed"][:160])])
                continue
            rows.append([labels[key], fmt_int(s["msgs_per_sec"]), fmt_ratio(s["msgs_per_sec"], native),
                         fmt_ratio(s["msgs_per_sec"], epoll), fmt_ms(s["p50_us"]), fmt_ms(s["p99_us"]),
                         fmt_int(s["threads_peak"]), fmt_mib(s["rss_peak_kib"]),
                         fmt_pct(s["server_cpu_pct"]), fmt_pct(s["client_cpu_pct"]),
                         fmt_pct(s["other_cpu_pct"]), fmt_us(s["cpu_us_per_msg"]),
                         fmt_ratio(epoll_us, s["cpu_us_per_msg"]), fmt_int(s["errors"])])
            if s["good_rounds"] < s["rounds"]:
                notes.append("  note: %s failed %d of %d rounds: %s" % (
                    labels[key], s["rounds"] - s["good_rounds"], s["rounds"], s["failed_rounds_error"][:160]))
        widths = [len(c) for c in cols]
        widths[0] = max([widths[0]] + [len(r[0]) for r in rows])
        for r in rows:
            if len(r) == len(cols):
                widths = [max(w, len(x)) for w, x in zip(widths, r)]
        def fmt(r):
            if len(r) != len(cols):
                return "  " + r[0].ljust(widths[0]) + "  " + r[1]
            return "  " + "  ".join(x.ljust(w) if i == 0 else x.rjust(w)
                                    for i, (x, w) in enumerate(zip(r, widths)))
        lines.append(fmt(cols))
        lines.append("  " + "  ".join("-" * w for w in widths))
        lines.extend(fmt(r) for r in rows)
        lines.extend(notes)
    lines.append("")
    lines.append("  vs native / vs epoll: msgs/s relative to the native-threads server and to the epoll ceiling.")
    lines.append("  threads: peak Threads: in /proc/PID/status (sampled every 50 ms); peak RSS: VmHWM.")
    lines.append("  srv/cli CPU: % of one core used by the server (core 0) and the load client (core 1) in the")
    lines.append("  measured window; cli CPU near 100% means the client, not the server, was the limit (the epoll")
    lines.append("  ceiling costs about as much per message as the client). other: CPU used meanwhile by anything")
    lines.append("  else (interrupts, other processes); when it is high the machine was busy and figures are noisy.")
    lines.append("  us/msg: the server's CPU time per message; CPU vs epoll: the epoll ceiling's us/msg over this")
    lines.append("  server's (1.00x: as cheap per message). When the client sets the pace, vs epoll flatters a slow")
    lines.append("  server and CPU vs epoll does not.")
    return "\n".join(lines)


def render_columns(summary, servers, labels, a):
    """Side by side: one column per server, one row per metric, plus each
    server's ratio to the first one (e.g. green/native)."""
    lines = []
    base = servers[0]
    metrics = [("messages/s", "msgs_per_sec", fmt_int, True),
               ("messages/s, rounds' min-max", "msgs_range", None, False),
               ("p50 latency (ms)", "p50_us", fmt_ms, True),
               ("p99 latency (ms)", "p99_us", fmt_ms, True),
               ("p99.9 latency (ms)", "p999_us", fmt_ms, True),
               ("peak OS threads", "threads_peak", fmt_int, True),
               ("peak RSS", "rss_peak_kib", fmt_mib, True),
               ("server CPU (core 0)", "server_cpu_pct", fmt_pct, False),
               ("server CPU per message (us)", "cpu_us_per_msg", fmt_us, True),
               ("other CPU use (noise)", "other_cpu_pct", fmt_pct, False),
               ("errors", "errors", fmt_int, False)]
    for n, per in summary.items():
        lines.append("")
        lines.append("%s concurrent connections  (median of %d rounds; %g s measured after %g s warmup)"
                     % ("{:,}".format(n), a.rounds, a.duration, a.warmup))
        head = [""] + [labels[k] for k in servers] + ["%s/%s" % (k, base) for k in servers[1:]]
        rows = []
        for title, f, fm, ratio in metrics:
            row = [title]
            for k in servers:
                s = per[k]
                if "skipped" in s or "failed" in s:
                    row.append("")
                elif fm is None:  # the spread over rounds, to judge the noise
                    row.append("%s-%s" % (fmt_int(s.get("msgs_min")), fmt_int(s.get("msgs_max"))))
                else:
                    row.append(fm(s.get(f)))
            for k in servers[1:]:
                s, b = per[k], per[base]
                ok = all("skipped" not in x and "failed" not in x for x in (s, b))
                row.append(fmt_ratio(s.get(f), b.get(f)) if ok and ratio else "")
            rows.append(row)
        widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
        fmt = lambda r: "  " + "  ".join(x.ljust(w) if i == 0 else x.rjust(w)
                                         for i, (x, w) in enumerate(zip(r, widths)))
        lines.append(fmt(head))
        lines.append("  " + "  ".join("-" * w for w in widths))
        lines.extend(fmt(r) for r in rows)
        for k in servers:
            s = per[k]
            if "skipped" in s:
                lines.append("  %s: skipped: %s" % (labels[k], s["skipped"]))
            elif "failed" in s:
                lines.append("  %s: FAILED in all %d rounds: %s" % (labels[k], s["rounds"], s["failed"]))
            elif s["good_rounds"] < s["rounds"]:
                lines.append("  note: %s failed %d of %d rounds: %s" % (
                    labels[k], s["rounds"] - s["good_rounds"], s["rounds"], s["failed_rounds_error"][:200]))
    return "\n".join(lines)


def plot(summary, servers, labels, path, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    conn_counts = list(summary)
    has_data = lambda k: any("msgs_per_sec" in summary[n][k] for n in conn_counts)
    missing = [k for k in servers if not has_data(k)]
    servers = [k for k in servers if has_data(k)]
    colors = {"native": "tab:blue", "green": "tab:green", "epoll": "tab:gray", "stdio": "tab:olive",
              "gevent": "tab:orange", "go": "tab:purple"}
    panels = [("messages/s (higher is better)", "msgs_per_sec", 1.0, False),
              ("p99 latency, ms (lower is better)", "p99_us", 1e-3, False),
              ("peak OS threads (log)", "threads_peak", 1.0, True),
              ("peak RSS, MiB (lower is better)", "rss_peak_kib", 1 / 1024.0, False)]
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    width = 0.8 / max(1, len(servers))
    for ax, (ptitle, field, scale, log) in zip(axes.flat, panels):
        for i, key in enumerate(servers):
            xs, ys = [], []
            for j, n in enumerate(conn_counts):
                s = summary[n][key]
                v = s.get(field) if "skipped" not in s and "failed" not in s else None
                if v is not None:
                    xs.append(j + (i - (len(servers) - 1) / 2) * width)
                    ys.append(v * scale)
            bars = ax.bar(xs, ys, width, label=labels[key], color=colors.get(key))
            if field in ("msgs_per_sec", "threads_peak"):
                ax.bar_label(bars, labels=["{:,.0f}".format(y) for y in ys], fontsize=7, rotation=90,
                             padding=2)
        ax.set_title(ptitle, fontsize=10)
        ax.set_xticks(range(len(conn_counts)))
        ax.set_xticklabels(["{:,} conns".format(n) for n in conn_counts])
        if log:
            ax.set_yscale("log")
        ax.margins(y=0.2)
        ax.grid(axis="y", alpha=0.3)
    handles, names = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=min(5, max(1, len(names))), fontsize=8,
               bbox_to_anchor=(0.5, 0.025 if missing else 0.0), frameon=False)
    fig.suptitle(title, fontsize=11)
    if missing:
        notes = []
        for k in missing:
            s = summary[conn_counts[0]][k]
            why = s.get("skipped") or "failed: " + s.get("failed", "")
            notes.append("%s: %s" % (labels[k], why[:90]))
        fig.text(0.01, 0.005, "not shown: " + "; ".join(notes), fontsize=7, va="bottom")
    fig.tight_layout(rect=(0, 0.08 if missing else 0.05, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------------- main

def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--conns", default="1000,5000", help="comma-separated connection counts (default 1000,5000)")
    p.add_argument("--servers", default="native,green,stdio,epoll,gevent,go,api",
                   help="comma-separated, from: native, green, stdio, epoll, gevent, go; the "
                   "variants green-tls-shared, green-tls-private, green-slice-off, green-slice-10, "
                   "green-monitor, green-base (--base-lib), api-base (--base-api); "
                   "native-cpu, green-cpu (bench/cpu_echo_server.c: one more thread computing)")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds per server (default 3)")
    p.add_argument("--duration", type=float, default=5.0, help="measured seconds per trial (default 5)")
    p.add_argument("--warmup", type=float, default=2.0, help="warmup seconds per trial (default 2)")
    p.add_argument("--msg-size", type=int, default=64)
    p.add_argument("--connect-rate", type=int, default=50, help="connections opened per 10 ms tick")
    p.add_argument("--connect-timeout", type=float, default=60.0)
    p.add_argument("--startup-timeout", type=float, default=15.0, help="seconds to wait for 'listening PORT'")
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--base-lib", help="a libgreen.so to compare with: the server green-base")
    p.add_argument("--base-api", help="an examples/echo_server binary to compare with: the server api-base")
    p.add_argument("--skip", action="append", default=[], metavar="SERVER=REASON",
                   help="report SERVER as skipped with REASON (repeatable)")
    p.add_argument("--layout", choices=("rows", "columns"), default="rows",
                   help="rows: a row per server (full bench); columns: side by side (demo)")
    p.add_argument("--results-dir", default=os.path.join(ROOT, "bench", "results"))
    p.add_argument("--name", default="echo-bench", help="file name prefix for the JSON and PNG")
    p.add_argument("--no-plot", action="store_true")
    p.add_argument("--quiet", action="store_true", help="no per-trial lines")
    a = p.parse_args(argv)
    a.conn_counts = [int(x) for x in a.conns.split(",") if x.strip()]
    a.server_keys = [x.strip() for x in a.servers.split(",") if x.strip()]
    if not a.conn_counts or any(n < 1 or n > 10000 for n in a.conn_counts):
        p.error("--conns: each count must be in 1..10000")
    if a.rounds < 1 or a.rounds > 50:
        p.error("--rounds must be in 1..50")
    if not (0.1 <= a.duration <= 3600) or not (0 <= a.warmup <= 3600):
        p.error("--duration must be in [0.1, 3600], --warmup in [0, 3600]")
    return a


def pick_cores():
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except OSError:
        cpus = list(range(os.cpu_count() or 1))
    if len(cpus) >= 2:
        return cpus[0], cpus[1]
    print("warning: only one CPU available; server and client share core %d" % cpus[0])
    return cpus[0], cpus[0]


def _exit_on_signal(signum, _frame):
    # Turn SIGTERM/SIGHUP into an exception so the running trial's finally
    # block still kills its server (it is in its own session, see run_trial).
    raise SystemExit(128 + signum)


def main(argv=None):
    a = parse_args(sys.argv[1:] if argv is None else argv)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _exit_on_signal)
    a.build = os.path.abspath(a.build)
    ensure_tools(a.build)
    a.loadclient = tool_path(a.build, "loadclient")
    if not os.path.exists(a.loadclient):
        print("error: %s not found and could not be compiled" % a.loadclient, file=sys.stderr)
        return 1
    servers = make_servers(a.build, a.base_lib and os.path.abspath(a.base_lib),
                           a.base_api and os.path.abspath(a.base_api))
    unknown = [k for k in a.server_keys if k not in servers]
    if unknown:
        print("error: unknown server(s): %s (known: %s)" % (", ".join(unknown), ", ".join(servers)),
              file=sys.stderr)
        return 2
    labels = {k: servers[k].label for k in a.server_keys}
    skipped = {}
    for s in a.skip:
        k, _, why = s.partition("=")
        if k in a.server_keys:
            skipped[k] = why or "skipped by request"
    for k in a.server_keys:
        if k not in skipped:
            why = servers[k].unavailable()
            if why:
                skipped[k] = why
    for k in a.server_keys:
        if k in skipped:
            print("  %-32s skipped: %s" % (labels[k], skipped[k]))
    run_keys = [k for k in a.server_keys if k not in skipped]

    cores = pick_cores()
    # The harness itself (mostly asleep) stays off the server's core.
    try:
        os.sched_setaffinity(0, {cores[1]})
    except OSError:
        pass

    os.makedirs(a.results_dir, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    logdir = tempfile.mkdtemp(prefix="echo-bench-")
    trials = []
    total = len(a.conn_counts) * a.rounds * len(run_keys)
    per_trial = a.warmup + a.duration + 2
    print("server on core %d, load client on core %d; %d trials of ~%.0f s each (about %.0f s in all)"
          % (cores[0], cores[1], total, per_trial, total * per_trial))
    i = 0
    for n in a.conn_counts:
        for rnd in range(1, a.rounds + 1):
            turn = (rnd - 1) % max(1, len(run_keys))  # none left when all are skipped
            for k in run_keys[turn:] + run_keys[:turn]:
                i += 1
                if not a.quiet:
                    print("  [%2d/%d] %6s conns  round %d  %-32s " % (i, total, "{:,}".format(n), rnd,
                                                                    labels[k]), end="", flush=True)
                t = run_trial(servers[k], n, a, cores, logdir)
                t["round"] = rnd
                trials.append(t)
                if not a.quiet:
                    if t["ok"]:
                        busy = t.get("other_cpu_pct") or 0
                        print("%9s msgs/s  p50 %7s ms  p99 %7s ms  threads %5s  RSS %s%s" % (
                            fmt_int(t["msgs_per_sec"]), fmt_ms(t["p50_us"]), fmt_ms(t["p99_us"]),
                            fmt_int(t.get("threads_peak")), fmt_mib(t.get("rss_peak_kib")),
                            "  (warning: %.0f%% of a core used by other work)" % busy
                            if busy > NOISY_PCT else ""), flush=True)
                    else:
                        print("FAILED: %s" % t.get("error", "?")[:300], flush=True)
                time.sleep(0.3)

    summary = summarize(trials, a.server_keys, a.conn_counts, skipped)
    render = render_columns if a.layout == "columns" else render_rows
    print(render(summary, a.server_keys, labels, a))

    base = os.path.join(a.results_dir, "%s-%s" % (a.name, stamp))
    with open(base + ".json", "w") as f:
        json.dump({"args": {k: v for k, v in vars(a).items() if isinstance(v, (int, float, str, list))},
                   "cores": cores, "skipped": skipped, "trials": trials,
                   "summary": {str(n): v for n, v in summary.items()}}, f, indent=1)
    print("\nraw results: %s" % os.path.relpath(base + ".json", os.getcwd()))
    if not a.no_plot:
        try:
            plot(summary, a.server_keys, labels, base + ".png",
                 "Echo servers, one core each for server and client; %d-byte messages, median of %d rounds"
                 % (a.msg_size, a.rounds))
            print("plot:        %s" % os.path.relpath(base + ".png", os.getcwd()))
        except ImportError as e:
            print("plot skipped: matplotlib not available for %s (%s); install python3-matplotlib"
                  % (sys.executable, e))
    shutil.rmtree(logdir, ignore_errors=True)
    ran_any = any(t["ok"] for t in trials)
    return 0 if ran_any else 1


if __name__ == "__main__":
    sys.exit(main())
