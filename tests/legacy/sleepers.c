/* Threads that sleep, in every way a 2005 program might: sleep, usleep,
 * nanosleep and clock_nanosleep (relative on CLOCK_MONOTONIC, absolute on
 * CLOCK_MONOTONIC and CLOCK_REALTIME). It knows nothing of libgreen.
 *
 * Phase 1: six threads with staggered durations (60 ms apart); prints the
 *          order in which they finished and whether each slept at least
 *          what it asked for.
 * Phase 2: zero-length and already-expired sleeps return at once; bad
 *          arguments give EINVAL (nanosleep through errno, clock_nanosleep
 *          through its return value).
 * Phase 3: 1200 threads all asleep at once: prints "ready" once they all
 *          exist, they stay asleep about 1.5 s longer, then all are joined.
 *
 * Output is deterministic: only orders, counts and verdicts. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "legacy.h"

#define MS 1000000LL
#define SEC 1000000000LL

static struct timespec to_ts(long long ns) {
  struct timespec ts = {(time_t)(ns / SEC), (long)(ns % SEC)};
  return ts;
}

/* ---- phase 1: staggered sleepers ---- */

enum kind { K_SLEEP, K_USLEEP, K_NANOSLEEP, K_CLOCK_REL, K_CLOCK_ABS_MONO, K_CLOCK_ABS_REAL };

struct sleeper {
  const char* name;
  enum kind kind;
  long long ns;      /* requested duration */
  long long t0_mono; /* phase start, for the absolute ones */
  long long t0_real;
  int ret;    /* what the call returned */
  int ok;     /* slept at least what it asked */
  int finish; /* finishing position */
};

static atomic_int finish_counter;

static void* sleeper_main(void* arg) {
  struct sleeper* s = arg;
  long long start = clock_ns(CLOCK_MONOTONIC);
  struct timespec ts;
  switch (s->kind) {
    case K_SLEEP:
      s->ret = (int)sleep((unsigned)(s->ns / SEC));
      s->ok = clock_ns(CLOCK_MONOTONIC) - start >= s->ns;
      break;
    case K_USLEEP:
      s->ret = usleep((useconds_t)(s->ns / 1000));
      s->ok = clock_ns(CLOCK_MONOTONIC) - start >= s->ns;
      break;
    case K_NANOSLEEP:
      ts = to_ts(s->ns);
      s->ret = nanosleep(&ts, NULL);
      s->ok = clock_ns(CLOCK_MONOTONIC) - start >= s->ns;
      break;
    case K_CLOCK_REL:
      ts = to_ts(s->ns);
      s->ret = clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
      s->ok = clock_ns(CLOCK_MONOTONIC) - start >= s->ns;
      break;
    case K_CLOCK_ABS_MONO:
      ts = to_ts(s->t0_mono + s->ns);
      s->ret = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
      s->ok = clock_ns(CLOCK_MONOTONIC) >= s->t0_mono + s->ns;
      break;
    case K_CLOCK_ABS_REAL:
      ts = to_ts(s->t0_real + s->ns);
      s->ret = clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts, NULL);
      s->ok = clock_ns(CLOCK_REALTIME) >= s->t0_real + s->ns;
      break;
  }
  s->finish = atomic_fetch_add(&finish_counter, 1);
  return NULL;
}

static void phase_staggered(void) {
  /* Created in this order; they must finish in order of duration. */
  struct sleeper s[] = {
      {"sleep(1)", K_SLEEP, 1 * SEC, 0, 0, -1, 0, -1},
      {"usleep 240ms", K_USLEEP, 240 * MS, 0, 0, -1, 0, -1},
      {"clock_nanosleep abs realtime 300ms", K_CLOCK_ABS_REAL, 300 * MS, 0, 0, -1, 0, -1},
      {"nanosleep 60ms", K_NANOSLEEP, 60 * MS, 0, 0, -1, 0, -1},
      {"clock_nanosleep rel monotonic 180ms", K_CLOCK_REL, 180 * MS, 0, 0, -1, 0, -1},
      {"clock_nanosleep abs monotonic 120ms", K_CLOCK_ABS_MONO, 120 * MS, 0, 0, -1, 0, -1},
  };
  enum { N = sizeof s / sizeof s[0] };
  pthread_t t[N];
  long long t0_mono = clock_ns(CLOCK_MONOTONIC), t0_real = clock_ns(CLOCK_REALTIME);
  for (int i = 0; i < N; i++) {
    s[i].t0_mono = t0_mono;
    s[i].t0_real = t0_real;
    if (pthread_create(&t[i], NULL, sleeper_main, &s[i]) != 0) {
      printf("pthread_create failed\n");
      exit(1);
    }
  }
  for (int i = 0; i < N; i++) pthread_join(t[i], NULL);
  printf("phase 1: staggered sleepers, in finishing order\n");
  for (int pos = 0; pos < N; pos++)
    for (int i = 0; i < N; i++)
      if (s[i].finish == pos)
        printf("  %d. %s returned %d, %s\n", pos + 1, s[i].name, s[i].ret,
               s[i].ok ? "slept enough" : "SHORT SLEEP");
}

