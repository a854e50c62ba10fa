/* Calls that take a pthread_t, cancellation and spin locks, as an old
 * threaded program uses them. It knows nothing of libgreen.
 *
 * names:  pthread_setname_np/getname_np on other threads and on oneself;
 *         ERANGE for a name of 16+ bytes or a buffer too small.
 * attr:   pthread_getattr_np reports the stack a thread was created with
 *         (the size asked for, a local variable inside it, at least a page
 *         of guard), the same seen from another thread, and the detach
 *         state.
 * kill:   pthread_kill with a handler interrupts a thread blocked in read
 *         (EINTR; with SA_RESTART the read goes on and gets the data); the
 *         handler runs on that thread; signal 0 probes a live thread.
 * cancel: deferred cancellation at cancellation points (read, sleep,
 *         pthread_cond_wait with the mutex held again for the cleanup
 *         handler, pthread_join, pthread_testcancel), cleanup handlers in
 *         order, a disabled cancel state that defers it; pthread_exit runs
 *         the cleanup handlers too.
 * spin:   a thread spinning on a spin lock held by a thread blocked in read
 *         gets it once the holder is done; trylock EBUSY.
 * Output is deterministic: only values and verdicts. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "legacy.h"

#define MS 1000000LL
#define SEC 1000000000LL

/* ---- names ---- */

#define NAMED 3

static pthread_barrier_t names_set;
static char own_view[NAMED][32];
static int own_view_e[NAMED];
static int self_set_e;

static void* named_main(void* arg) {
  int i = (int)(long)arg;
  pthread_barrier_wait(&names_set); /* main has named us */
  own_view_e[i] = pthread_getname_np(pthread_self(), own_view[i], sizeof own_view[i]);
  if (i == 0) self_set_e = pthread_setname_np(pthread_self(), "renamed-self");
  pthread_barrier_wait(&names_set); /* main reads the names */
  pthread_barrier_wait(&names_set);
  return NULL;
}

static void test_names(void) {
  pthread_t t[NAMED];
  pthread_barrier_init(&names_set, NULL, NAMED + 1);
  for (long i = 0; i < NAMED; i++) pthread_create(&t[i], NULL, named_main, (void*)i);
  int set_e[NAMED];
  for (int i = 0; i < NAMED; i++) {
    char name[16];
    snprintf(name, sizeof name, "worker-%d", i);
    set_e[i] = pthread_setname_np(t[i], name);
  }
  int too_long = pthread_setname_np(t[1], "a-name-of-16-chr");
  pthread_barrier_wait(&names_set);
  pthread_barrier_wait(&names_set);
  char seen[NAMED][32];
  int seen_e[NAMED];
  for (int i = 0; i < NAMED; i++) seen_e[i] = pthread_getname_np(t[i], seen[i], sizeof seen[i]);
  char small[4];
  int small_e = pthread_getname_np(t[2], small, sizeof small);
  pthread_barrier_wait(&names_set);
  for (int i = 0; i < NAMED; i++) pthread_join(t[i], NULL);
  pthread_barrier_destroy(&names_set);
  printf("names: set %s %s %s, 16 bytes %s; each thread sees its own: %s (%s) %s (%s) %s (%s)\n",
         errname(set_e[0]), errname(set_e[1]), errname(set_e[2]), errname(too_long), own_view[0],
         errname(own_view_e[0]), own_view[1], errname(own_view_e[1]), own_view[2],
         errname(own_view_e[2]));
  printf(
      "names: main sees %s (%s) %s (%s) %s (%s) after worker-0 renamed itself (%s); a 4-byte "
      "buffer %s\n",
      seen[0], errname(seen_e[0]), seen[1], errname(seen_e[1]), seen[2], errname(seen_e[2]),
      errname(self_set_e), errname(small_e));
  char mine[32];
  int me = pthread_setname_np(pthread_self(), "main-thread");
  int mg = pthread_getname_np(pthread_self(), mine, sizeof mine);
  printf("names: main names itself %s, reads back %s (%s)\n", errname(me), mine, errname(mg));
}

