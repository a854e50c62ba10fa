/* Mutexes as an old threaded program uses them: held across blocking calls,
 * of every type, with try and timed locking. It knows nothing of libgreen.
 *
 * Phase 1 "queue": one thread holds a mutex across a blocking read on a TCP
 *   socket while 64 threads queue on it ("ready" is printed once all 64 are
 *   waiting); then the data arrives, the holder lets go, and each of the 64
 *   takes the lock in turn and sleeps inside it (a read-modify-write across
 *   the sleep: the count comes out exact only under mutual exclusion).
 * Phase 2 "types": normal, recursive and error-checking mutexes: EBUSY from
 *   trylock, EDEADLK on relock, EPERM on unlock by a thread that does not own
 *   it, EBUSY from destroying a locked mutex; the static initialisers.
 * Phase 3 "timed": pthread_mutex_timedlock and pthread_mutex_clocklock on a
 *   mutex held across a socket read: ETIMEDOUT with the clock past the
 *   deadline, EINVAL for a bad deadline or clock, success once the holder
 *   lets go.
 * Phase 4 "held across sleeps": recursive and error-checking mutexes held
 *   across nanosleep by 8 threads at once.
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

/* A connected TCP pair on 127.0.0.1. */

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

/* Runs fn(arg) on a new thread and returns its result. */
typedef int (*op_fn)(void*);
struct op {
  op_fn fn;
  void* arg;
  int ret;
};

static void* op_main(void* p) {
  struct op* o = p;
  o->ret = o->fn(o->arg);
  return NULL;
}

static int in_other_thread(op_fn fn, void* arg) {
  pthread_t t;
  struct op o = {fn, arg, -1};
  pthread_create(&t, NULL, op_main, &o);
  pthread_join(t, NULL);
  return o.ret;
}

static int do_trylock(void* m) {
  return pthread_mutex_trylock(m);
}

static int do_unlock(void* m) {
  return pthread_mutex_unlock(m);
}

/* ---- phase 1: 64 threads queue on a mutex held across a socket read ---- */

#define QUEUED 64

static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static int queue_fds[2];
static int holder_pipe[2];
static atomic_int holder_released; /* set just before the holder unlocks */
static atomic_int arrived;         /* waiters about to call pthread_mutex_lock */
static atomic_int entered;         /* waiters that got the lock */
static atomic_int early;           /* waiters that got it while the holder had it */
static atomic_int inside;          /* waiters inside right now */
static atomic_int overlaps;        /* entries while another waiter was inside */
static int queue_count;            /* protected by queue_lock, updated across a sleep */
static char holder_got[8];

static void* holder_main(void* arg) {
  (void)arg;
  pthread_mutex_lock(&queue_lock);
  write(holder_pipe[1], "h", 1);
  int n = read_exactly(queue_fds[1], holder_got, 5);
  holder_got[n] = 0;
  atomic_store(&holder_released, 1);
  pthread_mutex_unlock(&queue_lock);
  return NULL;
}

static void* queued_main(void* arg) {
  (void)arg;
  atomic_fetch_add(&arrived, 1);
  pthread_mutex_lock(&queue_lock);
  atomic_fetch_add(&entered, 1);
  if (!atomic_load(&holder_released)) atomic_fetch_add(&early, 1);
  if (atomic_fetch_add(&inside, 1) != 0) atomic_fetch_add(&overlaps, 1);
  int v = queue_count;
  msleep(1);
  queue_count = v + 1;
  atomic_fetch_sub(&inside, 1);
  pthread_mutex_unlock(&queue_lock);
  return NULL;
}

