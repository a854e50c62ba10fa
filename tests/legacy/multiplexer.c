/* An old-style multiplexer: one thread waits in poll/select/ppoll/pselect
 * over pipes and a socketpair that worker threads write to at staggered
 * times. It knows nothing of libgreen.
 *
 * 1. For each of poll, select, ppoll, pselect: four fds written 60 ms
 *    apart, in an order unlike the fd order; prints the order in which they
 *    became ready and checks each was reported only after its write.
 * 2. Timeouts: 0 returns at once; 100 ms with nothing ready returns 0 after
 *    at least 100 ms; select as a sleep; what select/ppoll/pselect do to
 *    the timeout they are given.
 * 3. select with read and write sets; poll with POLLOUT.
 * 4. Hang-ups: POLLHUP when the writer closes, POLLRDHUP after shutdown,
 *    POLLERR on a pipe without readers.
 * 5. Bad fds: POLLNVAL from poll and ppoll, EBADF from select, negative fds
 *    ignored.
 * 6. Two threads polling the same fd both wake.
 *
 * Output is deterministic: only orders, counts, flags and verdicts. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "legacy.h"

#define MS 1000000LL
#define GAP_MS 60

static const char* events_str(short ev) {
  static char bufs[4][128]; /* up to four results in one printf */
  static int next;
  char* buf = bufs[next++ % 4];
  buf[0] = 0;
  if (ev & POLLIN) strcat(buf, "|POLLIN");
  if (ev & POLLPRI) strcat(buf, "|POLLPRI");
  if (ev & POLLOUT) strcat(buf, "|POLLOUT");
  if (ev & POLLRDHUP) strcat(buf, "|POLLRDHUP");
  if (ev & POLLERR) strcat(buf, "|POLLERR");
  if (ev & POLLHUP) strcat(buf, "|POLLHUP");
  if (ev & POLLNVAL) strcat(buf, "|POLLNVAL");
  short known = POLLIN | POLLPRI | POLLOUT | POLLRDHUP | POLLERR | POLLHUP | POLLNVAL;
  if (ev & ~known) strcat(buf, "|OTHER");
  return buf[0] ? buf + 1 : "0";
}

/* ---- 1. staggered readiness ---- */

#define NSRC 4

struct source {
  const char* name;
  int rfd, wfd;
  int is_socket;
  long delay_ms; /* when its worker writes */
  long long written_at;
  long long seen_at;
};

static long long round_start;

static void* source_writer(void* arg) {
  struct source* s = arg;
  msleep(s->delay_ms);
  s->written_at = now_ns();
  if (s->is_socket)
    send(s->wfd, "s", 1, 0);
  else
    write(s->wfd, "p", 1);
  return NULL;
}

enum api { API_POLL, API_SELECT, API_PPOLL, API_PSELECT };
static const char* api_names[] = {"poll", "select", "ppoll", "pselect"};

