/* Helpers shared by the legacy test programs. Plain C and POSIX: it knows
 * nothing of libgreen, as the programs that include it. */
#ifndef GREEN_TESTS_LEGACY_H
#define GREEN_TESTS_LEGACY_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static inline void msleep(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* Prints "ready": the test harness counts the process's OS threads when it
 * reads that line. With LEGACY_READY_FD set (a pipe from the harness) it then
 * waits for the harness's byte saying it has counted, so the threads alive
 * at "ready" are all still there when they are counted, however loaded the
 * machine. */
static inline void say_ready(void) {
  printf("ready\n");
  fflush(stdout);
  const char* fd_text = getenv("LEGACY_READY_FD");
  if (!fd_text) return;
  int fd = atoi(fd_text);
  char c;
  if (read(fd, &c, 1) != 1) {
    perror("LEGACY_READY_FD");
    exit(1);
  }
  close(fd);
}

static inline const char* yes(int ok) {
  return ok ? "yes" : "NO";
}

static inline void tcp_pair(int fds[2]) {
  int l = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (l < 0 || bind(l, (struct sockaddr*)&a, sizeof a) < 0 || listen(l, 1) < 0 ||
      getsockname(l, (struct sockaddr*)&a, &len) < 0) {
    perror("listen");
    exit(1);
  }
  fds[0] = socket(AF_INET, SOCK_STREAM, 0);
  if (fds[0] < 0 || connect(fds[0], (struct sockaddr*)&a, sizeof a) < 0) {
    perror("connect");
    exit(1);
  }
  fds[1] = accept(l, NULL, NULL);
  if (fds[1] < 0) {
    perror("accept");
    exit(1);
  }
  close(l);
}

/* The name of an errno value as these programs print it: "0" for none,
 * "other" for one that none of them expects. */
static inline const char* errname(int e) {
  switch (e) {
    case 0:
      return "0";
    case EAGAIN:
      return "EAGAIN";
    case EBADF:
      return "EBADF";
    case EBUSY:
      return "EBUSY";
    case ECHILD:
      return "ECHILD";
    case ECONNREFUSED:
      return "ECONNREFUSED";
    case ECONNRESET:
      return "ECONNRESET";
    case EDEADLK:
      return "EDEADLK";
    case EDOM:
      return "EDOM";
    case EEXIST:
      return "EEXIST";
    case EFAULT:
      return "EFAULT";
    case EINPROGRESS:
      return "EINPROGRESS";
    case EINTR:
      return "EINTR";
    case EINVAL:
      return "EINVAL";
    case EISDIR:
      return "EISDIR";
    case ELOOP:
      return "ELOOP";
    case ENOENT:
      return "ENOENT";
    case ENOSYS:
      return "ENOSYS";
    case ENOTSUP:
      return "ENOTSUP";
    case EOVERFLOW:
      return "EOVERFLOW";
    case EPERM:
      return "EPERM";
    case EPIPE:
      return "EPIPE";
    case ERANGE:
      return "ERANGE";
    case ESPIPE:
      return "ESPIPE";
    case ESRCH:
      return "ESRCH";
    case ETIMEDOUT:
      return "ETIMEDOUT";
    case EXDEV:
      return "EXDEV";
    default:
      return "other";
  }
}

/* RLIMIT_NOFILE's soft limit, at most 100,000: the bound of a loop over
 * every descriptor number. */
static inline int fd_limit(void) {
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  return rl.rlim_cur > 100000 ? 100000 : (int)rl.rlim_cur;
}

/* A clock, in nanoseconds. */
static inline long long clock_ns(clockid_t clk) {
  struct timespec ts;
  clock_gettime(clk, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* CLOCK_MONOTONIC, in nanoseconds. */
static inline long long now_ns(void) {
  return clock_ns(CLOCK_MONOTONIC);
}

/* Runs stmt, which sets took, again (10 times at most) while took >= limit:
 * for an "at once" check of a call that gives the same result each time, so
 * that a loaded machine descheduling one call cannot fail the check, while a
 * call that really waits fails it every time. */
#define QUICKEST_OF_10(took, limit, ...)          \
  do {                                            \
    for (int again_ = 0; again_ < 10; again_++) { \
      __VA_ARGS__;                                \
      if ((took) < (limit)) break;                \
    }                                             \
  } while (0)

#ifdef LEGACY_TICKER
#include <pthread.h>
#include <stdatomic.h>

/* The ticker: a thread that counts 10 ms sleeps, 12,000 of them at most (2
 * minutes or more). When it keeps counting while another thread's call
 * blocks, that call let the other threads run. A program that wants it
 * defines LEGACY_TICKER before it includes this file, starts ticker_main and
 * sets ticker_stop at the end. */
static atomic_int ticks, ticker_stop;

static void* ticker_main(void* arg) {
  (void)arg;
  for (int i = 0; i < 12000 && !atomic_load(&ticker_stop); i++) {
    msleep(10);
    atomic_fetch_add(&ticks, 1);
  }
  return NULL;
}

/* Waits until the ticker advanced n times since before, 10 s at most. The
 * thread that ends another's blocking call (the one that writes, unlocks,
 * connects...) calls it before it acts, with before read before that thread
 * was made: the call then cannot return before the ticker advanced n times,
 * natively whatever the load, so its verdict never depends on how late 10 ms
 * sleeps wake. Where the call holds the only OS thread, neither the ticker
 * nor this thread runs until it returns, and the verdict still says NO. */
static inline void wait_for_ticks(int before, int n) {
  for (int i = 0; i < 2000 && atomic_load(&ticks) - before < n; i++) msleep(5);
}

static void ticker_verdict(const char* what, int before, int at_least) {
  printf("  ticker advanced while %s: %s\n", what, yes(atomic_load(&ticks) - before >= at_least));
}
#endif

#endif
