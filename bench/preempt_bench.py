#!/usr/bin/python3
"""The cost of one preemption, natively and under libgreen, side by side.

Runs build/bench/preempt_cost (plain pthreads) in interleaved rounds:
  seq  one thread does 2 x UNITS work units alone
  par  two threads do UNITS each at once and are preempted in turn
for three set-ups:
  native, 1 core      taskset -c 0: the kernel's scheduler preempts
  green, 1 core       taskset -c 0, LD_PRELOAD, GREEN_TIMESLICE=1: the time
                      slice preempts; the watchdog thread that sends the
                      signal runs on the same core, so its wake-ups count
  green, 2 cores      the same without taskset: the watchdog may run on the
                      other core (the green threads share one OS thread)
and prints medians of two estimates of the cost of one preemption:
  direct    each thread notes when it stopped and resumed (gaps of more than
            10 us between its work units); when one stops, the other runs and
            stops, and the first resumes while the other is still stopped, the
            core was handed over: from the other's last unit to this one's
            first. Less one unit (the partial units
            on both sides come to about one), that is the preemption: signal,
            handler, switch through the hub and back out of the handler
            (natively: timer interrupt, kernel context switch).
  indirect  (par CPU time - seq CPU time) / hand-overs, the process's CPU
            time (all its threads, user and system; other processes on the
            core are not in it): the same work done in turns costs this much
            more per preemption. Cache effects count here (the working set is
            tiny), and so does the clock's coarseness: on a busy machine it is
            the less reliable of the two."""
import argparse
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(binary, mode, units, setup, preload):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GREEN_") and k != "LD_PRELOAD"}
    argv = [binary, mode, str(units)]
    if setup != "green2":
        argv = ["taskset", "-c", "0"] + argv
    if setup != "native":
        env["LD_PRELOAD"] = preload
        env["GREEN_TIMESLICE"] = "1"
    out = subprocess.run(argv, env=env, check=True, capture_output=True, text=True,
                         timeout=300).stdout.split()
    return {out[i]: float(out[i + 1]) for i in range(1, len(out) - 1, 2)}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--units", type=int, default=3000000, help="work units per thread (~100 ns each)")
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    a = p.parse_args()
    binary = os.path.join(a.build, "bench", "preempt_cost")
    preload = os.path.join(a.build, "libgreen.so")
    for path in (binary, preload):
        if not os.path.exists(path):
            sys.exit("preempt_bench: %s is missing: run scripts/setup" % path)
    setups = [("native", "native, 1 core"), ("green1", "green 1 ms slice, 1 core"),
              ("green2", "green 1 ms slice, 2 cores")]
    res = {}
    for _ in range(a.rounds):
        for key, _label in setups:
            for mode in ("seq", "par"):
                res.setdefault((key, mode), []).append(run(binary, mode, a.units, key, preload))

    def med(key, mode, field):
        return statistics.median(r[field] for r in res[(key, mode)])

    rows = [["", *[label for _, label in setups]]]
    cols = {}
    for key, _ in setups:
        seq_ms = med(key, "seq", "elapsed_ns") / 1e6
        par_ms = med(key, "par", "elapsed_ns") / 1e6
        unit = med(key, "seq", "unit_ns")
        n = med(key, "par", "handovers")
        direct = [(r["handover_median_ns"] - unit) / 1e3 for r in res[(key, "par")] if r["handovers"]]
        p10 = [(r["handover_p10_ns"] - unit) / 1e3 for r in res[(key, "par")] if r["handovers"]]
        indirect = [(par["cpu_ns"] - seq["cpu_ns"]) / par["handovers"] / 1e3
                    for par, seq in zip(res[(key, "par")], res[(key, "seq")]) if par["handovers"]]
        f = lambda v: "%.1f" % statistics.median(v) if v else "-"
        cols[key] = ["%.0f" % n, "%.0f" % seq_ms, "%.0f" % par_ms, "%.0f" % unit,
                     f(direct), f(p10), f(indirect), "%.0f" % med(key, "seq", "gaps"),
                     "%.1f" % (med(key, "seq", "gap_mean_ns") / 1e3)]
    titles = ["preemptions (hand-overs) per par run", "seq: 2 x %s units, one thread, ms" % "{:,}".format(a.units),
              "par: two threads at once, ms", "one work unit, ns", "direct: hand-over median, us",
              "direct: hand-over 10th percentile, us", "indirect: CPU (par - seq) / preemptions, us",
              "seq: stops of the lone thread (> 10 us)", "seq: mean stop, us"]
    for i, t in enumerate(titles):
        rows.append([t] + [cols[k][i] for k, _ in setups])
    print("\ncost of one preemption: two CPU-bound threads (bench/preempt_cost.c), median of %d "
          "interleaved rounds" % a.rounds)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for j, r in enumerate(rows):
        print("  " + "  ".join(x.ljust(w) if i == 0 else x.rjust(w) for i, (x, w) in enumerate(zip(r, widths))))
        if j == 0:
            print("  " + "  ".join("-" * w for w in widths))
    print("  direct: from the last work unit of the thread preempted to the first of the one resumed, less\n"
          "  one unit; indirect: the extra CPU time of doing the work in turns, per preemption (noisier).\n"
          "  green 1 core: the watchdog that signals runs on the same core (its wake-ups count); 2 cores:\n"
          "  it may run on the other, the green threads still share one OS thread. seq stops: natively\n"
          "  interrupts and other processes; under the preload also the slice's signal, which comes\n"
          "  every half slice while the lone thread runs (nothing else to switch to), so the indirect\n"
          "  figure is the cost of switching to another thread over a preemption that finds none.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