static void run_round(enum api api) {
  struct source src[NSRC] = {
      {"pipeA", -1, -1, 0, 3 * GAP_MS, 0, 0},
      {"pipeB", -1, -1, 0, 4 * GAP_MS, 0, 0},
      {"pipeC", -1, -1, 0, 2 * GAP_MS, 0, 0},
      {"socketpair", -1, -1, 1, 1 * GAP_MS, 0, 0},
  };
  for (int i = 0; i < NSRC; i++) {
    int p[2];
    if (src[i].is_socket ? socketpair(AF_UNIX, SOCK_STREAM, 0, p) : pipe(p)) {
      printf("FAILED: pipe/socketpair\n");
      exit(1);
    }
    src[i].rfd = p[0];
    src[i].wfd = p[1];
  }
  pthread_t t[NSRC];
  round_start = now_ns();
  for (int i = 0; i < NSRC; i++) pthread_create(&t[i], NULL, source_writer, &src[i]);

  int pending[NSRC] = {1, 1, 1, 1}, left = NSRC, bad = 0;
  const char* order[NSRC];
  int norder = 0;
  while (left > 0) {
    int ready[NSRC] = {0};
    int r;
    if (api == API_POLL || api == API_PPOLL) {
      struct pollfd pfd[NSRC];
      for (int i = 0; i < NSRC; i++) {
        pfd[i].fd = pending[i] ? src[i].rfd : -1;
        pfd[i].events = POLLIN;
        pfd[i].revents = 0;
      }
      r = api == API_POLL ? poll(pfd, NSRC, -1) : ppoll(pfd, NSRC, NULL, NULL);
      int n = 0;
      for (int i = 0; i < NSRC; i++) {
        if (pfd[i].revents) n++;
        if (pfd[i].revents == POLLIN)
          ready[i] = 1;
        else if (pfd[i].revents)
          bad++;
      }
      if (n != r) bad++;
    } else {
      fd_set rs;
      FD_ZERO(&rs);
      int maxfd = -1;
      for (int i = 0; i < NSRC; i++)
        if (pending[i]) {
          FD_SET(src[i].rfd, &rs);
          if (src[i].rfd > maxfd) maxfd = src[i].rfd;
        }
      r = api == API_SELECT ? select(maxfd + 1, &rs, NULL, NULL, NULL)
                            : pselect(maxfd + 1, &rs, NULL, NULL, NULL, NULL);
      int n = 0;
      for (int fd = 0; fd <= maxfd; fd++)
        if (FD_ISSET(fd, &rs)) {
          n++;
          int known = 0;
          for (int i = 0; i < NSRC; i++)
            if (pending[i] && src[i].rfd == fd) ready[i] = known = 1;
          if (!known) bad++;
        }
      if (n != r) bad++;
    }
    if (r <= 0) {
      printf("  %s returned %d %s\n", api_names[api], r, errname(errno));
      bad++;
      break;
    }
    /* report in the order they were written, should two come at once */
    for (int k = 1; k <= NSRC; k++)
      for (int i = 0; i < NSRC; i++)
        if (ready[i] && src[i].delay_ms == k * GAP_MS) {
          src[i].seen_at = now_ns();
          char c;
          if (read(src[i].rfd, &c, 1) != 1) bad++;
          order[norder++] = src[i].name;
          pending[i] = 0;
          left--;
        }
  }
  for (int i = 0; i < NSRC; i++) pthread_join(t[i], NULL);
  int early = 0;
  for (int i = 0; i < NSRC; i++) {
    if (src[i].seen_at < src[i].written_at) early++;
    close(src[i].rfd);
    close(src[i].wfd);
  }
  printf("%s: ready in order", api_names[api]);
  for (int i = 0; i < norder; i++) printf(" %s", order[i]);
  printf("; %s, %s\n", early ? "SOME REPORTED BEFORE THEIR WRITE" : "each after its write",
         bad ? "INCONSISTENT RESULTS" : "results consistent");
}

/* ---- 2. timeouts ---- */

static const char* took_verdict(long long took, long ms) {
  if (took < ms * MS) return "TOO EARLY";
  if (took > ms * MS + 4000 * MS) return "TOO LATE";
  return ms ? "after >= timeout" : "at once";
}

