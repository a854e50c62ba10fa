/* Workloads for libgreen's observability tests (run natively, they print
 * the same and do the same):
 *   threads   1,000 threads created and joined, each with 64 KiB of its stack
 *             written and one blocking read
 *   spin      one thread computes for 300 ms while another sleeps
 *   libcsort  one thread computes half a second or more inside one libc
 *             call (qsort with strcmp) while another sleeps
 *   deepsort  libcsort, with the sort called 40 frames deep in the thread
 *   rawread   a thread blocks 300 ms in a read system call made with inline
 *             assembly (no libc function a preload could see), on a pipe a
 *             child process writes to
 *   green     only green I/O: 20 threads pass a token through pipes
 *   dump      every thread parks (a pipe, a sleep, a mutex, a join, a pipe
 *             30 frames deep), then the process signals itself with
 *             SIGQUIT and goes on
 *   idle      the main thread alone sleeps 300 ms
 *   many      10,000 threads parked on a pipe, then SIGQUIT as in dump
 *   overflow  a thread recurses until it runs off its stack */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "legacy.h"

static int token[21][2];

static void* pass_token(void* arg) {
  long i = (long)arg;
  char c;
  if (read(token[i][0], &c, 1) == 1) write(token[i + 1][1], &c, 1);
  return NULL;
}

static void* read_once(void* arg) {
  int fd = (int)(long)arg;
  char c;
  read(fd, &c, 1);
  return NULL;
}

static atomic_int touched;

/* 64 KiB of the thread's stack in memory (every page written) while it
 * waits for its byte. */
static void* touch_then_read(void* arg) {
  volatile char pages[64 * 1024];
  for (size_t i = 0; i < sizeof pages; i += 512) pages[i] = (char)i;
  atomic_fetch_add(&touched, 1);
  read_once(arg);
  return (void*)(long)pages[4096];
}

static int many_threads(void) {
  pthread_t t[1000];
  int p[2];
  pipe(p);
  for (long i = 0; i < 1000; i++) pthread_create(&t[i], NULL, touch_then_read, (void*)(long)p[0]);
  /* The bytes go only once every thread has touched its stack, so the
   * threads wait on an empty pipe (without this, the bytes could all be
   * there before any thread first ran, and no read would ever wait). */
  while (atomic_load(&touched) < 1000) msleep(1);
  for (int i = 0; i < 1000; i++) write(p[1], "x", 1);
  for (int i = 0; i < 1000; i++) pthread_join(t[i], NULL);
  printf("1000 threads created and joined\n");
  return 0;
}

static volatile int stop;

static void* sleeper(void* arg) {
  (void)arg;
  while (!stop) msleep(5);
  return NULL;
}

static void* spinner(void* arg) {
  (void)arg;
  long long start = clock_ns(CLOCK_MONOTONIC);
  volatile double x = 0;
  while (clock_ns(CLOCK_MONOTONIC) - start < 300000000LL)
    for (int i = 0; i < 1000; i++) x += i;
  stop = 1;
  return NULL;
}

static int spin(void) {
  pthread_t a, b;
  pthread_create(&a, NULL, sleeper, NULL);
  pthread_create(&b, NULL, spinner, NULL);
  pthread_setname_np(b, "spinner");
  pthread_join(b, NULL);
  pthread_join(a, NULL);
  printf("spun 300 ms\n");
  return 0;
}

/* Computing in libc, where no time slice can end it: one qsort of
 * fixed-size strings with libc's strcmp as the comparison, sized so that it
 * takes about half a second to a second here (timed on a small sort first:
 * the time grows as n log n). */
enum { kStringLen = 16 };
typedef int (*compare_fn)(const void*, const void*);

static void fill_strings(char (*s)[kStringLen], size_t n) {
  unsigned long long x = 88172645463325252ULL;
  for (size_t i = 0; i < n; i++) {
    for (int j = 0; j < kStringLen - 1; j++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      s[i][j] = (char)('a' + x % 26);
    }
    s[i][kStringLen - 1] = '\0';
  }
}

static long long sort_ns(char (*s)[kStringLen], size_t n) {
  fill_strings(s, n);
  long long start = clock_ns(CLOCK_MONOTONIC);
  qsort(s, n, kStringLen, (compare_fn)strcmp);
  return clock_ns(CLOCK_MONOTONIC) - start;
}

static double log2_of(size_t n) {
  double l = 0;
  while (n > 1) n >>= 1, l++;
  return l;
}

static void* sort_in_libc(void* arg) {
  (void)arg;
  const size_t small = 1 << 15;
  char(*s)[kStringLen] = malloc(small * kStringLen);
  long long best = -1;
  for (int i = 0; i < 3; i++) {
    long long t = sort_ns(s, small);
    if (best < 0 || t < best) best = t;
  }
  free(s);
  size_t n = small;
  while (n < ((size_t)1 << 22) &&
         (double)best * (double)(n / small) * log2_of(n) / log2_of(small) < 5e8)
    n *= 2;
  s = malloc(n * kStringLen);
  sort_ns(s, n);
  int sorted = 1;
  for (size_t i = 1; i < n; i++) sorted &= strcmp(s[i - 1], s[i]) <= 0;
  free(s);
  stop = 1;
  return (void*)(long)sorted;
}

/* A recursion of the program's own, the call after it kept out of tail
 * position so that every level is a frame. */
__attribute__((noinline)) static void* descend(int depth) {
  if (depth == 0) return sort_in_libc(NULL);
  void* r = descend(depth - 1);
  __asm__ volatile("" ::: "memory");
  return r;
}

__attribute__((noinline)) static void* sort_deep(void* arg) {
  (void)arg;
  void* r = descend(40);
  __asm__ volatile("" ::: "memory");
  return r;
}

