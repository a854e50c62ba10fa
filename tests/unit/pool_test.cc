// Group and Pool of the green API.
#include <green/greenlet.hpp>
#include <green/pool.hpp>
#include <green/timeout.hpp>

#include <set>
#include <string>
#include <vector>

#include "api_fixture.h"

using namespace std::chrono_literals;

using Pool = GreenTest;

TEST_F(Pool, BoundsConcurrencyExactly) {
  for (size_t size : {1, 3, 7}) {
    green::Pool pool(size);
    size_t running = 0, most = 0, ran = 0;
    for (int i = 0; i < 25; i++) {
      pool.spawn([&] {
        most = std::max(most, ++running);
        EXPECT_LE(running, size);
        green::sleep(std::chrono::microseconds(200 * (ran % 3)));
        running--;
        ran++;
      });
      EXPECT_LE(pool.size(), size);
    }
    EXPECT_TRUE(pool.join());
    EXPECT_EQ(most, size);  // reached, never passed
    EXPECT_EQ(ran, 25u);
    EXPECT_EQ(pool.free_count(), size);
    EXPECT_TRUE(pool.empty());
  }
}

TEST_F(Pool, SizeZeroThrowsInvalidArgument) {
  try {
    green::Pool pool(0);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("size"), std::string::npos);
  }
  green::Pool pool(1);
  EXPECT_THROW(pool.spawn(std::function<void()>()), std::invalid_argument);
  EXPECT_EQ(pool.free_count(), 1u);
}

TEST_F(Pool, MapKeepsOrderAndBoundsConcurrency) {
  green::Pool pool(4);
  int running = 0, most = 0;
  std::vector<int> in;
  for (int i = 0; i < 20; i++) in.push_back(i);
  auto out = pool.map(
      [&](int x) {
        most = std::max(most, ++running);
        green::sleep(std::chrono::microseconds(100 * (x % 4)));
        running--;
        return x * x;
      },
      in);
  ASSERT_EQ(out.size(), 20u);
  for (int i = 0; i < 20; i++) EXPECT_EQ(out[i], i * i);
  EXPECT_EQ(most, 4);
}

TEST_F(Pool, MapRethrowsAFailure) {
  green::Group group;
  std::vector<int> in{1, 2, 3};
  EXPECT_THROW(group.map(
                   [](int x) {
                     if (x == 2) throw std::runtime_error("two");
                     return x;
                   },
                   in),
               std::runtime_error);
  EXPECT_TRUE(group.empty());
}

TEST_F(Pool, ImapUnorderedYieldsResultsAsTheyFinish) {
  green::Pool pool(3);
  std::vector<int> in{30, 10, 20, 1};
  auto results = pool.imap_unordered(
      [](int ms) {
        green::sleep(std::chrono::milliseconds(ms));
        return ms;
      },
      in);
  std::vector<int> got;
  while (auto r = results.next()) got.push_back(*r);
  EXPECT_EQ(got.size(), 4u);
  EXPECT_EQ(std::set<int>(got.begin(), got.end()), std::set<int>(in.begin(), in.end()));
  EXPECT_EQ(got.front(), 10);  // the 10 ms one finishes first
  pool.join();
}

TEST_F(Pool, WaitAvailableAndKill) {
  green::Pool pool(1);
  pool.spawn([] { green::sleep(10s); });
  EXPECT_TRUE(pool.full());
  EXPECT_FALSE(pool.wait_available(2ms));
  {
    green::Timeout t(2ms);
    EXPECT_THROW(pool.spawn([] {}), green::TimeoutError);  // waiting for a slot
  }
  EXPECT_TRUE(pool.kill());
  EXPECT_TRUE(pool.empty());
  EXPECT_TRUE(pool.wait_available(0s));
  EXPECT_EQ(pool.free_count(), 1u);
}

TEST_F(Pool, GroupJoinsAndKillsItsMembers) {
  green::Group group;
  int done = 0;
  for (int i = 0; i < 5; i++)
    group.spawn([&] {
      green::sleep(1ms);
      done++;
    });
  auto outsider = green::spawn([] { green::sleep(10s); });
  group.add(outsider);
  EXPECT_EQ(group.size(), 6u);
  EXPECT_TRUE(group.contains(outsider));
  EXPECT_FALSE(group.join(20ms));
  EXPECT_EQ(done, 5);
  EXPECT_EQ(group.size(), 1u);
  EXPECT_TRUE(group.kill());
  EXPECT_TRUE(group.join());
  EXPECT_TRUE(outsider.ready());
}