static void phase_queue(void) {
  printf("phase 1: %d threads queue on a mutex held across a socket read\n", QUEUED);
  tcp_pair(queue_fds);
  if (pipe(holder_pipe) < 0) exit(1);
  pthread_t holder, t[QUEUED];
  pthread_create(&holder, NULL, holder_main, NULL);
  char c;
  read(holder_pipe[0], &c, 1); /* the holder has the lock and reads */
  for (int i = 0; i < QUEUED; i++) pthread_create(&t[i], NULL, queued_main, NULL);
  long long give_up = clock_ns(CLOCK_MONOTONIC) + 5 * SEC;
  while (atomic_load(&arrived) < QUEUED && clock_ns(CLOCK_MONOTONIC) < give_up) msleep(5);
  msleep(100); /* they are all in pthread_mutex_lock now */
  int entered_at_ready = atomic_load(&entered);
  printf("ready\n");
  fflush(stdout);
  msleep(200);
  printf(
      "  all %d queued, none entered while the holder read: %s\n", QUEUED,
      yes(atomic_load(&arrived) == QUEUED && entered_at_ready == 0 && atomic_load(&entered) == 0));
  write(queue_fds[0], "hello", 5);
  pthread_join(holder, NULL);
  for (int i = 0; i < QUEUED; i++) pthread_join(t[i], NULL);
  printf("  the holder read \"%s\"; %d entered, %d before it let go, %d overlaps, count %d\n",
         holder_got, atomic_load(&entered), atomic_load(&early), atomic_load(&overlaps),
         queue_count);
  printf("  destroy after use: %s\n", errname(pthread_mutex_destroy(&queue_lock)));
  close(queue_fds[0]);
  close(queue_fds[1]);
  close(holder_pipe[0]);
  close(holder_pipe[1]);
}

/* ---- phase 2: mutex types ---- */

static void init_typed(pthread_mutex_t* m, int type) {
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_settype(&a, type);
  int got = -1;
  pthread_mutexattr_gettype(&a, &got);
  if (got != type) printf("  UNEXPECTED: mutexattr type %d, asked %d\n", got, type);
  pthread_mutex_init(m, &a);
  pthread_mutexattr_destroy(&a);
}

static pthread_mutex_t static_recursive = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static pthread_mutex_t static_errorcheck = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;

static void phase_types(void) {
  printf("phase 2: mutex types\n");
  pthread_mutex_t m, rm, em;

  init_typed(&m, PTHREAD_MUTEX_NORMAL);
  int l = pthread_mutex_lock(&m);
  int other = in_other_thread(do_trylock, &m);
  int own = pthread_mutex_trylock(&m);
  int destroy = pthread_mutex_destroy(&m);
  int u = pthread_mutex_unlock(&m);
  int after = in_other_thread(do_trylock, &m); /* that thread ends holding it */
  int u2 = pthread_mutex_unlock(&m);           /* normal: no owner check */
  printf(
      "  normal: lock %s, trylock by another thread %s, by the owner %s, destroy while locked %s, "
      "unlock %s, then another thread's trylock %s, unlock %s, destroy %s\n",
      errname(l), errname(other), errname(own), errname(destroy), errname(u), errname(after),
      errname(u2), errname(pthread_mutex_destroy(&m)));

  init_typed(&rm, PTHREAD_MUTEX_RECURSIVE);
  int r1 = pthread_mutex_lock(&rm), r2 = pthread_mutex_lock(&rm), r3 = pthread_mutex_lock(&rm);
  int rt = pthread_mutex_trylock(&rm);
  other = in_other_thread(do_trylock, &rm);
  int other_unlock = in_other_thread(do_unlock, &rm);
  destroy = pthread_mutex_destroy(&rm);
  int u1 = pthread_mutex_unlock(&rm), uu2 = pthread_mutex_unlock(&rm);
  int u3 = pthread_mutex_unlock(&rm);
  int still = in_other_thread(do_trylock, &rm); /* still held once */
  int u4 = pthread_mutex_unlock(&rm), u5 = pthread_mutex_unlock(&rm);
  after = in_other_thread(do_trylock, &rm);
  printf(
      "  recursive: lock x3 %s %s %s, trylock by the owner %s, trylock by another thread %s, "
      "unlock by another thread %s, destroy while locked %s, unlock x3 %s %s %s, another "
      "thread's trylock while still held once %s, unlock %s, one unlock too many %s, then another "
      "thread's trylock %s\n",
      errname(r1), errname(r2), errname(r3), errname(rt), errname(other), errname(other_unlock),
      errname(destroy), errname(u1), errname(uu2), errname(u3), errname(still), errname(u4),
      errname(u5), errname(after));
  /* the other thread ended holding it: recursive mutexes check the owner */
  printf("  recursive: unlock by main of a mutex another thread left locked %s\n",
         errname(pthread_mutex_unlock(&rm)));

  init_typed(&em, PTHREAD_MUTEX_ERRORCHECK);
  l = pthread_mutex_lock(&em);
  int relock = pthread_mutex_lock(&em);
  own = pthread_mutex_trylock(&em);
  other = in_other_thread(do_trylock, &em);
  other_unlock = in_other_thread(do_unlock, &em);
  destroy = pthread_mutex_destroy(&em);
  u = pthread_mutex_unlock(&em);
  int again = pthread_mutex_unlock(&em);
  printf(
      "  errorcheck: lock %s, relock by the owner %s, trylock by the owner %s, by another thread "
      "%s, unlock by another thread %s, destroy while locked %s, unlock %s, unlock again %s, "
      "destroy %s\n",
      errname(l), errname(relock), errname(own), errname(other), errname(other_unlock),
      errname(destroy), errname(u), errname(again), errname(pthread_mutex_destroy(&em)));

  int sr1 = pthread_mutex_lock(&static_recursive), sr2 = pthread_mutex_lock(&static_recursive);
  int sru = pthread_mutex_unlock(&static_recursive) + pthread_mutex_unlock(&static_recursive);
  int se1 = pthread_mutex_lock(&static_errorcheck), se2 = pthread_mutex_lock(&static_errorcheck);
  int seo = in_other_thread(do_unlock, &static_errorcheck);
  int seu = pthread_mutex_unlock(&static_errorcheck);
  printf(
      "  static initialisers: recursive lock twice %s %s, unlocks %s; errorcheck lock %s, relock "
      "%s, unlock by another thread %s, unlock %s\n",
      errname(sr1), errname(sr2), errname(sru), errname(se1), errname(se2), errname(seo),
      errname(seu));
}

