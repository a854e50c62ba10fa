/* A threaded program with its own event loop, as a 2010 server that embeds a
 * libevent-style loop in one thread does: epoll_create, epoll_create1,
 * epoll_ctl, epoll_wait, epoll_pwait, epoll_pwait2, and the fds such loops
 * wait on: eventfd, timerfd and signalfd. It knows nothing of libgreen.
 *
 * A ticker thread counts 10 ms sleeps throughout: where a call blocks, the
 * program says whether the ticker advanced meanwhile (natively it does, with
 * real threads; a green runtime must keep running other threads). The thread
 * that ends a wait acts only once the ticker advanced (legacy.h,
 * wait_for_ticks), and a timed wait is repeated until it did, so that
 * natively the verdict holds whatever the load.
 *
 * Phase 1: epoll_wait, epoll_pwait and epoll_pwait2 with a zero timeout
 *          return 0 at once; with 150 ms on an idle set they return 0 after
 *          150 ms. epoll_create1(EPOLL_CLOEXEC) sets FD_CLOEXEC.
 * Phase 2: a thread in epoll_wait (-1, then epoll_pwait, epoll_pwait2) is
 *          woken by another thread's eventfd write 100 ms later; EPOLLET and
 *          EPOLLONESHOT report once; poll() on an epoll fd sees it ready.
 * Phase 3: eventfd: a read() blocked on it is woken by another thread's
 *          write; EFD_SEMAPHORE; a write that would overflow the counter
 *          blocks until a reader drains it; EFD_NONBLOCK gives EAGAIN.
 * Phase 4: timerfd: read() blocks until the expiry and returns 1;
 *          timerfd_gettime; an absolute timer; TFD_NONBLOCK; epoll on it.
 * Phase 5: signalfd: SIGUSR1 is blocked in every thread; a read() on a
 *          signalfd is woken when another thread sends it (kill, sigqueue).
 * Phase 6: an epoll echo loop in one thread (a listening socket and its
 *          non-blocking connections, level-triggered, EPOLLOUT when a
 *          client reads slowly) serving 20 client threads, one of them
 *          sending 1 MiB; stopped through an eventfd.
 * Phase 7: 100 threads each in epoll_wait on an epoll fd of its own ("ready"
 *          is printed while they all wait), each woken by its own eventfd.
 * Phase 8: a signal handler with SA_RESTART: epoll_wait still returns EINTR
 *          (Linux never restarts it), a read() on an eventfd restarts.
 * Phase 9: errors, each with the kernel's errno.
 * Output is deterministic: counts, errno names and verdicts. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define LEGACY_TICKER
#include "legacy.h"

#define MS 1000000LL

/* ---- helpers ---- */

struct delayed_write {
  int fd;
  long ms;
  uint64_t value;
  int before; /* it writes once the ticker advanced 5 times since */
};

static void* delayed_write_main(void* arg) {
  struct delayed_write* d = arg;
  msleep(d->ms);
  wait_for_ticks(d->before, 5);
  write(d->fd, &d->value, sizeof d->value);
  return NULL;
}

static pthread_t later_write(struct delayed_write* d) {
  pthread_t t;
  pthread_create(&t, NULL, delayed_write_main, d);
  return t;
}

