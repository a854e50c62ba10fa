// Parking on fd readiness: wake-ups, deadlines, close, shared waiters.
#include <green/green.h>
#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <system_error>

#include "hub/fd_table.h"
#include "hub/hub.h"

using namespace std::chrono_literals;

namespace {

// What the close hook does: tell the fd table before the real close.
void close_fd(int fd) {
  green::fd_closing(fd);
  close(fd);
}

struct SocketPair {
  int fd[2];
  SocketPair() { EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fd), 0); }
  ~SocketPair() {
    for (int f : fd) close_fd(f);
  }
};

}  // namespace

TEST(FdWait, ReaderWakesWhenAnotherGreenThreadWrites) {
  SocketPair sp;
  std::string log;
  green::Thread reader = green::spawn([&] {
    log += "wait;";
    EXPECT_TRUE(green::wait_readable(sp.fd[0]));
    char c = 0;
    EXPECT_EQ(read(sp.fd[0], &c, 1), 1);
    log += std::string("got ") + c + ";";
  });
  green::Thread writer = green::spawn([&] {
    green::sleep_for(20ms);
    log += "write;";
    EXPECT_EQ(write(sp.fd[1], "x", 1), 1);
  });
  reader.join();
  writer.join();
  EXPECT_EQ(log, "wait;write;got x;");
}

TEST(FdWait, DeadlinePassesWhenNothingArrives) {
  SocketPair sp;
  EXPECT_FALSE(green::wait_readable(sp.fd[0], 30ms));
}

TEST(FdWait, WritableSocketIsReadyAtOnce) {
  SocketPair sp;
  EXPECT_TRUE(green::wait_writable(sp.fd[0], 1s));
}

TEST(FdWait, TwoReadersOnOneFdBothWake) {
  SocketPair sp;
  int woke = 0;
  auto reader = [&] {
    if (green::wait_readable(sp.fd[0], 2s)) woke++;
  };
  green::Thread a = green::spawn(reader);
  green::Thread b = green::spawn(reader);
  green::Thread writer = green::spawn([&] {
    green::sleep_for(10ms);
    EXPECT_EQ(write(sp.fd[1], "y", 1), 1);
  });
  a.join();
  b.join();
  writer.join();
  EXPECT_EQ(woke, 2);
}

TEST(FdWait, ClosingTheFdWakesItsWaitersWithEbadf) {
  SocketPair sp;
  int dup_fd = dup(sp.fd[0]);
  std::string outcome;
  green::Thread waiter = green::spawn([&] {
    try {
      green::wait_readable(dup_fd);
      outcome = "woke ready";
    } catch (const std::system_error& e) {
      outcome = e.code().value() == EBADF ? "EBADF" : "other error";
    }
  });
  green::Thread closer = green::spawn([&] {
    green::sleep_for(10ms);
    close_fd(dup_fd);
  });
  waiter.join();
  closer.join();
  EXPECT_EQ(outcome, "EBADF");
}

TEST(FdWait, EntryTracksDupsAndClose) {
  green::sleep_for(0ns);
  SocketPair sp;
  green::FdEntry* e = green::fd_entry(sp.fd[0]);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->kind, green::FdKind::kSocket);
  EXPECT_TRUE(e->stream);
  EXPECT_FALSE(e->nonblock());
  int d = dup(sp.fd[0]);
  green::fd_duplicated(sp.fd[0], d);
  green::fd_set_nonblock(sp.fd[0], true);
  EXPECT_TRUE(green::fd_entry(d)->nonblock()) << "O_NONBLOCK lives on the shared description";
  green::fd_set_nonblock(d, false);
  green::FdEntry* closed = green::fd_entry(d);  // entries live on, reset in place
  uint32_t generation = closed->generation;
  close_fd(d);
  EXPECT_EQ(closed->generation, generation + 1) << "a parked caller can tell its fd went away";
  EXPECT_EQ(green::fd_entry(d), nullptr);  // closed: not classified again
  EXPECT_FALSE(green::fd_entry(sp.fd[0])->nonblock()) << "the survivor keeps the shared state";
}

TEST(FdWait, PipesAndFilesAreClassified) {
  green::sleep_for(0ns);
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  EXPECT_EQ(green::fd_entry(p[0])->kind, green::FdKind::kPipe);
  char path[] = "/tmp/green_fd_test_XXXXXX";
  int f = mkstemp(path);
  ASSERT_GE(f, 0);
  unlink(path);
  EXPECT_EQ(green::fd_entry(f)->kind, green::FdKind::kFile);
  int efd = eventfd(0, 0);
  EXPECT_EQ(green::fd_entry(efd)->kind, green::FdKind::kPipe) << "anonymous inodes poll like pipes";
  close_fd(efd);
  for (int fd : {p[0], p[1], f}) close_fd(fd);
}
