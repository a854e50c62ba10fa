/* Threads that compute or spin do not stall the others (time slices).
 *
 * Phase 1: a thread computes for 300 ms while another sleeps 10 ms in a
 *   loop: the sleeper wakes during the computation.
 * Phase 2: main busy-waits on an atomic flag that a worker sets after a
 *   blocking read, fed 20 ms later by a third thread.
 * Phase 3: a worker loops on pthread_mutex_trylock, sem_trywait and getpid
 *   while another thread sends it 200 signals: none of the calls ever
 *   fails with EINTR, and the loop ends when told to.
 * Phase 4: asynchronous cancellation of a compute loop.
 * Phase 5: two threads hand a message back and forth 1,000 times through
 *   non-blocking sockets, one spinning on poll(..., 0), the other on reads
 *   that fail with EAGAIN.
 * Phase 6: two threads run vectorised (SSE/AVX) arithmetic, built with
 *   -fstack-protector-all, while being interrupted many times: every
 *   result is checked against one computed before. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "legacy.h"

static double seconds_now(void) {
  return (double)clock_ns(CLOCK_MONOTONIC) / 1e9;
}

/* ---- phase 1 ---- */
static atomic_int computing_done;
static atomic_int wakes_while_computing;

static void* sleeper(void* arg) {
  (void)arg;
  while (!atomic_load(&computing_done)) {
    msleep(10);
    if (!atomic_load(&computing_done)) atomic_fetch_add(&wakes_while_computing, 1);
  }
  return NULL;
}

static void* computer(void* arg) {
  (void)arg;
  double start = seconds_now();
  volatile double x = 0;
  while (seconds_now() - start < 0.3)
    for (int i = 0; i < 1000; i++) x += i * 0.5;
  atomic_store(&computing_done, 1);
  return NULL;
}

static void phase_compute(void) {
  pthread_t s, c;
  pthread_create(&s, NULL, sleeper, NULL);
  msleep(5);
  pthread_create(&c, NULL, computer, NULL);
  pthread_join(c, NULL);
  pthread_join(s, NULL);
  printf("phase 1: the sleeper woke at least 5 times during 300 ms of computing: %s\n",
         yes(atomic_load(&wakes_while_computing) >= 5));
}

/* ---- phase 2 ---- */
static atomic_int flag;
static int feed[2];

static void* flag_setter(void* arg) {
  (void)arg;
  char c;
  if (read(feed[0], &c, 1) == 1) atomic_store(&flag, 1);
  return NULL;
}

static void* feeder(void* arg) {
  (void)arg;
  msleep(20);
  write(feed[1], "x", 1);
  return NULL;
}

static void phase_busy_wait(void) {
  pipe(feed);
  pthread_t a, b;
  pthread_create(&a, NULL, flag_setter, NULL);
  pthread_create(&b, NULL, feeder, NULL);
  double start = seconds_now();
  while (!atomic_load(&flag) && seconds_now() - start < 10) {
  }
  pthread_join(a, NULL);
  pthread_join(b, NULL);
  printf("phase 2: main's busy wait saw the flag set after a blocking read: %s\n",
         yes(atomic_load(&flag)));
}

/* ---- phase 3 ---- */
static atomic_int stop_spinning, handled, eintr_seen;
static pthread_mutex_t spin_mutex = PTHREAD_MUTEX_INITIALIZER;
static sem_t spin_sem;

static void on_usr1(int sig) {
  (void)sig;
  atomic_fetch_add(&handled, 1);
}

static void* spinner(void* arg) {
  (void)arg;
  while (!atomic_load(&stop_spinning)) {
    int r = pthread_mutex_trylock(&spin_mutex);
    if (r == EINTR) atomic_fetch_add(&eintr_seen, 1);
    if (r == 0) pthread_mutex_unlock(&spin_mutex);
    if (sem_trywait(&spin_sem) != 0 && errno == EINTR) atomic_fetch_add(&eintr_seen, 1);
    if (getpid() < 0 && errno == EINTR) atomic_fetch_add(&eintr_seen, 1);
  }
  return NULL;
}

static void phase_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  sigaction(SIGUSR1, &sa, NULL);
  sem_init(&spin_sem, 0, 0);
  pthread_t t;
  pthread_create(&t, NULL, spinner, NULL);
  for (int i = 0; i < 200; i++) {
    pthread_kill(t, SIGUSR1);
    /* one at a time: a signal sent while the last is pending would merge */
    for (int wait = 0; wait < 1000 && atomic_load(&handled) <= i; wait++) msleep(1);
  }
  atomic_store(&stop_spinning, 1);
  pthread_join(t, NULL);
  printf("phase 3: the spinning thread handled %d of 200 signals, EINTR seen %d times\n",
         atomic_load(&handled) == 200 ? 200 : -1, atomic_load(&eintr_seen));
}

