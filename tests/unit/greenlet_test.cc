// green::spawn and the Greenlet handle: values, exceptions, kill, links.
#include <green/greenlet.hpp>
#include <green/timeout.hpp>

#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include "api_fixture.h"
#include "hub/fd_table.h"
#include "hub/pool.h"

using namespace std::chrono_literals;

using Greenlet = GreenTest;

TEST_F(Greenlet, GetReturnsTheValueOfTheFunctionAndItsArguments) {
  auto g = green::spawn([](int a, std::string b) { return b + std::to_string(a); }, 42, "x");
  EXPECT_FALSE(g.ready());  // nothing runs until the spawner blocks
  EXPECT_EQ(g.get(), "x42");
  EXPECT_TRUE(g.ready());
  EXPECT_TRUE(g.successful());
  EXPECT_EQ(g.get(), "x42");  // again: the value is kept
}

TEST_F(Greenlet, VoidFunctionsAndMoveOnlyArguments) {
  int seen = 0;
  auto g = green::spawn([&seen](std::unique_ptr<int> p) { seen = *p; }, std::make_unique<int>(7));
  g.get();
  EXPECT_EQ(seen, 7);
}

TEST_F(Greenlet, ExceptionsCrossGet) {
  auto g = green::spawn([]() -> int { throw std::runtime_error("boom"); });
  EXPECT_TRUE(g.join());
  EXPECT_TRUE(g.ready());
  EXPECT_FALSE(g.successful());
  EXPECT_THROW(
      {
        try {
          g.get();
        } catch (const std::runtime_error& e) {
          EXPECT_STREQ(e.what(), "boom");
          throw;
        }
      },
      std::runtime_error);
  EXPECT_THROW(g.get(), std::runtime_error);  // each get() rethrows it
}

TEST_F(Greenlet, AnExceptionNobodyRetrievesIsReportedOnceAndNeverKillsTheProcess) {
  testing::internal::CaptureStderr();
  {
    auto g = green::spawn([] { throw std::logic_error("unseen"); });
    g.join();
  }
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("died of an exception nobody retrieved: unseen"), std::string::npos) << err;
  EXPECT_EQ(err.find("unseen"), err.rfind("unseen"));  // once

  testing::internal::CaptureStderr();
  {
    auto g = green::spawn([] { throw std::logic_error("seen"); });
    EXPECT_THROW(g.get(), std::logic_error);
  }
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
}

TEST_F(Greenlet, SpawnWithAnEmptyFunctionThrowsInvalidArgument) {
  std::function<int()> empty;
  try {
    green::spawn(empty);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("green::spawn: the function is empty"), std::string::npos);
  }
  void (*null_fn)() = nullptr;
  EXPECT_THROW(green::spawn(null_fn), std::invalid_argument);
  EXPECT_THROW(green::spawn_later(1ms, std::function<void()>()), std::invalid_argument);
}

TEST_F(Greenlet, NegativeTimeoutsThrowInvalidArgument) {
  auto g = green::spawn([] {});
  EXPECT_THROW(g.join(-1ms), std::invalid_argument);
  EXPECT_THROW(green::sleep(-1s), std::invalid_argument);
  EXPECT_THROW(green::spawn_later(-1ms, [] {}), std::invalid_argument);
  EXPECT_THROW(green::Timeout(-5ms), std::invalid_argument);
  g.join();
}

TEST_F(Greenlet, JoinWithATimeoutReturnsFalseWhileItRuns) {
  auto g = green::spawn([] { green::sleep(200ms); });
  EXPECT_FALSE(g.join(10ms));
  EXPECT_FALSE(g.ready());
  EXPECT_THROW(g.get(1ms), green::TimeoutError);
  EXPECT_TRUE(g.join());
}

TEST_F(Greenlet, KillDuringABlockingCallRaisesGreenletExitThere) {
  bool reached_end = false, cleaned_up = false;
  auto g = green::spawn([&] {
    struct Cleanup {
      bool* flag;
      ~Cleanup() { *flag = true; }
    } c{&cleaned_up};
    green::sleep(10s);
    reached_end = true;
  });
  green::sleep(1ms);  // let it block
  EXPECT_TRUE(g.started());
  EXPECT_TRUE(g.kill());  // blocks until it is gone
  EXPECT_TRUE(g.ready());
  EXPECT_FALSE(reached_end);
  EXPECT_TRUE(cleaned_up);
  EXPECT_FALSE(g.successful());
  EXPECT_THROW(g.get(), green::GreenletExit);
}

TEST_F(Greenlet, KillWithACustomExceptionDuringAJoin) {
  struct Stop : std::exception {};
  auto sleeper = green::spawn([] { green::sleep(10s); });
  auto joiner = green::spawn([&] { sleeper.join(); });
  green::sleep(1ms);
  EXPECT_TRUE(joiner.kill(Stop{}));
  EXPECT_THROW(joiner.get(), Stop);
  EXPECT_FALSE(sleeper.ready());
  sleeper.kill();
}

TEST_F(Greenlet, KillBeforeItStartsMeansItNeverRuns) {
  bool ran = false;
  auto g = green::spawn([&] { ran = true; });
  g.kill();
  EXPECT_FALSE(ran);
  EXPECT_FALSE(g.started());
  EXPECT_THROW(g.get(), green::GreenletExit);
}

TEST_F(Greenlet, KillIsDeliveredAtTheNextBlockingPointNotBefore) {
  int steps = 0;
  auto g = green::spawn([&] {
    for (int i = 0; i < 1000000 && steps < 3; i++) steps++;  // no blocking point
    green::yield();
    steps = 100;
  });
  green::yield();  // it runs up to its yield
  EXPECT_EQ(steps, 3);
  EXPECT_TRUE(g.kill(nullptr, false) == false);  // not blocking: not dead yet
  g.join();
  EXPECT_EQ(steps, 3);
  EXPECT_THROW(g.get(), green::GreenletExit);
}