/* ---- attr ---- */

#define ASKED (1u << 20)

struct stack_view {
  int e;
  void* addr;
  size_t size, guard;
  int detach;
  uintptr_t local;
};

static void view_of(pthread_t t, struct stack_view* v) {
  pthread_attr_t a;
  v->e = pthread_getattr_np(t, &a);
  if (v->e != 0) return;
  pthread_attr_getstack(&a, &v->addr, &v->size);
  pthread_attr_getguardsize(&a, &v->guard);
  pthread_attr_getdetachstate(&a, &v->detach);
  pthread_attr_destroy(&a);
}

static struct stack_view inner, outer, detached_view;
static atomic_int attr_viewed;
static int attr_pipe[2];

static void* attr_main(void* arg) {
  (void)arg;
  volatile char here = 0;
  view_of(pthread_self(), &inner);
  inner.local = (uintptr_t)&here;
  atomic_store(&attr_viewed, 1);
  char c;
  read(attr_pipe[0], &c, 1); /* blocked while main looks at us */
  return NULL;
}

static void* detached_attr_main(void* arg) {
  (void)arg;
  view_of(pthread_self(), &detached_view);
  write(attr_pipe[1], "d", 1);
  return NULL;
}

static int local_inside(const struct stack_view* v, uintptr_t p) {
  return p >= (uintptr_t)v->addr && p < (uintptr_t)v->addr + v->size;
}

static void test_attr(void) {
  if (pipe(attr_pipe) < 0) exit(1);
  pthread_attr_t a;
  pthread_attr_init(&a);
  pthread_attr_setstacksize(&a, ASKED);
  pthread_t t;
  pthread_create(&t, &a, attr_main, NULL);
  while (!atomic_load(&attr_viewed)) msleep(2);
  view_of(t, &outer);
  write(attr_pipe[1], "x", 1);
  pthread_join(t, NULL);
  long page = sysconf(_SC_PAGESIZE);
  printf(
      "attr: getattr_np %s, stack of %u KiB asked: size at least that and under 1.1x: %s, a "
      "local inside: %s, guard at least a page: %s, joinable: %s\n",
      errname(inner.e), ASKED >> 10, yes(inner.size >= ASKED && inner.size < ASKED * 11 / 10),
      yes(local_inside(&inner, inner.local)), yes(inner.guard >= (size_t)page),
      yes(inner.detach == PTHREAD_CREATE_JOINABLE));
  printf("attr: seen from main %s, the same stack: %s\n", errname(outer.e),
         yes(outer.addr == inner.addr && outer.size == inner.size));

  pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
  pthread_create(&t, &a, detached_attr_main, NULL);
  char c;
  read(attr_pipe[0], &c, 1);
  pthread_attr_destroy(&a);
  printf("attr: a detached thread sees itself detached: %s\n",
         yes(detached_view.e == 0 && detached_view.detach == PTHREAD_CREATE_DETACHED));

  struct stack_view mv;
  volatile char here = 0;
  view_of(pthread_self(), &mv);
  printf("attr: main's getattr_np %s, a local inside its stack: %s\n", errname(mv.e),
         yes(local_inside(&mv, (uintptr_t)&here)));
  close(attr_pipe[0]);
  close(attr_pipe[1]);
}

/* ---- kill ---- */

static volatile sig_atomic_t usr1_count;
static pthread_t usr1_target;
static volatile sig_atomic_t usr1_on_target;

static void on_usr1(int sig) {
  (void)sig;
  usr1_count++;
  if (pthread_equal(pthread_self(), usr1_target)) usr1_on_target++;
}

static void install(int flags) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  sa.sa_flags = flags;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGUSR1, &sa, NULL);
}

static int kill_pipe[2];
static atomic_int reader_started;