/* ---- phase 4 ---- */
static void* async_cancelled(void* arg) {
  (void)arg;
  pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, NULL);
  double start = seconds_now();
  volatile long n = 0;
  while (seconds_now() - start < 10) n++;
  return (void*)1L;
}

static void phase_async_cancel(void) {
  pthread_t t;
  pthread_create(&t, NULL, async_cancelled, NULL);
  msleep(20);
  pthread_cancel(t);
  void* r = NULL;
  pthread_join(t, &r);
  printf("phase 4: the computing thread was cancelled asynchronously: %s\n",
         yes(r == PTHREAD_CANCELED));
}

/* ---- phase 5 ---- */
#define ROUND_TRIPS 1000
static int pair[2];
static atomic_int trips_done;

static void* poll_spinner(void* arg) {
  (void)arg;
  int fd = pair[0];
  for (int i = 0; i < ROUND_TRIPS; i++) {
    int v = i;
    while (write(fd, &v, sizeof v) != sizeof v) {
    }
    struct pollfd p = {fd, POLLIN, 0};
    while (poll(&p, 1, 0) == 0) {
    }
    if (read(fd, &v, sizeof v) == sizeof v && v == i + 1) atomic_fetch_add(&trips_done, 1);
  }
  return NULL;
}

static void* eagain_spinner(void* arg) {
  (void)arg;
  int fd = pair[1];
  for (int i = 0; i < ROUND_TRIPS; i++) {
    int v;
    while (read(fd, &v, sizeof v) < 0 && errno == EAGAIN) {
    }
    v++;
    while (write(fd, &v, sizeof v) != sizeof v) {
    }
  }
  return NULL;
}

static void phase_nonblocking(void) {
  socketpair(AF_UNIX, SOCK_STREAM, 0, pair);
  for (int i = 0; i < 2; i++) fcntl(pair[i], F_SETFL, fcntl(pair[i], F_GETFL) | O_NONBLOCK);
  pthread_t a, b;
  pthread_create(&a, NULL, poll_spinner, NULL);
  pthread_create(&b, NULL, eagain_spinner, NULL);
  pthread_join(a, NULL);
  pthread_join(b, NULL);
  printf("phase 5: round trips through non-blocking sockets: %d of %d\n", atomic_load(&trips_done),
         ROUND_TRIPS);
}

/* ---- phase 6 ---- */
#define N 4096
static float va[N], vb[N];

__attribute__((target("avx2"))) static float dot_avx(const float* a, const float* b, int k) {
  float sum = 0;
  for (int i = 0; i < N; i++) sum += a[i] * (b[i] + (float)k);
  return sum;
}

static float dot_sse(const float* a, const float* b, int k) {
  float sum = 0;
  for (int i = 0; i < N; i++) sum += a[i] * (b[i] + (float)k);
  return sum;
}

static float expected[64];
static atomic_int wrong, checked;
static int use_avx;

static void* vector_worker(void* arg) {
  (void)arg;
  double start = seconds_now();
  while (seconds_now() - start < 0.2) {
    for (int k = 0; k < 64; k++) {
      float got = use_avx ? dot_avx(va, vb, k) : dot_sse(va, vb, k);
      char buf[64];
      memcpy(buf, &got, sizeof got);
      float back;
      memcpy(&back, buf, sizeof back);
      if (back != expected[k]) atomic_fetch_add(&wrong, 1);
      atomic_fetch_add(&checked, 1);
    }
  }
  return NULL;
}

static void phase_vectors(void) {
  __builtin_cpu_init();
  use_avx = __builtin_cpu_supports("avx2");
  for (int i = 0; i < N; i++) va[i] = (float)(i % 7) * 0.25f, vb[i] = (float)(i % 13) * 0.5f;
  for (int k = 0; k < 64; k++) expected[k] = use_avx ? dot_avx(va, vb, k) : dot_sse(va, vb, k);
  pthread_t t[2];
  for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, vector_worker, NULL);
  for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
  printf("phase 6: vector results checked while interrupted: %s, wrong: %d\n",
         yes(atomic_load(&checked) > 1000), atomic_load(&wrong));
}

int main(int argc, char** argv) {
  (void)argv;
  setvbuf(stdout, NULL, _IOLBF, 0);
  void (*phases[])(void) = {phase_compute,      phase_busy_wait,   phase_signals,
                            phase_async_cancel, phase_nonblocking, phase_vectors};
  for (int i = 0; i < 6; i++) {
    double start = seconds_now();
    phases[i]();
    if (argc > 1) fprintf(stderr, "  (%.0f ms)\n", (seconds_now() - start) * 1000);
  }
  return 0;
}
