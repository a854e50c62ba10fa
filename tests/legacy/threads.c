/* The pthread basics an old program relies on: identity, return values,
 * join and detach, threads creating threads, explicit stack sizes, errno
 * being per thread, a short mutex section. It knows nothing of libgreen.
 * Output is deterministic: only values and verdicts. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "legacy.h"

/* ---- identity ---- */

static pthread_t seen_self;

static void* record_self(void* arg) {
  (void)arg;
  seen_self = pthread_self();
  return NULL;
}

static void test_identity(void) {
  pthread_t t;
  pthread_create(&t, NULL, record_self, NULL);
  pthread_join(t, NULL);
  printf(
      "identity: created id equals its pthread_self: %d, equals main's: %d, main equals itself: "
      "%d\n",
      pthread_equal(t, seen_self) != 0, pthread_equal(pthread_self(), seen_self) != 0,
      pthread_equal(pthread_self(), pthread_self()) != 0);
}

/* ---- return values ---- */

static void* returns_42(void* arg) {
  (void)arg;
  return (void*)42;
}

static void deep_exit(int depth) {
  if (depth < 0) return;
  if (depth == 0) pthread_exit((void*)43);
  deep_exit(depth - 1);
}

static void* exits_43(void* arg) {
  (void)arg;
  deep_exit(10);
  return (void*)-1;
}

static void* quick(void* arg) {
  return arg;
}

static void test_results(void) {
  pthread_t a, b, c;
  void *ra = NULL, *rb = NULL, *rc = NULL;
  pthread_create(&a, NULL, returns_42, NULL);
  pthread_create(&b, NULL, exits_43, NULL);
  pthread_create(&c, NULL, quick, (void*)44);
  msleep(50); /* c has long finished when it is joined */
  int ea = pthread_join(a, &ra), eb = pthread_join(b, &rb), ec = pthread_join(c, &rc);
  printf("results: return %ld (%d), pthread_exit %ld (%d), joined after it finished %ld (%d)\n",
         (long)(intptr_t)ra, ea, (long)(intptr_t)rb, eb, (long)(intptr_t)rc, ec);
  printf("join self: %s\n", errname(pthread_join(pthread_self(), NULL)));
}

/* ---- detach ---- */

static int done_pipe[2];

static void* detaches_itself(void* arg) {
  (void)arg;
  pthread_detach(pthread_self());
  msleep(30);
  write(done_pipe[1], "a", 1);
  return NULL;
}

static void* detached_later(void* arg) {
  (void)arg;
  msleep(60);
  write(done_pipe[1], "b", 1);
  return NULL;
}

static void* born_detached(void* arg) {
  (void)arg;
  msleep(90);
  write(done_pipe[1], "c", 1);
  return NULL;
}

static void test_detach(void) {
  if (pipe(done_pipe) < 0) exit(1);
  pthread_t t;
  pthread_create(&t, NULL, detaches_itself, NULL);
  pthread_create(&t, NULL, detached_later, NULL);
  int e = pthread_detach(t);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  int state = -1;
  pthread_attr_getdetachstate(&attr, &state);
  pthread_create(&t, &attr, born_detached, NULL);
  pthread_attr_destroy(&attr);
  char got[4] = {0};
  for (int i = 0; i < 3;) {
    ssize_t n = read(done_pipe[0], got + i, (size_t)(3 - i));
    if (n <= 0) break;
    i += (int)n;
  }
  printf("detach: pthread_detach %d, attr detached %d, finished in order %s\n", e,
         state == PTHREAD_CREATE_DETACHED, got);
  close(done_pipe[0]);
  close(done_pipe[1]);
}

/* ---- threads creating threads ---- */

#define CHAIN 200

static void* chain(void* arg) {
  long depth = (long)arg;
  if (depth == CHAIN) return (void*)0;
  pthread_t child;
  if (pthread_create(&child, NULL, chain, (void*)(depth + 1)) != 0) return (void*)-100000L;
  void* r;
  pthread_join(child, &r);
  return (void*)((long)r + 1);
}

static void test_chain(void) {
  pthread_t t;
  void* r;
  pthread_create(&t, NULL, chain, (void*)0L);
  pthread_join(t, &r);
  printf("a chain of %d threads, each creating and joining the next: %ld\n", CHAIN, (long)r);
}

/* ---- explicit stack size ---- */

static unsigned long recurse(int depth) {
  volatile unsigned char frame[1024];
  for (size_t i = 0; i < sizeof frame; i++) frame[i] = (unsigned char)(depth + i);
  unsigned long below = depth > 0 ? recurse(depth - 1) : 0;
  return below + frame[depth % sizeof frame];
}

static void* deep(void* arg) {
  int depth = (int)(long)arg;
  return (void*)recurse(depth);
}

/* About 1.1 KiB of stack per frame: fine in the stack asked for, fatal in a
 * much smaller one. 8 MiB is also glibc's usual default (ulimit -s 8192), but
 * here the program asks for it explicitly. */
static void deep_in_stack(size_t bytes, long frames) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, bytes);
  size_t sz = 0;
  pthread_attr_getstacksize(&attr, &sz);
  pthread_t t;
  void* r = NULL;
  int e = pthread_create(&t, &attr, deep, (void*)frames);
  if (e == 0) pthread_join(t, &r);
  pthread_attr_destroy(&attr);
  printf("stack: asked for %zu KiB (%d), %ld frames of 1 KiB deep: %lu\n", sz >> 10, e, frames,
         (unsigned long)r);
  fflush(stdout);
}

static void test_stack(void) {
  deep_in_stack(4u << 20, 2000);
  deep_in_stack(8u << 20, 3000);
}

/* ---- errno is per thread ---- */

static int errno_ok[2];

static void* errno_a(void* arg) {
  (void)arg;
  errno = EINTR;
  msleep(60);
  errno_ok[0] = errno == EINTR;
  return NULL;
}

static void* errno_b(void* arg) {
  (void)arg;
  msleep(30);
  char c;
  read(-1, &c, 1); /* sets errno to EBADF here, and only here */
  msleep(60);
  errno_ok[1] = errno == EBADF;
  return NULL;
}

static void test_errno(void) {
  pthread_t a, b;
  errno = 0;
  pthread_create(&a, NULL, errno_a, NULL);
  pthread_create(&b, NULL, errno_b, NULL);
  pthread_join(a, NULL);
  pthread_join(b, NULL);
  printf("errno per thread: %s, %s\n", errno_ok[0] ? "kept EINTR" : "LOST EINTR",
         errno_ok[1] ? "kept EBADF" : "LOST EBADF");
}

/* ---- a short mutex section, no blocking call inside ---- */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long counter;

static void* count(void* arg) {
  (void)arg;
  for (int i = 0; i < 1000; i++) {
    pthread_mutex_lock(&lock);
    counter++;
    pthread_mutex_unlock(&lock);
    if (i % 100 == 0) sched_yield();
  }
  return NULL;
}

static void test_mutex(void) {
  pthread_t t[100];
  for (int i = 0; i < 100; i++) pthread_create(&t[i], NULL, count, NULL);
  for (int i = 0; i < 100; i++) pthread_join(t[i], NULL);
  printf("100 threads x 1000 locked increments: %ld\n", counter);
}

int main(void) {
  test_identity();
  test_results();
  test_detach();
  test_chain();
  test_stack();
  test_errno();
  test_mutex();
  printf("done\n");
  return 0;
}
