// The hub through the native API: scheduling order, joins, sleeps.
#include <green/green.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "hub/clock.h"
#include "hub/hub.h"
#include "hub/signal.h"

using namespace std::chrono_literals;

TEST(Hub, SpawnedThreadsRunInFifoOrderWhenTheCallerJoins) {
  std::string order;
  std::vector<green::Thread> threads;
  for (char c : std::string("abcde")) threads.push_back(green::spawn([&order, c] { order += c; }));
  EXPECT_EQ(order, "");  // nothing runs until the spawner parks
  for (auto& t : threads) t.join();
  EXPECT_EQ(order, "abcde");
}

TEST(Hub, YieldInterleavesReadyThreads) {
  std::string trace;
  auto worker = [&trace](char c) {
    for (int i = 0; i < 3; i++) {
      trace += c;
      green::yield();
    }
  };
  green::Thread a = green::spawn([&] { worker('a'); });
  green::Thread b = green::spawn([&] { worker('b'); });
  a.join();
  b.join();
  EXPECT_EQ(trace, "ababab");
}

TEST(Hub, JoinReturnsTheThreadsResultAndFreesIt) {
  green::adopt_current_thread();
  size_t before = green::live_threads();
  green::GreenThread* t = green::spawn_thread([] { return reinterpret_cast<void*>(42); }, 0, false);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(green::live_threads(), before + 1);
  void* result = nullptr;
  EXPECT_EQ(green::join_thread(t, &result, green::kNoDeadline), 0);
  EXPECT_EQ(result, reinterpret_cast<void*>(42));
  EXPECT_EQ(green::live_threads(), before);
  EXPECT_EQ(green::find_thread(reinterpret_cast<pthread_t>(t)), nullptr);
}

TEST(Hub, JoinErrorsMatchPthreads) {
  green::sleep_for(0ns);  // adopt
  green::GreenThread* self = green::find_thread(pthread_self());
  ASSERT_NE(self, nullptr);
  EXPECT_EQ(green::join_thread(self, nullptr, green::kNoDeadline), EDEADLK);

  green::GreenThread* t = green::spawn_thread([]() -> void* { return nullptr; }, 0, true);
  EXPECT_EQ(green::join_thread(t, nullptr, green::kNoDeadline), EINVAL);  // detached
  green::yield_thread();  // let it finish; detached threads free themselves
}

TEST(Hub, TimedJoinTimesOutWhileTheThreadSleeps) {
  green::sleep_for(0ns);
  green::GreenThread* t = green::spawn_thread(
      [] {
        green::sleep_for(200ms);
        return static_cast<void*>(nullptr);
      },
      0, false);
  EXPECT_EQ(green::join_thread(t, nullptr, green::deadline_after(20'000'000)), ETIMEDOUT);
  EXPECT_EQ(green::join_thread(t, nullptr, green::kNoDeadline), 0);
}

TEST(Hub, ThreadExitUnwindsTheStackAndSetsTheResult) {
  green::sleep_for(0ns);
  bool destroyed = false;
  struct Guard {
    bool* flag;
    ~Guard() { *flag = true; }
  };
  green::GreenThread* t = green::spawn_thread(
      [&]() -> void* {
        Guard g{&destroyed};
        green::thread_exit(reinterpret_cast<void*>(7));
      },
      0, false);
  void* result = nullptr;
  EXPECT_EQ(green::join_thread(t, &result, green::kNoDeadline), 0);
  EXPECT_EQ(result, reinterpret_cast<void*>(7));
  EXPECT_TRUE(destroyed);
}

