// kill() and green::Timeout reach a greenlet parked in a blocking libc call
// made through the hooks: the exception is thrown out of the call into the
// greenlet's code (hub/api_interrupt.h). This binary links libgreen.so
// itself, so ::recv, ::read, ::sleep, ::poll... are the hooks.
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sched.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <green/green.hpp>
#include <stdexcept>
#include <string>

#include "api_fixture.h"

using namespace std::chrono_literals;

namespace {

struct Pair {  // a connected pair of sockets or a pipe, closed at the end
  int fd[2] = {-1, -1};
  ~Pair() {
    for (int f : fd)
      if (f >= 0) close(f);
  }
};

struct Stop : std::runtime_error {
  Stop() : std::runtime_error("stop") {}
};

// Runs call() on a greenlet, kills it once it is parked in it, and says
// what came out of the call: "GreenletExit", "Stop", or "returned".
template <class Call>
std::string killed_in(Call call, bool custom = false) {
  std::string seen = "nothing";
  bool in_call = false;
  auto g = green::spawn([&] {
    try {
      in_call = true;
      call();
      seen = "returned";
    } catch (const green::GreenletExit&) {
      seen = "GreenletExit";
      throw;
    } catch (const Stop&) {
      seen = "Stop";
      throw;
    }
  });
  green::sleep(5ms);  // it runs and parks in the call
  EXPECT_TRUE(in_call);
  EXPECT_FALSE(g.ready());
  if (custom)
    EXPECT_TRUE(g.kill(Stop()));
  else
    EXPECT_TRUE(g.kill());
  EXPECT_TRUE(g.ready());
  EXPECT_FALSE(g.successful());
  if (custom) {
    EXPECT_THROW(g.get(), Stop);
  }
  return seen;
}

}  // namespace

using HookedKill = GreenTest;

TEST_F(HookedKill, KillDuringRecvThrowsOutOfRecv) {
  Pair s;
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, s.fd), 0);
  char buf[16];
  EXPECT_EQ(killed_in([&] { ::recv(s.fd[0], buf, sizeof buf, 0); }), "GreenletExit");
  // The socket is as it was: a later recv gets what is sent.
  ASSERT_EQ(::send(s.fd[1], "hi", 2, 0), 2);
  EXPECT_EQ(::recv(s.fd[0], buf, sizeof buf, 0), 2);
}

TEST_F(HookedKill, KillWithAnExceptionOfItsOwnDuringRecv) {
  Pair s;
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, s.fd), 0);
  char buf[16];
  EXPECT_EQ(killed_in([&] { ::recv(s.fd[0], buf, sizeof buf, 0); }, true), "Stop");
}

TEST_F(HookedKill, KillDuringReadOnAPipe) {
  Pair p;
  ASSERT_EQ(pipe(p.fd), 0);
  char c;
  EXPECT_EQ(killed_in([&] { (void)::read(p.fd[0], &c, 1); }), "GreenletExit");
}

TEST_F(HookedKill, KillDuringSleepAndNanosleep) {
  EXPECT_EQ(killed_in([] { ::sleep(30); }), "GreenletExit");
  EXPECT_EQ(killed_in([] {
              timespec ts{30, 0};
              ::nanosleep(&ts, nullptr);
            }),
            "GreenletExit");
  EXPECT_EQ(killed_in([] { ::usleep(30000000); }), "GreenletExit");
}

TEST_F(HookedKill, KillDuringPoll) {
  Pair p;
  ASSERT_EQ(pipe(p.fd), 0);
  EXPECT_EQ(killed_in([&] {
              pollfd fds{p.fd[0], POLLIN, 0};
              ::poll(&fds, 1, -1);
            }),
            "GreenletExit");
  EXPECT_EQ(killed_in([] { ::poll(nullptr, 0, 30000); }), "GreenletExit");
}

TEST_F(HookedKill, KillDuringAccept) {
  int l = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(l, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(l, 4), 0);
  EXPECT_EQ(killed_in([&] { ::accept(l, nullptr, nullptr); }), "GreenletExit");
  close(l);
}