struct read_result {
  ssize_t n;
  int err;
  char data[4];
};

static void* blocked_reader(void* arg) {
  struct read_result* r = arg;
  atomic_store(&reader_started, 1);
  r->n = read(kill_pipe[0], r->data, 3);
  r->err = r->n < 0 ? errno : 0;
  return NULL;
}

static void kill_case(int flags, const char* what) {
  if (pipe(kill_pipe) < 0) exit(1);
  install(flags);
  usr1_count = 0;
  usr1_on_target = 0;
  atomic_store(&reader_started, 0);
  struct read_result r = {0, 0, {0}};
  pthread_create(&usr1_target, NULL, blocked_reader, &r);
  while (!atomic_load(&reader_started)) msleep(2);
  msleep(50); /* it is in read now */
  int probe = pthread_kill(usr1_target, 0);
  int k = pthread_kill(usr1_target, SIGUSR1);
  msleep(100);
  write(kill_pipe[1], "abc", 3);
  pthread_join(usr1_target, NULL);
  printf(
      "kill: %s: probe %s, pthread_kill %s, handler ran %d time(s), on the target: %s; read "
      "returned %zd %s%s%s\n",
      what, errname(probe), errname(k), (int)usr1_count, yes(usr1_on_target == usr1_count), r.n,
      errname(r.err), r.n > 0 ? " " : "", r.n > 0 ? r.data : "");
  close(kill_pipe[0]);
  close(kill_pipe[1]);
}

static void test_kill(void) {
  kill_case(0, "no SA_RESTART");
  kill_case(SA_RESTART, "SA_RESTART");
  signal(SIGUSR1, SIG_DFL);
}

/* ---- cancel ---- */

static atomic_int cleanup_log[8];
static atomic_int cleanup_n;

static void cleanup(void* arg) {
  int n = atomic_fetch_add(&cleanup_n, 1);
  if (n < 8) atomic_store(&cleanup_log[n], (int)(intptr_t)arg);
}

static int cancel_pipe[2];
static atomic_int at_point;

static void* cancel_in_read(void* arg) {
  (void)arg;
  pthread_cleanup_push(cleanup, (void*)1);
  pthread_cleanup_push(cleanup, (void*)2);
  atomic_store(&at_point, 1);
  char c;
  read(cancel_pipe[0], &c, 1);
  pthread_cleanup_pop(0);
  pthread_cleanup_pop(0);
  return (void*)7;
}

static void* cancel_in_sleep(void* arg) {
  (void)arg;
  pthread_cleanup_push(cleanup, (void*)3);
  atomic_store(&at_point, 1);
  sleep(10);
  pthread_cleanup_pop(0);
  return (void*)7;
}

static pthread_mutex_t cv_lock; /* error-checking */
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static atomic_int cv_unlock_result = -1;

static void cv_cleanup(void* arg) {
  (void)arg;
  /* cancelled in pthread_cond_wait: the mutex is held again here */
  atomic_store(&cv_unlock_result, pthread_mutex_unlock(&cv_lock));
}

static void* cancel_in_cond_wait(void* arg) {
  (void)arg;
  pthread_mutex_lock(&cv_lock);
  pthread_cleanup_push(cv_cleanup, NULL);
  atomic_store(&at_point, 1);
  for (;;) pthread_cond_wait(&cv, &cv_lock);
  pthread_cleanup_pop(0);
  return (void*)7;
}

static int join_pipe[2];

static void* waits_for_main(void* arg) {
  (void)arg;
  char c;
  read(join_pipe[0], &c, 1);
  return (void*)42;
}

static pthread_t join_target;

static void* cancel_in_join(void* arg) {
  (void)arg;
  pthread_cleanup_push(cleanup, (void*)4);
  atomic_store(&at_point, 1);
  pthread_join(join_target, NULL);
  pthread_cleanup_pop(0);
  return (void*)7;
}

