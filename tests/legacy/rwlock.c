/* Readers and writers on a pthread rwlock, with the lock held across
 * blocking calls. It knows nothing of libgreen.
 *
 * Phase 1 "shared": 8 readers hold the read lock at once, each blocked in a
 *   socket read; a writer waits for all of them; while readers are in,
 *   trywrlock gives EBUSY and timed write locks time out; then the writer
 *   holds the lock across a sleep and every try and timed read or write lock
 *   fails (EBUSY, ETIMEDOUT with the clock past the deadline).
 * Phase 2 "mixed": 4 writers and 12 readers; writers update two counters
 *   across a sleep, readers must never see them differ.
 * Phase 3 "errors": glibc's EDEADLK for a write or read lock by the thread
 *   that holds the write lock, EBUSY from try locks, EINVAL for a bad
 *   deadline or clock, recursive read locks.
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

static void wait_until(atomic_int* v, int n) {
  long long give_up = clock_ns(CLOCK_MONOTONIC) + 5 * SEC;
  while (atomic_load(v) < n && clock_ns(CLOCK_MONOTONIC) < give_up) msleep(5);
}

enum op { RD, WR };

/* A timed read or write lock of 50 ms on a lock held by another thread. */
static void timed_case(pthread_rwlock_t* l, const char* what, enum op op, int clock,
                       clockid_t clk) {
  long long deadline = clock_ns(clk) + 50 * MS;
  struct timespec ts = to_ts(deadline);
  int e;
  if (op == RD)
    e = clock ? pthread_rwlock_clockrdlock(l, clk, &ts) : pthread_rwlock_timedrdlock(l, &ts);
  else
    e = clock ? pthread_rwlock_clockwrlock(l, clk, &ts) : pthread_rwlock_timedwrlock(l, &ts);
  printf("    %s: %s, the clock past the deadline: %s\n", what, errname(e),
         yes(clock_ns(clk) >= deadline));
  if (e == 0) pthread_rwlock_unlock(l);
}

/* ---- phase 1: readers share the lock across socket reads ---- */

#define READERS 8

static pthread_rwlock_t shared = PTHREAD_RWLOCK_INITIALIZER;
static int reader_fds[2];
static atomic_int readers_in, readers_out, writer_in, writer_out;
static atomic_int writer_saw_readers;
static int reader_bytes;
static int writer_go[2]; /* main's go to the writer to let go */

static void* reader_main(void* arg) {
  (void)arg;
  pthread_rwlock_rdlock(&shared);
  atomic_fetch_add(&readers_in, 1);
  char c;
  if (read(reader_fds[1], &c, 1) == 1) __atomic_fetch_add(&reader_bytes, 1, __ATOMIC_SEQ_CST);
  atomic_fetch_add(&readers_out, 1);
  pthread_rwlock_unlock(&shared);
  return NULL;
}

static void* writer_main(void* arg) {
  (void)arg;
  pthread_rwlock_wrlock(&shared);
  if (atomic_load(&readers_out) != READERS) atomic_store(&writer_saw_readers, 1);
  atomic_store(&writer_in, 1);
  char c;
  read(writer_go[0], &c, 1);
  msleep(100); /* main waits in its 5 s timedrdlock by then */
  atomic_store(&writer_out, 1);
  pthread_rwlock_unlock(&shared);
  return NULL;
}

