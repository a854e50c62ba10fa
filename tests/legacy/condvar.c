/* Condition variables as an old threaded program uses them. It knows nothing
 * of libgreen.
 *
 * Phase 1 "producer/consumer": 4 producers and 4 consumers over a bounded
 *   buffer of 4 slots with two condition variables; producers sleep now and
 *   then, so both sides really wait. Every item arrives exactly once.
 * Phase 2 "timeouts": waits nobody signals must time out, with the clock past
 *   the deadline and the mutex held again: pthread_cond_timedwait on
 *   CLOCK_REALTIME and, via pthread_condattr_setclock, on CLOCK_MONOTONIC;
 *   pthread_cond_clockwait on both clocks; a consumer with timed waits on an
 *   empty queue times out twice, then gets an item. A signal with no waiter is
 *   lost. Bad clocks and deadlines give EINVAL.
 * Phase 3 "wake-ups": a timed wait signalled long before its deadline returns
 *   0 at once; pthread_cond_signal wakes at least one of 5 waiters;
 *   pthread_cond_broadcast wakes all of 32 ("ready" is printed while they all
 *   wait); the signaller holds the mutex across a socket read before
 *   signalling.
 * Output is deterministic: only counts and verdicts. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
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

/* ---- phase 1: producer/consumer ---- */

#define PRODUCERS 4
#define CONSUMERS 4
#define ITEMS 250 /* per producer */
#define SLOTS 4

static pthread_mutex_t buf_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER;
static int buf[SLOTS], buf_head, buf_len, producers_left = PRODUCERS;
static unsigned char seen[PRODUCERS * ITEMS];
static int duplicates, consumed, full_waits, empty_waits;

static void* producer(void* arg) {
  int id = (int)(long)arg;
  for (int i = 0; i < ITEMS; i++) {
    pthread_mutex_lock(&buf_lock);
    while (buf_len == SLOTS) {
      full_waits++;
      pthread_cond_wait(&not_full, &buf_lock);
    }
    buf[(buf_head + buf_len) % SLOTS] = id * ITEMS + i;
    buf_len++;
    pthread_cond_signal(&not_empty);
    pthread_mutex_unlock(&buf_lock);
    if (i % 25 == id) msleep(2);
  }
  pthread_mutex_lock(&buf_lock);
  producers_left--;
  pthread_cond_broadcast(&not_empty);
  pthread_mutex_unlock(&buf_lock);
  return NULL;
}

static void* consumer(void* arg) {
  (void)arg;
  for (;;) {
    pthread_mutex_lock(&buf_lock);
    while (buf_len == 0 && producers_left > 0) {
      empty_waits++;
      pthread_cond_wait(&not_empty, &buf_lock);
    }
    if (buf_len == 0) {
      pthread_mutex_unlock(&buf_lock);
      return NULL;
    }
    int item = buf[buf_head];
    buf_head = (buf_head + 1) % SLOTS;
    buf_len--;
    if (seen[item]++) duplicates++;
    consumed++;
    pthread_cond_signal(&not_full);
    pthread_mutex_unlock(&buf_lock);
  }
}

static void phase_producer_consumer(void) {
  printf("phase 1: %d producers, %d consumers, %d slots\n", PRODUCERS, CONSUMERS, SLOTS);
  pthread_t p[PRODUCERS], c[CONSUMERS];
  for (int i = 0; i < CONSUMERS; i++) pthread_create(&c[i], NULL, consumer, NULL);
  for (int i = 0; i < PRODUCERS; i++) pthread_create(&p[i], NULL, producer, (void*)(long)i);
  for (int i = 0; i < PRODUCERS; i++) pthread_join(p[i], NULL);
  for (int i = 0; i < CONSUMERS; i++) pthread_join(c[i], NULL);
  int missing = 0;
  for (int i = 0; i < PRODUCERS * ITEMS; i++) missing += !seen[i];
  printf("  consumed %d items, %d missing, %d duplicates; producers waited: %s, consumers: %s\n",
         consumed, missing, duplicates, yes(full_waits > 0), yes(empty_waits > 0));
}