/* ---- phase 3: timed locking ---- */

static pthread_mutex_t timed_lock = PTHREAD_MUTEX_INITIALIZER;
static int timed_fds[2];
static int timed_pipe[2];
static int timed_go[2];
static atomic_int timed_released;

static void* timed_holder(void* arg) {
  (void)arg;
  pthread_mutex_lock(&timed_lock);
  write(timed_pipe[1], "h", 1);
  char buf[4];
  read_exactly(timed_fds[1], buf, 4);
  atomic_store(&timed_released, 1);
  pthread_mutex_unlock(&timed_lock);
  return NULL;
}

/* Frees the holder once main has made its timed tries (it says so on
 * timed_go), and a moment later, so that main is waiting by then. */
static void* timed_writer(void* arg) {
  (void)arg;
  char c;
  read(timed_go[0], &c, 1);
  msleep(100);
  write(timed_fds[0], "done", 4);
  return NULL;
}

/* The result of a timed lock of 100 ms on clk, and whether the clock was past
 * the deadline when it returned ETIMEDOUT. */
static void timed_try(const char* what, int clocklock, clockid_t clk) {
  long long deadline = clock_ns(clk) + 100 * MS;
  struct timespec ts = to_ts(deadline);
  int e = clocklock ? pthread_mutex_clocklock(&timed_lock, clk, &ts)
                    : pthread_mutex_timedlock(&timed_lock, &ts);
  int past = clock_ns(clk) >= deadline;
  printf("  %s 100 ms on a held mutex: %s, the clock past the deadline: %s\n", what, errname(e),
         yes(past));
  if (e == 0) pthread_mutex_unlock(&timed_lock);
}