TEST_F(HookedKill, AKillPendingWhenACallBeginsIsThrownOnlyIfTheCallWouldBlock) {
  Pair p;
  ASSERT_EQ(pipe(p.fd), 0);
  std::string seen;
  auto g = green::spawn([&] {
    ::sched_yield();  // a hook, not a blocking point of the API: it comes back ready
    seen += ::write(p.fd[1], "x", 1) == 1 ? "wrote " : "write failed ";  // room: no wait
    char c;
    seen += ::read(p.fd[0], &c, 1) == 1 ? "read " : "read failed ";  // data: no wait
    try {
      (void)::read(p.fd[0], &c, 1);  // would block: the kill is thrown
      seen += "returned";
    } catch (const green::GreenletExit&) {
      seen += "GreenletExit";
      throw;
    }
  });
  green::yield();          // g runs up to its sched_yield
  g.kill(nullptr, false);  // g is ready, in no call: the kill waits for it
  EXPECT_TRUE(g.join(5s));
  EXPECT_EQ(seen, "wrote read GreenletExit");
}

TEST_F(HookedKill, APassedTimeoutFiresAtTheFirstHookedCallThatWouldBlock) {
  Pair p;
  ASSERT_EQ(pipe(p.fd), 0);
  green::Timeout t(1ms);
  // Computing past the deadline (reading the clock is no blocking point),
  // then calls that need not wait: nothing fires.
  int64_t start = green::detail::now_ns();
  while (green::detail::now_ns() - start < 3000000) {
  }
  EXPECT_EQ(::write(p.fd[1], "x", 1), 1);
  char c;
  EXPECT_EQ(::read(p.fd[0], &c, 1), 1);
  EXPECT_TRUE(t.pending());
  bool fired = false;
  try {
    timespec ts{5, 0};
    ::nanosleep(&ts, nullptr);  // parks: TimeoutError at once
  } catch (const green::TimeoutError& e) {
    fired = e.from(t);
  }
  EXPECT_TRUE(fired);
  EXPECT_TRUE(t.expired());
}

TEST_F(HookedKill, TimeoutAroundRecvThrowsTimeoutErrorOutOfRecv) {
  Pair s;
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, s.fd), 0);
  char buf[16];
  bool from_it = false;
  try {
    green::Timeout t(20ms);
    ::recv(s.fd[0], buf, sizeof buf, 0);
    ADD_FAILURE() << "recv returned";
  } catch (const green::TimeoutError& e) {
    from_it = true;
  }
  EXPECT_TRUE(from_it);
  ASSERT_EQ(::send(s.fd[1], "abc", 3, 0), 3);
  {
    green::Timeout t(5s);  // data there: the call returns, nothing fires
    EXPECT_EQ(::recv(s.fd[0], buf, sizeof buf, 0), 3);
  }
  // On a greenlet too, and with_timeout's non-throwing form.
  auto g = green::spawn([&] {
    return green::with_timeout(10ms, [&] { return ::recv(s.fd[0], buf, sizeof buf, 0); });
  });
  EXPECT_FALSE(g.get().has_value());
}

TEST_F(HookedKill, NestedTimeoutsAroundHookedCallsFireInnermostFirst) {
  green::Timeout outer(2s);
  try {
    green::Timeout inner(10ms);
    ::sleep(5);
    ADD_FAILURE() << "sleep returned";
  } catch (const green::TimeoutError& e) {
    EXPECT_FALSE(e.from(outer));
  }
  EXPECT_TRUE(outer.pending());
  Pair p;
  ASSERT_EQ(pipe(p.fd), 0);
  try {
    green::Timeout inner(5s);
    green::Timeout shorter(10ms);  // an inner scope with the earlier deadline
    pollfd fds{p.fd[0], POLLIN, 0};
    ::poll(&fds, 1, -1);
    ADD_FAILURE() << "poll returned";
  } catch (const green::TimeoutError& e) {
    EXPECT_FALSE(e.from(outer));
  }
}