/* ---- phase 2: timeouts ---- */

static pthread_mutex_t to_lock; /* error-checking: unlock says whether we own it */
static pthread_cond_t to_cond = PTHREAD_COND_INITIALIZER;
static int never; /* the predicate nobody makes true */

enum how { TIMEDWAIT, CLOCKWAIT };

/* Waits 100 ms for a predicate that stays false; reports the result, whether
 * the clock is past the deadline and whether the mutex is held again. */
static void timeout_case(const char* what, pthread_cond_t* c, enum how how, clockid_t clk) {
  pthread_mutex_lock(&to_lock);
  long long deadline = clock_ns(clk) + 100 * MS;
  struct timespec ts = to_ts(deadline);
  int e = 0;
  while (!never && e == 0)
    e = how == TIMEDWAIT ? pthread_cond_timedwait(c, &to_lock, &ts)
                         : pthread_cond_clockwait(c, &to_lock, clk, &ts);
  int past = clock_ns(clk) >= deadline;
  int held = pthread_mutex_unlock(&to_lock) == 0;
  printf("  %s: %s, the clock past the deadline: %s, the mutex held again: %s\n", what, errname(e),
         yes(past), yes(held));
}

/* a consumer that polls an empty queue with timed waits */
static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_cond;
static int q_items;
static int q_timeouts; /* the consumer's, counted under q_lock */

/* Makes the item once the consumer has timed out twice, rather than at a
 * fixed time: the third 150 ms wait then has all of its 150 ms to see the
 * item, however late a loaded machine wakes either thread (10 s at most). */
static void* late_producer(void* arg) {
  (void)arg;
  for (int i = 0; i < 2000; i++) {
    pthread_mutex_lock(&q_lock);
    if (q_timeouts >= 2) {
      q_items = 1;
      pthread_cond_signal(&q_cond);
      pthread_mutex_unlock(&q_lock);
      return NULL;
    }
    pthread_mutex_unlock(&q_lock);
    msleep(5);
  }
  return NULL;
}

static void phase_timeouts(void) {
  printf("phase 2: timed waits that must time out\n");
  pthread_mutexattr_t ma;
  pthread_mutexattr_init(&ma);
  pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ERRORCHECK);
  pthread_mutex_init(&to_lock, &ma);
  pthread_mutexattr_destroy(&ma);

  timeout_case("pthread_cond_timedwait, CLOCK_REALTIME (default)", &to_cond, TIMEDWAIT,
               CLOCK_REALTIME);

  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  int se = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  clockid_t got = CLOCK_REALTIME;
  pthread_condattr_getclock(&ca, &got);
  pthread_cond_t mono;
  pthread_cond_init(&mono, &ca);
  printf("  condattr_setclock CLOCK_MONOTONIC: %s, getclock monotonic: %s\n", errname(se),
         yes(got == CLOCK_MONOTONIC));
  timeout_case("pthread_cond_timedwait, CLOCK_MONOTONIC (condattr)", &mono, TIMEDWAIT,
               CLOCK_MONOTONIC);
  timeout_case("pthread_cond_clockwait CLOCK_MONOTONIC", &to_cond, CLOCKWAIT, CLOCK_MONOTONIC);
  timeout_case("pthread_cond_clockwait CLOCK_REALTIME", &to_cond, CLOCKWAIT, CLOCK_REALTIME);

  /* bad arguments */
  pthread_mutex_lock(&to_lock);
  struct timespec soon = to_ts(clock_ns(CLOCK_MONOTONIC) + 50 * MS);
  int e1 = pthread_cond_clockwait(&to_cond, &to_lock, CLOCK_PROCESS_CPUTIME_ID, &soon);
  struct timespec bad = {time(NULL) + 1, 1000000000L};
  int e2 = pthread_cond_timedwait(&to_cond, &to_lock, &bad);
  int held = pthread_mutex_unlock(&to_lock) == 0;
  int e3 = pthread_condattr_setclock(&ca, CLOCK_PROCESS_CPUTIME_ID);
  printf(
      "  clockwait on CLOCK_PROCESS_CPUTIME_ID: %s, tv_nsec=1000000000: %s, mutex held: %s, "
      "condattr_setclock CLOCK_PROCESS_CPUTIME_ID: %s\n",
      errname(e1), errname(e2), yes(held), errname(e3));
  pthread_condattr_destroy(&ca);

  /* a signal with no waiter is not remembered */
  pthread_cond_signal(&to_cond);
  pthread_cond_broadcast(&to_cond);
  timeout_case("timedwait after a signal and a broadcast nobody waited for", &to_cond, TIMEDWAIT,
               CLOCK_REALTIME);

  /* a consumer polling every 150 ms on an empty queue; the item comes after two timeouts */
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&q_cond, &ca);
  pthread_condattr_destroy(&ca);
  pthread_t t;
  pthread_create(&t, NULL, late_producer, NULL);
  int got_item = 0;
  pthread_mutex_lock(&q_lock);
  while (!got_item && q_timeouts < 50) {
    struct timespec ts = to_ts(clock_ns(CLOCK_MONOTONIC) + 150 * MS);
    int e = 0;
    while (q_items == 0 && e == 0) e = pthread_cond_timedwait(&q_cond, &q_lock, &ts);
    if (q_items > 0) {
      got_item = 1;
      q_items--;
    } else if (e == ETIMEDOUT) {
      q_timeouts++;
    }
  }
  pthread_mutex_unlock(&q_lock);
  pthread_join(t, NULL);
  printf(
      "  consumer polling every 150 ms for an item made after its second timeout: timed out 2 "
      "times: %s, got it: %s\n",
      yes(q_timeouts == 2), yes(got_item));
  printf("  destroy: %s %s %s\n", errname(pthread_cond_destroy(&mono)),
         errname(pthread_cond_destroy(&q_cond)), errname(pthread_mutex_destroy(&to_lock)));
}

