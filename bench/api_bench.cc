// Micro-benchmarks of the native C++ API (Google Benchmark): spawn+join of an
// empty greenlet, a green switch, Queue put/get between two greenlets, beside
// the raw Boost.Context round trip and std::thread / std::mutex /
// std::condition_variable equivalents. Run: build/bench/api_bench.
#include <benchmark/benchmark.h>
#include <green/green.hpp>

#include <boost/context/fiber.hpp>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "hub/hub.h"
#include "hub/switch.h"

namespace ctx = boost::context;

static void BM_GreenletSpawnJoin(benchmark::State& state) {
  for (auto _ : state) green::spawn([] {}).join();
}
BENCHMARK(BM_GreenletSpawnJoin);

// The same while N other greenlets wait on an Event: what a thread's start
// and exit cost must not grow with the threads alive (the OS thread's
// signal mask was once found by scanning all of them at every exit).
static void BM_GreenletSpawnJoinBeside(benchmark::State& state) {
  green::Event release;
  std::vector<green::Greenlet<void>> waiting;
  for (int64_t i = 0; i < state.range(0); i++)
    waiting.push_back(green::spawn([&release] { release.wait(); }));
  green::yield();  // they all park before the timing starts
  for (auto _ : state) green::spawn([] {}).join();
  release.set();
  green::joinall(waiting);
}
BENCHMARK(BM_GreenletSpawnJoinBeside)->Arg(1000)->Arg(10000);

static void BM_StdThreadCreateJoin(benchmark::State& state) {
  for (auto _ : state) std::thread([] {}).join();
}
BENCHMARK(BM_StdThreadCreateJoin);

// Two greenlets yielding to each other: one iteration is two switches
// through the hub (a round trip).
static void BM_GreenSwitchRoundTrip(benchmark::State& state) {
  bool stop = false;
  auto other = green::spawn([&] {
    while (!stop) green::yield();
  });
  for (auto _ : state) green::yield();
  stop = true;
  other.join();
}
BENCHMARK(BM_GreenSwitchRoundTrip);

// Two greenlets in the same code yielding to each other, as a server's
// threads all park at the same call sites: the return stack then predicts
// every return after a switch, which the round trip above (the benchmark's
// loop on one side, a lambda on the other) cannot. One iteration is again
// two switches.
[[gnu::noinline]] static void yield_times(int n) {
  for (int i = 0; i < n; i++) green::yield();
}

// One greenlet in yield_times, the other in other_side: iterations are
// counted in batches, so the loop's own code is not in the figure.
template <void (*other_side)(int)>
static void yield_batches_against(benchmark::State& state) {
  constexpr int kBatch = 1000;
  bool stop = false;
  auto other = green::spawn([&] {
    while (!stop) other_side(kBatch);
  });
  while (state.KeepRunningBatch(kBatch)) yield_times(kBatch);
  stop = true;
  other.join();
}

static void BM_GreenSwitchSameCode(benchmark::State& state) {
  yield_batches_against<yield_times>(state);
}
BENCHMARK(BM_GreenSwitchSameCode);

// SameCode's loop, but each side in a function of its own: only the call
// site a switch returns to differs. Measured level with RoundTrip (53.8-54.1
// against 53.8-55.7 ns, SameCode 35.8-36.0, 2026-12-03): what RoundTrip pays
// over SameCode is the one return per switch that the return stack predicts
// from the other side's call, not the benchmark's loop.
[[gnu::noinline]] static void yield_times_elsewhere(int n) {
  for (int i = 0; i < n; i++) green::yield();
  asm volatile("" ::: "memory");  // kept apart from yield_times (no identical-code folding)
}

static void BM_GreenSwitchTwoFunctions(benchmark::State& state) {
  yield_batches_against<yield_times_elsewhere>(state);
}
BENCHMARK(BM_GreenSwitchTwoFunctions);

// The same through the hub alone, without the API's blocking point checks.
static void BM_HubYieldRoundTrip(benchmark::State& state) {
  bool stop = false;
  green::Thread other = green::spawn(
      [&] {
        while (!stop) green::yield_thread();
      },
      size_t(0));
  for (auto _ : state) green::yield_thread();
  stop = true;
  other.join();
}
BENCHMARK(BM_HubYieldRoundTrip);

static void BM_BoostContextRoundTrip(benchmark::State& state) {
  ctx::fiber f([](ctx::fiber&& caller) {
    for (;;) caller = std::move(caller).resume();
    return std::move(caller);
  });
  for (auto _ : state) f = std::move(f).resume();
}
BENCHMARK(BM_BoostContextRoundTrip);

// The floor under any switch an API can offer as a function call, when the
// two sides return into different code (as in the round trip above and in
// BM_GreenSwitchTwoFunctions): the raw switch of BM_BoostContextRoundTrip,
// but made in one function that both sides call from their own loops, as
// every green switch is made in switch_away. Once through Boost's
// fiber::resume and once through the runtime's return-stack shim
// (hub/switch.h), with no bookkeeping at all. The loop of
// BM_BoostContextRoundTrip has no return after its switch; a function that
// switches has one, into the caller of the other side, and the CPU's return
// stack predicts it from that side's call.
[[gnu::noinline]] static ctx::fiber resume_in_function(ctx::fiber&& f) {
  return std::move(f).resume();
}

static void BM_BoostContextRoundTripInFunction(benchmark::State& state) {
  ctx::fiber f([](ctx::fiber&& caller) {
    for (;;) caller = resume_in_function(std::move(caller));
    return std::move(caller);
  });
  for (auto _ : state) f = resume_in_function(std::move(f));
}
BENCHMARK(BM_BoostContextRoundTripInFunction);

[[gnu::noinline]] static void shim_switch_in_function(ctx::fiber& to) {
  green::fiber_context(to) = green::switch_to(to);
}

static void BM_ShimRoundTripInFunction(benchmark::State& state) {
  ctx::fiber f([](ctx::fiber&& caller) {
    for (;;) shim_switch_in_function(caller);
    return std::move(caller);
  });
  for (auto _ : state) shim_switch_in_function(f);
}
BENCHMARK(BM_ShimRoundTripInFunction);

// A value to the other side and back, through two queues.
static void BM_GreenQueuePingPong(benchmark::State& state) {
  green::Queue<int> ping, pong;
  auto echo = green::spawn([&] {
    for (;;) {
      int v = ping.get();
      if (v < 0) return;
      pong.put(v);
    }
  });
  for (auto _ : state) {
    ping.put(1);
    benchmark::DoNotOptimize(pong.get());
  }
  ping.put(-1);
  echo.join();
}
BENCHMARK(BM_GreenQueuePingPong);

static void BM_StdCondvarPingPong(benchmark::State& state) {
  std::mutex m;
  std::condition_variable cv;
  int turn = 0;  // 0: main's, 1: the echo thread's, -1: stop
  std::thread echo([&] {
    std::unique_lock<std::mutex> l(m);
    for (;;) {
      cv.wait(l, [&] { return turn != 0; });
      if (turn < 0) return;
      turn = 0;
      cv.notify_one();
    }
  });
  for (auto _ : state) {
    std::unique_lock<std::mutex> l(m);
    turn = 1;
    cv.notify_one();
    cv.wait(l, [&] { return turn == 0; });
  }
  {
    std::lock_guard<std::mutex> l(m);
    turn = -1;
  }
  cv.notify_one();
  echo.join();
}
BENCHMARK(BM_StdCondvarPingPong)->UseRealTime();

BENCHMARK_MAIN();