static atomic_int ran_on, release_spinner;

static void* cancel_at_testcancel(void* arg) {
  (void)arg;
  atomic_store(&at_point, 1);
  while (!atomic_load(&release_spinner)) sched_yield(); /* not a cancellation point */
  atomic_store(&ran_on, 1);
  pthread_testcancel();
  return (void*)7;
}

static atomic_int slept_while_disabled;

static void* cancel_disabled(void* arg) {
  (void)arg;
  int old = -1;
  pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
  atomic_store(&at_point, 1);
  long long start = now_ns();
  msleep(200); /* a cancellation point, but disabled */
  if (now_ns() - start >= 200 * MS && old == PTHREAD_CANCEL_ENABLE)
    atomic_store(&slept_while_disabled, 1);
  pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
  pthread_testcancel();
  return (void*)7;
}

static void* (*const cancel_mains[])(void*) = {cancel_in_read,       cancel_in_sleep,
                                               cancel_in_cond_wait,  cancel_in_join,
                                               cancel_at_testcancel, cancel_disabled};
static const char* const cancel_names[] = {
    "in read",         "in sleep(10)",          "in pthread_cond_wait",
    "in pthread_join", "at pthread_testcancel", "with cancellation disabled during a sleep"};

static void test_cancel(void) {
  if (pipe(cancel_pipe) < 0 || pipe(join_pipe) < 0) exit(1);
  pthread_mutexattr_t ma;
  pthread_mutexattr_init(&ma);
  pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ERRORCHECK);
  pthread_mutex_init(&cv_lock, &ma);
  pthread_mutexattr_destroy(&ma);
  pthread_create(&join_target, NULL, waits_for_main, NULL);
  for (size_t i = 0; i < sizeof cancel_mains / sizeof cancel_mains[0]; i++) {
    atomic_store(&at_point, 0);
    atomic_store(&cleanup_n, 0);
    pthread_t t;
    pthread_create(&t, NULL, cancel_mains[i], NULL);
    while (!atomic_load(&at_point)) msleep(2);
    msleep(30); /* it is blocked now */
    long long start = now_ns();
    int c = pthread_cancel(t);
    if (cancel_mains[i] == cancel_at_testcancel) {
      msleep(30);
      atomic_store(&release_spinner, 1);
    }
    void* r = NULL;
    int j = pthread_join(t, &r);
    long long took = now_ns() - start;
    char log[64] = "";
    int n = atomic_load(&cleanup_n);
    for (int k = 0; k < n && k < 8; k++)
      snprintf(log + strlen(log), sizeof log - strlen(log), "%s%d", k ? "," : "",
               atomic_load(&cleanup_log[k]));
    printf(
        "cancel %s: pthread_cancel %s, join %s, PTHREAD_CANCELED: %s, within 5 s: %s, cleanup "
        "handlers run: [%s]\n",
        cancel_names[i], errname(c), errname(j), yes(r == PTHREAD_CANCELED), yes(took < 5 * SEC),
        log); /* 5 s: room for a loaded machine, below the sleep(10) that was not cancelled */
  }
  printf(
      "cancel: the cond_wait cleanup handler held the mutex (unlock %s); the testcancel thread "
      "ran on to it: %s; the disabled one finished its sleep: %s\n",
      errname(atomic_load(&cv_unlock_result)), yes(atomic_load(&ran_on)),
      yes(atomic_load(&slept_while_disabled)));
  void* r = NULL;
  write(join_pipe[1], "x", 1);
  int j = pthread_join(join_target, &r);
  printf("cancel: the thread the cancelled joiner waited for is still joinable: %s, returned %ld\n",
         errname(j), (long)(intptr_t)r);
  pthread_mutex_destroy(&cv_lock);
  close(cancel_pipe[0]);
  close(cancel_pipe[1]);
  close(join_pipe[0]);
  close(join_pipe[1]);
}

/* ---- pthread_exit runs the cleanup handlers too ---- */