/* ---- phase 3: wake-ups ---- */

static pthread_mutex_t w_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t w_cond = PTHREAD_COND_INITIALIZER;
static int w_generation, w_tokens;
static atomic_int w_waiting, w_woken;

/* waits for the next generation */
static void* gen_waiter(void* arg) {
  (void)arg;
  pthread_mutex_lock(&w_lock);
  int gen = w_generation;
  atomic_fetch_add(&w_waiting, 1);
  while (w_generation == gen) pthread_cond_wait(&w_cond, &w_lock);
  atomic_fetch_add(&w_woken, 1);
  pthread_mutex_unlock(&w_lock);
  return NULL;
}

/* waits for a token */
static void* token_waiter(void* arg) {
  (void)arg;
  pthread_mutex_lock(&w_lock);
  atomic_fetch_add(&w_waiting, 1);
  while (w_tokens == 0) pthread_cond_wait(&w_cond, &w_lock);
  w_tokens--;
  atomic_fetch_add(&w_woken, 1);
  pthread_mutex_unlock(&w_lock);
  return NULL;
}

static void wait_for_waiters(int n) {
  long long give_up = clock_ns(CLOCK_MONOTONIC) + 5 * SEC;
  while (atomic_load(&w_waiting) < n && clock_ns(CLOCK_MONOTONIC) < give_up) msleep(5);
  msleep(50); /* they are in pthread_cond_wait now */
}

static void* early_signaller(void* arg) {
  (void)arg;
  msleep(100);
  pthread_mutex_lock(&w_lock);
  w_tokens = 1;
  pthread_cond_signal(&w_cond);
  pthread_mutex_unlock(&w_lock);
  return NULL;
}

static int io_fds[2];
static int io_ready;

static void* io_signaller(void* arg) {
  (void)arg;
  pthread_mutex_lock(&w_lock);
  char buf[3];
  int got = 0;
  while (got < 3) {
    ssize_t n = read(io_fds[1], buf + got, (size_t)(3 - got));
    if (n <= 0) break;
    got += (int)n;
  }
  io_ready = got == 3;
  w_generation++;
  pthread_cond_broadcast(&w_cond);
  pthread_mutex_unlock(&w_lock);
  return NULL;
}

