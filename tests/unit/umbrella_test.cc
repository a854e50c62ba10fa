// green/green.hpp: everything in one include, the old API beside the new.
#include <green/green.hpp>

#include "api_fixture.h"

using namespace std::chrono_literals;

using Greenlet = GreenTest;

TEST_F(Greenlet, TheUmbrellaHeaderKeepsTheThreadApiBesideGreenlets) {
  int a = 0, b = 0;
  green::Thread t = green::spawn([&] { a = 1; }, size_t(64 * 1024));  // the old spawn: a Thread
  green::Greenlet<int> g = green::spawn([&] { return b = 2; });       // the new one: a Greenlet
  t.join();
  EXPECT_EQ(g.get(), 2);
  EXPECT_EQ(a + b, 3);
  green::Queue<int> q;
  green::Pool pool(2);
  pool.spawn([&] { q.put(5); });
  EXPECT_EQ(q.get(), 5);
  pool.join();
}