static void test_timeouts(void) {
  printf("timeouts:\n");
  int p[2];
  if (pipe(p) < 0) exit(1);
  struct pollfd pfd = {p[0], POLLIN, 0};
  long long t0, quick;
  int r;
  QUICKEST_OF_10(quick, 500 * MS, {
    t0 = now_ns();
    r = poll(&pfd, 1, 0);
    quick = now_ns() - t0;
  });
  printf("  poll timeout 0, nothing ready: %d %s\n", r, quick < 500 * MS ? "at once" : "LATE");
  write(p[1], "x", 1);
  QUICKEST_OF_10(quick, 500 * MS, {
    t0 = now_ns();
    r = poll(&pfd, 1, 0);
    quick = now_ns() - t0;
  });
  printf("  poll timeout 0, data ready: %d %s %s\n", r, events_str(pfd.revents),
         quick < 500 * MS ? "at once" : "LATE");
  char c;
  read(p[0], &c, 1);

  t0 = now_ns();
  r = poll(&pfd, 1, 100);
  printf("  poll timeout 100 ms, nothing ready: %d revents %s %s\n", r, events_str(pfd.revents),
         took_verdict(now_ns() - t0, 100));
  t0 = now_ns();
  r = poll(NULL, 0, 100);
  printf("  poll(NULL, 0, 100) as a sleep: %d %s\n", r, took_verdict(now_ns() - t0, 100));

  struct timespec ts = {0, 100 * 1000000L};
  t0 = now_ns();
  r = ppoll(&pfd, 1, &ts, NULL);
  printf("  ppoll 100 ms: %d %s, timeout afterwards %ld.%09ld\n", r,
         took_verdict(now_ns() - t0, 100), (long)ts.tv_sec, ts.tv_nsec);

  fd_set rs;
  FD_ZERO(&rs);
  FD_SET(p[0], &rs);
  struct timeval tv = {0, 100000};
  t0 = now_ns();
  r = select(p[0] + 1, &rs, NULL, NULL, &tv);
  printf("  select 100 ms, nothing ready: %d %s, bit %s, timeout afterwards %ld.%06ld\n", r,
         took_verdict(now_ns() - t0, 100), FD_ISSET(p[0], &rs) ? "SET" : "cleared", (long)tv.tv_sec,
         (long)tv.tv_usec);
  tv.tv_sec = 0;
  tv.tv_usec = 100000;
  t0 = now_ns();
  r = select(0, NULL, NULL, NULL, &tv);
  printf("  select(0, NULL, NULL, NULL, 100 ms) as a sleep: %d %s\n", r,
         took_verdict(now_ns() - t0, 100));
  QUICKEST_OF_10(quick, 500 * MS, {
    tv.tv_sec = 0;
    tv.tv_usec = 0;
    FD_ZERO(&rs);
    FD_SET(p[0], &rs);
    t0 = now_ns();
    r = select(p[0] + 1, &rs, NULL, NULL, &tv);
    quick = now_ns() - t0;
  });
  printf("  select timeout 0: %d %s\n", r, quick < 500 * MS ? "at once" : "LATE");

  FD_ZERO(&rs);
  FD_SET(p[0], &rs);
  ts.tv_sec = 0;
  ts.tv_nsec = 100 * 1000000L;
  t0 = now_ns();
  r = pselect(p[0] + 1, &rs, NULL, NULL, &ts, NULL);
  printf("  pselect 100 ms: %d %s, timeout afterwards %ld.%09ld\n", r,
         took_verdict(now_ns() - t0, 100), (long)ts.tv_sec, ts.tv_nsec);

  /* select with a long timeout that data cuts short: the remaining time */
  struct source s = {"late", p[0], p[1], 0, GAP_MS, 0, 0};
  pthread_t t;
  pthread_create(&t, NULL, source_writer, &s);
  FD_ZERO(&rs);
  FD_SET(p[0], &rs);
  tv.tv_sec = 2;
  tv.tv_usec = 0;
  t0 = now_ns();
  r = select(p[0] + 1, &rs, NULL, NULL, &tv);
  long long took = now_ns() - t0;
  pthread_join(t, NULL);
  long long rem = tv.tv_sec * 1000000000LL + tv.tv_usec * 1000LL;
  printf("  select 2 s, data after %d ms: %d, bit %s, %s, remaining %s\n", GAP_MS, r,
         FD_ISSET(p[0], &rs) ? "set" : "CLEARED",
         took >= GAP_MS * MS / 2 ? "waited for it" : "DID NOT WAIT",
         rem > 0 && rem < 2000 * MS ? "between 0 and 2 s" : "WRONG");
  read(p[0], &c, 1);

  write(p[1], "y", 1);
  r = poll(&pfd, 1, -5); /* any negative timeout means forever; data is there */
  printf("  poll timeout -5 with data: %d %s\n", r, events_str(pfd.revents));
  read(p[0], &c, 1);
  tv.tv_sec = 0;
  tv.tv_usec = -1;
  errno = 0;
  FD_ZERO(&rs);
  FD_SET(p[0], &rs);
  r = select(p[0] + 1, &rs, NULL, NULL, &tv);
  printf("  select tv_usec=-1: %d %s\n", r, errname(errno));
  close(p[0]);
  close(p[1]);
}

/* ---- 3. read and write sets ---- */