TEST_F(HookedKill, WithoutTheApiAHookedCallIsUnchanged) {
  // A plain blocking call with no Timeout and no kill: returns as natively.
  Pair p;
  ASSERT_EQ(pipe(p.fd), 0);
  auto w = green::spawn([&] {
    green::sleep(5ms);
    return ::write(p.fd[1], "x", 1);
  });
  char c = 0;
  EXPECT_EQ(::read(p.fd[0], &c, 1), 1);
  EXPECT_EQ(c, 'x');
  EXPECT_EQ(w.get(), 1);
  timespec ts{0, 1000000};
  EXPECT_EQ(::nanosleep(&ts, nullptr), 0);
  pollfd fds{p.fd[0], POLLIN, 0};
  EXPECT_EQ(::poll(&fds, 1, 5), 0);
}

TEST_F(HookedKill, ALibuvWorkerGetsErrorFromTheApiAndRealCallsFromLibc) {
  // Under libgreen.so the pool thread is native too: the API refuses it, and
  // its own libc calls go straight to libc (a real 1 ms sleep).
  auto work = green::threadpool::run([] {
    std::string what;
    try {
      green::sleep(1ms);
    } catch (const green::Error& e) {
      what = e.what();
    }
    timespec ts{0, 1000000};
    return what + (::nanosleep(&ts, nullptr) == 0 ? " / nanosleep 0" : " / nanosleep failed");
  });
  EXPECT_EQ(work.get(), "green::sleep: this thread has no hub and cannot get one / nanosleep 0");
}

TEST_F(HookedKill, KillAndTimeoutInStdConditionVariableWaitsWithTheMutexHeld) {
  std::mutex m;
  std::condition_variable cv;
  bool flag = false;
  bool held = false;
  EXPECT_EQ(killed_in([&] {
              std::unique_lock<std::mutex> l(m);
              try {
                cv.wait(l, [&] { return flag; });
              } catch (...) {
                held = l.owns_lock();  // pthread_cond_wait took it again first
                throw;
              }
            }),
            "GreenletExit");
  EXPECT_TRUE(held);
  std::unique_lock<std::mutex> l(m);
  EXPECT_THROW(
      {
        green::Timeout t(10ms);
        cv.wait_for(l, 10s);
      },
      green::TimeoutError);
  EXPECT_TRUE(l.owns_lock());
  EXPECT_EQ(killed_in([] { std::this_thread::sleep_for(10s); }), "GreenletExit");
}

TEST_F(HookedKill, AKillWhileTheVictimIsAboutToParkAgainStillWakesIt) {
  // Two readers of one pipe: one byte wakes them, the first takes it and
  // kills the other, which may be ready (about to find nothing and park
  // again) rather than parked: it is looked at again until it parks.
  Pair p;
  ASSERT_EQ(pipe(p.fd), 0);
  std::string seen;
  auto victim = green::spawn([&] {
    char c;
    try {
      (void)::read(p.fd[0], &c, 1);
      seen = "returned";
    } catch (const green::GreenletExit&) {
      seen = "GreenletExit";
    }
  });
  auto taker = green::spawn([&] {
    green::sleep(1ms);  // the victim parks first
    char c;
    EXPECT_EQ(::read(p.fd[0], &c, 1), 1);
    victim.kill(nullptr, false);
  });
  green::sleep(5ms);
  ASSERT_EQ(::write(p.fd[1], "x", 1), 1);
  taker.join();
  EXPECT_TRUE(victim.join(10s));
  EXPECT_EQ(seen, "GreenletExit");
}

TEST_F(HookedKill, KillDuringSystemEndsTheShellAndRestoresSignals) {
  // As glibc's cancellation of system(): the shell is killed and reaped, the
  // caller's SIGINT, SIGQUIT and mask are as before.
  EXPECT_EQ(killed_in([] { (void)std::system("exec sleep 30"); }), "GreenletExit");
  struct sigaction sa;
  ASSERT_EQ(sigaction(SIGINT, nullptr, &sa), 0);
  EXPECT_EQ(sa.sa_handler, SIG_DFL);
  sigset_t mask;
  ASSERT_EQ(sigprocmask(SIG_BLOCK, nullptr, &mask), 0);
  EXPECT_FALSE(sigismember(&mask, SIGCHLD));
  EXPECT_THROW(
      {
        green::Timeout t(20ms);
        (void)std::system("exec sleep 30");
      },
      green::TimeoutError);
}
