// The C++ standard library's threads and locks, as a C++11..20 program uses
// them: std::thread, std::mutex (held across sleep_for), std::timed_mutex,
// std::recursive_mutex, std::condition_variable (wait, wait_for that times
// out, wait_until on system_clock), std::shared_mutex, std::call_once whose
// callable blocks, std::this_thread::sleep_for. It knows nothing of libgreen
// (libstdc++ implements all of these over pthreads).
//
// Not here on purpose: std::counting_semaphore, std::latch, std::barrier,
// std::atomic::wait and std::future/std::promise, which libstdc++ builds on
// raw futex system calls rather than on pthreads.
//
// Output is deterministic: only counts and verdicts.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

const char* yes(bool ok) {
  return ok ? "yes" : "NO";
}

void test_mutex() {
  std::mutex m;
  int count = 0;
  std::atomic<int> inside{0}, overlaps{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; i++)
    threads.emplace_back([&] {
      for (int k = 0; k < 5; k++) {
        std::lock_guard<std::mutex> g(m);
        if (inside++ != 0) overlaps++;
        int v = count;
        std::this_thread::sleep_for(1ms);
        count = v + 1;
        inside--;
      }
    });
  for (auto& t : threads) t.join();
  std::printf("std::mutex held across sleep_for by 16 threads x 5: count %d, overlaps %d\n", count,
              overlaps.load());

  std::unique_lock<std::mutex> held(m);
  bool other_got = true;
  std::thread([&] { other_got = m.try_lock(); }).join();
  held.unlock();
  bool after = false;
  std::thread([&] {
    after = m.try_lock();
    if (after) m.unlock();
  }).join();
  std::printf("std::mutex try_lock from another thread while held: %s, after unlock: %s\n",
              other_got ? "true" : "false", after ? "true" : "false");
}

void test_timed_and_recursive() {
  std::timed_mutex tm;
  std::atomic<bool> holding{false}, go{false}, released{false};
  // It holds the mutex (sleeping) until the timed tries are over, and a
  // moment longer, so that the 5 s try waits for it.
  std::thread holder([&] {
    std::lock_guard<std::timed_mutex> g(tm);
    holding = true;
    while (!go) std::this_thread::sleep_for(1ms);
    std::this_thread::sleep_for(100ms);
    released = true;
  });
  while (!holding) std::this_thread::sleep_for(1ms);
  auto start = Clock::now();
  bool got_for = tm.try_lock_for(100ms);
  auto waited = Clock::now() - start;
  if (got_for) tm.unlock();
  bool got_until = tm.try_lock_until(std::chrono::system_clock::now() + 100ms);
  if (got_until) tm.unlock();
  go = true;
  bool got_late = tm.try_lock_for(5s);
  bool after_release = released.load();
  if (got_late) tm.unlock();
  holder.join();
  std::printf(
      "std::timed_mutex held across a sleep: try_lock_for(100ms) %s (waited at least that: %s), "
      "try_lock_until(system_clock +100ms) %s, try_lock_for(5s) %s after the holder let go: %s\n",
      got_for ? "true" : "false", yes(waited >= 100ms), got_until ? "true" : "false",
      got_late ? "true" : "false", yes(after_release));

  std::recursive_mutex rm;
  int depth = 0;
  std::atomic<bool> in{false};
  std::thread owner([&] {
    std::lock_guard<std::recursive_mutex> a(rm);
    std::lock_guard<std::recursive_mutex> b(rm);
    std::lock_guard<std::recursive_mutex> c(rm);
    depth = 3;
    in = true;
    std::this_thread::sleep_for(100ms);
  });
  while (!in) std::this_thread::sleep_for(1ms);
  bool other = rm.try_lock();
  if (other) rm.unlock();
  owner.join();
  bool free_now = rm.try_lock();
  if (free_now) rm.unlock();
  std::printf(
      "std::recursive_mutex locked %d deep by a sleeping thread: try_lock %s; after it "
      "ended: %s\n",
      depth, other ? "true" : "false", free_now ? "true" : "false");
}