static int libcsort(void* (*sorter)(void*)) {
  pthread_t a, b;
  pthread_create(&a, NULL, sleeper, NULL);
  pthread_create(&b, NULL, sorter, NULL);
  pthread_setname_np(b, "sorter");
  void* sorted;
  pthread_join(b, &sorted);
  pthread_join(a, NULL);
  printf("sorted in libc: %s\n", sorted ? "yes" : "no");
  return 0;
}

static long raw_read(int fd, void* buf, long n) {
  long r;
  __asm__ volatile("syscall"
                   : "=a"(r)
                   : "0"(0L), "D"((long)fd), "S"(buf), "d"(n)
                   : "rcx", "r11", "memory");
  return r;
}

static int rawread(void) {
  int p[2];
  pipe(p);
  pid_t child = fork();
  if (child == 0) {
    struct timespec ts = {0, 300000000};
    nanosleep(&ts, NULL);
    write(p[1], "x", 1);
    _exit(0);
  }
  char c;
  long r = raw_read(p[0], &c, 1);
  waitpid(child, NULL, 0);
  printf("the raw read returned %ld\n", r);
  return 0;
}

static int green_only(void) {
  pthread_t t[20];
  for (int i = 0; i < 21; i++) pipe(token[i]);
  for (long i = 0; i < 20; i++) pthread_create(&t[i], NULL, pass_token, (void*)i);
  write(token[0][1], "t", 1);
  char c;
  read(token[20][0], &c, 1);
  for (int i = 0; i < 20; i++) pthread_join(t[i], NULL);
  printf("the token went around: %c\n", c);
  return 0;
}

static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;

static void* locker(void* arg) {
  (void)arg;
  pthread_mutex_lock(&held);
  pthread_mutex_unlock(&held);
  return NULL;
}

static void* napper(void* arg) {
  (void)arg;
  msleep(300);
  return NULL;
}

/* A thread parked at the bottom of a recursion of its own, 30 frames deep
 * (kept out of tail position so that every level is a frame). */
__attribute__((noinline)) static void* dive(int depth, void* fd) {
  if (depth == 0) return read_once(fd);
  void* r = dive(depth - 1, fd);
  __asm__ volatile("" ::: "memory");
  return r;
}

static void* diver(void* fd) {
  void* r = dive(30, fd);
  __asm__ volatile("" ::: "memory");
  return r;
}

static int dump(void) {
  int p[2], q[2];
  pipe(p);
  pipe(q);
  pthread_mutex_lock(&held);
  pthread_t r, s, l, d;
  pthread_create(&r, NULL, read_once, (void*)(long)p[0]);
  pthread_create(&s, NULL, napper, NULL);
  pthread_create(&l, NULL, locker, NULL);
  pthread_create(&d, NULL, diver, (void*)(long)q[0]);
  pthread_setname_np(r, "reader");
  pthread_setname_np(s, "napper");
  pthread_setname_np(l, "locker");
  pthread_setname_np(d, "diver");
  msleep(50);
  kill(getpid(), SIGQUIT);
  msleep(50);
  write(p[1], "x", 1);
  write(q[1], "x", 1);
  pthread_mutex_unlock(&held);
  pthread_join(r, NULL);
  pthread_join(s, NULL);
  pthread_join(l, NULL);
  pthread_join(d, NULL);
  printf("still running after the dump\n");
  return 0;
}

/* 10,000 threads parked on one pipe when the dump signal comes. */
static int many(void) {
  enum { kThreads = 10000 };
  static pthread_t t[kThreads];
  int p[2];
  pipe(p);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  for (long i = 0; i < kThreads; i++) pthread_create(&t[i], &attr, read_once, (void*)(long)p[0]);
  msleep(50);
  kill(getpid(), SIGQUIT);
  msleep(50);
  static char bytes[kThreads];
  for (size_t done = 0; done < sizeof bytes;) {
    ssize_t n = write(p[1], bytes + done, sizeof bytes - done);
    if (n <= 0) break;
    done += (size_t)n;
  }
  for (int i = 0; i < kThreads; i++) pthread_join(t[i], NULL);
  printf("%d threads dumped and joined\n", kThreads);
  return 0;
}

static int depth(int n) {
  volatile char pad[4096];
  pad[0] = (char)n;
  return n > 1000000000 ? pad[0] : depth(n + 1) + pad[0];
}

static void* overflow_thread(void* arg) {
  (void)arg;
  return (void*)(long)depth(0);
}

static int overflow(void) {
  pthread_t t;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  pthread_create(&t, &attr, overflow_thread, NULL);
  pthread_join(t, NULL);
  printf("not reached\n");
  return 0;
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  const char* what = argc > 1 ? argv[1] : "";
  if (strcmp(what, "threads") == 0) return many_threads();
  if (strcmp(what, "spin") == 0) return spin();
  if (strcmp(what, "libcsort") == 0) return libcsort(sort_in_libc);
  if (strcmp(what, "deepsort") == 0) return libcsort(sort_deep);
  if (strcmp(what, "rawread") == 0) return rawread();
  if (strcmp(what, "green") == 0) return green_only();
  if (strcmp(what, "dump") == 0) return dump();
  if (strcmp(what, "many") == 0) return many();
  if (strcmp(what, "idle") == 0) {
    msleep(300); /* the main thread alone, parked: the hub is idle, not held */
    printf("slept 300 ms\n");
    return 0;
  }
  if (strcmp(what, "overflow") == 0) return overflow();
  fprintf(stderr,
          "usage: observe threads|spin|libcsort|deepsort|rawread|green|dump|idle|many|overflow\n");
  return 2;
}
