// Waits run inside glibc on helper OS threads (hub/os_wait.h): more of them
// than the thread pool has threads, woken from a native thread, and one
// stopped by a cancel while glibc waits.
#include <green/green.h>
#include <gtest/gtest.h>
#include <semaphore.h>

#include <atomic>
#include <thread>
#include <vector>

#include "hub/hub.h"
#include "hub/os_wait.h"

using namespace std::chrono_literals;

TEST(OsWait, FortyGreenThreadsWaitInGlibcWhileTheHubRuns) {
  constexpr int kWaiters = 40;  // more than the thread pool's 16
  sem_t sem;
  sem_init(&sem, 1, 0);
  std::atomic<int> waiting{0}, woke{0};
  std::vector<green::Thread> threads;
  for (int i = 0; i < kWaiters; i++) {
    threads.push_back(green::spawn([&] {
      waiting++;
      green::OsWaitEnd end;
      int r = green::run_os_wait([&] { return sem_wait(&sem); }, false, &end);
      EXPECT_EQ(r, 0);
      EXPECT_EQ(end, green::OsWaitEnd::kReturned);
      woke++;
    }));
  }
  int ticks = 0;
  green::Thread ticker = green::spawn([&] {
    while (waiting < kWaiters) green::sleep_for(1ms);
    for (int i = 0; i < 5; i++, ticks++) green::sleep_for(2ms);  // the hub is not blocked
  });
  ticker.join();
  EXPECT_EQ(ticks, 5);
  EXPECT_EQ(woke.load(), 0);
  std::thread poster([&] {
    for (int i = 0; i < kWaiters; i++) sem_post(&sem);
  });
  for (auto& t : threads) t.join();
  poster.join();
  EXPECT_EQ(woke.load(), kWaiters);
  sem_destroy(&sem);
}

TEST(OsWait, ACancelStopsTheHelpersWaitAndTakesNothing) {
  sem_t sem;
  sem_init(&sem, 1, 0);
  green::GreenThread* waiter_self = nullptr;
  green::OsWaitEnd end = green::OsWaitEnd::kReturned;
  int r = 0;
  green::Thread waiter = green::spawn([&] {
    waiter_self = green::tls.current;
    r = green::run_os_wait([&] { return sem_wait(&sem); }, true, &end);
  });
  green::sleep_for(30ms);  // it waits in glibc now
  ASSERT_NE(waiter_self, nullptr);
  green::unpark(waiter_self, green::WakeReason::kCancel);
  waiter.join();
  EXPECT_EQ(end, green::OsWaitEnd::kInterrupted);
  EXPECT_EQ(r, -1);
  sem_post(&sem);
  int value = -1;
  sem_getvalue(&sem, &value);
  EXPECT_EQ(value, 1) << "the cancelled wait must not have taken the post";
  sem_destroy(&sem);
}