static void exit_deep(int depth) {
  if (depth < 0) return;
  if (depth == 0) pthread_exit((void*)9);
  exit_deep(depth - 1);
}

static void* exits_with_handlers(void* arg) {
  (void)arg;
  pthread_cleanup_push(cleanup, (void*)5);
  pthread_cleanup_push(cleanup, (void*)6);
  pthread_cleanup_push(cleanup, (void*)7);
  pthread_cleanup_pop(1); /* runs 7 now */
  msleep(10);
  exit_deep(5);
  pthread_cleanup_pop(0);
  pthread_cleanup_pop(0);
  return NULL;
}

static void test_exit_cleanup(void) {
  atomic_store(&cleanup_n, 0);
  pthread_t t;
  void* r = NULL;
  pthread_create(&t, NULL, exits_with_handlers, NULL);
  pthread_join(t, &r);
  char log[64] = "";
  int n = atomic_load(&cleanup_n);
  for (int k = 0; k < n && k < 8; k++)
    snprintf(log + strlen(log), sizeof log - strlen(log), "%s%d", k ? "," : "",
             atomic_load(&cleanup_log[k]));
  printf(
      "exit: pthread_cleanup_pop(1), then pthread_exit deep down: returned %ld, cleanup "
      "handlers run: [%s]\n",
      (long)(intptr_t)r, log);
}

/* ---- spin ---- */

static pthread_spinlock_t spin;
static int spin_pipe[2];
static atomic_int holder_has_it, holder_done, spinner_early;
static int spin_count;

static void* spin_holder(void* arg) {
  (void)arg;
  pthread_spin_lock(&spin);
  atomic_store(&holder_has_it, 1);
  char c;
  read(spin_pipe[0], &c, 1); /* blocked with the spin lock held */
  spin_count++;
  atomic_store(&holder_done, 1);
  pthread_spin_unlock(&spin);
  return NULL;
}

static void* spin_writer(void* arg) {
  (void)arg;
  msleep(100);
  write(spin_pipe[1], "x", 1);
  return NULL;
}

static void* spinner(void* arg) {
  (void)arg;
  for (int i = 0; i < 100; i++) {
    pthread_spin_lock(&spin);
    if (!atomic_load(&holder_done)) atomic_fetch_add(&spinner_early, 1);
    spin_count++;
    pthread_spin_unlock(&spin);
    if (i % 10 == 0) sched_yield();
  }
  return NULL;
}

static void test_spin(void) {
  if (pipe(spin_pipe) < 0) exit(1);
  int e = pthread_spin_init(&spin, PTHREAD_PROCESS_PRIVATE);
  pthread_t h, w, s[2];
  pthread_create(&h, NULL, spin_holder, NULL);
  while (!atomic_load(&holder_has_it)) msleep(2);
  int busy = pthread_spin_trylock(&spin);
  pthread_create(&w, NULL, spin_writer, NULL);
  pthread_create(&s[0], NULL, spinner, NULL);
  pthread_create(&s[1], NULL, spinner, NULL);
  pthread_join(h, NULL);
  pthread_join(w, NULL);
  pthread_join(s[0], NULL);
  pthread_join(s[1], NULL);
  int t = pthread_spin_trylock(&spin);
  int u = pthread_spin_unlock(&spin);
  printf(
      "spin: init %s, trylock while held %s; two spinners waited for the holder blocked in "
      "read: %s; count %d; trylock %s, unlock %s, destroy %s\n",
      errname(e), errname(busy), yes(atomic_load(&spinner_early) == 0), spin_count, errname(t),
      errname(u), errname(pthread_spin_destroy(&spin)));
  close(spin_pipe[0]);
  close(spin_pipe[1]);
}

int main(void) {
  test_names();
  test_attr();
  test_kill();
  test_cancel();
  test_exit_cleanup();
  test_spin();
  printf("done\n");
  return 0;
}