static int add(int epfd, int fd, uint32_t events, uint64_t tag) {
  struct epoll_event ev;
  memset(&ev, 0, sizeof ev);
  ev.events = events;
  ev.data.u64 = tag;
  return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* ---- phase 1: timeouts ---- */

static void phase_timeouts(void) {
  printf("phase 1: timeouts\n");
  int epfd = epoll_create(1);
  int epfd2 = epoll_create1(EPOLL_CLOEXEC);
  printf("  epoll_create(1) and epoll_create1(EPOLL_CLOEXEC) gave fds: %s\n",
         yes(epfd >= 0 && epfd2 >= 0));
  printf("  FD_CLOEXEC: epoll_create %s, epoll_create1(EPOLL_CLOEXEC) %s\n",
         (fcntl(epfd, F_GETFD) & FD_CLOEXEC) ? "set" : "clear",
         (fcntl(epfd2, F_GETFD) & FD_CLOEXEC) ? "set" : "clear");
  int efd = eventfd(0, 0);
  add(epfd, efd, EPOLLIN, 1);
  struct epoll_event ev[4];
  sigset_t none;
  sigemptyset(&none);
  struct timespec zero = {0, 0}, t150 = {0, 150 * MS};

  /* the quickest of 20 rounds: a loaded machine may deschedule one */
  int a = 0, b = 0, c = 0;
  long long took = 0, quickest = -1;
  for (int i = 0; i < 20; i++) {
    long long t0 = now_ns();
    a |= epoll_wait(epfd, ev, 4, 0);
    b |= epoll_pwait(epfd, ev, 4, 0, &none);
    c |= epoll_pwait2(epfd, ev, 4, &zero, NULL);
    took = now_ns() - t0;
    if (quickest < 0 || took < quickest) quickest = took;
  }
  printf("  zero timeout: epoll_wait %d, epoll_pwait %d, epoll_pwait2 %d, at once: %s\n", a, b, c,
         yes(quickest < 50 * MS));

  const char* names[3] = {"epoll_wait", "epoll_pwait", "epoll_pwait2"};
  for (int i = 0; i < 3; i++) {
    /* again (20 at most) until the ticker advanced 5 times and one wait
     * ended within 1.5 s: natively so whatever the load; where the wait
     * holds the only OS thread, nothing in between lets the ticker run */
    int before = atomic_load(&ticks), r = 0, all_long = 1;
    quickest = -1;
    for (int n = 0;
         n < 20 && (quickest < 0 || quickest >= 1500 * MS || atomic_load(&ticks) - before < 5);
         n++) {
      long long t0 = now_ns();
      r |= i == 0   ? epoll_wait(epfd, ev, 4, 150)
           : i == 1 ? epoll_pwait(epfd, ev, 4, 150, &none)
                    : epoll_pwait2(epfd, ev, 4, &t150, &none);
      took = now_ns() - t0;
      all_long &= took >= 150 * MS;
      if (quickest < 0 || took < quickest) quickest = took;
    }
    printf("  %s(150 ms) on an idle set: %d, after 150 ms: %s\n", names[i], r,
           yes(all_long && quickest < 1500 * MS));
    char what[64];
    snprintf(what, sizeof what, "%s waited", names[i]);
    ticker_verdict(what, before, 5);
  }
  close(efd);
  close(epfd);
  close(epfd2);
}

/* ---- phase 2: wake-ups ---- */

static void phase_wakeups(void) {
  printf("phase 2: a thread in epoll_wait woken by another's eventfd write\n");
  int epfd = epoll_create1(0);
  int efd = eventfd(0, EFD_NONBLOCK);
  add(epfd, efd, EPOLLIN, 42);
  struct epoll_event ev[4];
  const char* names[3] = {"epoll_wait(-1)", "epoll_pwait(20 s)", "epoll_pwait2(20 s)"};
  sigset_t none;
  sigemptyset(&none);
  struct timespec t20 = {20, 0}; /* far above any delay of a loaded machine */
  for (int i = 0; i < 3; i++) {
    int before = atomic_load(&ticks);
    struct delayed_write d = {efd, 100, 1, before};
    long long t0 = now_ns();
    pthread_t t = later_write(&d);
    memset(ev, 0, sizeof ev);
    int r = i == 0   ? epoll_wait(epfd, ev, 4, -1)
            : i == 1 ? epoll_pwait(epfd, ev, 4, 20000, &none)
                     : epoll_pwait2(epfd, ev, 4, &t20, NULL);
    long long took = now_ns() - t0;
    pthread_join(t, NULL);
    printf("  %s: %d event(s), tag %llu, %s, after the write: %s\n", names[i], r,
           (unsigned long long)ev[0].data.u64, ev[0].events == EPOLLIN ? "EPOLLIN" : "OTHER",
           yes(took >= 90 * MS));
    ticker_verdict(names[i], before, 5);
    uint64_t v;
    read(efd, &v, sizeof v);
  }

  /* level-triggered reports again, edge-triggered once, one-shot once */
  uint64_t one = 1;
  write(efd, &one, sizeof one);
  int lt1 = epoll_wait(epfd, ev, 4, 0), lt2 = epoll_wait(epfd, ev, 4, 0);
  struct epoll_event mod = {EPOLLIN | EPOLLET, {.u64 = 43}};
  epoll_ctl(epfd, EPOLL_CTL_MOD, efd, &mod);
  int et1 = epoll_wait(epfd, ev, 4, 0), et2 = epoll_wait(epfd, ev, 4, 0);
  mod.events = EPOLLIN | EPOLLONESHOT;
  epoll_ctl(epfd, EPOLL_CTL_MOD, efd, &mod);
  int os1 = epoll_wait(epfd, ev, 4, 0), os2 = epoll_wait(epfd, ev, 4, 0);
  printf(
      "  ready eventfd reported twice: level-triggered %d %d, EPOLLET %d %d, EPOLLONESHOT %d %d\n",
      lt1, lt2, et1, et2, os1, os2);

  /* an edge-triggered wait parks until the next edge */
  mod.events = EPOLLIN | EPOLLET;
  epoll_ctl(epfd, EPOLL_CTL_MOD, efd, &mod);
  epoll_wait(epfd, ev, 4, 0);
  int before = atomic_load(&ticks);
  struct delayed_write d = {efd, 100, 1, before};
  pthread_t t = later_write(&d);
  int r = epoll_wait(epfd, ev, 4, 20000);
  pthread_join(t, NULL);
  printf("  EPOLLET wait on a still-readable eventfd woke at the next write: %d event(s)\n", r);
  ticker_verdict("the EPOLLET wait blocked", before, 5);

  /* an epoll fd is itself pollable */
  uint64_t v;
  read(efd, &v, sizeof v);
  d.ms = 100;
  before = atomic_load(&ticks);
  d.before = before;
  t = later_write(&d);
  struct pollfd pfd = {epfd, POLLIN, 0};
  r = poll(&pfd, 1, 20000);
  pthread_join(t, NULL);
  printf("  poll() on the epoll fd: %d, %s\n", r, pfd.revents == POLLIN ? "POLLIN" : "OTHER");
  ticker_verdict("poll() waited on the epoll fd", before, 5);
  close(efd);
  close(epfd);
}

/* ---- phase 3: eventfd ---- */

struct overflow {
  int fd;
  int ret;
  long long took;
  atomic_int started; /* set once took's clock started */
};

static void* overflow_writer(void* arg) {
  struct overflow* o = arg;
  uint64_t big = UINT64_MAX - 1; /* the counter already holds 1: this must wait */
  long long t0 = now_ns();
  atomic_store(&o->started, 1);
  o->ret = (int)write(o->fd, &big, sizeof big);
  o->took = now_ns() - t0;
  return NULL;
}

static void phase_eventfd(void) {
  printf("phase 3: eventfd\n");
  int efd = eventfd(0, 0);
  int before = atomic_load(&ticks);
  struct delayed_write d = {efd, 100, 5, before};
  pthread_t t = later_write(&d);
  uint64_t v = 0;
  long long t0 = now_ns();
  ssize_t n = read(efd, &v, sizeof v);
  long long took = now_ns() - t0;
  pthread_join(t, NULL);
  printf("  read() blocked until another thread wrote 5: %zd bytes, value %llu, waited: %s\n", n,
         (unsigned long long)v, yes(took >= 90 * MS));
  ticker_verdict("read() blocked on the eventfd", before, 5);

  /* a write that would overflow blocks until a read drains the counter */
  uint64_t one = 1;
  write(efd, &one, sizeof one);
  struct overflow o = {efd, 0, 0, 0};
  before = atomic_load(&ticks);
  pthread_create(&t, NULL, overflow_writer, &o);
  /* the read that ends the wait: 100 ms after the writer's clock started,
   * once the ticker advanced */
  for (int i = 0; i < 2000 && !atomic_load(&o.started); i++) msleep(5);
  msleep(100);
  wait_for_ticks(before, 5);
  read(efd, &v, sizeof v);
  pthread_join(t, NULL);
  printf("  a write that would overflow waited for a read: %d bytes, waited: %s (drained %llu)\n",
         o.ret, yes(o.took >= 90 * MS), (unsigned long long)v);
  ticker_verdict("the overflowing write blocked", before, 5);
  read(efd, &v, sizeof v);
  close(efd);

  int sem = eventfd(3, EFD_SEMAPHORE | EFD_NONBLOCK);
  uint64_t r[4] = {0, 0, 0, 0};
  int last = 0;
  for (int i = 0; i < 4; i++) {
    errno = 0;
    if (read(sem, &r[i], sizeof r[i]) < 0) last = errno;
  }
  printf("  EFD_SEMAPHORE from 3: reads %llu %llu %llu, then %s\n", (unsigned long long)r[0],
         (unsigned long long)r[1], (unsigned long long)r[2], errname(last));
  close(sem);

  efd = eventfd(0, EFD_NONBLOCK);
  errno = 0;
  n = read(efd, &v, sizeof v);
  printf("  EFD_NONBLOCK read of 0: %zd %s\n", n, errname(errno));
  uint32_t small;
  errno = 0;
  n = read(efd, &small, sizeof small);
  printf("  read of 4 bytes: %zd %s\n", n, errname(errno));
  uint64_t max = UINT64_MAX;
  errno = 0;
  n = write(efd, &max, sizeof max);
  printf("  write of 0xffffffffffffffff: %zd %s\n", n, errname(errno));
  printf("  F_GETFL shows O_NONBLOCK: %s\n", yes(fcntl(efd, F_GETFL) & O_NONBLOCK));
  close(efd);
}

/* ---- phase 4: timerfd ---- */

static void phase_timerfd(void) {
  printf("phase 4: timerfd\n");
  int tfd = timerfd_create(CLOCK_MONOTONIC, 0);
  struct itimerspec its = {{0, 0}, {0, 150 * MS}}, cur;
  /* a loaded machine may deschedule us for 150 ms between the two calls:
   * then the timer has expired (0 left), and we arm it again (10 at most) */
  long long left = 0, t0 = 0;
  for (int i = 0; i < 10 && left == 0; i++) {
    t0 = now_ns();
    timerfd_settime(tfd, 0, &its, NULL);
    timerfd_gettime(tfd, &cur);
    left = cur.it_value.tv_sec * 1000000000LL + cur.it_value.tv_nsec;
  }
  printf("  timerfd_gettime right after arming 150 ms: %s\n",
         left > 0 && left <= 150 * MS ? "in (0, 150 ms]" : "OUT OF RANGE");
  /* again (20 at most) until the ticker advanced 5 times since the first
   * read: natively so whatever the load; where the read holds the only OS
   * thread, nothing in between lets the ticker run */
  int before = atomic_load(&ticks);
  uint64_t v = 0;
  ssize_t n = read(tfd, &v, sizeof v);
  long long took = now_ns() - t0;
  printf("  read() until the expiry: %zd bytes, %llu expiration(s), after 150 ms: %s\n", n,
         (unsigned long long)v, yes(took >= 140 * MS));
  for (int i = 0; i < 20 && atomic_load(&ticks) - before < 5; i++) {
    uint64_t again;
    timerfd_settime(tfd, 0, &its, NULL);
    if (read(tfd, &again, sizeof again) < 0) break;
  }
  ticker_verdict("read() blocked on the timerfd", before, 5);
  timerfd_gettime(tfd, &cur);
  printf("  timerfd_gettime once expired: %lld.%09ld\n", (long long)cur.it_value.tv_sec,
         cur.it_value.tv_nsec);

  /* absolute, on CLOCK_MONOTONIC */
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  long long at = now.tv_sec * 1000000000LL + now.tv_nsec + 120 * MS;
  its.it_value.tv_sec = at / 1000000000LL;
  its.it_value.tv_nsec = at % 1000000000LL;
  timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
  n = read(tfd, &v, sizeof v);
  clock_gettime(CLOCK_MONOTONIC, &now);
  printf("  TFD_TIMER_ABSTIME: %llu expiration(s), not before the time: %s\n",
         (unsigned long long)v, yes(now.tv_sec * 1000000000LL + now.tv_nsec >= at));

  /* in an epoll set */
  int epfd = epoll_create1(0);
  add(epfd, tfd, EPOLLIN, 7);
  its.it_value.tv_sec = 0;
  its.it_value.tv_nsec = 100 * MS;
  timerfd_settime(tfd, 0, &its, NULL);
  struct epoll_event ev;
  before = atomic_load(&ticks);
  int r = epoll_wait(epfd, &ev, 1, 20000);
  printf("  epoll_wait on an armed timerfd: %d event(s), tag %llu\n", r,
         (unsigned long long)ev.data.u64);
  read(tfd, &v, sizeof v);
  /* again (20 at most) until the ticker advanced, as the read above */
  for (int i = 0; i < 20 && atomic_load(&ticks) - before < 5; i++) {
    timerfd_settime(tfd, 0, &its, NULL);
    if (epoll_wait(epfd, &ev, 1, 20000) != 1 || read(tfd, &v, sizeof v) < 0) break;
  }
  ticker_verdict("epoll_wait waited for the timerfd", before, 5);
  close(epfd);
  close(tfd);

  tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
  its.it_value.tv_sec = 10; /* it must not expire before the read, whatever the load */
  its.it_value.tv_nsec = 0;
  timerfd_settime(tfd, 0, &its, NULL);
  errno = 0;
  n = read(tfd, &v, sizeof v);
  printf("  TFD_NONBLOCK read before the expiry: %zd %s\n", n, errname(errno));
  close(tfd);
  errno = 0;
  int bad = timerfd_create(12345, 0);
  printf("  timerfd_create(bad clock): %d %s\n", bad, errname(errno));
}

/* ---- phase 5: signalfd ---- */

struct sender {
  long ms;
  int queue;  /* sigqueue instead of kill */
  int before; /* it sends once the ticker advanced 5 times since */
};

static void* sender_main(void* arg) {
  struct sender* s = arg;
  msleep(s->ms);
  wait_for_ticks(s->before, 5);
  if (s->queue) {
    union sigval sv;
    sv.sival_int = 1234;
    sigqueue(getpid(), SIGUSR1, sv);
  } else {
    kill(getpid(), SIGUSR1);
  }
  return NULL;
}

static void phase_signalfd(void) {
  printf("phase 5: signalfd (SIGUSR1 blocked in every thread)\n");
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  int sfd = signalfd(-1, &set, 0);
  for (int i = 0; i < 2; i++) {
    int before = atomic_load(&ticks);
    struct sender s = {100, i, before};
    pthread_t t;
    pthread_create(&t, NULL, sender_main, &s);
    struct signalfd_siginfo si;
    memset(&si, 0, sizeof si);
    long long t0 = now_ns();
    ssize_t n = read(sfd, &si, sizeof si);
    long long took = now_ns() - t0;
    pthread_join(t, NULL);
    printf("  read() until another thread's %s: %s, %s, code %s, value %d, waited: %s\n",
           i ? "sigqueue" : "kill", n == (ssize_t)sizeof si ? "one siginfo" : "WRONG SIZE",
           si.ssi_signo == SIGUSR1 ? "SIGUSR1" : "OTHER",
           si.ssi_code == SI_QUEUE  ? "SI_QUEUE"
           : si.ssi_code == SI_USER ? "SI_USER"
                                    : "other",
           i ? si.ssi_int : 0, yes(took >= 90 * MS));
    ticker_verdict("read() blocked on the signalfd", before, 5);
  }
  int epfd = epoll_create1(0);
  add(epfd, sfd, EPOLLIN, 9);
  struct sender s = {100, 0, atomic_load(&ticks)};
  pthread_t t;
  pthread_create(&t, NULL, sender_main, &s);
  struct epoll_event ev;
  int r = epoll_wait(epfd, &ev, 1, 20000);
  pthread_join(t, NULL);
  struct signalfd_siginfo si;
  read(sfd, &si, sizeof si);
  printf("  epoll_wait on the signalfd: %d event(s), tag %llu\n", r,
         (unsigned long long)ev.data.u64);
  int nb = fcntl(sfd, F_GETFL);
  fcntl(sfd, F_SETFL, nb | O_NONBLOCK);
  errno = 0;
  ssize_t n = read(sfd, &si, sizeof si);
  printf("  O_NONBLOCK read with nothing pending: %zd %s\n", n, errname(errno));
  close(epfd);
  close(sfd);
}

/* ---- phase 6: an epoll echo loop in one thread ---- */

#define CLIENTS 20
#define LINES 20
#define BIG (1 << 20)

struct conn {
  int fd;
  char* out; /* bytes read, not yet echoed */
  size_t out_len, out_cap;
};

struct loop_stats {
  int listen_fd, stop_fd;
  int accepted, closed, max_open, epollout_waits, timed_out;
  long long echoed;
};

static void conn_flush(int epfd, struct conn* c, struct loop_stats* st) {
  while (c->out_len > 0) {
    ssize_t w = write(c->fd, c->out, c->out_len);
    if (w < 0) {
      if (errno == EAGAIN) break;
      c->out_len = 0;
      return;
    }
    memmove(c->out, c->out + w, c->out_len - (size_t)w);
    c->out_len -= (size_t)w;
    st->echoed += w;
  }
  struct epoll_event ev = {EPOLLIN | (c->out_len ? EPOLLOUT : 0), {.ptr = c}};
  if (c->out_len) st->epollout_waits++;
  epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void* loop_main(void* arg) {
  struct loop_stats* st = arg;
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {EPOLLIN, {.ptr = NULL}};
  epoll_ctl(epfd, EPOLL_CTL_ADD, st->listen_fd, &ev);
  static int stop_tag;
  ev.data.ptr = &stop_tag;
  epoll_ctl(epfd, EPOLL_CTL_ADD, st->stop_fd, &ev);
  int open = 0;
  for (int iter = 0; iter < 1000000; iter++) {
    struct epoll_event evs[64];
    int n = epoll_wait(epfd, evs, 64, 20000);
    if (n == 0) {
      st->timed_out = 1;
      break;
    }
    if (n < 0) continue;
    int stop = 0;
    for (int i = 0; i < n; i++) {
      if (evs[i].data.ptr == NULL) {
        for (;;) {
          int fd = accept4(st->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (fd < 0) break;
          /* a small send buffer: a slow reader makes the loop wait for EPOLLOUT */
          int sndbuf = 32 * 1024;
          setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
          struct conn* c = calloc(1, sizeof *c);
          c->fd = fd;
          struct epoll_event cev = {EPOLLIN, {.ptr = c}};
          epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &cev);
          st->accepted++;
          if (++open > st->max_open) st->max_open = open;
        }
        continue;
      }
      if (evs[i].data.ptr == &stop_tag) {
        stop = 1;
        continue;
      }
      struct conn* c = evs[i].data.ptr;
      int eof = 0;
      if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        for (;;) {
          if (c->out_cap - c->out_len < 65536) {
            c->out_cap = c->out_cap * 2 + 65536;
            c->out = realloc(c->out, c->out_cap);
          }
          ssize_t r = read(c->fd, c->out + c->out_len, c->out_cap - c->out_len);
          if (r > 0) {
            c->out_len += (size_t)r;
            if (c->out_len > 256 * 1024) break; /* echo some before reading more */
            continue;
          }
          if (r == 0 || errno != EAGAIN) eof = 1;
          break;
        }
      }
      conn_flush(epfd, c, st);
      if (eof) {
        epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        free(c->out);
        free(c);
        open--;
        st->closed++;
      }
    }
    if (stop) break;
  }
  close(epfd);
  return NULL;
}

struct client {
  int port, id;
  int ok_lines;
  long long bytes;
};

static int connect_to(int port, int rcvbuf) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (rcvbuf) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  struct sockaddr_in sin;
  memset(&sin, 0, sizeof sin);
  sin.sin_family = AF_INET;
  sin.sin_port = htons((uint16_t)port);
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  struct timeval tv = {20, 0}; /* a broken loop must not hang the program */
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(fd, (struct sockaddr*)&sin, sizeof sin) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static int read_full(int fd, char* buf, size_t len) {
  size_t got = 0;
  while (got < len) {
    ssize_t r = read(fd, buf + got, len - got);
    if (r <= 0) return -1;
    got += (size_t)r;
  }
  return 0;
}

static void* client_main(void* arg) {
  struct client* c = arg;
  int fd = connect_to(c->port, 0);
  if (fd < 0) return NULL;
  char line[4200], back[4200];
  for (int l = 0; l < LINES; l++) {
    size_t len = (size_t)snprintf(line, sizeof line, "client %d line %d ", c->id, l);
    size_t want = 16 + (size_t)((c->id * 131 + l * 977) % 4000);
    while (len < want) {
      line[len] = (char)('a' + (len + (size_t)c->id) % 26);
      len++;
    }
    line[len++] = '\n';
    if (write(fd, line, len) != (ssize_t)len) break;
    if (read_full(fd, back, len) < 0) break;
    if (memcmp(line, back, len) == 0) c->ok_lines++;
    c->bytes += (long long)len;
    msleep(5);
  }
  close(fd);
  return NULL;
}

struct big {
  int fd;
  int ok;
};

static void* big_writer(void* arg) {
  struct big* b = arg;
  char* data = malloc(BIG);
  for (int i = 0; i < BIG; i++) data[i] = (char)(i * 7 + i / 4096);
  b->ok = write(b->fd, data, BIG) == BIG;
  free(data);
  return NULL;
}

/* one client sends 1 MiB in one write while reading the echo slowly */
static void* big_client_main(void* arg) {
  struct client* c = arg;
  int fd = connect_to(c->port, 16 * 1024);
  if (fd < 0) return NULL;
  struct big b = {fd, 0};
  pthread_t w;
  pthread_create(&w, NULL, big_writer, &b);
  char* back = malloc(BIG);
  size_t got = 0;
  while (got < BIG) {
    size_t chunk = BIG - got < 65536 ? BIG - got : 65536;
    ssize_t r = read(fd, back + got, chunk);
    if (r <= 0) break;
    got += (size_t)r;
    if (got < BIG / 2) msleep(2); /* read slowly at first: the loop must wait for EPOLLOUT */
  }
  pthread_join(w, NULL);
  int same = got == BIG;
  for (size_t i = 0; same && i < BIG; i++) same = back[i] == (char)(i * 7 + i / 4096);
  c->ok_lines = same && b.ok;
  c->bytes = (long long)got;
  free(back);
  close(fd);
  return NULL;
}

static void phase_loop(void) {
  printf("phase 6: an epoll echo loop in one thread, %d client threads\n", CLIENTS);
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int on = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  struct sockaddr_in sin;
  memset(&sin, 0, sizeof sin);
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t slen = sizeof sin;
  if (bind(lfd, (struct sockaddr*)&sin, sizeof sin) < 0 || listen(lfd, 128) < 0 ||
      getsockname(lfd, (struct sockaddr*)&sin, &slen) < 0) {
    perror("listen");
    exit(1);
  }
  struct loop_stats st;
  memset(&st, 0, sizeof st);
  st.listen_fd = lfd;
  st.stop_fd = eventfd(0, EFD_CLOEXEC);
  int before = atomic_load(&ticks);
  pthread_t loop;
  pthread_create(&loop, NULL, loop_main, &st);
  static struct client clients[CLIENTS];
  pthread_t tids[CLIENTS];
  for (int i = 0; i < CLIENTS; i++) {
    clients[i].port = ntohs(sin.sin_port);
    clients[i].id = i;
    pthread_create(&tids[i], NULL, i == 0 ? big_client_main : client_main, &clients[i]);
  }
  int ok = 0, big_ok = 0;
  long long bytes = 0;
  for (int i = 0; i < CLIENTS; i++) {
    pthread_join(tids[i], NULL);
    if (i == 0)
      big_ok = clients[i].ok_lines;
    else
      ok += clients[i].ok_lines;
    bytes += clients[i].bytes;
  }
  /* every client has closed: wait (bounded) for the loop to see it, and
   * stop it only once the ticker advanced */
  for (int i = 0; i < 1000 && st.closed < CLIENTS; i++) msleep(10);
  wait_for_ticks(before, 5);
  uint64_t one = 1;
  write(st.stop_fd, &one, sizeof one);
  pthread_join(loop, NULL);
  printf("  lines echoed intact: %d of %d; 1 MiB echoed intact: %s\n", ok, (CLIENTS - 1) * LINES,
         yes(big_ok));
  printf("  the loop accepted %d, closed %d, echoed every byte: %s, had %s open at once\n",
         st.accepted, st.closed, yes(st.echoed == bytes),
         st.max_open > 1 ? "several" : "ONE AT A TIME");
  printf("  the loop waited for EPOLLOUT: %s; its epoll_wait timed out: %s\n",
         yes(st.epollout_waits > 0), st.timed_out ? "YES" : "no");
  ticker_verdict("the loop and its clients ran", before, 5);
  close(st.stop_fd);
  close(lfd);
}

/* ---- phase 7: many threads, each in epoll_wait on its own epoll fd ---- */

#define WAITERS 100

struct waiter {
  int epfd, efd;
  int got;
  uint64_t tag;
};

static void* waiter_main(void* arg) {
  struct waiter* w = arg;
  struct epoll_event ev;
  memset(&ev, 0, sizeof ev);
  w->got = epoll_wait(w->epfd, &ev, 1, 20000);
  w->tag = ev.data.u64;
  return NULL;
}

static void phase_many(void) {
  printf("phase 7: %d threads in epoll_wait at once\n", WAITERS);
  static struct waiter w[WAITERS];
  pthread_t tids[WAITERS];
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  for (int i = 0; i < WAITERS; i++) {
    w[i].epfd = epoll_create1(0);
    w[i].efd = eventfd(0, 0);
    add(w[i].epfd, w[i].efd, EPOLLIN, 1000 + (uint64_t)i);
    pthread_create(&tids[i], &attr, waiter_main, &w[i]);
  }
  pthread_attr_destroy(&attr);
  msleep(100); /* let them all reach epoll_wait */
  printf("ready\n");
  fflush(stdout);
  msleep(100);
  uint64_t one = 1;
  for (int i = WAITERS - 1; i >= 0; i--) write(w[i].efd, &one, sizeof one);
  int right = 0;
  for (int i = 0; i < WAITERS; i++) {
    pthread_join(tids[i], NULL);
    right += w[i].got == 1 && w[i].tag == 1000 + (uint64_t)i;
    close(w[i].epfd);
    close(w[i].efd);
  }
  printf("  woken by their own eventfd: %d of %d\n", right, WAITERS);
}

/* ---- phase 8: signals ---- */

static volatile sig_atomic_t handled;

static void on_usr2(int sig) {
  (void)sig;
  handled++;
}

struct kicker {
  pthread_t target;
  long ms;
  int efd;            /* >= 0: write 1 to it a further 100 ms later */
  atomic_int waiting; /* the target is about to wait */
};

static void* kicker_main(void* arg) {
  struct kicker* k = arg;
  /* the signal must find the target in its wait, whatever the load */
  for (int i = 0; i < 2000 && !atomic_load(&k->waiting); i++) msleep(5);
  msleep(k->ms);
  pthread_kill(k->target, SIGUSR2);
  if (k->efd >= 0) {
    msleep(100);
    uint64_t one = 1;
    write(k->efd, &one, sizeof one);
  }
  return NULL;
}

static void phase_signals(void) {
  printf("phase 8: a handled signal (SA_RESTART) during the wait\n");
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr2;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGUSR2, &sa, NULL);

  int epfd = epoll_create1(0);
  int efd = eventfd(0, 0);
  add(epfd, efd, EPOLLIN, 1);
  struct kicker k = {pthread_self(), 100, -1, 0};
  pthread_t t;
  handled = 0;
  pthread_create(&t, NULL, kicker_main, &k);
  struct epoll_event ev;
  long long t0 = now_ns();
  atomic_store(&k.waiting, 1);
  errno = 0;
  int r = epoll_wait(epfd, &ev, 1, 20000);
  int e = errno;
  long long took = now_ns() - t0;
  pthread_join(t, NULL);
  /* before its 20 s timeout: the signal ended it */
  printf("  epoll_wait: %d %s, handler ran %d time(s), when the signal came: %s\n", r, errname(e),
         (int)handled, yes(took >= 90 * MS && took < 20000 * MS));

  k.efd = efd;
  atomic_store(&k.waiting, 0);
  handled = 0;
  pthread_create(&t, NULL, kicker_main, &k);
  uint64_t v = 0;
  t0 = now_ns();
  atomic_store(&k.waiting, 1);
  errno = 0;
  ssize_t n = read(efd, &v, sizeof v);
  took = now_ns() - t0;
  pthread_join(t, NULL);
  printf("  read() on an eventfd: %zd, value %llu, handler ran %d time(s), restarted: %s\n", n,
         (unsigned long long)v, (int)handled, yes(took >= 190 * MS));
  close(efd);
  close(epfd);
  signal(SIGUSR2, SIG_DFL);
}

