// Queue, PriorityQueue, LifoQueue, JoinableQueue and Channel of the green API.
#include <green/greenlet.hpp>
#include <green/queue.hpp>
#include <green/timeout.hpp>

#include <memory>
#include <string>
#include <vector>

#include "api_fixture.h"

using namespace std::chrono_literals;

using Queue = GreenTest;

TEST_F(Queue, UnboundedFifo) {
  green::Queue<int> q;
  for (int i = 0; i < 5; i++) q.put(i);
  EXPECT_EQ(q.size(), 5u);
  EXPECT_EQ(q.peek(), 0);
  for (int i = 0; i < 5; i++) EXPECT_EQ(q.get(), i);
  EXPECT_FALSE(q.get_nowait());
  EXPECT_FALSE(q.get(2ms));
  EXPECT_THROW(green::Queue<int>(0), std::invalid_argument);
}

TEST_F(Queue, GettersAreServedInTheOrderTheyCame) {
  green::Queue<int> q;
  std::vector<std::pair<int, int>> got;  // (getter, item)
  std::vector<green::GreenletRef> gs;
  for (int g = 0; g < 5; g++) gs.push_back(green::spawn([&, g] { got.push_back({g, q.get()}); }));
  green::sleep(1ms);  // all five wait, in order
  EXPECT_EQ(q.getters(), 5u);
  for (int i = 0; i < 5; i++) q.put(100 + i);
  // A newcomer does not take what was handed to the waiters.
  EXPECT_FALSE(q.get_nowait());
  green::joinall(gs);
  std::vector<std::pair<int, int>> want{{0, 100}, {1, 101}, {2, 102}, {3, 103}, {4, 104}};
  EXPECT_EQ(got, want);
}

TEST_F(Queue, BoundedPutWaitsAndPuttersAreServedInOrder) {
  green::Queue<std::string> q(1);
  q.put("first");
  EXPECT_TRUE(q.full());
  EXPECT_FALSE(q.put_nowait("no room"));
  EXPECT_FALSE(q.put("late", 2ms));
  std::vector<green::GreenletRef> gs;
  for (std::string s : {"a", "b", "c"}) gs.push_back(green::spawn([&q, s] { q.put(s); }));
  green::sleep(1ms);
  EXPECT_EQ(q.putters(), 3u);
  std::string order;
  for (int i = 0; i < 4; i++) order += q.get() + ",";
  EXPECT_EQ(order, "first,a,b,c,");
  green::joinall(gs);
}

TEST_F(Queue, KillOrTimeoutDuringGetLosesNoItem) {
  green::Queue<int> q;
  auto g = green::spawn([&] { return q.get(); });
  green::sleep(1ms);
  g.kill();
  {
    green::Timeout t(2ms);
    EXPECT_THROW(q.get(), green::TimeoutError);
  }
  q.put(5);  // nobody waits now: it stays
  EXPECT_EQ(q.get_nowait(), 5);
}

TEST_F(Queue, MoveOnlyItems) {
  green::Queue<std::unique_ptr<int>> q(1);
  auto g = green::spawn([&] {
    for (int i = 0; i < 3; i++) q.put(std::make_unique<int>(i));
  });
  int sum = 0;
  for (int i = 0; i < 3; i++) sum += *q.get();
  g.join();
  EXPECT_EQ(sum, 3);
}

TEST_F(Queue, PriorityQueueGivesTheLeastFirst) {
  green::PriorityQueue<int> q;
  for (int v : {5, 1, 4, 2, 3}) q.put(v);
  std::vector<int> got;
  while (auto v = q.get_nowait()) got.push_back(*v);
  EXPECT_EQ(got, (std::vector<int>{1, 2, 3, 4, 5}));
  green::LifoQueue<int> lifo;
  for (int v : {1, 2, 3}) lifo.put(v);
  EXPECT_EQ(lifo.get(), 3);
}

TEST_F(Queue, ChannelIsARendezvous) {
  green::Channel<int> ch;
  EXPECT_FALSE(ch.put_nowait(1));  // nobody is getting
  std::string trace;
  auto producer = green::spawn([&] {
    for (int i = 0; i < 3; i++) {
      ch.put(i);
      trace += "p" + std::to_string(i);
    }
  });
  for (int i = 0; i < 3; i++) {
    int v = ch.get();
    trace += "g" + std::to_string(v);
  }
  producer.join();
  EXPECT_EQ(ch.size(), 0u);
  EXPECT_EQ(trace.size(), 12u);
  EXPECT_NE(trace.find("g0"), std::string::npos);
  EXPECT_LT(trace.find("g0"), trace.find("p1"));  // the second put waited for the first get
}

TEST_F(Queue, JoinableQueueJoinWaitsForTaskDone) {
  green::JoinableQueue<int> q;
  int done = 0;
  auto worker = green::spawn([&] {
    for (int i = 0; i < 3; i++) {
      q.get();
      green::sleep(1ms);
      done++;
      q.task_done();
    }
  });
  for (int i = 0; i < 3; i++) q.put(i);
  EXPECT_EQ(q.unfinished(), 3u);
  EXPECT_TRUE(q.join());
  EXPECT_EQ(done, 3);
  EXPECT_THROW(q.task_done(), std::logic_error);
  worker.join();
  q.put(9);
  EXPECT_FALSE(q.join(2ms));
  q.get();
  q.task_done();
}
