/* POSIX unnamed semaphores as an old program uses them. It knows nothing of
 * libgreen.
 *
 * Phase 1: 16 threads wait on a semaphore of 0; main posts one token at a
 *   time; each post lets exactly one through. A semaphore of 1 used as a
 *   lock by 8 threads across sleeps and socket round trips.
 * Phase 2: sem_trywait on 0 gives EAGAIN; sem_timedwait (CLOCK_REALTIME) and
 *   sem_clockwait (CLOCK_MONOTONIC and CLOCK_REALTIME) on 0 give ETIMEDOUT
 *   with the clock past the deadline; a token posted by a thread blocked in
 *   a socket read before it posts wakes a timed waiter before its deadline;
 *   EINVAL for a bad deadline, clock or initial value; EOVERFLOW past
 *   SEM_VALUE_MAX; sem_getvalue along the way.
 * Output is deterministic: only counts and verdicts. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "legacy.h"

#define MS 1000000LL
#define SEC 1000000000LL

static struct timespec to_ts(long long ns) {
  struct timespec ts = {(time_t)(ns / SEC), (long)(ns % SEC)};
  return ts;
}

/* -1/errno calls as "-1 ENAME", 0 as "0": call it right after the call */
static const char* result(int r) {
  static char buf[8][32];
  static int next;
  char* b = buf[next++ % 8];
  if (r == 0)
    snprintf(b, 32, "0");
  else
    snprintf(b, 32, "%d %s", r, errname(errno));
  return b;
}

static int value(sem_t* s) {
  int v = -100;
  sem_getvalue(s, &v);
  return v;
}

/* ---- phase 1: waiting and posting ---- */

#define WAITERS 16
#define LOCKERS 8
#define ROUNDS 5

static sem_t gate;
static atomic_int waiting, passed, wait_errors;

static void* gate_waiter(void* arg) {
  (void)arg;
  atomic_fetch_add(&waiting, 1);
  int r;
  while ((r = sem_wait(&gate)) != 0 && errno == EINTR) {
  }
  if (r != 0) atomic_fetch_add(&wait_errors, 1);
  atomic_fetch_add(&passed, 1);
  return NULL;
}

static sem_t lock_sem;
static int shared_count;
static atomic_int inside, overlaps;
static int echo_fds[2];

static void* echo_main(void* arg) {
  (void)arg;
  char c;
  while (read(echo_fds[1], &c, 1) == 1) write(echo_fds[1], &c, 1);
  return NULL;
}

static void* locker(void* arg) {
  int id = (int)(long)arg;
  for (int i = 0; i < ROUNDS; i++) {
    while (sem_wait(&lock_sem) != 0) {
    }
    if (atomic_fetch_add(&inside, 1) != 0) atomic_fetch_add(&overlaps, 1);
    int v = shared_count;
    if ((id + i) % 2) {
      char c = 'x';
      write(echo_fds[0], &c, 1); /* one at a time: the semaphore is the lock */
      read(echo_fds[0], &c, 1);
    } else {
      msleep(2);
    }
    shared_count = v + 1;
    atomic_fetch_sub(&inside, 1);
    sem_post(&lock_sem);
  }
  return NULL;
}

static void phase_wait_post(void) {
  printf("phase 1: %d threads wait on a semaphore of 0\n", WAITERS);
  const char* e = result(sem_init(&gate, 0, 0));
  pthread_t t[WAITERS];
  for (int i = 0; i < WAITERS; i++) pthread_create(&t[i], NULL, gate_waiter, NULL);
  while (atomic_load(&waiting) < WAITERS) msleep(5);
  msleep(50);
  int before = atomic_load(&passed);
  int one_each = 1;
  for (int i = 1; i <= WAITERS; i++) {
    sem_post(&gate);
    long long give_up = clock_ns(CLOCK_MONOTONIC) + 2 * SEC;
    while (atomic_load(&passed) < i && clock_ns(CLOCK_MONOTONIC) < give_up) msleep(1);
    msleep(3);
    one_each &= atomic_load(&passed) == i;
  }
  for (int i = 0; i < WAITERS; i++) pthread_join(t[i], NULL);
  printf(
      "  sem_init %s; passed before any post %d; each post let exactly one through: %s; "
      "errors %d; value now %d; destroy %s\n",
      e, before, yes(one_each), atomic_load(&wait_errors), value(&gate),
      result(sem_destroy(&gate)));

  printf(
      "  a semaphore of 1 as a lock, %d threads x %d rounds across sleeps and socket round "
      "trips:\n",
      LOCKERS, ROUNDS);
  tcp_pair(echo_fds);
  pthread_t echo;
  pthread_create(&echo, NULL, echo_main, NULL);
  sem_init(&lock_sem, 0, 1);
  for (long i = 0; i < LOCKERS; i++) pthread_create(&t[i], NULL, locker, (void*)i);
  for (int i = 0; i < LOCKERS; i++) pthread_join(t[i], NULL);
  printf("    count %d, overlaps %d, value at the end %d\n", shared_count, atomic_load(&overlaps),
         value(&lock_sem));
  sem_destroy(&lock_sem);
  shutdown(echo_fds[0], SHUT_WR);
  pthread_join(echo, NULL);
  close(echo_fds[0]);
  close(echo_fds[1]);
}