static void phase_timed(void) {
  printf("phase 3: timed locking of a mutex held across a socket read\n");
  tcp_pair(timed_fds);
  if (pipe(timed_pipe) < 0 || pipe(timed_go) < 0) exit(1);
  pthread_t holder, writer;
  pthread_create(&holder, NULL, timed_holder, NULL);
  char c;
  read(timed_pipe[0], &c, 1);
  pthread_create(&writer, NULL, timed_writer, NULL);

  timed_try("pthread_mutex_timedlock", 0, CLOCK_REALTIME);
  timed_try("pthread_mutex_clocklock CLOCK_MONOTONIC", 1, CLOCK_MONOTONIC);
  timed_try("pthread_mutex_clocklock CLOCK_REALTIME", 1, CLOCK_REALTIME);
  struct timespec bad = {time(NULL) + 1, 1000000000L};
  int e = pthread_mutex_timedlock(&timed_lock, &bad);
  printf("  timedlock with tv_nsec=1000000000 on a held mutex: %s\n", errname(e));
  struct timespec soon = to_ts(clock_ns(CLOCK_MONOTONIC) + 100 * MS);
  e = pthread_mutex_clocklock(&timed_lock, CLOCK_PROCESS_CPUTIME_ID, &soon);
  printf("  clocklock on CLOCK_PROCESS_CPUTIME_ID: %s\n", errname(e));
  e = pthread_mutex_trylock(&timed_lock);
  printf("  trylock: %s\n", errname(e));

  write(timed_go[1], "g", 1);
  struct timespec later = to_ts(clock_ns(CLOCK_REALTIME) + 5 * SEC);
  e = pthread_mutex_timedlock(&timed_lock, &later);
  printf("  timedlock 5 s: %s, only after the holder let go: %s\n", errname(e),
         yes(atomic_load(&timed_released)));
  if (e == 0) pthread_mutex_unlock(&timed_lock);
  pthread_join(holder, NULL);
  pthread_join(writer, NULL);

  /* an expired deadline still takes a free mutex */
  struct timespec past = to_ts(clock_ns(CLOCK_REALTIME) - SEC);
  e = pthread_mutex_timedlock(&timed_lock, &past);
  printf("  timedlock with a deadline in the past on a free mutex: %s\n", errname(e));
  if (e == 0) pthread_mutex_unlock(&timed_lock);

  pthread_mutex_t ec;
  init_typed(&ec, PTHREAD_MUTEX_ERRORCHECK);
  pthread_mutex_lock(&ec);
  later = to_ts(clock_ns(CLOCK_REALTIME) + SEC);
  e = pthread_mutex_timedlock(&ec, &later);
  printf("  errorcheck timedlock by the owner: %s\n", errname(e));
  pthread_mutex_unlock(&ec);
  pthread_mutex_destroy(&ec);
  close(timed_fds[0]);
  close(timed_fds[1]);
  close(timed_pipe[0]);
  close(timed_pipe[1]);
  close(timed_go[0]);
  close(timed_go[1]);
}

/* ---- phase 4: recursive and error-checking mutexes across sleeps ---- */

#define SLEEPERS 8
#define ROUNDS 5

static pthread_mutex_t typed_lock;
static int typed_count, typed_type, typed_errors;

static void* typed_main(void* arg) {
  (void)arg;
  for (int i = 0; i < ROUNDS; i++) {
    if (pthread_mutex_lock(&typed_lock) != 0) typed_errors++;
    if (typed_type == PTHREAD_MUTEX_RECURSIVE) {
      if (pthread_mutex_lock(&typed_lock) != 0) typed_errors++;
    } else if (pthread_mutex_lock(&typed_lock) != EDEADLK) {
      typed_errors++;
    }
    int v = typed_count;
    msleep(2);
    typed_count = v + 1;
    if (typed_type == PTHREAD_MUTEX_RECURSIVE && pthread_mutex_unlock(&typed_lock) != 0)
      typed_errors++;
    if (pthread_mutex_unlock(&typed_lock) != 0) typed_errors++;
  }
  return NULL;
}

static void held_across_sleeps(const char* name, int type) {
  init_typed(&typed_lock, type);
  typed_type = type;
  typed_count = 0;
  typed_errors = 0;
  pthread_t t[SLEEPERS];
  for (int i = 0; i < SLEEPERS; i++) pthread_create(&t[i], NULL, typed_main, NULL);
  for (int i = 0; i < SLEEPERS; i++) pthread_join(t[i], NULL);
  printf("  %s: %d threads x %d sleeps inside: count %d, %d unexpected results\n", name, SLEEPERS,
         ROUNDS, typed_count, typed_errors);
  pthread_mutex_destroy(&typed_lock);
}

static void phase_held(void) {
  printf("phase 4: held across sleeps\n");
  held_across_sleeps("recursive (locked twice)", PTHREAD_MUTEX_RECURSIVE);
  held_across_sleeps("errorcheck (relock gives EDEADLK)", PTHREAD_MUTEX_ERRORCHECK);
}

int main(void) {
  phase_queue();
  phase_types();
  phase_timed();
  phase_held();
  printf("done\n");
  return 0;
}
