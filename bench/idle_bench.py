#!/usr/bin/python3
"""Memory per idle connection, native threads against libgreen, side by side.

For each connection count (1,000, 5,000 and 10,000 by default) and each side
(native; green, the default GREEN_TLS=private; green with GREEN_TLS=shared;
green with GREEN_STACK_SIZE=256k),
in interleaved rounds (native green shared native green shared ...), one trial:

  * starts tests/legacy/echo_server pinned to core 0, natively or under
    LD_PRELOAD=build/libgreen.so, and reads "listening PORT";
  * waits until the machine's KernelStack figure is steady (the previous
    trial's threads are freed lazily), then reads the server's VmRSS and the
    KernelStack and PageTables lines of /proc/meminfo;
  * runs build/bench/loadclient --hold on core 1 (its own process: the server
    and the client each hold one descriptor per connection, and a process may
    have about 20,000): it opens the connections, one echo on each so the
    server's thread has run and touched its buffer, then holds them idle;
  * reads the same figures again; the client's own page tables (its VmPTE)
    and kernel stack (one thread) are taken off the machine-wide deltas;
  * closes the client, kills the server.

Memory per connection = (server RSS delta + KernelStack delta + PageTables
delta) / connections: a native thread costs a kernel stack that VmRSS does
not show. The RSS delta is also split by the server's /proc/PID/smaps into
thread stacks (anonymous mappings of a thread's stack size or more: with
GREEN_TLS=private they hold each thread's TLS block too), the heap ([heap]
and malloc's other arenas, anonymous mappings under 64 MiB... of other
sizes) and the rest. It prints the medians in KiB per connection, split into the three,
and the green/native ratio against the target of at most 1/3 (issue 8).
KernelStack and PageTables are machine-wide: other work meanwhile is noise,
which the medians and the steadiness wait only reduce.

Run it with /usr/bin/python3. Loopback only; every wait is bounded."""
import argparse
import os
import select
import signal
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import echo_bench  # noqa: E402  (read_listening, stop_process, tool paths)

ROOT = echo_bench.ROOT
KSTACK_KIB = 16  # x86-64 kernel stack per thread (THREAD_SIZE)


def meminfo():
    out = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("KernelStack", "PageTables"):
                out[k] = int(v.split()[0])
    return out


def status(pid, keys=("VmRSS", "VmPTE", "Threads")):
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in keys:
                    out[k] = int(v.split()[0])
    except OSError:
        pass
    return out


def smaps_split(pid, stack_kib=8192):
    """The server's resident KiB in thread stacks, heap and arenas, the rest."""
    out = {"stacks": 0, "heap": 0, "other": 0}
    kind = None
    try:
        with open("/proc/%d/smaps" % pid) as f:
            for line in f:
                first = line.split(None, 6)
                if "-" in first[0] and len(first) >= 5 and ":" not in first[0]:
                    lo, hi = (int(x, 16) for x in first[0].split("-"))
                    name = first[5].strip() if len(first) > 5 else ""
                    if name == "[heap]":
                        kind = "heap"
                    elif name:
                        kind = "other"
                    elif (stack_kib * 7 // 8 <= (hi - lo) >> 10 <= stack_kib * 2 and
                          "rw" in first[1]):
                        kind = "stacks"  # a thread's stack, guard page aside
                    else:
                        kind = "heap"  # malloc's arenas and the runtime's own anonymous memory
                elif line.startswith("Rss:") and kind:
                    out[kind] += int(line.split()[1])
    except OSError:
        pass
    return out


def wait_steady(limit=5.0):
    """Until KernelStack moves less than 256 KiB in 200 ms (at most limit s)."""
    end = time.monotonic() + limit
    last = meminfo()["KernelStack"]
    while time.monotonic() < end:
        time.sleep(0.2)
        now = meminfo()["KernelStack"]
        if abs(now - last) < 256:
            return
        last = now


def read_line(proc, timeout):
    fd = proc.stdout.fileno()
    buf = b""
    end = time.monotonic() + timeout
    while b"\n" not in buf and time.monotonic() < end:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            buf += chunk
        elif proc.poll() is not None:
            break
    return buf.decode(errors="replace").strip()