static void* io_writer(void* arg) {
  (void)arg;
  msleep(150);
  write(io_fds[0], "abc", 3);
  return NULL;
}

#define BROADCAST 32

static void phase_wakeups(void) {
  printf("phase 3: wake-ups\n");

  pthread_t t, ts[BROADCAST];
  pthread_create(&t, NULL, early_signaller, NULL);
  pthread_mutex_lock(&w_lock);
  long long start = clock_ns(CLOCK_MONOTONIC);
  /* 20 s: far above any delay of a loaded machine */
  struct timespec dl = to_ts(clock_ns(CLOCK_REALTIME) + 20 * SEC);
  int e = 0;
  while (w_tokens == 0 && e == 0) e = pthread_cond_timedwait(&w_cond, &w_lock, &dl);
  int got = w_tokens == 1;
  w_tokens = 0;
  pthread_mutex_unlock(&w_lock);
  long long waited = clock_ns(CLOCK_MONOTONIC) - start;
  pthread_join(t, NULL);
  printf(
      "  timed wait of 20 s signalled at 100 ms: %s, got the token: %s, returned well before the "
      "deadline: %s\n",
      errname(e), yes(got), yes(waited < 10 * SEC));

  /* signal: at least one of 5 */
  atomic_store(&w_waiting, 0);
  atomic_store(&w_woken, 0);
  for (int i = 0; i < 5; i++) pthread_create(&ts[i], NULL, token_waiter, NULL);
  wait_for_waiters(5);
  pthread_mutex_lock(&w_lock);
  w_tokens = 1;
  pthread_cond_signal(&w_cond);
  pthread_mutex_unlock(&w_lock);
  msleep(100);
  int after_signal = atomic_load(&w_woken);
  pthread_mutex_lock(&w_lock);
  w_tokens += 4;
  pthread_cond_broadcast(&w_cond);
  pthread_mutex_unlock(&w_lock);
  for (int i = 0; i < 5; i++) pthread_join(ts[i], NULL);
  printf(
      "  pthread_cond_signal with 5 waiters and one token: one took it: %s; after a broadcast "
      "and 4 more: %d\n",
      yes(after_signal == 1), atomic_load(&w_woken));

  /* broadcast: all of 32 */
  atomic_store(&w_waiting, 0);
  atomic_store(&w_woken, 0);
  for (int i = 0; i < BROADCAST; i++) pthread_create(&ts[i], NULL, gen_waiter, NULL);
  wait_for_waiters(BROADCAST);
  int woken_early = atomic_load(&w_woken);
  printf("ready\n");
  fflush(stdout);
  msleep(100);
  pthread_mutex_lock(&w_lock);
  w_generation++;
  pthread_cond_broadcast(&w_cond);
  pthread_mutex_unlock(&w_lock);
  for (int i = 0; i < BROADCAST; i++) pthread_join(ts[i], NULL);
  printf("  pthread_cond_broadcast: %d waiting, %d woke before it, %d after\n",
         atomic_load(&w_waiting), woken_early, atomic_load(&w_woken));

  /* the signaller holds the mutex across a socket read */
  tcp_pair(io_fds);
  atomic_store(&w_waiting, 0);
  atomic_store(&w_woken, 0);
  for (int i = 0; i < 4; i++) pthread_create(&ts[i], NULL, gen_waiter, NULL);
  wait_for_waiters(4);
  pthread_t sig, wr;
  pthread_create(&sig, NULL, io_signaller, NULL);
  pthread_create(&wr, NULL, io_writer, NULL);
  for (int i = 0; i < 4; i++) pthread_join(ts[i], NULL);
  pthread_join(sig, NULL);
  pthread_join(wr, NULL);
  printf(
      "  4 waiters, a signaller that read a socket while holding the mutex: %d woke, it read "
      "its data: %s\n",
      atomic_load(&w_woken), yes(io_ready));
  close(io_fds[0]);
  close(io_fds[1]);
}

int main(void) {
  phase_producer_consumer();
  phase_timeouts();
  phase_wakeups();
  printf("done\n");
  return 0;
}
