/* Socket timeouts and non-blocking sockets, the way old servers and clients
 * use them, against a "silent peer": a listener in this program whose
 * accepted connections never send a byte. It knows nothing of libgreen.
 *
 * 1. 200 client threads connect, set SO_RCVTIMEO (300 or 600 ms) and wait
 *    in recv/read/recvfrom/recvmsg: each must get -1/EAGAIN after at least
 *    its own timeout.
 * 2. 1000 client threads do the same with a 1.5 s timeout; "ready" is
 *    printed once they all exist (the harness counts OS threads then).
 * 3. SO_SNDTIMEO: send() into a peer that never reads returns a partial
 *    count after the timeout, the next write() gives EAGAIN after it.
 * 4. accept() honours SO_RCVTIMEO on the listener.
 * 5. O_NONBLOCK via fcntl, ioctl(FIONBIO), SOCK_NONBLOCK and accept4, and
 *    MSG_DONTWAIT: EAGAIN at once (although SO_RCVTIMEO is set); F_GETFL
 *    shows exactly what was set; non-blocking connect gives EINPROGRESS.
 * 6. getsockopt returns the timeouts that were set.
 * 7. connect() to a port nobody listens on gives ECONNREFUSED.
 *
 * Output is deterministic: only counts and verdicts. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "legacy.h"

#define MS 1000000LL

/* Linux converts SO_RCVTIMEO/SO_SNDTIMEO to jiffies and sleeps with
 * schedule_timeout(), which may return up to one tick (1-10 ms) before the
 * wall-clock timeout; allow that much. */
#define TICK_SLACK (10 * MS)

static void die(const char* what) {
  printf("FAILED: %s: %s\n", what, errname(errno));
  exit(1);
}

static struct sockaddr_in listen_addr;

static int make_listener(void) {
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  if (ls < 0) die("socket");
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(ls, (struct sockaddr*)&a, sizeof a) < 0) die("bind");
  if (listen(ls, 4096) < 0) die("listen");
  socklen_t len = sizeof listen_addr;
  getsockname(ls, (struct sockaddr*)&listen_addr, &len);
  return ls;
}

static int connect_to(const struct sockaddr_in* a) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  for (;;) {
    if (connect(fd, (const struct sockaddr*)a, sizeof *a) == 0) return fd;
    if (errno != EINTR) break;
  }
  close(fd);
  return -1;
}

static void set_timeout(int fd, int opt, long ms) {
  struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
  if (setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof tv) < 0) die("setsockopt timeout");
}

/* ---- the silent peer ---- */

struct acceptor {
  int ls;
  int expected;
  int release; /* read end of a pipe: a byte there means "close them all" */
  int accepted;
};

static void* acceptor_main(void* arg) {
  struct acceptor* a = arg;
  int* fds = calloc((size_t)a->expected, sizeof *fds);
  while (a->accepted < a->expected) {
    int fd = accept(a->ls, NULL, NULL);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      break;
    }
    fds[a->accepted++] = fd; /* and never send anything */
  }
  char c;
  while (read(a->release, &c, 1) < 0 && errno == EINTR) {
  }
  for (int i = 0; i < a->accepted; i++) close(fds[i]);
  free(fds);
  return NULL;
}

/* ---- fan-out clients ---- */

struct fanout {
  int n;
  long timeout_ms[2]; /* even / odd threads */
  atomic_int good, early, late, connect_failed, other;
};

static struct fanout* fan;

static void* client_main(void* arg) {
  long i = (long)arg;
  long tmo = fan->timeout_ms[i % 2];
  int fd = connect_to(&listen_addr);
  if (fd < 0) {
    atomic_fetch_add(&fan->connect_failed, 1);
    return NULL;
  }
  set_timeout(fd, SO_RCVTIMEO, tmo);
  char buf[64];
  long long t0 = now_ns();
  ssize_t n;
  errno = 0;
  switch (i % 4) {
    case 0:
      n = recv(fd, buf, sizeof buf, 0);
      break;
    case 1:
      n = read(fd, buf, sizeof buf);
      break;
    case 2:
      n = recvfrom(fd, buf, sizeof buf, 0, NULL, NULL);
      break;
    default: {
      struct iovec iov = {buf, sizeof buf};
      struct msghdr m;
      memset(&m, 0, sizeof m);
      m.msg_iov = &iov;
      m.msg_iovlen = 1;
      n = recvmsg(fd, &m, 0);
    }
  }
  int e = errno;
  long long took = now_ns() - t0;
  if (n != -1 || (e != EAGAIN && e != EWOULDBLOCK))
    atomic_fetch_add(&fan->other, 1);
  else if (took < tmo * MS - TICK_SLACK)
    atomic_fetch_add(&fan->early, 1);
  else if (took > tmo * MS + 3000 * MS)
    atomic_fetch_add(&fan->late, 1);
  else
    atomic_fetch_add(&fan->good, 1);
  close(fd);
  return NULL;
}