/* ---- phase 9: errors ---- */

static void phase_errors(void) {
  printf("phase 9: errors\n");
  errno = 0;
  int r = epoll_create(0);
  printf("  epoll_create(0): %d %s\n", r, errname(errno));
  errno = 0;
  r = epoll_create1(12345);
  printf("  epoll_create1(bad flags): %d %s\n", r, errname(errno));
  int epfd = epoll_create1(0);
  errno = 0;
  r = add(epfd, 987, EPOLLIN, 0);
  printf("  epoll_ctl ADD of a closed fd: %d %s\n", r, errname(errno));
  char path[] = "/tmp/green-event-loop-XXXXXX";
  int file = mkstemp(path);
  unlink(path);
  errno = 0;
  r = add(epfd, file, EPOLLIN, 0);
  printf("  epoll_ctl ADD of a regular file: %d %s\n", r, errname(errno));
  int efd = eventfd(0, 0);
  add(epfd, efd, EPOLLIN, 0);
  errno = 0;
  r = add(epfd, efd, EPOLLIN, 0);
  printf("  epoll_ctl ADD twice: %d %s\n", r, errname(errno));
  struct epoll_event ev = {EPOLLIN, {.u64 = 0}};
  errno = 0;
  int other = eventfd(0, 0);
  r = epoll_ctl(epfd, EPOLL_CTL_MOD, other, &ev);
  printf("  epoll_ctl MOD of an fd not in the set: %d %s\n", r, errname(errno));
  errno = 0;
  r = epoll_ctl(epfd, EPOLL_CTL_DEL, other, NULL);
  printf("  epoll_ctl DEL of an fd not in the set: %d %s\n", r, errname(errno));
  errno = 0;
  r = add(epfd, epfd, EPOLLIN, 0);
  printf("  epoll_ctl ADD of the epoll fd to itself: %d %s\n", r, errname(errno));
  errno = 0;
  r = epoll_wait(efd, &ev, 1, 100);
  printf("  epoll_wait on an eventfd: %d %s\n", r, errname(errno));
  errno = 0;
  r = epoll_wait(epfd, &ev, 0, 100);
  printf("  epoll_wait with maxevents 0: %d %s\n", r, errname(errno));
  errno = 0;
  r = epoll_wait(987, &ev, 1, 100);
  printf("  epoll_wait on a closed fd: %d %s\n", r, errname(errno));
  close(epfd);
  errno = 0;
  r = epoll_wait(epfd, &ev, 1, 100);
  printf("  epoll_wait after close: %d %s\n", r, errname(errno));
  errno = 0;
  uint64_t v;
  ssize_t n = read(987, &v, sizeof v);
  printf("  read of a closed fd: %zd %s\n", n, errname(errno));
  close(file);
  close(efd);
  close(other);
}

int main(void) {
  /* SIGUSR1 is for the signalfd: blocked before any thread exists */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, NULL);
  pthread_t ticker;
  pthread_create(&ticker, NULL, ticker_main, NULL);
  phase_timeouts();
  phase_wakeups();
  phase_eventfd();
  phase_timerfd();
  phase_signalfd();
  phase_loop();
  phase_many();
  phase_signals();
  phase_errors();
  atomic_store(&ticker_stop, 1);
  pthread_join(ticker, NULL);
  printf("done\n");
  return 0;
}