static void test_rw_sets(void) {
  printf("read and write sets:\n");
  int p[2], sv[2];
  if (pipe(p) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) exit(1);
  fd_set rs, ws;
  FD_ZERO(&rs);
  FD_ZERO(&ws);
  FD_SET(p[0], &rs);
  FD_SET(sv[0], &rs);
  FD_SET(p[1], &ws);
  FD_SET(sv[1], &ws);
  int maxfd = p[0];
  if (p[1] > maxfd) maxfd = p[1];
  if (sv[0] > maxfd) maxfd = sv[0];
  if (sv[1] > maxfd) maxfd = sv[1];
  int r = select(maxfd + 1, &rs, &ws, NULL, NULL);
  printf("  select, nothing to read, both writable: %d; read bits %d %d, write bits %d %d\n", r,
         FD_ISSET(p[0], &rs) != 0, FD_ISSET(sv[0], &rs) != 0, FD_ISSET(p[1], &ws) != 0,
         FD_ISSET(sv[1], &ws) != 0);
  send(sv[1], "a", 1, 0);
  FD_ZERO(&rs);
  FD_ZERO(&ws);
  FD_SET(p[0], &rs);
  FD_SET(sv[0], &rs);
  FD_SET(sv[0], &ws);
  r = select(maxfd + 1, &rs, &ws, NULL, NULL);
  printf("  select, socket readable and writable: %d; read bits %d %d, write bit %d\n", r,
         FD_ISSET(p[0], &rs) != 0, FD_ISSET(sv[0], &rs) != 0, FD_ISSET(sv[0], &ws) != 0);
  struct pollfd pfd[3] = {{p[0], POLLIN, 0}, {p[1], POLLOUT, 0}, {sv[0], POLLIN | POLLOUT, 0}};
  r = poll(pfd, 3, -1);
  printf("  poll: %d; %s, %s, %s\n", r, events_str(pfd[0].revents), events_str(pfd[1].revents),
         events_str(pfd[2].revents));
  close(p[0]);
  close(p[1]);
  close(sv[0]);
  close(sv[1]);
}

/* ---- 4. hang-ups ---- */

static void* closer(void* arg) {
  int fd = *(int*)arg;
  msleep(GAP_MS);
  close(fd);
  return NULL;
}

static void* shutter(void* arg) {
  int fd = *(int*)arg;
  msleep(GAP_MS);
  shutdown(fd, SHUT_WR);
  return NULL;
}

static void test_hangups(void) {
  printf("hang-ups:\n");
  int p[2];
  if (pipe(p) < 0) exit(1);
  pthread_t t;
  pthread_create(&t, NULL, closer, &p[1]);
  struct pollfd pfd = {p[0], POLLIN, 0};
  long long t0 = now_ns();
  int r = poll(&pfd, 1, -1);
  long long took = now_ns() - t0;
  pthread_join(t, NULL);
  printf("  pipe writer closes while we poll: %d %s, %s\n", r, events_str(pfd.revents),
         took >= GAP_MS * MS / 2 ? "waited for it" : "DID NOT WAIT");
  char c;
  printf("  read then: %zd\n", read(p[0], &c, 1));
  close(p[0]);

  if (pipe(p) < 0) exit(1);
  write(p[1], "d", 1);
  close(p[1]);
  pfd.fd = p[0];
  r = poll(&pfd, 1, -1);
  printf("  data left, writer gone: %d %s\n", r, events_str(pfd.revents));
  fd_set rs;
  FD_ZERO(&rs);
  FD_SET(p[0], &rs);
  r = select(p[0] + 1, &rs, NULL, NULL, NULL);
  printf("  select on it: %d, bit %d\n", r, FD_ISSET(p[0], &rs) != 0);
  close(p[0]);

  if (pipe(p) < 0) exit(1);
  close(p[0]);
  pfd.fd = p[1];
  pfd.events = POLLOUT;
  r = poll(&pfd, 1, -1);
  printf("  pipe without readers, POLLOUT: %d %s\n", r, events_str(pfd.revents));
  close(p[1]);

  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) exit(1);
  pthread_create(&t, NULL, shutter, &sv[1]);
  pfd.fd = sv[0];
  pfd.events = POLLIN | POLLRDHUP;
  t0 = now_ns();
  r = poll(&pfd, 1, -1);
  took = now_ns() - t0;
  pthread_join(t, NULL);
  printf("  socketpair peer shuts down writing while we poll: %d %s, %s\n", r,
         events_str(pfd.revents), took >= GAP_MS * MS / 2 ? "waited for it" : "DID NOT WAIT");
  pthread_create(&t, NULL, closer, &sv[1]);
  pfd.events = POLLOUT;
  t0 = now_ns();
  r = poll(&pfd, 1, -1);
  pthread_join(t, NULL);
  printf("  our side still writable: %d %s\n", r, events_str(pfd.revents));
  msleep(10);
  pfd.events = POLLIN | POLLRDHUP;
  r = poll(&pfd, 1, -1);
  printf("  after the peer closed: %d %s\n", r, events_str(pfd.revents));
  close(sv[0]);
}