TEST(Hub, SleepsNeverEndEarlyAndEndInDeadlineOrder) {
  std::string order;
  std::vector<green::Thread> threads;
  int64_t start = green::monotonic_ns();
  std::vector<int64_t> woke(3);
  const int delays_ms[3] = {90, 30, 60};
  for (int i = 0; i < 3; i++) {
    threads.push_back(green::spawn([&, i] {
      green::sleep_for(std::chrono::milliseconds(delays_ms[i]));
      woke[i] = green::monotonic_ns() - start;
      order += char('0' + i);
    }));
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(order, "120");
  for (int i = 0; i < 3; i++) EXPECT_GE(woke[i], int64_t(delays_ms[i]) * 1'000'000) << i;
}

TEST(Hub, ManyThreadsShareOneOsThread) {
  constexpr int kThreads = 2000;
  int finished = 0;
  std::vector<green::Thread> threads;
  for (int i = 0; i < kThreads; i++) {
    threads.push_back(green::spawn([&finished] {
      green::sleep_for(10ms);
      finished++;
    }));
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(finished, kThreads);
}

TEST(Hub, SpawnFailsWithEagainWhenNoStackCanBeHad) {
  green::sleep_for(0ns);
  errno = 0;
  // A request larger than the address space cannot be mapped.
  green::GreenThread* t =
      green::spawn_thread([]() -> void* { return nullptr; }, size_t(1) << 62, false);
  EXPECT_EQ(t, nullptr);
  EXPECT_EQ(errno, EAGAIN);
}

namespace {

// Stands in for the preload's signal runner (hooks/signal.cc): each pending
// signal's "handler" just counts, without SA_RESTART.
int count_one(green::GreenThread*, int, const siginfo_t*) {
  return 2;
}

std::vector<std::pair<green::GreenThread*, int>> g_ran;

int record_one(green::GreenThread* t, int sig, const siginfo_t*) {
  g_ran.emplace_back(t, sig);
  return 2;
}

}  // namespace

// A signal for a thread that is between two parks of one blocking call (it
// was woken, say by a timeout, and will wait again) interrupts the call at
// its next park; one that came before a call does not interrupt it.
TEST(Hub, SignalBetweenTwoParksOfACallInterruptsItsNextPark) {
  green::adopt_current_thread();
  auto* saved_runner = green::g_handler_runner;
  green::g_handler_runner = count_one;
  green::GreenThread* waiter = nullptr;
  green::WakeReason in_call = green::WakeReason::kNone, outside = green::WakeReason::kNone;
  green::Thread a = green::spawn([&] {
    waiter = green::tls.current;
    {
      green::BlockingCall call(waiter);
      green::yield();  // b marks a signal for this thread while it is ready, not parked
      in_call = green::park(green::deadline_after(50'000'000), true);
    }
    green::yield();  // b marks another one before the next call begins
    green::BlockingCall call(waiter);
    outside = green::park(green::deadline_after(1'000'000), true);
  });
  green::Thread b = green::spawn([&] {
    green::signal_for_thread(waiter, SIGUSR1);
    green::yield();
    green::signal_for_thread(waiter, SIGUSR1);
  });
  a.join();
  b.join();
  green::g_handler_runner = saved_runner;
  EXPECT_EQ(in_call, green::WakeReason::kSignal);
  EXPECT_EQ(outside, green::WakeReason::kTimeout);
}

// A signal for a thread that blocks it stays pending for that thread; it
// runs on that thread when the thread unblocks it, and a parked wait that
// signals do not interrupt runs the handler and goes on waiting.
TEST(Hub, SignalPendingWhileBlockedRunsOnUnblockAndInsideAJoin) {
  green::adopt_current_thread();
  auto* saved_runner = green::g_handler_runner;
  green::g_handler_runner = record_one;
  g_ran.clear();
  green::GreenThread* target = nullptr;
  bool pending_while_blocked = false, ran_after_unblock = false;
  green::Thread a = green::spawn([&] {
    target = green::tls.current;
    sigaddset(&target->sigmask, SIGUSR1);
    green::yield();  // the main thread signals it
    pending_while_blocked =
        (green::signal_pending(target) & green::sig_bit(SIGUSR1)) && g_ran.empty();
    sigdelset(&target->sigmask, SIGUSR1);
    green::signal_mask_changed(target);
    ran_after_unblock = g_ran.size() == 1 && g_ran[0].first == target;
    green::sleep_for(std::chrono::milliseconds(20));
  });
  green::yield();
  green::signal_for_thread(target, SIGUSR1);
  green::GreenThread* self = green::tls.current;
  green::Thread b = green::spawn([&] { green::signal_for_thread(self, SIGUSR2); });
  a.join();  // b's signal runs its handler on this thread inside the join
  b.join();
  green::g_handler_runner = saved_runner;
  EXPECT_TRUE(pending_while_blocked);
  EXPECT_TRUE(ran_after_unblock);
  ASSERT_EQ(g_ran.size(), 2u);
  EXPECT_EQ(g_ran[1].first, self);
  EXPECT_EQ(g_ran[1].second, SIGUSR2);
}

// The OS thread blocks a signal only while every live green thread does
// (the hub keeps per-signal counts; debug builds check them against a scan
// of every thread at each change).
TEST(Hub, TheOsThreadBlocksWhatEveryLiveGreenThreadBlocks) {
  green::adopt_current_thread();
  green::GreenThread* self = green::tls.current;
  auto os_blocks = [](int sig) {
    sigset_t now;
    pthread_sigmask(SIG_BLOCK, nullptr, &now);
    return sigismember(&now, sig) == 1;
  };
  sigaddset(&self->sigmask, SIGUSR1);
  sigaddset(&self->sigmask, SIGUSR2);
  green::signal_mask_changed(self);
  bool usr1_while_one_unblocks = false, usr2_while_one_unblocks = true;
  bool release = false;
  std::vector<green::Thread> threads;
  for (int i = 0; i < 100; i++) {
    threads.push_back(green::spawn([&, i] {  // each inherits both signals blocked
      if (i == 50) {
        sigdelset(&green::tls.current->sigmask, SIGUSR2);
        green::signal_mask_changed(green::tls.current);
        usr1_while_one_unblocks = os_blocks(SIGUSR1);
        usr2_while_one_unblocks = os_blocks(SIGUSR2);
        return;
      }
      while (!release) green::yield();
    }));
  }
  threads[50].join();
  EXPECT_TRUE(usr1_while_one_unblocks);
  EXPECT_FALSE(usr2_while_one_unblocks);
  EXPECT_TRUE(os_blocks(SIGUSR1));  // the one that took SIGUSR2 has finished
  EXPECT_TRUE(os_blocks(SIGUSR2));
  sigdelset(&self->sigmask, SIGUSR1);
  green::signal_mask_changed(self);
  EXPECT_FALSE(os_blocks(SIGUSR1));  // main takes it now
  EXPECT_TRUE(os_blocks(SIGUSR2));
  release = true;
  for (int i = 0; i < 100; i++)
    if (i != 50) threads[i].join();
  EXPECT_TRUE(os_blocks(SIGUSR2));  // main alone still blocks it
  sigdelset(&self->sigmask, SIGUSR2);
  green::signal_mask_changed(self);
  EXPECT_FALSE(os_blocks(SIGUSR2));
}
