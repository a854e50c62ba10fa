#!/usr/bin/python3
"""The native C++ API's micro-benchmarks (build/bench/api_bench, Google
Benchmark), pinned to one core, with the ratios issue 12 asks about.

Runs api_bench a few rounds of a few repetitions each and prints the median
time of each benchmark over all of them (wall clock and CPU), with the
fastest, then:
  green switch / raw Boost.Context round trip   (goal: at most 3x), with
    both sides in the same code, and against the floor of a switch made
    in a function when the two sides return into different code
  hub yield / raw Boost.Context round trip      (the hub alone, no API checks)
  std::thread create+join / green spawn+join    (goal: at least 20x)
  std::condition_variable / green Queue ping-pong
A noisy host slows a whole run at once, repetitions and all: separate rounds
(one process each) make a burst move one round's figures, not the median.
The raw output (a JSON list, one document a round) goes to
bench/results/api-STAMP.json."""
import argparse
import json
import os
import statistics
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

RATIOS = [  # (title, numerator, denominator, goal)
    ("green switch round trip / raw Boost.Context round trip", "BM_GreenSwitchRoundTrip",
     "BM_BoostContextRoundTrip", "goal <= 3x"),
    ("green switch, both sides in the same code / raw Boost.Context round trip",
     "BM_GreenSwitchSameCode", "BM_BoostContextRoundTrip", "goal <= 3x"),
    ("raw switch made in a function (the shim, nothing else) / raw Boost.Context round trip",
     "BM_ShimRoundTripInFunction", "BM_BoostContextRoundTrip",
     "the floor when the sides return into different code"),
    ("green switch round trip / that floor", "BM_GreenSwitchRoundTrip",
     "BM_ShimRoundTripInFunction", "the runtime's own share"),
    ("hub yield round trip / raw Boost.Context round trip", "BM_HubYieldRoundTrip",
     "BM_BoostContextRoundTrip", ""),
    ("std::thread create+join / green spawn+join", "BM_StdThreadCreateJoin",
     "BM_GreenletSpawnJoin", "goal >= 20x"),
    ("spawn+join beside 10,000 waiting greenlets / spawn+join alone",
     "BM_GreenletSpawnJoinBeside/10000", "BM_GreenletSpawnJoin", "flat: about 1x"),
    ("std::condition_variable ping-pong / green Queue ping-pong",
     "BM_StdCondvarPingPong/real_time", "BM_GreenQueuePingPong", ""),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--repetitions", type=int, default=3, help="repetitions a round")
    parser.add_argument("--rounds", type=int, default=3, help="separate runs of the binary")
    parser.add_argument("--min-time", default="0.2", help="seconds per repetition")
    args = parser.parse_args()
    binary = os.path.join(args.build, "bench", "api_bench")
    if not os.path.exists(binary):
        sys.exit(f"api_bench: {binary} is missing (needs libbenchmark-dev): run scripts/setup")
    cmd = [binary, f"--benchmark_repetitions={args.repetitions}",
           f"--benchmark_min_time={args.min_time}", "--benchmark_format=json"]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", "0"] + cmd
    env = {k: v for k, v in os.environ.items() if not k.startswith("GREEN_")}
    env.pop("LD_PRELOAD", None)
    rounds = [json.loads(subprocess.run(cmd, env=env, check=True, capture_output=True, text=True,
                                        timeout=900).stdout) for _ in range(args.rounds)]
    results = os.path.join(ROOT, "bench", "results")
    os.makedirs(results, exist_ok=True)
    path = os.path.join(results, time.strftime("api-%Y%m%d-%H%M%S.json"))
    with open(path, "w") as f:
        json.dump(rounds, f, indent=1)
    times = {}  # run name -> [(wall ns, cpu ns)], every repetition of every round
    for data in rounds:
        for b in data["benchmarks"]:
            if b.get("run_type") == "iteration":
                scale = {"ns": 1, "us": 1e3, "ms": 1e6}[b["time_unit"]]
                times.setdefault(b["run_name"], []).append(
                    (b["real_time"] * scale, b["cpu_time"] * scale))
    median = {name: (statistics.median(r for r, _ in t), statistics.median(c for _, c in t))
              for name, t in times.items()}
    fastest = {name: min(r for r, _ in t) for name, t in times.items()}
    load = os.getloadavg()[0]
    print(f"\nnative C++ API micro-benchmarks (median of {args.rounds} rounds x "
          f"{args.repetitions} repetitions, one core, load {load:.1f}; raw JSON in "
          f"{os.path.relpath(path, ROOT)})")
    print(f"  {'benchmark':<34} {'wall ns':>10} {'cpu ns':>10} {'fastest':>10}")
    for name, (real, cpu) in median.items():
        print(f"  {name:<34} {real:>10.1f} {cpu:>10.1f} {fastest[name]:>10.1f}")
    print("  ratios (wall clock; in brackets CPU time, then the fastest repetitions):")
    for title, num, den, goal in RATIOS:
        if num not in median or den not in median:
            continue
        (nr, nc), (dr, dc) = median[num], median[den]
        print(f"    {title}: {nr / dr:.1f}x ({nc / dc:.1f}x; {fastest[num] / fastest[den]:.1f}x) "
              f"{goal}")


if __name__ == "__main__":
    main()