void test_condition_variable() {
  std::mutex m;
  std::condition_variable not_empty, not_full;
  std::deque<int> q;
  bool closed = false;
  long sum = 0;
  int got = 0;
  std::vector<std::thread> threads;
  for (int p = 0; p < 3; p++)
    threads.emplace_back([&, p] {
      for (int i = 1; i <= 200; i++) {
        std::unique_lock<std::mutex> l(m);
        not_full.wait(l, [&] { return q.size() < 3; });
        q.push_back(p * 1000 + i);
        not_empty.notify_one();
        l.unlock();
        if (i % 50 == p) std::this_thread::sleep_for(2ms);
      }
    });
  std::vector<std::thread> consumers;
  for (int c = 0; c < 3; c++)
    consumers.emplace_back([&] {
      for (;;) {
        std::unique_lock<std::mutex> l(m);
        // polls with wait_for, as programs that also check a shutdown flag do
        while (q.empty() && !closed) not_empty.wait_for(l, 50ms);
        if (q.empty()) return;
        sum += q.front();
        got++;
        q.pop_front();
        not_full.notify_one();
      }
    });
  for (auto& t : threads) t.join();
  {
    std::lock_guard<std::mutex> l(m);
    closed = true;
  }
  not_empty.notify_all();
  for (auto& t : consumers) t.join();
  long expected = 0;
  for (int p = 0; p < 3; p++)
    for (int i = 1; i <= 200; i++) expected += p * 1000 + i;
  std::printf("std::condition_variable producer/consumer: %d items, sum right: %s\n", got,
              yes(sum == expected));

  std::unique_lock<std::mutex> l(m);
  std::condition_variable cv;
  auto start = Clock::now();
  std::cv_status s = cv.wait_for(l, 100ms);
  auto waited = Clock::now() - start;
  bool owns = l.owns_lock();
  auto deadline = std::chrono::system_clock::now() + 100ms;
  bool pred = cv.wait_until(l, deadline, [] { return false; });
  bool past = std::chrono::system_clock::now() >= deadline;
  l.unlock();
  std::printf(
      "wait_for(100ms) unsignalled: %s, waited at least that: %s, lock held: %s; "
      "wait_until(system_clock) with a false predicate: %s, past the deadline: %s\n",
      s == std::cv_status::timeout ? "timeout" : "no_timeout", yes(waited >= 100ms), yes(owns),
      pred ? "true" : "false", yes(past));

  bool ready = false;
  std::thread notifier([&] {
    std::this_thread::sleep_for(100ms);
    std::lock_guard<std::mutex> g(m);
    ready = true;
    cv.notify_one();
  });
  l.lock();
  start = Clock::now();
  bool ok = cv.wait_for(l, 5s, [&] { return ready; });
  waited = Clock::now() - start;
  l.unlock();
  notifier.join();
  std::printf("wait_for(5s) notified at 100ms: %s, returned early: %s\n", ok ? "true" : "false",
              yes(waited < 2s));
}

void test_shared_mutex() {
  std::shared_mutex sm;
  std::atomic<int> readers_in{0}, max_in{0};
  std::atomic<bool> writer_in{false}, writer_early{false};
  std::vector<std::thread> readers;
  for (int i = 0; i < 6; i++)
    readers.emplace_back([&] {
      std::shared_lock<std::shared_mutex> l(sm);
      int n = ++readers_in;
      int m = max_in.load();
      while (n > m && !max_in.compare_exchange_weak(m, n)) {
      }
      // hold the shared lock until all six are in (or give up after 5 s)
      auto give_up = Clock::now() + 5s;
      while (readers_in.load() < 6 && Clock::now() < give_up) std::this_thread::sleep_for(2ms);
      std::this_thread::sleep_for(50ms);
      --readers_in;
    });
  // the writer comes once all six are in (an implementation may prefer writers)
  auto give_up = Clock::now() + 5s;
  while (max_in.load() < 6 && Clock::now() < give_up) std::this_thread::sleep_for(1ms);
  std::thread writer([&] {
    std::unique_lock<std::shared_mutex> l(sm);
    if (readers_in.load() != 0) writer_early = true;
    writer_in = true;
    std::this_thread::sleep_for(100ms);
  });
  for (auto& t : readers) t.join();
  while (!writer_in) std::this_thread::sleep_for(1ms);
  bool shared_while_writer = sm.try_lock_shared();
  if (shared_while_writer) sm.unlock_shared();
  writer.join();
  bool shared_after = sm.try_lock_shared();
  bool exclusive_while_shared = sm.try_lock();
  if (exclusive_while_shared) sm.unlock();
  if (shared_after) sm.unlock_shared();
  std::printf(
      "std::shared_mutex: 6 readers at once: %s; the writer waited for them: %s; "
      "try_lock_shared while it writes: %s; then %s; try_lock while shared: %s\n",
      yes(max_in.load() == 6), yes(!writer_early), shared_while_writer ? "true" : "false",
      shared_after ? "true" : "false", exclusive_while_shared ? "true" : "false");
}

void test_call_once_and_sleep() {
  std::once_flag flag;
  std::atomic<int> runs{0}, saw_done{0};
  bool done = false;
  std::vector<std::thread> threads;
  for (int i = 0; i < 10; i++)
    threads.emplace_back([&] {
      std::call_once(flag, [&] {
        runs++;
        std::this_thread::sleep_for(100ms);  // the others wait meanwhile
        done = true;
      });
      if (done) saw_done++;
    });
  for (auto& t : threads) t.join();
  std::printf(
      "std::call_once with a callable that sleeps, 10 threads: ran %d, all saw it done: %s\n",
      runs.load(), yes(saw_done.load() == 10));

  std::mutex m;
  std::vector<int> order;
  threads.clear();
  // 60 ms apart: a loaded machine wakes a sleeper late by tens of ms, not more.
  for (int ms : {180, 60, 300, 120, 240})
    threads.emplace_back([&, ms] {
      auto start = Clock::now();
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
      bool enough = Clock::now() - start >= std::chrono::milliseconds(ms);
      std::lock_guard<std::mutex> g(m);
      order.push_back(enough ? ms : -ms);
    });
  for (auto& t : threads) t.join();
  std::printf("sleep_for, finishing order:");
  for (int ms : order) std::printf(" %d", ms);
  std::printf("\n");
}

}  // namespace

int main() {
  test_mutex();
  test_timed_and_recursive();
  test_condition_variable();
  test_shared_mutex();
  test_call_once_and_sleep();
  std::printf("done\n");
  return 0;
}
