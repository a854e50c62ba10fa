// green::threadpool::run: work on an OS thread of libuv's pool, the hub free meanwhile.
#include <green/greenlet.hpp>
#include <green/threadpool.hpp>

#include <chrono>
#include <stdexcept>
#include <thread>

#include "api_fixture.h"

using namespace std::chrono_literals;

using Greenlet = GreenTest;

TEST_F(Greenlet, ThreadpoolRunKeepsTheHubRunning) {
  int ticks = 0;
  auto ticker = green::spawn([&] {
    for (int i = 0; i < 5; i++) {
      green::sleep(2ms);
      ticks++;
    }
  });
  auto work = green::threadpool::run(
      [](int x) {
        std::this_thread::sleep_for(30ms);  // really blocks its OS thread
        return x * 2;
      },
      21);
  EXPECT_EQ(work.get(), 42);
  EXPECT_GE(ticks, 1);  // the hub ran the ticker while the pool thread slept
  ticker.join();
}

TEST_F(Greenlet, ThreadpoolRunRethrowsAndRefusesTheBlockingApi) {
  auto bad = green::threadpool::run([] { throw std::out_of_range("pool"); });
  EXPECT_THROW(bad.get(), std::out_of_range);
  auto api = green::threadpool::run([] { green::sleep(1ms); });
  EXPECT_THROW(api.get(), green::Error);
  EXPECT_THROW(green::threadpool::run(std::function<int()>()), std::invalid_argument);
}
