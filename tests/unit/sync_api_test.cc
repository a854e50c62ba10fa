// Event, AsyncResult, Semaphore, BoundedSemaphore, RLock of the green API.
#include <green/event.hpp>
#include <green/greenlet.hpp>
#include <green/semaphore.hpp>
#include <green/timeout.hpp>

#include <mutex>
#include <string>
#include <vector>

#include "api_fixture.h"

using namespace std::chrono_literals;

using Event = GreenTest;
using Sem = GreenTest;

TEST_F(Event, SetWakesEveryWaiter) {
  green::Event ev;
  int woken = 0;
  std::vector<green::GreenletRef> gs;
  for (int i = 0; i < 5; i++)
    gs.push_back(green::spawn([&] {
      if (ev.wait()) woken++;
    }));
  green::sleep(1ms);
  EXPECT_EQ(woken, 0);
  ev.set();
  EXPECT_TRUE(green::joinall(gs));
  EXPECT_EQ(woken, 5);
  EXPECT_TRUE(ev.wait(0s));
  ev.clear();
  EXPECT_FALSE(ev.is_set());
  EXPECT_FALSE(ev.wait(2ms));
}

TEST_F(Event, WaitIsABlockingPointForTimeoutAndKill) {
  green::Event ev;
  EXPECT_FALSE(green::with_timeout(2ms, [&] { ev.wait(); }));
  auto g = green::spawn([&] { ev.wait(); });
  green::sleep(1ms);
  g.kill();
  EXPECT_THROW(g.get(), green::GreenletExit);
  EXPECT_THROW(ev.wait(-1s), std::invalid_argument);
}

TEST_F(Event, AsyncResultCarriesAValueOrAnException) {
  green::AsyncResult<int> r;
  auto g = green::spawn([&] { return r.get() + 1; });
  green::sleep(1ms);
  EXPECT_FALSE(r.ready());
  r.set(41);
  EXPECT_EQ(g.get(), 42);
  r.set(7);  // the first result stays
  EXPECT_EQ(r.get(), 41);

  green::AsyncResult<void> failed;
  auto h = green::spawn([&] { failed.get(); });
  failed.set_exception(std::make_exception_ptr(std::runtime_error("no")));
  EXPECT_THROW(h.get(), std::runtime_error);
  EXPECT_FALSE(failed.successful());

  green::AsyncResult<std::string> never;
  EXPECT_THROW(never.get(2ms), green::TimeoutError);
}

TEST_F(Sem, BoundsHoldersAndServesWaitersInOrder) {
  green::Semaphore sem(2);
  int inside = 0, most = 0;
  std::string order;
  std::vector<green::GreenletRef> gs;
  for (char c : std::string("abcdef"))
    gs.push_back(green::spawn([&, c] {
      std::lock_guard<green::Semaphore> hold(sem);
      order += c;
      most = std::max(most, ++inside);
      green::sleep(1ms);
      inside--;
    }));
  green::joinall(gs);
  EXPECT_EQ(most, 2);
  EXPECT_EQ(order, "abcdef");
  EXPECT_EQ(sem.value(), 2u);
}

TEST_F(Sem, ANewcomerDoesNotOvertakeAWaiter) {
  green::Semaphore sem(1);
  sem.acquire();
  std::string order;
  auto waiter = green::spawn([&] {
    sem.acquire();
    order += "waiter;";
    sem.release();
  });
  green::sleep(1ms);  // it waits now
  sem.release();      // handed to the waiter, which has not run yet
  EXPECT_FALSE(sem.try_acquire());
  waiter.join();
  EXPECT_EQ(order, "waiter;");
  EXPECT_TRUE(sem.try_acquire());
  sem.release();
}

TEST_F(Sem, AcquireTimesOutAndKillDoesNotLeakAPermit) {
  green::Semaphore sem(0);
  EXPECT_FALSE(sem.acquire(2ms));
  auto g = green::spawn([&] { sem.acquire(); });
  green::sleep(1ms);
  g.kill();
  sem.release();
  EXPECT_EQ(sem.value(), 1u);  // nobody took it
}

TEST_F(Sem, BoundedSemaphoreRefusesExtraReleases) {
  green::BoundedSemaphore sem(1);
  EXPECT_THROW(sem.release(), std::logic_error);
  sem.acquire();
  sem.release();
  EXPECT_EQ(sem.value(), 1u);
}

TEST_F(Sem, RLockIsReentrantAndOwned) {
  green::RLock lock;
  lock.acquire();
  lock.acquire();
  bool other_got = true;
  auto g = green::spawn([&] {
    other_got = lock.acquire(2ms);
    EXPECT_THROW(lock.release(), std::logic_error);
  });
  g.get();
  EXPECT_FALSE(other_got);
  lock.release();
  EXPECT_TRUE(lock.locked());
  lock.release();
  EXPECT_FALSE(lock.locked());
  auto h = green::spawn([&] {
    std::lock_guard<green::RLock> hold(lock);
    return lock.locked();
  });
  EXPECT_TRUE(h.get());
}