/* ---- 5. bad fds ---- */

static void test_bad_fds(void) {
  printf("bad fds:\n");
  int p[2];
  if (pipe(p) < 0) exit(1);
  int closed = p[0];
  close(p[0]);
  struct pollfd pfd[3] = {{closed, POLLIN, 0}, {p[1], POLLOUT, 0}, {-1, POLLIN, 0x7}};
  int r = poll(pfd, 3, -1);
  printf("  poll [closed fd, pipe without readers, -1]: %d; %s, %s, %s\n", r,
         events_str(pfd[0].revents), events_str(pfd[1].revents), events_str(pfd[2].revents));
  struct pollfd one = {closed, POLLIN, 0};
  long long t0, quick;
  QUICKEST_OF_10(quick, 500 * MS, {
    struct timespec ts = {1, 0};
    t0 = now_ns();
    r = ppoll(&one, 1, &ts, NULL);
    quick = now_ns() - t0;
  });
  printf("  ppoll [closed fd] with 1 s timeout: %d %s %s\n", r, events_str(one.revents),
         quick < 500 * MS ? "at once" : "LATE");
  fd_set rs;
  int e = 0;
  QUICKEST_OF_10(quick, 500 * MS, {
    FD_ZERO(&rs);
    FD_SET(closed, &rs);
    struct timeval tv = {1, 0};
    errno = 0;
    t0 = now_ns();
    r = select(closed + 1, &rs, NULL, NULL, &tv);
    e = errno;
    quick = now_ns() - t0;
  });
  printf("  select [closed fd]: %d %s %s\n", r, errname(e), quick < 500 * MS ? "at once" : "LATE");
  struct pollfd neg = {-7, POLLIN, 0x7};
  t0 = now_ns();
  r = poll(&neg, 1, 100);
  printf("  poll [only negative fd], 100 ms: %d revents %s %s\n", r, events_str(neg.revents),
         took_verdict(now_ns() - t0, 100));
  close(p[1]);
}

/* ---- 6. two pollers on one fd ---- */

static int shared_fd;
static atomic_int woke;

static void* shared_poller(void* arg) {
  (void)arg;
  struct pollfd pfd = {shared_fd, POLLIN, 0};
  if (poll(&pfd, 1, 5000) == 1 && pfd.revents == POLLIN) atomic_fetch_add(&woke, 1);
  return NULL;
}

static void test_two_pollers(void) {
  int p[2];
  if (pipe(p) < 0) exit(1);
  shared_fd = p[0];
  pthread_t a, b;
  pthread_create(&a, NULL, shared_poller, NULL);
  pthread_create(&b, NULL, shared_poller, NULL);
  msleep(GAP_MS);
  write(p[1], "x", 1);
  pthread_join(a, NULL);
  pthread_join(b, NULL);
  printf("two threads polling one pipe: %d woke with POLLIN\n", atomic_load(&woke));
  close(p[0]);
  close(p[1]);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  run_round(API_POLL);
  run_round(API_SELECT);
  run_round(API_PPOLL);
  run_round(API_PSELECT);
  test_timeouts();
  test_rw_sets();
  test_hangups();
  test_bad_fds();
  test_two_pollers();
  printf("done\n");
  return 0;
}