/* ---- phase 2: try, timed, errors ---- */

static sem_t s;
static int post_fds[2];

static void timed_case(const char* what, int clock, clockid_t clk) {
  long long deadline = clock_ns(clk) + 100 * MS;
  struct timespec ts = to_ts(deadline);
  const char* r = result(clock ? sem_clockwait(&s, clk, &ts) : sem_timedwait(&s, &ts));
  printf("  %s 100 ms on 0: %s, the clock past the deadline: %s\n", what, r,
         yes(clock_ns(clk) >= deadline));
}

static void* reading_poster(void* arg) {
  (void)arg;
  char buf[2];
  if (read(post_fds[1], buf, 2) == 2) sem_post(&s);
  return NULL;
}

static void* delayed_writer(void* arg) {
  (void)arg;
  msleep(150);
  write(post_fds[0], "go", 2);
  return NULL;
}

static void phase_try_timed(void) {
  printf("phase 2: try, timed and errors\n");
  sem_init(&s, 0, 0);
  printf("  sem_trywait on 0: %s\n", result(sem_trywait(&s)));
  timed_case("sem_timedwait", 0, CLOCK_REALTIME);
  timed_case("sem_clockwait CLOCK_MONOTONIC", 1, CLOCK_MONOTONIC);
  timed_case("sem_clockwait CLOCK_REALTIME", 1, CLOCK_REALTIME);

  struct timespec bad = {time(NULL) + 1, 1000000000L};
  const char* r1 = result(sem_timedwait(&s, &bad));
  struct timespec soon = to_ts(clock_ns(CLOCK_MONOTONIC) + 50 * MS);
  const char* r2 = result(sem_clockwait(&s, CLOCK_PROCESS_CPUTIME_ID, &soon));
  printf("  sem_timedwait tv_nsec=1000000000: %s; sem_clockwait CLOCK_PROCESS_CPUTIME_ID: %s\n", r1,
         r2);

  const char* p1 = result(sem_post(&s));
  const char* p2 = result(sem_post(&s));
  const char* p3 = result(sem_post(&s));
  int v3 = value(&s);
  const char* w1 = result(sem_trywait(&s));
  struct timespec past = to_ts(clock_ns(CLOCK_REALTIME) - SEC);
  /* a token is there: the old deadline does not matter */
  const char* w2 = result(sem_timedwait(&s, &past));
  const char* w3 = result(sem_wait(&s));
  const char* w4 = result(sem_trywait(&s));
  printf(
      "  3 posts %s %s %s: value %d; trywait %s, timedwait with a past deadline %s, wait %s, "
      "trywait %s; value %d\n",
      p1, p2, p3, v3, w1, w2, w3, w4, value(&s));

  tcp_pair(post_fds);
  pthread_t poster, writer;
  pthread_create(&poster, NULL, reading_poster, NULL);
  pthread_create(&writer, NULL, delayed_writer, NULL);
  long long start = clock_ns(CLOCK_MONOTONIC);
  /* 20 s: far above any delay of a loaded machine */
  struct timespec dl = to_ts(clock_ns(CLOCK_REALTIME) + 20 * SEC);
  int r;
  while ((r = sem_timedwait(&s, &dl)) != 0 && errno == EINTR) {
  }
  const char* rs = result(r);
  long long waited = clock_ns(CLOCK_MONOTONIC) - start;
  pthread_join(poster, NULL);
  pthread_join(writer, NULL);
  printf(
      "  timedwait 20 s for a token posted after a 150 ms socket read: %s, waited for it: %s, "
      "well before the deadline: %s\n",
      rs, yes(waited >= 100 * MS), yes(waited < 10 * SEC));
  close(post_fds[0]);
  close(post_fds[1]);
  sem_destroy(&s);

  sem_t big;
  const char* i1 = result(sem_init(&big, 0, SEM_VALUE_MAX));
  const char* o = result(sem_post(&big));
  int vmax = value(&big) == SEM_VALUE_MAX;
  sem_destroy(&big);
  const char* i2 = result(sem_init(&big, 0, (unsigned)SEM_VALUE_MAX + 1u));
  printf(
      "  sem_init SEM_VALUE_MAX %s, post %s, value still SEM_VALUE_MAX: %s; sem_init "
      "SEM_VALUE_MAX+1 %s\n",
      i1, o, yes(vmax), i2);
}

int main(void) {
  phase_wait_post();
  phase_try_timed();
  printf("done\n");
  return 0;
}
