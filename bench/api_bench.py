#!/usr/bin/python3
"""The native C++ API's micro-benchmarks (build/bench/api_bench, Google
Benchmark), pinned to one core, with the ratios issue 12 asks about.

Runs api_bench with repetitions and prints the median time of each
benchmark (wall clock and CPU), then:
  green switch / raw Boost.Context round trip   (goal: at most 3x), with
    both sides in the same code, and against the floor of a switch made
    in a function when the two sides return into different code
  hub yield / raw Boost.Context round trip      (the hub alone, no API checks)
  std::thread create+join / green spawn+join    (goal: at least 20x)
  std::condition_variable / green Queue ping-pong
The raw output (JSON) goes to bench/results/api-STAMP.json."""
import argparse
import json
import os
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
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--min-time", default="0.2", help="seconds per repetition")
    args = parser.parse_args()
    binary = os.path.join(args.build, "bench", "api_bench")
    if not os.path.exists(binary):
        sys.exit(f"api_bench: {binary} is missing (needs libbenchmark-dev): run scripts/setup")
    cmd = [binary, f"--benchmark_repetitions={args.repetitions}",
           f"--benchmark_min_time={args.min_time}", "--benchmark_report_aggregates_only=true",
           "--benchmark_format=json"]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", "0"] + cmd
    env = {k: v for k, v in os.environ.items() if not k.startswith("GREEN_")}
    env.pop("LD_PRELOAD", None)
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True,
                         timeout=900).stdout
    data = json.loads(out)
    results = os.path.join(ROOT, "bench", "results")
    os.makedirs(results, exist_ok=True)
    path = os.path.join(results, time.strftime("api-%Y%m%d-%H%M%S.json"))
    with open(path, "w") as f:
        f.write(out)
    median = {}
    for b in data["benchmarks"]:
        if b.get("aggregate_name") == "median":
            scale = {"ns": 1, "us": 1e3, "ms": 1e6}[b["time_unit"]]
            median[b["run_name"]] = (b["real_time"] * scale, b["cpu_time"] * scale)
    load = os.getloadavg()[0]
    print(f"\nnative C++ API micro-benchmarks (median of {args.repetitions}, one core, "
          f"load {load:.1f}; raw JSON in {os.path.relpath(path, ROOT)})")
    print(f"  {'benchmark':<34} {'wall ns':>10} {'cpu ns':>10}")
    for name, (real, cpu) in median.items():
        print(f"  {name:<34} {real:>10.1f} {cpu:>10.1f}")
    print("  ratios (wall clock; CPU time in brackets):")
    for title, num, den, goal in RATIOS:
        if num not in median or den not in median:
            continue
        (nr, nc), (dr, dc) = median[num], median[den]
        print(f"    {title}: {nr / dr:.1f}x ({nc / dc:.1f}x) {goal}")


if __name__ == "__main__":
    main()
