// The "Bad input": a blocking call from a thread that has no hub
// throws green::Error naming the call (never a deadlock); Pool(0), negative
// timeouts and empty functions throw std::invalid_argument naming the
// argument.
#include <green/green.hpp>
#include <string>
#include <vector>

#include "api_fixture.h"
#include "hub/pool.h"

using namespace std::chrono_literals;

using BadInput = GreenTest;

namespace {

// What call() threw, as "Error: what()", "invalid_argument: what()" or "none".
template <class Call>
std::string thrown_by(Call&& call) {
  try {
    call();
  } catch (const green::Error& e) {
    return std::string("Error: ") + e.what();
  } catch (const std::invalid_argument& e) {
    return std::string("invalid_argument: ") + e.what();
  } catch (...) {
    return "something else";
  }
  return "none";
}

}  // namespace

TEST_F(BadInput, EveryBlockingCallFromALibuvWorkerThrowsErrorNamingIt) {
  green::Queue<int> q;
  q.put(1);  // even a get that would not wait is refused there
  green::Event ev;
  green::Semaphore sem(0);
  green::RLock lock;
  green::AsyncResult<int> result;
  green::Event release;  // g stays unfinished until the end: its join would block
  auto g = green::spawn([&] { release.wait(); });
  green::Pool pool(2);
  struct Case {
    const char* name;
    std::function<void()> call;
  };
  std::vector<Case> cases = {
      {"green::sleep", [] { green::sleep(1ms); }},
      {"green::yield", [] { green::yield(); }},
      {"green::spawn", [] { green::spawn([] {}); }},
      {"green::Timeout", [] { green::Timeout t(1s); }},
      {"green::Queue::get", [&] { q.get(); }},
      {"green::Queue::put", [&] { q.put(2); }},
      {"green::Event::wait", [&] { ev.wait(); }},
      {"green::AsyncResult::wait", [&] { result.wait(1ms); }},
      {"green::Semaphore::acquire", [&] { sem.acquire(); }},
      {"green::RLock::acquire", [&] { lock.acquire(); }},
      {"green::Greenlet::join", [&] { g.join(); }},
      {"green::Group::join", [&] { pool.join(); }},
      {"green::threadpool::run", [] { green::threadpool::run([] {}).get(); }},
  };
  std::vector<std::string> seen(cases.size());
  green::run_on_pool([&] {  // a libuv pool thread: it has no hub and cannot get one
    for (size_t i = 0; i < cases.size(); i++) seen[i] = thrown_by(cases[i].call);
  });
  for (size_t i = 0; i < cases.size(); i++)
    EXPECT_EQ(seen[i].rfind(std::string("Error: ") + cases[i].name, 0), 0u)
        << cases[i].name << ": " << seen[i];
  EXPECT_EQ(q.size(), 1u);  // nothing was taken or added behind the hub's back
  release.set();
  g.join();
}

TEST_F(BadInput, NegativeTimeoutsNameTheCallAndTheArgument) {
  green::Queue<int> q;
  green::Event ev;
  green::Semaphore sem(0);
  green::AsyncResult<int> result;
  green::Group group;
  auto g = green::spawn([] {});
  struct Case {
    const char* expected;
    std::function<void()> call;
  };
  std::vector<Case> cases = {
      {"green::Greenlet::join: the timeout is negative", [&] { g.join(-1ms); }},
      {"green::Greenlet::get: the timeout is negative", [&] { green::Greenlet<void>().get(); }},
      {"green::sleep: the timeout is negative", [] { green::sleep(-1s); }},
      {"green::Timeout: the timeout is negative", [] { green::Timeout t(-5ms); }},
      {"green::spawn_later: the delay is negative", [] { green::spawn_later(-1ms, [] {}); }},
      {"green::Queue::get: the timeout is negative", [&] { q.get(-1ms); }},
      {"green::Queue::put: the timeout is negative", [&] { q.put(1, -1ms); }},
      {"green::Event::wait: the timeout is negative", [&] { ev.wait(-1s); }},
      {"green::AsyncResult::wait: the timeout is negative", [&] { result.wait(-1ms); }},
      {"green::Semaphore::acquire: the timeout is negative", [&] { sem.acquire(-1ms); }},
      {"green::Group::join: the timeout is negative", [&] { group.join(-1ms); }},
      {"green::joinall: the timeout is negative",
       [&] { green::joinall(std::vector<green::GreenletRef>{g}, -1ms); }},
      {"green::killall: the timeout is negative",
       [&] { green::killall(std::vector<green::GreenletRef>{g}, nullptr, true, -1ms); }},
      {"green::Greenlet::kill: the timeout is negative", [&] { g.kill(nullptr, true, -1ms); }},
  };
  cases[1].expected = "Error: green::Greenlet: an empty handle";  // not a timeout at all
  for (auto& c : cases) {
    std::string got = thrown_by(c.call);
    std::string want = c.expected;
    if (want.rfind("Error: ", 0) != 0) want = "invalid_argument: " + want;
    EXPECT_EQ(got, want);
  }
  g.join();
}

TEST_F(BadInput, EmptyFunctionsAndPoolZeroNameTheArgument) {
  std::function<int()> empty;
  void (*null_fn)() = nullptr;
  green::Group group;
  green::Pool pool(1);
  EXPECT_EQ(thrown_by([&] { green::spawn(empty); }),
            "invalid_argument: green::spawn: the function is empty");
  EXPECT_EQ(thrown_by([&] { green::spawn(null_fn); }),
            "invalid_argument: green::spawn: the function is empty");
  EXPECT_EQ(thrown_by([&] { green::spawn_later(1ms, empty); }),
            "invalid_argument: green::spawn_later: the function is empty");
  EXPECT_EQ(thrown_by([&] { green::Pool bad(0); }), "invalid_argument: green::Pool: the size is 0");
  EXPECT_NE(thrown_by([&] { pool.spawn(empty); }).find("the function is empty"), std::string::npos);
  EXPECT_NE(thrown_by([&] { group.spawn(empty); }).find("the function is empty"),
            std::string::npos);
  EXPECT_NE(thrown_by([&] { green::threadpool::run(empty); }).find("the function is empty"),
            std::string::npos);
  EXPECT_EQ(pool.free_count(), 1u);
  EXPECT_TRUE(group.empty());
}
