/* Thread-local storage and thread ids, per thread, as natively.
 *
 * Phase 1: 1,000 threads, each with a __thread counter and a _Thread_local
 *   array, add to them between blocking reads on a pipe (every thread
 *   parks many times while the others run); each then checks it saw only
 *   its own values. Prints "ready" while all 1,000 are alive.
 * Phase 2: gettid() is the pid on the main thread, and differs from it and
 *   from every other live thread's on the others.
 * Phase 3: uselocale per thread: a thread in C.UTF-8 sees MB_CUR_MAX 6
 *   across a blocking call while the others stay in "C" (1).
 * Phase 4: errno per thread across blocking calls.
 * Phase 5: a thread that uses 1 MiB of stack without asking for a size
 *   (glibc's default is RLIMIT_STACK, 8 MiB here).
 * Phase 6: 50,000 threads created and joined one after another, each
 *   mallocing and freeing 20 blocks: memory stays flat (malloc's per-thread
 *   cache goes back at each thread's exit). */
#define _GNU_SOURCE
#include <locale.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "legacy.h"

#define THREADS 1000
#define ROUNDS 5

static __thread long counter;
static _Thread_local long mine[8];
static int pipes[THREADS][2];
static pid_t tids[THREADS];
static atomic_int started, bad_values, bad_ids;
static pthread_barrier_t all_started;

static void* counting(void* arg) {
  long id = (long)arg;
  tids[id] = gettid();
  if (tids[id] == getpid()) atomic_fetch_add(&bad_ids, 1);
  atomic_fetch_add(&started, 1);
  pthread_barrier_wait(&all_started);
  for (int round = 0; round < ROUNDS; round++) {
    char c;
    if (read(pipes[id][0], &c, 1) != 1) atomic_fetch_add(&bad_values, 1);
    counter += id;
    for (int i = 0; i < 8; i++) mine[i] += id * i;
  }
  int ok = counter == id * ROUNDS;
  for (int i = 0; i < 8; i++) ok &= mine[i] == id * i * ROUNDS;
  if (!ok) atomic_fetch_add(&bad_values, 1);
  if (gettid() != tids[id]) atomic_fetch_add(&bad_ids, 1);
  return NULL;
}

static int cmp_pid(const void* a, const void* b) {
  pid_t x = *(const pid_t*)a, y = *(const pid_t*)b;
  return (x > y) - (x < y);
}

static void phase_counters(void) {
  pthread_t threads[THREADS];
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  pthread_barrier_init(&all_started, NULL, THREADS + 1);
  for (long i = 0; i < THREADS; i++) {
    if (pipe(pipes[i]) != 0) {
      perror("pipe");
      exit(1);
    }
    if (pthread_create(&threads[i], &attr, counting, (void*)i) != 0) {
      perror("pthread_create");
      exit(1);
    }
  }
  pthread_barrier_wait(&all_started);
  say_ready();
  for (int round = 0; round < ROUNDS; round++)
    for (int i = THREADS - 1; i >= 0; i--) write(pipes[i][1], "x", 1);
  for (int i = 0; i < THREADS; i++) pthread_join(threads[i], NULL);
  printf("phase 1: %d threads started, values each thread's own: %s, main's untouched: %s\n",
         atomic_load(&started), yes(atomic_load(&bad_values) == 0), yes(counter == 0));
  qsort(tids, THREADS, sizeof tids[0], cmp_pid);
  int unique = 1;
  for (int i = 1; i < THREADS; i++) unique &= tids[i] != tids[i - 1];
  printf(
      "phase 2: main's id is the pid: %s; the others' differ from it, are stable and unique: %s\n",
      yes(gettid() == getpid()), yes(atomic_load(&bad_ids) == 0 && unique));
  for (int i = 0; i < THREADS; i++) close(pipes[i][0]), close(pipes[i][1]);
}

static int locale_pipe[2];

static void* in_utf8(void* arg) {
  (void)arg;
  locale_t utf8 = newlocale(LC_ALL_MASK, "C.UTF-8", (locale_t)0);
  if (!utf8) return (void*)-1L;
  uselocale(utf8);
  char c;
  read(locale_pipe[0], &c, 1); /* the other thread runs meanwhile */
  long seen = (long)MB_CUR_MAX;
  uselocale(LC_GLOBAL_LOCALE);
  freelocale(utf8);
  return (void*)seen;
}

static void* in_c(void* arg) {
  (void)arg;
  long seen = (long)MB_CUR_MAX;
  write(locale_pipe[1], "x", 1);
  return (void*)seen;
}

static void phase_locale(void) {
  pipe(locale_pipe);
  pthread_t a, b;
  void *ra, *rb;
  pthread_create(&a, NULL, in_utf8, NULL);
  msleep(20);
  pthread_create(&b, NULL, in_c, NULL);
  pthread_join(a, &ra);
  pthread_join(b, &rb);
  printf("phase 3: MB_CUR_MAX in the C.UTF-8 thread %ld, in the C thread %ld, in main %ld\n",
         (long)ra, (long)rb, (long)MB_CUR_MAX);
}

static int errno_pipe[2];

static void* errno_keeper(void* arg) {
  errno = (int)(long)arg;
  char c;
  read(errno_pipe[0], &c, 1);
  return (void*)(long)(errno == (int)(long)arg || errno == 0);
}

static void phase_errno(void) {
  pipe(errno_pipe);
  pthread_t t[4];
  for (long i = 0; i < 4; i++) pthread_create(&t[i], NULL, errno_keeper, (void*)(i + 1));
  msleep(20);
  errno = 0;
  write(errno_pipe[1], "xxxx", 4);
  int all = 1;
  for (int i = 0; i < 4; i++) {
    void* r;
    pthread_join(t[i], &r);
    all &= r == (void*)1L;
  }
  printf("phase 4: errno kept per thread across blocking calls: %s\n", yes(all));
}

static void* deep(void* arg) {
  (void)arg;
  volatile char buffer[1024 * 1024];
  for (size_t i = 0; i < sizeof buffer; i += 4096) buffer[i] = (char)i;
  msleep(1);
  long sum = 0;
  for (size_t i = 0; i < sizeof buffer; i += 4096) sum += buffer[i] == (char)i;
  return (void*)sum;
}

static void phase_stack(void) {
  pthread_t t;
  void* r;
  pthread_create(&t, NULL, deep, NULL);
  pthread_join(t, &r);
  printf("phase 5: a thread used 1 MiB of its default stack: %s\n", yes((long)r == 256));
}

static void* churner(void* arg) {
  (void)arg;
  void* blocks[20];
  for (int i = 0; i < 20; i++) blocks[i] = malloc(16 + i * 24);
  for (int i = 0; i < 20; i++) free(blocks[i]);
  return NULL;
}

static long rss_kib(void) {
  long pages = 0, resident = 0;
  FILE* f = fopen("/proc/self/statm", "r");
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    fclose(f);
  }
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static void phase_churn(void) {
  long after_first = 0;
  for (int i = 0; i < 50000; i++) {
    pthread_t t;
    if (pthread_create(&t, NULL, churner, NULL) != 0) {
      perror("pthread_create");
      exit(1);
    }
    pthread_join(t, NULL);
    if (i == 9999) after_first = rss_kib();
  }
  long growth = rss_kib() - after_first;
  printf("phase 6: memory grew by less than 2 MiB over 40,000 more threads: %s\n",
         yes(growth < 2048));
  if (growth >= 2048) printf("  grew by %ld KiB\n", growth);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  phase_counters();
  phase_locale();
  phase_errno();
  phase_stack();
  phase_churn();
  return 0;
}
