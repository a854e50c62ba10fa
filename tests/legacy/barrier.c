/* A pthread barrier of 100 threads (main and 99 workers), as an old
 * bulk-synchronous program uses one. It knows nothing of libgreen.
 *
 * Every thread does some blocking work before each of 5 rounds (a sleep of a
 * few milliseconds, a socket round trip through an echo thread on some
 * rounds), then waits at the barrier. In every round exactly one thread gets
 * PTHREAD_BARRIER_SERIAL_THREAD, and no thread leaves the barrier before all
 * 100 have arrived. "ready" is printed after the first round, while all 100
 * threads are alive. Then: a barrier of 1 never waits, a count of 0 is
 * EINVAL, and a barrier whose last thread arrives only after a 200 ms socket
 * read still lets everyone through.
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

#define THREADS 100 /* including main */
#define ROUNDS 5

/* What pthread_barrier_* return: the serial-thread value, or an errno name. */
static const char* resultname(int r) {
  return r == PTHREAD_BARRIER_SERIAL_THREAD ? "PTHREAD_BARRIER_SERIAL_THREAD" : errname(r);
}

static pthread_barrier_t barrier;
static atomic_int arrived[ROUNDS], left[ROUNDS], serial[ROUNDS], early[ROUNDS], bad_return;
static atomic_int echo_ok, echo_bad;
static pthread_mutex_t echo_lock = PTHREAD_MUTEX_INITIALIZER;
static int echo_fds[2];

/* one byte to the echo thread and back */
static void round_trip(int id) {
  char c = (char)id, back = 0;
  pthread_mutex_lock(&echo_lock); /* one request in flight at a time */
  int ok = write(echo_fds[0], &c, 1) == 1 && read(echo_fds[0], &back, 1) == 1 && back == c;
  pthread_mutex_unlock(&echo_lock);
  atomic_fetch_add(ok ? &echo_ok : &echo_bad, 1);
}

static void* echo_main(void* arg) {
  (void)arg;
  char c;
  while (read(echo_fds[1], &c, 1) == 1) write(echo_fds[1], &c, 1);
  return NULL;
}

static void rounds(int id) {
  for (int r = 0; r < ROUNDS; r++) {
    msleep(1 + (id * 7 + r * 3) % 10);
    if ((id + r) % 4 == 0) round_trip(id);
    atomic_fetch_add(&arrived[r], 1);
    int e = pthread_barrier_wait(&barrier);
    if (e == PTHREAD_BARRIER_SERIAL_THREAD)
      atomic_fetch_add(&serial[r], 1);
    else if (e != 0)
      atomic_fetch_add(&bad_return, 1);
    if (atomic_load(&arrived[r]) != THREADS) atomic_fetch_add(&early[r], 1);
    atomic_fetch_add(&left[r], 1);
    if (id == 0 && r == 0) {
      printf("ready\n"); /* all 100 threads exist: they all reached round 0 */
      fflush(stdout);
      msleep(100);
    }
  }
}

static void* worker(void* arg) {
  rounds((int)(long)arg);
  return NULL;
}

/* ---- the last thread blocks in a socket read before arriving ---- */

static pthread_barrier_t late_barrier;
static int late_fds[2];
static atomic_int late_passed, late_serial;
static atomic_int late_reader_done;

static void* late_waiter(void* arg) {
  (void)arg;
  int e = pthread_barrier_wait(&late_barrier);
  if (e == PTHREAD_BARRIER_SERIAL_THREAD) atomic_fetch_add(&late_serial, 1);
  if (atomic_load(&late_reader_done)) atomic_fetch_add(&late_passed, 1);
  return NULL;
}

static void* late_reader(void* arg) {
  (void)arg;
  char buf[4];
  int got = 0;
  while (got < 4) {
    ssize_t n = read(late_fds[1], buf + got, (size_t)(4 - got));
    if (n <= 0) break;
    got += (int)n;
  }
  atomic_store(&late_reader_done, got == 4);
  int e = pthread_barrier_wait(&late_barrier);
  if (e == PTHREAD_BARRIER_SERIAL_THREAD) atomic_fetch_add(&late_serial, 1);
  atomic_fetch_add(&late_passed, 1);
  return NULL;
}

static void* late_writer(void* arg) {
  (void)arg;
  msleep(200);
  write(late_fds[0], "late", 4);
  return NULL;
}

int main(void) {
  tcp_pair(echo_fds);
  pthread_t echo;
  pthread_create(&echo, NULL, echo_main, NULL);

  pthread_barrierattr_t a;
  pthread_barrierattr_init(&a);
  int e = pthread_barrier_init(&barrier, &a, THREADS);
  pthread_barrierattr_destroy(&a);
  printf("a barrier of %d threads: init %s\n", THREADS, resultname(e));
  pthread_t t[THREADS];
  for (long i = 1; i < THREADS; i++) pthread_create(&t[i], NULL, worker, (void*)i);
  rounds(0);
  for (int i = 1; i < THREADS; i++) pthread_join(t[i], NULL);
  for (int r = 0; r < ROUNDS; r++)
    printf("  round %d: %d arrived, %d left, %d got PTHREAD_BARRIER_SERIAL_THREAD, %d left early\n",
           r, atomic_load(&arrived[r]), atomic_load(&left[r]), atomic_load(&serial[r]),
           atomic_load(&early[r]));
  printf("  other return values: %d; socket round trips %d good, %d bad\n",
         atomic_load(&bad_return), atomic_load(&echo_ok), atomic_load(&echo_bad));
  printf("  destroy: %s\n", resultname(pthread_barrier_destroy(&barrier)));
  shutdown(echo_fds[0], SHUT_WR);
  pthread_join(echo, NULL);
  close(echo_fds[0]);
  close(echo_fds[1]);

  pthread_barrier_t one;
  e = pthread_barrier_init(&one, NULL, 1);
  int w1 = pthread_barrier_wait(&one), w2 = pthread_barrier_wait(&one);
  printf("a barrier of 1: init %s, waits %s %s, destroy %s\n", resultname(e), resultname(w1),
         resultname(w2), resultname(pthread_barrier_destroy(&one)));
  pthread_barrier_t zero;
  printf("a barrier of 0: init %s\n", resultname(pthread_barrier_init(&zero, NULL, 0)));

  tcp_pair(late_fds);
  pthread_barrier_init(&late_barrier, NULL, 4);
  pthread_t lt[5];
  for (int i = 0; i < 3; i++) pthread_create(&lt[i], NULL, late_waiter, NULL);
  pthread_create(&lt[3], NULL, late_reader, NULL);
  pthread_create(&lt[4], NULL, late_writer, NULL);
  for (int i = 0; i < 5; i++) pthread_join(lt[i], NULL);
  printf(
      "a barrier of 4 whose last thread first reads a socket for 200 ms: %d passed after it "
      "read, %d serial, ok: %s\n",
      atomic_load(&late_passed), atomic_load(&late_serial), yes(atomic_load(&late_passed) == 4));
  pthread_barrier_destroy(&late_barrier);
  close(late_fds[0]);
  close(late_fds[1]);
  printf("done\n");
  return 0;
}