static void phase_shared(void) {
  printf("phase 1: %d readers hold the lock across socket reads, then a writer\n", READERS);
  tcp_pair(reader_fds);
  if (pipe(writer_go) < 0) exit(1);
  pthread_t r[READERS], w;
  for (int i = 0; i < READERS; i++) pthread_create(&r[i], NULL, reader_main, NULL);
  wait_until(&readers_in, READERS);
  int all_in = atomic_load(&readers_in) == READERS;
  pthread_create(&w, NULL, writer_main, NULL);
  msleep(100);
  printf("  %d readers inside at once: %s; a writer waits: %s\n", READERS, yes(all_in),
         yes(!atomic_load(&writer_in)));
  int tw = pthread_rwlock_trywrlock(&shared);
  printf("  while readers hold it: trywrlock %s\n", errname(tw));
  if (tw == 0) pthread_rwlock_unlock(&shared);
  timed_case(&shared, "timedwrlock", WR, 0, CLOCK_REALTIME);
  timed_case(&shared, "clockwrlock CLOCK_MONOTONIC", WR, 1, CLOCK_MONOTONIC);

  write(reader_fds[0], "12345678", READERS);
  wait_until(&writer_in, 1);
  printf("  the readers read %d bytes; the writer got in only after all of them left: %s\n",
         __atomic_load_n(&reader_bytes, __ATOMIC_SEQ_CST),
         yes(atomic_load(&writer_in) && !atomic_load(&writer_saw_readers)));
  printf("  while the writer holds it across a read and a sleep: tryrdlock %s, trywrlock %s\n",
         errname(pthread_rwlock_tryrdlock(&shared)), errname(pthread_rwlock_trywrlock(&shared)));
  timed_case(&shared, "timedrdlock", RD, 0, CLOCK_REALTIME);
  timed_case(&shared, "timedwrlock", WR, 0, CLOCK_REALTIME);
  timed_case(&shared, "clockrdlock CLOCK_MONOTONIC", RD, 1, CLOCK_MONOTONIC);
  timed_case(&shared, "clockwrlock CLOCK_REALTIME", WR, 1, CLOCK_REALTIME);
  write(writer_go[1], "g", 1);
  struct timespec later = to_ts(clock_ns(CLOCK_REALTIME) + 5 * SEC);
  int e = pthread_rwlock_timedrdlock(&shared, &later);
  printf("  timedrdlock 5 s: %s, only after the writer left: %s\n", errname(e),
         yes(atomic_load(&writer_out)));
  if (e == 0) pthread_rwlock_unlock(&shared);
  pthread_join(w, NULL);
  for (int i = 0; i < READERS; i++) pthread_join(r[i], NULL);
  close(reader_fds[0]);
  close(reader_fds[1]);
  close(writer_go[0]);
  close(writer_go[1]);
}

/* ---- phase 2: mixed readers and writers ---- */

#define WRITERS 4
#define WRITES 10
#define MIXED_READERS 12
#define READS 20

static pthread_rwlock_t mixed = PTHREAD_RWLOCK_INITIALIZER;
static int counter_a, counter_b;
static atomic_int torn, readers_now, max_readers, writers_now, writer_overlaps;

static void* mixed_writer(void* arg) {
  (void)arg;
  for (int i = 0; i < WRITES; i++) {
    pthread_rwlock_wrlock(&mixed);
    if (atomic_fetch_add(&writers_now, 1) != 0 || atomic_load(&readers_now) != 0)
      atomic_fetch_add(&writer_overlaps, 1);
    counter_a++;
    msleep(1);
    counter_b++;
    atomic_fetch_sub(&writers_now, 1);
    pthread_rwlock_unlock(&mixed);
    msleep(2);
  }
  return NULL;
}

static void* mixed_reader(void* arg) {
  (void)arg;
  for (int i = 0; i < READS; i++) {
    pthread_rwlock_rdlock(&mixed);
    int n = atomic_fetch_add(&readers_now, 1) + 1;
    int m = atomic_load(&max_readers);
    while (n > m && !atomic_compare_exchange_weak(&max_readers, &m, n)) {
    }
    if (counter_a != counter_b) atomic_fetch_add(&torn, 1);
    msleep(1);
    if (counter_a != counter_b) atomic_fetch_add(&torn, 1);
    atomic_fetch_sub(&readers_now, 1);
    pthread_rwlock_unlock(&mixed);
    msleep(1);
  }
  return NULL;
}