/* ---- phase 2: edge cases ---- */

static void phase_edges(void) {
  printf("phase 2: edge cases\n");
  struct timespec zero = {0, 0};
  int r1, r2, r3, r4, r5, r6, r7;
  long long took;
  QUICKEST_OF_10(took, 500 * MS, {
    long long start = clock_ns(CLOCK_MONOTONIC);
    r1 = sleep(0);
    r2 = usleep(0);
    r3 = nanosleep(&zero, NULL);
    r4 = clock_nanosleep(CLOCK_MONOTONIC, 0, &zero, NULL);
    struct timespec past = to_ts(clock_ns(CLOCK_MONOTONIC) - 5 * SEC);
    r5 = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &past, NULL);
    struct timespec past_real = to_ts(clock_ns(CLOCK_REALTIME) - 5 * SEC);
    r6 = clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &past_real, NULL);
    r7 = sched_yield();
    took = clock_ns(CLOCK_MONOTONIC) - start;
  });
  printf("  zero/expired sleeps returned %d %d %d %d %d %d, sched_yield %d, %s\n", r1, r2, r3, r4,
         r5, r6, r7, took < 500 * MS ? "at once" : "SLOW");

  struct timespec bad_hi = {0, 1000000000L}, bad_neg = {0, -1}, bad_sec = {-1, 0};
  struct timespec one_ms = {0, 1000000L};
  errno = 0;
  int r = nanosleep(&bad_hi, NULL);
  printf("  nanosleep tv_nsec=1000000000: %d %s\n", r, errname(errno));
  errno = 0;
  r = nanosleep(&bad_neg, NULL);
  printf("  nanosleep tv_nsec=-1: %d %s\n", r, errname(errno));
  errno = 0;
  r = nanosleep(&bad_sec, NULL);
  printf("  nanosleep tv_sec=-1: %d %s\n", r, errname(errno));
  r = clock_nanosleep(CLOCK_MONOTONIC, 0, &bad_hi, NULL);
  printf("  clock_nanosleep rel tv_nsec=1000000000: returned %s\n", errname(r));
  r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &bad_neg, NULL);
  printf("  clock_nanosleep abs tv_nsec=-1: returned %s\n", errname(r));
  r = clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &bad_hi, NULL);
  printf("  clock_nanosleep abs realtime tv_nsec=1000000000: returned %s\n", errname(r));
  r = clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &one_ms, NULL);
  printf("  clock_nanosleep CLOCK_THREAD_CPUTIME_ID: returned %s\n", errname(r));
}

/* ---- phase 3: many sleepers at once ---- */

#define MANY 1200

static long long many_deadline; /* CLOCK_MONOTONIC */
static atomic_int many_done, many_short, many_bad_ret;

static void* many_main(void* arg) {
  long i = (long)arg;
  long long start = clock_ns(CLOCK_MONOTONIC), target = many_deadline;
  int ret = 0;
  struct timespec ts;
  switch (i % 4) {
    case 0:
      target = start + 2 * SEC;
      ret = (int)sleep(2);
      break;
    case 1:
      ret = usleep((useconds_t)((target - start) / 1000 + 1));
      break;
    case 2:
      ts = to_ts(target - start);
      ret = nanosleep(&ts, NULL);
      break;
    case 3:
      ts = to_ts(target);
      ret = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
      break;
  }
  if (ret != 0) atomic_fetch_add(&many_bad_ret, 1);
  if (clock_ns(CLOCK_MONOTONIC) < target) atomic_fetch_add(&many_short, 1);
  atomic_fetch_add(&many_done, 1);
  return NULL;
}

static void phase_many(void) {
  static pthread_t t[MANY];
  printf("phase 3: %d threads asleep at once\n", MANY);
  fflush(stdout);
  many_deadline = clock_ns(CLOCK_MONOTONIC) + 1700 * MS;
  for (long i = 0; i < MANY; i++) {
    int err = pthread_create(&t[i], NULL, many_main, (void*)i);
    if (err != 0) {
      printf("pthread_create failed at %ld: %s\n", i, strerror(err));
      exit(1);
    }
  }
  int done_at_ready = atomic_load(&many_done);
  say_ready();
  for (long i = 0; i < MANY; i++) pthread_join(t[i], NULL);
  printf("  %s\n", done_at_ready == 0 ? "all were asleep at ready" : "SOME WOKE BEFORE READY");
  printf("  joined %d sleepers: %d short, %d bad return values\n", atomic_load(&many_done),
         atomic_load(&many_short), atomic_load(&many_bad_ret));
}

int main(void) {
  phase_staggered();
  phase_edges();
  phase_many();
  printf("done\n");
  return 0;
}