static void run_fanout(int n, long tmo_even, long tmo_odd, int announce) {
  struct fanout f;
  memset(&f, 0, sizeof f);
  f.n = n;
  f.timeout_ms[0] = tmo_even;
  f.timeout_ms[1] = tmo_odd;
  fan = &f;
  int ls = make_listener();
  int rel[2];
  if (pipe(rel) < 0) die("pipe");
  struct acceptor acc = {ls, n, rel[0], 0};
  pthread_t at;
  pthread_create(&at, NULL, acceptor_main, &acc);
  pthread_t* t = calloc((size_t)n, sizeof *t);
  for (long i = 0; i < n; i++) {
    int err = pthread_create(&t[i], NULL, client_main, (void*)i);
    if (err != 0) {
      printf("pthread_create failed at %ld: %s\n", i, strerror(err));
      exit(1);
    }
  }
  if (announce) {
    int finished = atomic_load(&f.good) + atomic_load(&f.early) + atomic_load(&f.other);
    say_ready();
    if (finished) printf("  SOME CLIENTS FINISHED BEFORE READY\n");
  }
  for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
  write(rel[1], "x", 1);
  pthread_join(at, NULL);
  close(rel[0]);
  close(rel[1]);
  close(ls);
  free(t);
  printf(
      "  %d clients: %d EAGAIN after >= timeout, %d too early, %d too late, %d other results, "
      "%d failed to connect; the silent peer accepted %d\n",
      n, atomic_load(&f.good), atomic_load(&f.early), atomic_load(&f.late), atomic_load(&f.other),
      atomic_load(&f.connect_failed), acc.accepted);
}

/* ---- a connected pair, for the single-socket tests ---- */

static void make_pair(int ls, int* client, int* server) {
  *client = connect_to(&listen_addr);
  if (*client < 0) die("connect");
  *server = accept(ls, NULL, NULL);
  if (*server < 0) die("accept");
}

/* expect -1/EAGAIN at once (well before the 2 s SO_RCVTIMEO a wrong park would wait) */
static void expect_eagain_at_once(const char* what, ssize_t (*op)(int), int fd) {
  ssize_t n;
  int e;
  long long took;
  QUICKEST_OF_10(took, 1000 * MS, {
    long long t0 = now_ns();
    errno = 0;
    n = op(fd);
    e = errno;
    took = now_ns() - t0;
  });
  printf("  %s: %zd %s %s\n", what, n, errname(e), took < 1000 * MS ? "at once" : "LATE");
}

static ssize_t op_recv(int fd) {
  char b[8];
  return recv(fd, b, sizeof b, 0);
}
static ssize_t op_read(int fd) {
  char b[8];
  return read(fd, b, sizeof b);
}
static ssize_t op_recv_dontwait(int fd) {
  char b[8];
  return recv(fd, b, sizeof b, MSG_DONTWAIT);
}
static ssize_t op_accept(int fd) {
  return accept(fd, NULL, NULL);
}
static ssize_t op_accept4(int fd) {
  return accept4(fd, NULL, NULL, SOCK_CLOEXEC);
}

static void show_flags(const char* what, int fd) {
  int fl = fcntl(fd, F_GETFL);
  printf("  %s: F_GETFL 0x%x (O_NONBLOCK %s)\n", what, fl, fl & O_NONBLOCK ? "set" : "clear");
}

static void expect_timeout(const char* what, ssize_t (*op)(int), int fd, long ms) {
  long long t0 = now_ns();
  errno = 0;
  ssize_t n = op(fd);
  int e = errno;
  long long took = now_ns() - t0;
  printf("  %s: %zd %s %s\n", what, n, errname(e),
         took < ms * MS - TICK_SLACK  ? "TOO EARLY"
         : took > ms * MS + 3000 * MS ? "TOO LATE"
                                      : "after >= timeout");
}

