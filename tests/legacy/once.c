/* pthread_once as an old program uses it for lazy initialisation, with an
 * init routine that blocks. It knows nothing of libgreen.
 *
 * Phase 1: the init routine reads its "configuration" from a TCP socket (the
 *   data comes 200 ms later) while 20 other threads and main call
 *   pthread_once on the same control: it runs once, and every caller returns
 *   only after it finished.
 * Phase 2: an init routine that calls pthread_once on another control; 50
 *   controls each called by 4 threads: every init runs exactly once.
 * Phase 3: the thread running an init routine is cancelled while it blocks
 *   in read: as POSIX says, it is as if pthread_once had not been called, so
 *   a thread waiting in pthread_once runs the init routine itself.
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

static int read_exactly(int fd, char* buf, int n) {
  int got = 0;
  while (got < n) {
    ssize_t r = read(fd, buf + got, (size_t)(n - got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (int)r;
  }
  return got;
}

/* ---- phase 1: a blocking init routine ---- */

#define CALLERS 20

static pthread_once_t config_once = PTHREAD_ONCE_INIT;
static int config_fds[2];
static char config[8];
static atomic_int config_inits, calling, calling_when_read, returned_ok;

static void load_config(void) {
  atomic_fetch_add(&config_inits, 1);
  char buf[5] = {0};
  read_exactly(config_fds[1], buf, 4);
  atomic_store(&calling_when_read, atomic_load(&calling));
  msleep(20); /* still initialising */
  memcpy(config, buf, 5);
}

static void* caller(void* arg) {
  (void)arg;
  atomic_fetch_add(&calling, 1);
  pthread_once(&config_once, load_config);
  if (strcmp(config, "v1.0") == 0) atomic_fetch_add(&returned_ok, 1);
  return NULL;
}

static void* config_writer(void* arg) {
  (void)arg;
  msleep(200);
  write(config_fds[0], "v1.0", 4);
  return NULL;
}

static void phase_blocking_init(void) {
  printf("phase 1: an init routine that reads a socket, %d threads and main calling\n", CALLERS);
  tcp_pair(config_fds);
  pthread_t t[CALLERS], w;
  pthread_create(&w, NULL, config_writer, NULL);
  for (int i = 0; i < CALLERS; i++) pthread_create(&t[i], NULL, caller, NULL);
  caller(NULL);
  for (int i = 0; i < CALLERS; i++) pthread_join(t[i], NULL);
  pthread_join(w, NULL);
  pthread_once(&config_once, load_config);
  printf(
      "  init ran %d time(s); %d callers were in pthread_once while it read; %d of %d returned "
      "after it finished\n",
      atomic_load(&config_inits), atomic_load(&calling_when_read), atomic_load(&returned_ok),
      CALLERS + 1);
  close(config_fds[0]);
  close(config_fds[1]);
}

/* ---- phase 2: nested and many controls ---- */

#define CONTROLS 50
#define PER_CONTROL 4

static pthread_once_t outer_once = PTHREAD_ONCE_INIT, inner_once = PTHREAD_ONCE_INIT;
static atomic_int outer_runs, inner_runs;

static void inner_init(void) {
  atomic_fetch_add(&inner_runs, 1);
  msleep(10);
}

static void outer_init(void) {
  atomic_fetch_add(&outer_runs, 1);
  pthread_once(&inner_once, inner_init);
  msleep(10);
}

static pthread_once_t controls[CONTROLS];
static atomic_int runs[CONTROLS];
static atomic_int next_init;

/* pthread_once gives no argument: the init routine learns its control from a
 * counter, and checks it by the order of calls below */
static void counted_init(void) {
  int i = atomic_fetch_add(&next_init, 1);
  if (i < CONTROLS) atomic_fetch_add(&runs[i], 1);
  msleep(1);
}

static pthread_mutex_t order_lock = PTHREAD_MUTEX_INITIALIZER;

static void* many_main(void* arg) {
  (void)arg;
  pthread_once(&outer_once, outer_init);
  pthread_once(&inner_once, inner_init);
  for (int i = 0; i < CONTROLS; i++) {
    /* the lock keeps the i-th init paired with the i-th counter value; the
     * init routine sleeps with the lock held */
    pthread_mutex_lock(&order_lock);
    pthread_once(&controls[i], counted_init);
    pthread_mutex_unlock(&order_lock);
  }
  return NULL;
}

static void phase_many(void) {
  printf("phase 2: nested init routines, %d controls called by %d threads each\n", CONTROLS,
         PER_CONTROL);
  for (int i = 0; i < CONTROLS; i++) controls[i] = (pthread_once_t)PTHREAD_ONCE_INIT;
  pthread_t t[PER_CONTROL];
  for (int i = 0; i < PER_CONTROL; i++) pthread_create(&t[i], NULL, many_main, NULL);
  for (int i = 0; i < PER_CONTROL; i++) pthread_join(t[i], NULL);
  int once_each = 1;
  for (int i = 0; i < CONTROLS; i++) once_each &= atomic_load(&runs[i]) == 1;
  printf("  outer ran %d, inner ran %d; %d inits for %d controls, each once: %s\n",
         atomic_load(&outer_runs), atomic_load(&inner_runs), atomic_load(&next_init), CONTROLS,
         yes(once_each));
}

/* ---- phase 3: the init routine is cancelled ---- */

static pthread_once_t cancel_once = PTHREAD_ONCE_INIT;
static int cancel_fds[2];
static atomic_int cancel_inits, cancel_completed, first_in;

static void cancellable_init(void) {
  atomic_fetch_add(&cancel_inits, 1);
  atomic_store(&first_in, 1);
  char buf[4];
  if (read_exactly(cancel_fds[1], buf, 4) == 4) atomic_fetch_add(&cancel_completed, 1);
}

static void* cancel_caller(void* arg) {
  (void)arg;
  pthread_once(&cancel_once, cancellable_init);
  return (void*)1;
}

static void phase_cancel(void) {
  printf("phase 3: the thread in the init routine is cancelled\n");
  tcp_pair(cancel_fds);
  pthread_t first, second;
  pthread_create(&first, NULL, cancel_caller, NULL);
  while (!atomic_load(&first_in)) msleep(5);
  pthread_create(&second, NULL, cancel_caller, NULL);
  msleep(100); /* second waits in pthread_once */
  int inits_before = atomic_load(&cancel_inits);
  pthread_cancel(first);
  void* r1 = NULL;
  pthread_join(first, &r1);
  msleep(100); /* second runs the init routine now, and blocks in read */
  write(cancel_fds[0], "data", 4);
  void* r2 = NULL;
  pthread_join(second, &r2);
  pthread_once(&cancel_once, cancellable_init);
  printf(
      "  inits before the cancel: %d; first caller cancelled: %s; init routine run %d times, "
      "completed %d; second caller returned normally: %s\n",
      inits_before, yes(r1 == PTHREAD_CANCELED), atomic_load(&cancel_inits),
      atomic_load(&cancel_completed), yes(r2 == (void*)1));
  close(cancel_fds[0]);
  close(cancel_fds[1]);
}

int main(void) {
  phase_blocking_init();
  phase_many();
  phase_cancel();
  printf("done\n");
  return 0;
}