# The green sides besides the default one, and the variable each sets.
SIDE_ENV = {
    "green-tls-shared": ["GREEN_TLS=shared"],
    # the stack size libgreen had before issue 8 (glibc's from RLIMIT_STACK
    # since): how much of the default's cost is each stack's page-table page
    "green-stack-256k": ["GREEN_STACK_SIZE=256k"],
    # both: libgreen as it was before issues 8 and 9
    "green-shared-256k": ["GREEN_TLS=shared", "GREEN_STACK_SIZE=256k"],
}


def trial(side, n, a):
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    argv = ["taskset", "-c", "0", "env"]
    if side != "native":
        argv.append("LD_PRELOAD=" + a.preload)
    if side in SIDE_ENV:
        argv += SIDE_ENV[side]
    argv += [a.echo, "0"]
    srv = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    cli = None
    try:
        port = echo_bench.read_listening(srv, 15)
        time.sleep(0.2)
        wait_steady()
        stack_kib = 256 if side.endswith("-256k") else 8192
        m0, s0, x0 = meminfo(), status(srv.pid), smaps_split(srv.pid, stack_kib)
        cli = subprocess.Popen(["taskset", "-c", "1", a.loadclient, "--port", str(port), "--conns",
                                str(n), "--hold", "120", "--connect-timeout", "60"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=env)
        line = read_line(cli, 75)
        if not line.startswith("connected"):
            err = cli.stderr.read1(400).decode(errors="replace") if cli.poll() is not None else ""
            return {"error": "load client: %s %s" % (line or "no 'connected' line", err.strip())}
        time.sleep(0.3)  # let the last threads settle into their read
        m1, s1, c1 = meminfo(), status(srv.pid), status(cli.pid)
        x1 = smaps_split(srv.pid, stack_kib)
        d_rss = s1["VmRSS"] - s0["VmRSS"]
        d_ks = m1["KernelStack"] - m0["KernelStack"] - KSTACK_KIB
        d_pt = m1["PageTables"] - m0["PageTables"] - c1.get("VmPTE", 0)
        return {"rss": d_rss / n, "kstack": d_ks / n, "ptables": d_pt / n,
                "total": (d_rss + d_ks + d_pt) / n, "threads": s1.get("Threads"),
                **{"rss_" + k: (x1[k] - x0[k]) / n for k in x1},
                "connect_s": float(line.split()[2])}
    except (RuntimeError, ValueError, KeyError, IndexError) as e:
        return {"error": str(e)}
    finally:
        if cli is not None:
            try:
                cli.stdin.close()
                cli.wait(timeout=30)
            except (subprocess.TimeoutExpired, BrokenPipeError):
                cli.kill()
                cli.wait(timeout=30)
        echo_bench.stop_process(srv)
        srv.stdout.close()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--conns", default="1000,5000,10000")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--sides", default="native,green,green-tls-shared,green-stack-256k,"
                   "green-shared-256k",
                   help="native,green, then any of green-tls-shared (GREEN_TLS=shared: the "
                   "per-thread TLS block's share is the difference) and green-stack-256k "
                   "(GREEN_STACK_SIZE=256k: stacks that share page-table pages), green-shared-256k "
                   "(both)")
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    a = p.parse_args()
    counts = [int(x) for x in a.conns.split(",") if x.strip()]
    sides = [x for x in a.sides.split(",") if x]
    if sides[:2] != ["native", "green"] or not set(sides) <= {"native", "green", *SIDE_ENV}:
        p.error("--sides: native,green first, then any of " + ", ".join(SIDE_ENV))
    if not counts or any(not 1 <= c <= 10000 for c in counts) or not 1 <= a.rounds <= 20:
        p.error("--conns: counts in 1..10000; --rounds in 1..20")
    a.build = os.path.abspath(a.build)
    echo_bench.ensure_tools(a.build, names=("loadclient",))
    a.echo = echo_bench.tool_path(a.build, "echo_server")
    a.loadclient = echo_bench.tool_path(a.build, "loadclient")
    a.preload = os.path.join(a.build, "libgreen.so")
    for path in (a.echo, a.loadclient, a.preload):
        if not os.path.exists(path):
            sys.exit("idle_bench: %s is missing: run scripts/setup" % path)
    signal.signal(signal.SIGTERM, lambda s, f: sys.exit(128 + s))
    os.sched_setaffinity(0, {1} if os.cpu_count() > 1 else {0})

    print("idle connections: %s, %d interleaved rounds (server core 0, client core 1)"
          % (", ".join("{:,}".format(c) for c in counts), a.rounds))
    results = {}
    for n in counts:
        for rnd in range(a.rounds):
            for side in sides:
                r = trial(side, n, a)
                results.setdefault((n, side), []).append(r)
                if "error" in r:
                    print("  %6s %-16s round %d FAILED: %s" % ("{:,}".format(n), side, rnd + 1,
                                                              r["error"][:200]), flush=True)
                else:
                    print("  %6s %-16s round %d  %5.1f KiB/conn (RSS %.1f + kernel stack %.1f + "
                          "page tables %.1f)  threads %s; RSS in stacks %.2f, heap %.2f, rest %.2f"
                          % ("{:,}".format(n), side, rnd + 1, r["total"], r["rss"], r["kstack"],
                             r["ptables"], r["threads"], r["rss_stacks"], r["rss_heap"],
                             r["rss_other"]), flush=True)

    print("\nmemory per idle connection, KiB: server RSS + KernelStack + PageTables deltas "
          "(median of %d rounds)" % a.rounds)
    extra = [s for s in sides[2:]]
    head = ["conns"] + ["%s KiB (RSS + kstack + ptables)" % s for s in sides] + [
        "green/native", "target 1/3"] + ["%s/native" % s for s in extra]
    rows = []
    for n in counts:
        row = ["{:,}".format(n)]
        med = {}
        for side in sides:
            good = [r for r in results[(n, side)] if "error" not in r]
            if not good:
                row.append("failed")
                continue
            m = {k: statistics.median(r[k] for r in good) for k in ("total", "rss", "kstack", "ptables")}
            med[side] = m["total"]
            row.append("%.1f (%.1f + %.1f + %.1f)" % (m["total"], m["rss"], m["kstack"], m["ptables"]))
        if "native" in med and "green" in med and med["native"] > 0:
            ratio = med["green"] / med["native"]
            row += ["%.2f" % ratio, "met" if ratio <= 1 / 3 else "NOT met"]
        else:
            row += ["-", "-"]
        row += ["%.2f" % (med[s] / med["native"]) if s in med and med.get("native") else "-"
                for s in extra]
        rows.append(row)
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    for r in [head, ["-" * w for w in widths]] + rows:
        print("  " + "  ".join(x.rjust(w) for x, w in zip(r, widths)))
    print("  RSS: the server's VmRSS after opening the connections less before; kstack, ptables: the\n"
          "  KernelStack and PageTables deltas of /proc/meminfo over the same time, less the load\n"
          "  client's own (one 16 KiB kernel stack, its VmPTE). Machine-wide: other work is noise.")
    if "green-tls-shared" in sides:
        print("  green-tls-shared: the same under GREEN_TLS=shared; green less it is what each green\n"
              "  thread's own TLS block and thread control block cost (GREEN_TLS=private).")
    if "green-shared-256k" in sides:
        print("  green-shared-256k: both, libgreen as it was before issues 8 and 9: the two\n"
              "  fidelity requirements (glibc-sized stacks, a TLS block per green thread) are the rest.")
    if "green-stack-256k" in sides:
        print("  green-stack-256k: the same under GREEN_STACK_SIZE=256k. With glibc's 8 MiB stacks\n"
              "  each thread's touched top lies in a 2 MiB region of its own, so it needs a 4 KiB\n"
              "  page-table page of its own, natively as under libgreen; 256 KiB stacks share one.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