static void test_sndtimeo(int ls) {
  printf("SO_SNDTIMEO into a peer that never reads:\n");
  int c, s;
  make_pair(ls, &c, &s);
  set_timeout(c, SO_SNDTIMEO, 200);
  size_t big = 32u << 20;
  char* buf = malloc(big);
  memset(buf, 'z', big);
  long long t0 = now_ns();
  errno = 0;
  ssize_t n = send(c, buf, big, 0);
  long long took = now_ns() - t0;
  printf("  send 32 MiB: %s, %s\n",
         n > 0 && (size_t)n < big     ? "partial count"
         : n == -1 && errno == EAGAIN ? "EAGAIN"
                                      : "UNEXPECTED",
         took >= 200 * MS - TICK_SLACK ? "after >= timeout" : "TOO EARLY");
  /* the kernel may still grow the buffers a little: keep writing until it
   * refuses outright; every call must take at least the timeout */
  int calls = 0, early = 0, e = 0;
  for (;;) {
    t0 = now_ns();
    errno = 0;
    n = write(c, buf, big);
    e = errno;
    took = now_ns() - t0;
    calls++;
    if (took < 200 * MS - TICK_SLACK) early++;
    if (n <= 0 || calls >= 50) break;
  }
  printf("  write 32 MiB until refused: %zd %s, %s\n", n, errname(e),
         early == 0 ? "every call after >= timeout" : "SOME CALLS TOO EARLY");
  free(buf);
  close(c);
  close(s);
}

static void test_nonblocking(int ls) {
  printf("non-blocking sockets (each also has a 2 s SO_RCVTIMEO):\n");
  int c, s;
  make_pair(ls, &c, &s);
  set_timeout(c, SO_RCVTIMEO, 2000);
  expect_eagain_at_once("recv(MSG_DONTWAIT) on a blocking socket", op_recv_dontwait, c);
  show_flags("that socket", c);
  fcntl(c, F_SETFL, fcntl(c, F_GETFL) | O_NONBLOCK);
  show_flags("after fcntl O_NONBLOCK", c);
  expect_eagain_at_once("recv", op_recv, c);
  expect_eagain_at_once("read", op_read, c);
  fcntl(c, F_SETFL, fcntl(c, F_GETFL) & ~O_NONBLOCK);
  show_flags("after clearing it", c);
  set_timeout(c, SO_RCVTIMEO, 300);
  expect_timeout("recv blocks again, 300 ms SO_RCVTIMEO", op_recv, c, 300);
  close(c);
  close(s);

  make_pair(ls, &c, &s);
  set_timeout(c, SO_RCVTIMEO, 2000);
  int on = 1;
  printf("  ioctl FIONBIO 1: %d\n", ioctl(c, FIONBIO, &on));
  show_flags("after FIONBIO 1", c);
  expect_eagain_at_once("recv", op_recv, c);
  on = 0;
  printf("  ioctl FIONBIO 0: %d\n", ioctl(c, FIONBIO, &on));
  show_flags("after FIONBIO 0", c);
  set_timeout(c, SO_RCVTIMEO, 300);
  expect_timeout("recv blocks again, 300 ms SO_RCVTIMEO", op_recv, c, 300);
  close(c);
  close(s);

  /* the listener */
  set_timeout(ls, SO_RCVTIMEO, 300);
  expect_timeout("accept on a listener with 300 ms SO_RCVTIMEO", op_accept, ls, 300);
  set_timeout(ls, SO_RCVTIMEO, 2000);
  fcntl(ls, F_SETFL, fcntl(ls, F_GETFL) | O_NONBLOCK);
  show_flags("listener after fcntl O_NONBLOCK", ls);
  expect_eagain_at_once("accept", op_accept, ls);
  expect_eagain_at_once("accept4", op_accept4, ls);

  /* SOCK_NONBLOCK at creation, and accept4(SOCK_NONBLOCK) */
  int nb = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  show_flags("socket(SOCK_NONBLOCK)", nb);
  errno = 0;
  int r = connect(nb, (struct sockaddr*)&listen_addr, sizeof listen_addr);
  printf("  non-blocking connect: %d %s\n", r, errname(errno));
  struct pollfd pfd = {nb, POLLOUT, 0};
  int pr = poll(&pfd, 1, 5000);
  int soerr = -1;
  socklen_t sl = sizeof soerr;
  getsockopt(nb, SOL_SOCKET, SO_ERROR, &soerr, &sl);
  printf("  then poll POLLOUT: %d, revents%s%s, SO_ERROR %s\n", pr,
         pfd.revents & POLLOUT ? " POLLOUT" : "", pfd.revents & ~POLLOUT ? " +OTHER" : "",
         errname(soerr));
  int a = -1;
  for (int tries = 0; tries < 200 && a < 0; tries++) {
    a = accept4(ls, NULL, NULL, SOCK_NONBLOCK);
    if (a < 0) {
      struct pollfd lp = {ls, POLLIN, 0};
      poll(&lp, 1, 50);
    }
  }
  show_flags("accept4(SOCK_NONBLOCK)", a);
  set_timeout(a, SO_RCVTIMEO, 2000);
  expect_eagain_at_once("recv on it", op_recv, a);
  close(a);
  close(nb);
  fcntl(ls, F_SETFL, fcntl(ls, F_GETFL) & ~O_NONBLOCK);
  set_timeout(ls, SO_RCVTIMEO, 0);
}

