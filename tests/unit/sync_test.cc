// The green primitives across OS threads: a native thread on one side, green
// threads on the other, waking each other through the parking lot.
#include <green/green.h>
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>

#include "hub/hub.h"
#include "hub/sync.h"

using namespace std::chrono_literals;

TEST(Sync, NativeThreadWakesAGreenThreadParkedOnASemaphore) {
  green::Semaphore sem{};
  std::string log;
  green::Thread waiter = green::spawn([&] {
    EXPECT_EQ(green::sem_wait_until(&sem, green::kNoDeadline, false), 0);
    log += "woke;";
  });
  std::atomic<bool> posted{false};
  std::thread native([&] {
    std::this_thread::sleep_for(30ms);
    posted = true;
    EXPECT_EQ(green::sem_post_one(&sem), 0);  // from another OS thread: through the hub's uv_async
  });
  green::Thread ticker = green::spawn([&] {
    while (!posted) green::sleep_for(1ms);  // the hub keeps running meanwhile
    log += "ticked;";
  });
  waiter.join();
  ticker.join();
  native.join();
  EXPECT_TRUE(log == "ticked;woke;" || log == "woke;ticked;") << log;
}

TEST(Sync, GreenThreadHandsAMutexToANativeWaiter) {
  green::sleep_for(0ns);  // adopt
  green::Mutex m{};
  ASSERT_EQ(green::mutex_lock(&m, green::kNoDeadline, false), 0);
  std::atomic<int> stage{0};
  std::thread native([&] {
    stage = 1;
    EXPECT_EQ(green::mutex_lock(&m, green::kNoDeadline, false), 0);  // blocks for real
    stage = 2;
    EXPECT_EQ(green::mutex_unlock(&m), 0);
  });
  while (stage != 1) green::sleep_for(1ms);
  green::sleep_for(20ms);
  EXPECT_EQ(stage.load(), 1) << "the native thread must wait while the green one holds the lock";
  EXPECT_EQ(green::mutex_unlock(&m), 0);
  native.join();
  EXPECT_EQ(stage.load(), 2);
  EXPECT_FALSE(green::mutex_locked(&m));
}

TEST(Sync, MutexIsHandedToWaitersInFifoOrder) {
  green::Mutex m{};
  std::string order;
  ASSERT_EQ(green::mutex_lock(&m, green::kNoDeadline, false), 0);
  std::vector<green::Thread> threads;
  for (char c : std::string("abcd")) {
    threads.push_back(green::spawn([&, c] {
      EXPECT_EQ(green::mutex_lock(&m, green::kNoDeadline, false), 0);
      order += c;
      green::yield();  // hold it across a switch: the others must keep waiting
      EXPECT_EQ(green::mutex_unlock(&m), 0);
    }));
  }
  green::sleep_for(5ms);  // all four are queued now
  EXPECT_EQ(green::mutex_unlock(&m), 0);
  for (auto& t : threads) t.join();
  EXPECT_EQ(order, "abcd");
}

TEST(Sync, TimedLockTimesOut) {
  green::sleep_for(0ns);
  green::Mutex m{};
  ASSERT_EQ(green::mutex_lock(&m, green::kNoDeadline, false), 0);
  int result = -1;
  green::Thread t = green::spawn(
      [&] { result = green::mutex_lock(&m, green::deadline_after(20'000'000), false); });
  t.join();
  EXPECT_EQ(result, ETIMEDOUT);
  EXPECT_EQ(green::mutex_unlock(&m), 0);
}
