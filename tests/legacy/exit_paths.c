/* How a threaded process ends. It knows nothing of libgreen.
 *
 * usage: exit_paths exit|return|pthread_exit
 *   exit:         while 100 threads are blocked (50 reading pipes nobody
 *                 writes, 50 in sleep(10)) and main waits in pthread_join,
 *                 one thread calls exit(7): the process ends at once with
 *                 status 7, running the atexit handler.
 *   return:       main returns 3 while the same 100 threads are blocked: the
 *                 process ends at once with status 3.
 *   pthread_exit: main calls pthread_exit() while three workers still run;
 *                 the process lives on until they finish (they print after
 *                 main is gone), then exits 0, running the atexit handler.
 * Output is deterministic; the harness checks the exit status and that the
 * process did not wait for the sleepers. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "legacy.h"

#define BLOCKERS 50

static void at_exit_handler(void) {
  printf("atexit handler ran\n");
}

static void* pipe_reader(void* arg) {
  int fd = (int)(long)arg;
  char c;
  ssize_t n = read(fd, &c, 1);
  printf("UNEXPECTED: a pipe reader returned %zd\n", n);
  return NULL;
}

static void* long_sleeper(void* arg) {
  (void)arg;
  sleep(10);
  printf("UNEXPECTED: a sleeper woke up\n");
  return NULL;
}

static void* exiter(void* arg) {
  (void)arg;
  msleep(100);
  printf("a thread calls exit(7)\n");
  exit(7);
}

static pthread_t blockers[2 * BLOCKERS];
static int writers[BLOCKERS]; /* kept open so the readers never see EOF */

static void start_blockers(void) {
  for (int i = 0; i < BLOCKERS; i++) {
    int p[2];
    if (pipe(p) < 0) {
      printf("pipe failed\n");
      exit(1);
    }
    writers[i] = p[1];
    pthread_create(&blockers[2 * i], NULL, pipe_reader, (void*)(long)p[0]);
    pthread_create(&blockers[2 * i + 1], NULL, long_sleeper, NULL);
  }
  printf("started %d blocked threads\n", 2 * BLOCKERS);
}

/* ---- pthread_exit ---- */

static int relay[2];

static void* worker(void* arg) {
  long k = (long)arg;
  if (k == 3) {
    /* waits for worker 2 to hand it a byte through a pipe */
    char c = 0;
    ssize_t n = read(relay[0], &c, 1);
    msleep(100);
    printf("worker 3 got %zd byte '%c' from worker 2, done\n", n, c);
  } else {
    msleep(150 * k);
    printf("worker %ld done\n", k);
    if (k == 2) write(relay[1], "!", 1);
  }
  fflush(stdout);
  return NULL;
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  atexit(at_exit_handler);
  if (strcmp(mode, "exit") == 0) {
    start_blockers();
    pthread_t t;
    pthread_create(&t, NULL, exiter, NULL);
    printf("main waits in pthread_join\n");
    fflush(stdout);
    for (int i = 0; i < 2 * BLOCKERS; i++) pthread_join(blockers[i], NULL);
    printf("UNEXPECTED: main joined everything\n");
    return 1;
  }
  if (strcmp(mode, "return") == 0) {
    start_blockers();
    msleep(100);
    printf("main returns 3\n");
    return 3;
  }
  if (strcmp(mode, "pthread_exit") == 0) {
    if (pipe(relay) < 0) return 1;
    pthread_attr_t detached;
    pthread_attr_init(&detached);
    pthread_attr_setdetachstate(&detached, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    pthread_create(&t, NULL, worker, (void*)1L);
    pthread_create(&t, &detached, worker, (void*)2L);
    pthread_create(&t, NULL, worker, (void*)3L);
    printf("main calls pthread_exit\n");
    fflush(stdout);
    pthread_exit(NULL);
  }
  fprintf(stderr, "usage: %s exit|return|pthread_exit\n", argv[0]);
  return 2;
}
