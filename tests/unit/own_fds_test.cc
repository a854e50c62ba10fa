// The runtime's own descriptors: moved high, hidden from the program, passed
// over by range closes, moved away from a dup2 target.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <utility>
#include <vector>

#include "hub/own_fds.h"
#include "hub/runtime.h"

namespace {

int fd_top() {
  rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  return rl.rlim_cur > (1 << 16) ? 1 << 16 : int(rl.rlim_cur);
}

TEST(OwnFds, TempMovesHighCloseOnExecAndHidden) {
  int fd = dup(0);
  ASSERT_GE(fd, 0);
  int low = fd;
  green::own_fd_temp(&fd);
  EXPECT_NE(fd, low);
  EXPECT_GE(fd, fd_top() - 1024);
  EXPECT_EQ(fcntl(low, F_GETFD), -1);  // the low number is free again
  EXPECT_EQ(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  EXPECT_TRUE(green::own_fd_hidden(fd));
  EXPECT_FALSE(green::own_fd_hidden(low));
  {
    green::RuntimeScope runtime;  // the runtime sees its own
    EXPECT_FALSE(green::own_fd_hidden(fd));
  }
  green::own_fd_release(fd);
  EXPECT_FALSE(green::own_fd_hidden(fd));
  close(fd);
}

TEST(OwnFds, GapsPassOverOwnFds) {
  int a = dup(0), b = dup(0);
  green::own_fd_temp(&a);
  green::own_fd_temp(&b);
  std::vector<std::pair<unsigned, unsigned>> gaps;
  green::own_fds_each_gap(3, ~0U, [&](unsigned first, unsigned last) {
    gaps.emplace_back(first, last);
    return 0;
  });
  int lo = std::min(a, b), hi = std::max(a, b);
  ASSERT_GE(gaps.size(), 2u);
  EXPECT_EQ(gaps.front(), std::make_pair(3u, unsigned(lo - 1)));
  EXPECT_EQ(gaps.back(), std::make_pair(unsigned(hi + 1), ~0U));
  for (auto [first, last] : gaps) {
    EXPECT_FALSE(first <= unsigned(a) && unsigned(a) <= last);
    EXPECT_FALSE(first <= unsigned(b) && unsigned(b) <= last);
  }
  gaps.clear();
  green::own_fds_each_gap(unsigned(lo), unsigned(lo), [&](unsigned first, unsigned last) {
    gaps.emplace_back(first, last);
    return 0;
  });
  EXPECT_TRUE(gaps.empty());  // nothing of the program's in [lo, lo]
  for (int fd : {a, b}) {
    green::own_fd_release(fd);
    close(fd);
  }
}

TEST(OwnFds, MakeRoomMovesATempAndItsHolderFollows) {
  int fd = dup(0);
  green::own_fd_temp(&fd);
  int before = fd;
  green::own_fd_make_room(before);
  EXPECT_NE(fd, before);  // the holder's variable follows
  EXPECT_TRUE(green::own_fd_hidden(fd));
  EXPECT_FALSE(green::own_fd_hidden(before));
  EXPECT_GE(fcntl(fd, F_GETFD), 0);
  green::own_fd_release(fd);
  close(fd);
  close(before);  // what dup2 would have replaced
}

}  // namespace
