#!/usr/bin/python3
"""Lock round trips natively and under libgreen, side by side in one run.

Runs build/bench/sync_pingpong (plain pthreads: a condition-variable ping-pong,
a mutex hand-off with sched_yield, a semaphore ping-pong) natively and under
LD_PRELOAD=build/libgreen.so, interleaved, pinned to one core, and prints the
median nanoseconds per round trip and the native/green ratio. The green side
runs twice, with GREEN_TLS=private (the default: every switch writes the thread
pointer) and GREEN_TLS=shared, and the difference per switch
is printed: the cost of per-green-thread TLS."""
import argparse
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(binary, rounds, preload, tls=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GREEN_")}
    env.pop("LD_PRELOAD", None)
    if preload:
        env["LD_PRELOAD"] = preload
    if tls:
        env["GREEN_TLS"] = tls
    out = subprocess.run(["taskset", "-c", "0", binary, str(rounds)], env=env, check=True,
                         capture_output=True, text=True, timeout=600).stdout
    result = {}
    for line in out.splitlines():
        name, _, ns = line.split()
        result[name] = float(ns)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--rounds", type=int, default=200000, help="round trips per trial")
    parser.add_argument("--trials", type=int, default=3, help="interleaved trials per side")
    args = parser.parse_args()
    binary = os.path.join(args.build, "bench", "sync_pingpong")
    lib = os.path.join(args.build, "libgreen.so")
    for path in (binary, lib):
        if not os.path.exists(path):
            sys.exit(f"sync_bench: {path} is missing: run scripts/setup")
    native, green, shared = {}, {}, {}
    for _ in range(args.trials):
        for side, preload, tls in ((native, None, None), (green, lib, "private"),
                                   (shared, lib, "shared")):
            for name, ns in run(binary, args.rounds, preload, tls).items():
                side.setdefault(name, []).append(ns)
    print(f"\nlock round trips between two threads (median of {args.trials} interleaved trials, "
          f"{args.rounds} round trips each, one core)")
    print(f"  {'pattern':<10} {'native ns':>10} {'green ns':>10} {'green speed-up':>15} "
          f"{'TLS=shared ns':>14}")
    for name in native:
        n, g, s = (statistics.median(side[name]) for side in (native, green, shared))
        print(f"  {name:<10} {n:>10.1f} {g:>10.1f} {n / g:>14.1f}x {s:>14.1f}")
    # a yield round trip is two switches: each side hands the OS thread
    # straight to the other (hub/hub.cc, switch_away), one thread pointer
    # write each; one hand-off in 16 goes through the hub instead
    g, s = statistics.median(green["yield"]), statistics.median(shared["yield"])
    print(f"  per-green-thread TLS costs {(g - s) / 2:.1f} ns per switch "
          f"(yield round trip {g:.1f} ns private, {s:.1f} ns shared)")


if __name__ == "__main__":
    main()