static void phase_mixed(void) {
  printf("phase 2: %d writers and %d readers\n", WRITERS, MIXED_READERS);
  pthread_t t[WRITERS + MIXED_READERS];
  for (int i = 0; i < WRITERS + MIXED_READERS; i++)
    pthread_create(&t[i], NULL, i < WRITERS ? mixed_writer : mixed_reader, NULL);
  for (int i = 0; i < WRITERS + MIXED_READERS; i++) pthread_join(t[i], NULL);
  printf("  counters %d %d, torn reads %d, writers overlapping anyone %d, readers overlapped: %s\n",
         counter_a, counter_b, atomic_load(&torn), atomic_load(&writer_overlaps),
         yes(atomic_load(&max_readers) > 1));
}

/* ---- phase 3: errors ---- */

static pthread_rwlock_t err_lock;

static void* other_trywrlock(void* arg) {
  (void)arg;
  return (void*)(long)pthread_rwlock_trywrlock(&err_lock);
}

static void phase_errors(void) {
  printf("phase 3: errors\n");
  pthread_rwlockattr_t a;
  pthread_rwlockattr_init(&a);
  pthread_rwlock_init(&err_lock, &a);
  pthread_rwlockattr_destroy(&a);

  int w = pthread_rwlock_wrlock(&err_lock);
  int w2 = pthread_rwlock_wrlock(&err_lock);
  int r = pthread_rwlock_rdlock(&err_lock);
  int tr = pthread_rwlock_tryrdlock(&err_lock);
  int tw = pthread_rwlock_trywrlock(&err_lock);
  struct timespec ts = to_ts(clock_ns(CLOCK_REALTIME) + SEC);
  int timed = pthread_rwlock_timedwrlock(&err_lock, &ts);
  int u = pthread_rwlock_unlock(&err_lock);
  printf(
      "  write-locked by main: wrlock again %s, rdlock %s, tryrdlock %s, trywrlock %s, "
      "timedwrlock %s; unlock %s\n",
      errname(w2), errname(r), errname(tr), errname(tw), errname(timed), errname(u));
  (void)w;

  int r1 = pthread_rwlock_rdlock(&err_lock), r2 = pthread_rwlock_rdlock(&err_lock);
  int r3 = pthread_rwlock_tryrdlock(&err_lock);
  pthread_t t;
  void* other = NULL;
  pthread_create(&t, NULL, other_trywrlock, NULL);
  pthread_join(t, &other);
  tw = pthread_rwlock_trywrlock(&err_lock);
  struct timespec bad = {time(NULL) + 1, 1000000000L};
  int e_bad = pthread_rwlock_timedwrlock(&err_lock, &bad);
  struct timespec soon = to_ts(clock_ns(CLOCK_MONOTONIC) + 50 * MS);
  int e_clk = pthread_rwlock_clockwrlock(&err_lock, CLOCK_PROCESS_CPUTIME_ID, &soon);
  int u1 = pthread_rwlock_unlock(&err_lock), u2 = pthread_rwlock_unlock(&err_lock),
      u3 = pthread_rwlock_unlock(&err_lock);
  printf(
      "  read-locked 3 times by main: %s %s %s; trywrlock by another thread %s, by main %s; "
      "timedwrlock tv_nsec=1000000000 %s, clockwrlock CLOCK_PROCESS_CPUTIME_ID %s; unlock x3 "
      "%s %s %s\n",
      errname(r1), errname(r2), errname(r3), errname((int)(long)other), errname(tw), errname(e_bad),
      errname(e_clk), errname(u1), errname(u2), errname(u3));
  pthread_create(&t, NULL, other_trywrlock, NULL);
  pthread_join(t, &other);
  printf("  unlocked: trywrlock by another thread %s\n", errname((int)(long)other));
  /* that thread ended holding the write lock; main's try locks see it */
  printf("  held by a thread that ended: tryrdlock %s, trywrlock %s\n",
         errname(pthread_rwlock_tryrdlock(&err_lock)),
         errname(pthread_rwlock_trywrlock(&err_lock)));
}

int main(void) {
  phase_shared();
  phase_mixed();
  phase_errors();
  printf("done\n");
  return 0;
}
