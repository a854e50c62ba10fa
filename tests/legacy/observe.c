/* Workloads for libgreen's observability tests (run natively, they print
 * the same and do the same):
 *   threads   1,000 threads created and joined, each with one blocking read
 *   spin      one thread computes for 300 ms while another sleeps
 *   rawread   a thread blocks 300 ms in a read system call made with inline
 *             assembly (no libc function a preload could see), on a pipe a
 *             child process writes to
 *   green     only green I/O: 20 threads pass a token through pipes
 *   dump      every thread parks (a pipe, a sleep, a mutex, a join), then
 *             the process signals itself with SIGQUIT and goes on
 *   overflow  a thread recurses until it runs off its stack */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
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

static int many_threads(void) {
  pthread_t t[1000];
  int p[2];
  pipe(p);
  for (long i = 0; i < 1000; i++) pthread_create(&t[i], NULL, read_once, (void*)(long)p[0]);
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

static int dump(void) {
  int p[2];
  pipe(p);
  pthread_mutex_lock(&held);
  pthread_t r, s, l;
  pthread_create(&r, NULL, read_once, (void*)(long)p[0]);
  pthread_create(&s, NULL, napper, NULL);
  pthread_create(&l, NULL, locker, NULL);
  pthread_setname_np(r, "reader");
  pthread_setname_np(s, "napper");
  pthread_setname_np(l, "locker");
  msleep(50);
  kill(getpid(), SIGQUIT);
  msleep(50);
  write(p[1], "x", 1);
  pthread_mutex_unlock(&held);
  pthread_join(r, NULL);
  pthread_join(s, NULL);
  pthread_join(l, NULL);
  printf("still running after the dump\n");
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
  if (strcmp(what, "rawread") == 0) return rawread();
  if (strcmp(what, "green") == 0) return green_only();
  if (strcmp(what, "dump") == 0) return dump();
  if (strcmp(what, "overflow") == 0) return overflow();
  fprintf(stderr, "usage: observe threads|spin|rawread|green|dump|overflow\n");
  return 2;
}
