// green::Timeout: the deadline of a scope, thrown from the blocking call
// that passes it, however deeply nested; with_timeout, the non-throwing form.
#include <green/greenlet.hpp>
#include <green/timeout.hpp>

#include <string>

#include "api_fixture.h"

using namespace std::chrono_literals;

using Timeout = GreenTest;

namespace {

// Blocks a few calls deep, as real code would.
void deep(int depth, std::string& trace) {
  if (depth == 0) {
    trace += "block;";
    green::sleep(10s);
    trace += "woke;";
    return;
  }
  deep(depth - 1, trace);
}

}  // namespace

TEST_F(Timeout, FiresInsideNestedCalls) {
  std::string trace;
  green::Timeout t(10ms);
  try {
    deep(5, trace);
    FAIL() << "no timeout";
  } catch (const green::TimeoutError& e) {
    EXPECT_TRUE(e.from(t));
  }
  EXPECT_EQ(trace, "block;");
  EXPECT_TRUE(t.expired());
  green::sleep(1ms);  // it fired once: later calls in the scope are not cut short
}

TEST_F(Timeout, FiresInAGreenletAndGetRethrowsIt) {
  auto g = green::spawn([] {
    green::Timeout t(5ms);
    green::Greenlet<void> sleeper = green::spawn([] { green::sleep(10s); });
    try {
      sleeper.join();  // a join is a blocking call too
    } catch (const green::TimeoutError&) {
      sleeper.kill();
      throw;
    }
  });
  EXPECT_THROW(g.get(), green::TimeoutError);
}

TEST_F(Timeout, NestedTimeoutsFireInnermostFirst) {
  green::Timeout outer(1s);
  try {
    green::Timeout inner(5ms);
    green::sleep(10s);
    FAIL();
  } catch (const green::TimeoutError& e) {
    EXPECT_FALSE(e.from(outer));
    EXPECT_TRUE(outer.pending());
  }
}

TEST_F(Timeout, AnOuterDeadlineThatComesFirstFiresThroughTheInnerScope) {
  green::Timeout outer(5ms);
  bool inner_caught = false;
  try {
    green::Timeout inner(10s);
    try {
      green::sleep(10s);
    } catch (const green::TimeoutError& e) {
      inner_caught = e.from(inner);
      throw;
    }
  } catch (const green::TimeoutError& e) {
    EXPECT_TRUE(e.from(outer));
  }
  EXPECT_FALSE(inner_caught);
}

TEST_F(Timeout, WhenSeveralHavePassedTheInnermostFiresFirst) {
  green::Timeout outer(0s);
  green::Timeout inner(0s);
  try {
    green::yield();
    FAIL();
  } catch (const green::TimeoutError& e) {
    EXPECT_TRUE(e.from(inner));
  }
  try {
    green::yield();  // then the outer one, at the next blocking point
    FAIL();
  } catch (const green::TimeoutError& e) {
    EXPECT_TRUE(e.from(outer));
  }
}

TEST_F(Timeout, ACancelledOrFinishedTimeoutNoLongerApplies) {
  {
    green::Timeout t(5ms);
    t.cancel();
    EXPECT_FALSE(t.pending());
    green::sleep(10ms);
  }
  { green::Timeout t(5ms); }
  green::sleep(10ms);  // the scope above is over
}

TEST_F(Timeout, AnExpiredDeadlineFiresAtTheNextBlockingCall) {
  green::Timeout t(1ms);
  auto until = std::chrono::steady_clock::now() + 5ms;
  while (std::chrono::steady_clock::now() < until) {
  }  // busy, no blocking point
  EXPECT_TRUE(t.pending());
  EXPECT_THROW(green::sleep(1s), green::TimeoutError);
}

TEST_F(Timeout, TheCallsOwnShorterTimeoutWins) {
  green::Timeout t(1s);
  auto g = green::spawn([] { green::sleep(10s); });
  EXPECT_FALSE(g.join(5ms));  // its own timeout: false, no exception
  EXPECT_TRUE(t.pending());
  g.kill();
}

TEST_F(Timeout, WithTimeoutIsTheNonThrowingForm) {
  auto slow = green::with_timeout(5ms, [] {
    green::sleep(10s);
    return 1;
  });
  EXPECT_FALSE(slow.has_value());
  auto fast = green::with_timeout(
      1s, [](int x) { return x + 1; }, 41);
  EXPECT_EQ(fast, 42);
  EXPECT_FALSE(green::with_timeout(5ms, [] { green::sleep(1s); }));
  EXPECT_TRUE(green::with_timeout(1s, [] {}));
}

TEST_F(Timeout, WithTimeoutLetsAnOuterTimeoutPass) {
  green::Timeout outer(5ms);
  EXPECT_THROW(green::with_timeout(10s, [] { green::sleep(10s); }), green::TimeoutError);
}

TEST_F(Timeout, KillTakesPrecedenceOverATimeout) {
  auto g = green::spawn([] {
    green::Timeout t(10s);
    green::sleep(10s);
  });
  green::sleep(1ms);
  g.kill();
  EXPECT_THROW(g.get(), green::GreenletExit);
}