static void print_timeout(const char* what, int fd, int opt) {
  struct timeval tv = {-1, -1};
  socklen_t len = sizeof tv;
  int r = getsockopt(fd, SOL_SOCKET, opt, &tv, &len);
  printf("  %s: %d, %ld.%06ld s, len %s\n", what, r, (long)tv.tv_sec, (long)tv.tv_usec,
         len == sizeof tv ? "ok" : "WRONG");
}

static void test_getsockopt(void) {
  printf("getsockopt:\n");
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  print_timeout("SO_RCVTIMEO unset", fd, SO_RCVTIMEO);
  print_timeout("SO_SNDTIMEO unset", fd, SO_SNDTIMEO);
  set_timeout(fd, SO_RCVTIMEO, 300);
  set_timeout(fd, SO_SNDTIMEO, 1200);
  print_timeout("SO_RCVTIMEO set to 300 ms", fd, SO_RCVTIMEO);
  print_timeout("SO_SNDTIMEO set to 1200 ms", fd, SO_SNDTIMEO);
  set_timeout(fd, SO_RCVTIMEO, 0);
  print_timeout("SO_RCVTIMEO set back to 0", fd, SO_RCVTIMEO);
  struct timeval bad = {0, 1000000};
  errno = 0;
  int r = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &bad, sizeof bad);
  printf("  SO_RCVTIMEO with tv_usec=1000000: %d %s\n", r, errname(errno));
  close(fd);
}

static void test_refused(void) {
  printf("connect to a port nobody listens on:\n");
  /* a socket bound to a port but not listening: connecting to it is refused */
  int holder = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(holder, (struct sockaddr*)&a, sizeof a) < 0) die("bind");
  socklen_t len = sizeof a;
  getsockname(holder, (struct sockaddr*)&a, &len);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  errno = 0;
  int r = connect(fd, (struct sockaddr*)&a, sizeof a);
  printf("  blocking connect: %d %s\n", r, errname(errno));
  close(fd);
  fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  errno = 0;
  r = connect(fd, (struct sockaddr*)&a, sizeof a);
  int e = errno;
  struct pollfd pfd = {fd, POLLOUT, 0};
  int pr = poll(&pfd, 1, 5000);
  int soerr = -1;
  len = sizeof soerr;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
  printf("  non-blocking connect: %d %s, poll %d, SO_ERROR %s\n", r, errname(e), pr,
         errname(soerr));
  close(fd);
  close(holder);
}

int main(void) {
  /* 1000 clients and the 1000 connections the silent peer holds need more
   * than the usual 1024 descriptors */
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096) {
    rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  printf("fan-out: 200 clients, SO_RCVTIMEO 300/600 ms, silent peer\n");
  run_fanout(200, 300, 600, 0);
  printf("fan-out: 1000 clients, SO_RCVTIMEO 1500 ms, silent peer\n");
  fflush(stdout);
  run_fanout(1000, 1500, 1500, 1);
  int ls = make_listener();
  test_sndtimeo(ls);
  test_nonblocking(ls);
  close(ls);
  test_getsockopt();
  test_refused();
  printf("done\n");
  return 0;
}