TEST_F(Greenlet, ACaughtKillLetsTheGreenletBlockAgainAndReturn) {
  auto g = green::spawn([] {
    try {
      green::sleep(10s);
    } catch (const green::GreenletExit&) {
      green::sleep(1ms);  // blocking again is allowed; the kill was delivered once
      return 5;
    }
    return 0;
  });
  green::sleep(1ms);
  g.kill();
  EXPECT_EQ(g.get(), 5);
}

TEST_F(Greenlet, KillingItselfThrowsAtOnce) {
  auto g = green::spawn([] {
    green::current().kill();
    return 1;
  });
  EXPECT_THROW(g.get(), green::GreenletExit);
}

TEST_F(Greenlet, SpawnLaterStartsAfterTheDelay) {
  auto start = std::chrono::steady_clock::now();
  auto g = green::spawn_later(20ms, [&] { return std::chrono::steady_clock::now() - start; });
  EXPECT_GE(g.get(), 20ms);
  auto never = green::spawn_later(10s, [] { ADD_FAILURE() << "ran"; });
  green::sleep(1ms);
  never.kill();
  EXPECT_FALSE(never.started());
}

TEST_F(Greenlet, LinksRunOnceWhenItIsDoneAndAtOnceAfter) {
  std::vector<int> seen;
  auto g = green::spawn([] { return 3; });
  g.link([&](green::Greenlet<int> done) { seen.push_back(done.get()); });
  g.link([&](green::GreenletRef done) { seen.push_back(done.ready() ? 10 : -1); });
  g.join();
  EXPECT_EQ(seen, (std::vector<int>{3, 10}));
  g.link([&](green::Greenlet<int> done) { seen.push_back(done.get() * 2); });
  EXPECT_EQ(seen, (std::vector<int>{3, 10, 6}));
}

TEST_F(Greenlet, ALinkThatThrowsIsReported) {
  testing::internal::CaptureStderr();
  auto g = green::spawn([] {});
  g.link([](green::GreenletRef) { throw std::runtime_error("bad link"); });
  g.join();
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("bad link"), std::string::npos) << err;
}

TEST_F(Greenlet, JoinallAndKillall) {
  std::vector<green::Greenlet<int>> gs;
  for (int i = 0; i < 5; i++)
    gs.push_back(green::spawn([i] {
      green::sleep(std::chrono::milliseconds(i));
      return i;
    }));
  EXPECT_TRUE(green::joinall(gs));
  for (int i = 0; i < 5; i++) EXPECT_EQ(gs[i].get(), i);

  std::vector<green::GreenletRef> sleepers;
  for (int i = 0; i < 5; i++) sleepers.push_back(green::spawn([] { green::sleep(10s); }));
  EXPECT_FALSE(green::joinall(sleepers, 5ms));
  EXPECT_TRUE(green::killall(sleepers));
  for (auto& s : sleepers) EXPECT_TRUE(s.ready());
}

TEST_F(Greenlet, CurrentIsTheRunningGreenlet) {
  EXPECT_FALSE(green::current());  // the main thread is not a greenlet
  green::GreenletRef inside;
  auto g = green::spawn([&] { inside = green::current(); });
  g.join();
  EXPECT_TRUE(inside == g);
  EXPECT_NE(g.id(), 0u);
}

TEST_F(Greenlet, AGreenletCannotJoinItself) {
  auto g = green::spawn([] { green::current().join(); });
  EXPECT_THROW(g.get(), green::Error);
}

TEST_F(Greenlet, SleepZeroYields) {
  std::string trace;
  auto a = green::spawn([&] {
    for (int i = 0; i < 3; i++) {
      trace += 'a';
      green::sleep(0s);
    }
  });
  auto b = green::spawn([&] {
    for (int i = 0; i < 3; i++) {
      trace += 'b';
      green::sleep(0s);
    }
  });
  green::joinall(std::vector<green::GreenletRef>{a, b});
  EXPECT_EQ(trace, "ababab");
}

TEST_F(Greenlet, ManyGreenletsLeaveNothingBehind) {
  std::vector<green::Greenlet<int>> gs;
  for (int i = 0; i < 1000; i++) gs.push_back(green::spawn([i] { return i; }));
  int sum = 0;
  for (auto& g : gs) sum += g.get();
  EXPECT_EQ(sum, 999 * 1000 / 2);
}

TEST_F(Greenlet, ABlockingCallWithoutAHubThrowsErrorNamingIt) {
  std::string message;
  green::run_on_pool([&] {  // a libuv pool thread: native, it cannot have a hub
    try {
      green::sleep(1ms);
    } catch (const green::Error& e) {
      message = e.what();
    }
  });
  EXPECT_NE(message.find("green::sleep"), std::string::npos) << message;
}

TEST_F(Greenlet, KillAndTimeoutReachAWaitForAnFd) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  auto reader = green::spawn([&] { return green::wait_readable(p[0]); });
  green::sleep(1ms);
  reader.kill();
  EXPECT_THROW(reader.get(), green::GreenletExit);
  {
    green::Timeout t(2ms);
    EXPECT_THROW(green::wait_readable(p[0]), green::TimeoutError);
  }
  EXPECT_FALSE(green::wait_readable(p[0], 1ms));  // its own timeout: false
  ASSERT_EQ(write(p[1], "x", 1), 1);
  EXPECT_TRUE(green::wait_readable(p[0], 1s));
  for (int fd : p) {
    green::fd_closing(fd);  // what the close hook does: without it the hub keeps polling the fd
    close(fd);
  }
}
