#!/usr/bin/python3
"""Concurrent DNS lookups natively and under libgreen, side by side in one run.

Starts tests/integration/python/slow_dns.py (every answer 100 ms late) on port
53 of a random 127.x.y.z address and writes a resolv.conf naming it. Then runs
build/bench/dns_lookups (plain pthreads: 50 threads, each one getaddrinfo of a
distinct name) natively and under LD_PRELOAD=build/libgreen.so, interleaved,
each inside `unshare -m` with that resolv.conf bind-mounted over
/etc/resolv.conf (as tests/integration/test_issue4.py does: glibc's resolver
takes no port, and the lookups must never reach the machine's own resolver).
Prints the median wall time of the 50 lookups on each side, against the serial
lower bound of 50 x 100 ms. Under the preload each lookup holds one of the
hub's thread-pool threads for its 100 ms, so the pool size bounds the green
figure from below (ceil(50 / pool) x 100 ms); the table says which size ran.
Needs root (port 53, the bind mount); elsewhere it says it is skipped and
exits 0."""
import argparse
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SLOW_DNS = os.path.join(ROOT, "tests", "integration", "python", "slow_dns.py")
MARKER = "# libgreen dns bench resolver"
GOAL_MS = 500  # the issue: 50 lookups of 100 ms finish in under 0.5 s under the preload


def skip_reason():
    if os.geteuid() != 0:
        return "needs root (port 53 and a bind mount over /etc/resolv.conf)"
    for tool in ("unshare", "mount"):
        if not shutil.which(tool):
            return f"needs {tool} (util-linux)"
    return None


def clean_env():
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    return env


def start_slow_dns(delay):
    """slow_dns.py on a random 127.x.y.z:53; (process, address) or (None, None)."""
    for _ in range(10):
        address = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"
        proc = subprocess.Popen([sys.executable, SLOW_DNS, address, "53", str(delay)],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, env=clean_env())
        if proc.stdout.readline().strip() == b"ready":
            return proc, address
        proc.kill()
        proc.wait()
    return None, None


def in_bench_resolver(resolv, argv):
    """argv in a mount namespace whose /etc/resolv.conf is resolv (the shape of
    test_issue4.in_test_resolver, which lives in a pytest module). When the
    bind mount fails the program does not run at all."""
    script = (f'mount --bind "$0" /etc/resolv.conf && '
              f'grep -q "^{MARKER}" /etc/resolv.conf && exec "$@"')
    return ["unshare", "-m", "sh", "-c", script, resolv, *argv]


def pool_size(build, threadpool):
    """How many thread-pool threads the green runs get, as libgreen decides:
    UV_THREADPOOL_SIZE wins, then GREEN_THREADPOOL, then the default that
    build/green-symbols prints. None when it cannot be told."""
    for value in (os.environ.get("UV_THREADPOOL_SIZE"), threadpool,
                  os.environ.get("GREEN_THREADPOOL")):
        if value:
            return int(value) if str(value).isdigit() else None
    try:
        out = subprocess.run([os.path.join(build, "green-symbols")], capture_output=True,
                             text=True, timeout=30).stdout
    except OSError:
        return None
    for line in out.splitlines():
        if line.startswith("| `GREEN_THREADPOOL` |"):
            default = line.strip().strip("|").split("|")[-1].strip()
            return int(default) if default.isdigit() else None
    return None


def run(binary, threads, resolv, preload, threadpool):
    """The wall time of one run's lookups, in ms. Only the program is
    preloaded, not unshare, sh and mount."""
    argv = [binary, str(threads)]
    if preload:
        pool = [f"GREEN_THREADPOOL={threadpool}"] if threadpool else []
        argv = ["env", f"LD_PRELOAD={preload}", *pool, *argv]
    r = subprocess.run(in_bench_resolver(resolv, argv), env=clean_env(), capture_output=True,
                       text=True, timeout=60)
    fields = r.stdout.split()
    if r.returncode != 0 or len(fields) != 6:
        sys.exit(f"dns_bench: {'green' if preload else 'native'} run failed "
                 f"(exit {r.returncode}): {r.stdout.strip()} {r.stderr.strip()}")
    return int(fields[5]) / 1e6


def report(native, green, threads, delay_ms, rounds, pool):
    serial = threads * delay_ms
    n, g = statistics.median(native), statistics.median(green)
    print(f"\nDNS: {threads} threads, one getaddrinfo each, every answer {delay_ms:.0f} ms late "
          f"(median of {rounds} interleaved rounds)")
    print(f"  {'side':<8} {'wall ms':>8} {'serial ms':>10} {'vs serial':>10}   rounds ms")
    for name, med, times in (("native", n, native), ("green", g, green)):
        each = " ".join(f"{t:.0f}" for t in times)
        print(f"  {name:<8} {med:>8.1f} {serial:>10.0f} {serial / med:>9.1f}x   {each}")
    if pool:
        bound = math.ceil(threads / pool) * delay_ms
        print(f"  green's thread pool: {pool} threads, so at best ceil({threads}/{pool}) x "
              f"{delay_ms:.0f} ms = {bound:.0f} ms")
    else:
        print("  green's thread pool: size unknown")
    print(f"  green/native wall time: {g / n:.2f}x; "
          f"green under {GOAL_MS / 1000:.1f} s: {'yes' if g < GOAL_MS else 'NO'}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--threads", type=int, default=50, help="concurrent lookups (1 to 200)")
    parser.add_argument("--delay", type=float, default=0.1, help="seconds before each answer")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per side")
    parser.add_argument("--threadpool", type=int,
                        help="GREEN_THREADPOOL for the green runs (default: libgreen's own)")
    args = parser.parse_args()
    why = skip_reason()
    if why:
        print(f"\nDNS bench skipped: {why}")
        return
    binary = os.path.join(args.build, "bench", "dns_lookups")
    lib = os.path.join(args.build, "libgreen.so")
    for path in (binary, lib):
        if not os.path.exists(path):
            sys.exit(f"dns_bench: {path} is missing: run scripts/setup")
    proc, address = start_slow_dns(args.delay)
    if proc is None:
        print("\nDNS bench skipped: slow_dns.py could not listen on any 127.x.y.z:53")
        return
    try:
        with tempfile.TemporaryDirectory(prefix="green-dns-bench-") as tmp:
            resolv = os.path.join(tmp, "resolv.conf")
            with open(resolv, "w") as f:
                f.write(f"{MARKER}\nnameserver {address}\noptions timeout:1 attempts:1 ndots:1\n")
            native, green = [], []
            for _ in range(args.rounds):
                native.append(run(binary, args.threads, resolv, None, None))
                green.append(run(binary, args.threads, resolv, lib, args.threadpool))
    finally:
        proc.kill()
        proc.wait()
    report(native, green, args.threads, args.delay * 1000, args.rounds,
           pool_size(args.build, args.threadpool))


if __name__ == "__main__":
    main()
