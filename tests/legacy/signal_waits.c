/* Waiting for signals in a threaded program, as daemons do: pause,
 * sigsuspend, sigwait, sigwaitinfo and sigtimedwait, and alarm-driven
 * timeouts on blocking calls. It knows nothing of libgreen.
 *
 * Every thread but main blocks all signals, so natively a process-directed
 * signal goes to main (or, for the sigwait family, to the thread waiting for
 * it): the output is deterministic. A ticker thread counts 10 ms sleeps
 * throughout: where a call blocks, the program says whether it advanced
 * meanwhile (natively it does; a green runtime must keep running the others).
 * The thread that sends a signal waits until its target is about to wait,
 * sleeps, then waits until the ticker advanced (legacy.h, wait_for_ticks);
 * a wait that a timer ends is repeated until the ticker advanced: natively
 * every verdict then holds whatever the load.
 *
 * Phase 1: pause() in main returns EINTR when another thread sends SIGUSR1
 *          100 ms later; sigsuspend() in another thread returns EINTR on its
 *          pthread_kill; sigsuspend() returns at once when the signal it
 *          unblocks is already pending (thread- or process-directed), and
 *          returns when a signal blocked outside it is sent meanwhile.
 * Phase 2: sigwait, sigwaitinfo (with sigqueue values, real-time signals in
 *          order) and sigtimedwait (timeout EAGAIN, zero timeout, a signal in
 *          time, a bad timeout EINVAL) in a thread while SIGUSR2 and SIGRTMIN
 *          are blocked everywhere.
 * Phase 3: a handled signal during a blocking call: read() on a pipe in a
 *          thread (EINTR without SA_RESTART, restarted with it), waitpid
 *          (likewise), and flock waiting for a lock (EINTR).
 * Phase 4: alarm-driven timeouts: alarm(1) interrupts read() on a socket,
 *          setitimer(200 ms) interrupts recv() and flock().
 *
 * usage: signal_waits [malloc]
 *   malloc: instead of the phases, right at start-up a child process sends
 *           100 SIGUSR1 2 ms apart while the program allocates and frees
 *           (blocks too big for malloc's lock-free cache, so nearly every
 *           signal lands while malloc holds its arena lock): the handler
 *           runs, the loop ends. Whatever runs around a handler must be
 *           async-signal-safe.
 * Output is deterministic: return values, errno and signal names, verdicts. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LEGACY_TICKER
#include "legacy.h"

#define MS 1000000LL

static const char* signame(int s) {
  if (s == SIGUSR1) return "SIGUSR1";
  if (s == SIGUSR2) return "SIGUSR2";
  if (s == SIGALRM) return "SIGALRM";
  if (s == SIGRTMIN) return "SIGRTMIN";
  if (s == SIGRTMIN + 1) return "SIGRTMIN+1";
  return "other";
}

/* ---- threads that never take a signal ---- */

static pthread_t spawn(void* (*fn)(void*), void* arg) {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_t t;
  pthread_create(&t, NULL, fn, arg);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return t;
}

/* sends a signal after a delay: to the process (kill, sigqueue) or a thread.
 * The delay starts once *ready is set (the target is about to wait), and
 * ends only once the ticker advanced 5 times since before (when >= 0). */
struct sender {
  long ms;
  int sig;
  int how; /* 0 kill, 1 sigqueue, 2 pthread_kill */
  int value;
  pthread_t target;
  int before;
  atomic_int* ready;
  atomic_int sent;
};

/* Waits (10 s at most) until *flag is set. */
static void wait_flag(atomic_int* flag) {
  for (int i = 0; flag && i < 2000 && !atomic_load(flag); i++) msleep(5);
}

static void* sender_main(void* arg) {
  struct sender* s = arg;
  wait_flag(s->ready);
  msleep(s->ms);
  if (s->before >= 0) wait_for_ticks(s->before, 5);
  atomic_store(&s->sent, 1);
  if (s->how == 0) {
    kill(getpid(), s->sig);
  } else if (s->how == 1) {
    union sigval v;
    v.sival_int = s->value;
    sigqueue(getpid(), s->sig, v);
  } else {
    pthread_kill(s->target, s->sig);
  }
  return NULL;
}

static volatile sig_atomic_t handled;

static void on_signal(int sig) {
  (void)sig;
  handled++;
}

static void install(int sig, int flags) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sa.sa_flags = flags;
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, NULL);
}

/* ---- phase 1 ---- */

struct suspender {
  int ret, err;
  long long took;
  int handled_here;
  atomic_int ready;
};

static void* suspender_main(void* arg) {
  struct suspender* s = arg;
  sigset_t block, none;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  pthread_sigmask(SIG_SETMASK, &block, NULL); /* only SIGUSR1 may come, and only in sigsuspend */
  sigemptyset(&none);
  int before = handled;
  long long t0 = now_ns();
  atomic_store(&s->ready, 1);
  errno = 0;
  s->ret = sigsuspend(&none);
  s->err = errno;
  s->took = now_ns() - t0;
  s->handled_here = handled - before;
  return NULL;
}

static void phase_pause(void) {
  printf("phase 1: pause and sigsuspend\n");
  install(SIGUSR1, SA_RESTART);
  atomic_int ready = 0;
  int before = atomic_load(&ticks);
  struct sender s = {100, SIGUSR1, 0, 0, pthread_self(), before, &ready, 0};
  handled = 0;
  pthread_t t = spawn(sender_main, &s);
  long long t0 = now_ns();
  atomic_store(&ready, 1);
  errno = 0;
  int r = pause();
  int e = errno;
  long long took = now_ns() - t0;
  pthread_join(t, NULL);
  printf(
      "  pause() until another thread's kill(SIGUSR1): %d %s, handler ran %d time(s), when "
      "sent: %s\n",
      r, errname(e), (int)handled, yes(took >= 90 * MS && took < 20000 * MS));
  ticker_verdict("pause() waited", before, 5);

  struct suspender su = {0, 0, 0, 0, 0};
  handled = 0;
  before = atomic_load(&ticks);
  pthread_t ts;
  pthread_create(&ts, NULL, suspender_main, &su);
  s = (struct sender){100, SIGUSR1, 2, 0, ts, before, &su.ready, 0};
  t = spawn(sender_main, &s);
  pthread_join(t, NULL);
  pthread_join(ts, NULL);
  printf(
      "  sigsuspend() in a thread until pthread_kill(SIGUSR1): %d %s, its handler ran %d "
      "time(s), when sent: %s\n",
      su.ret, errname(su.err), su.handled_here, yes(su.took >= 90 * MS && su.took < 20000 * MS));
  ticker_verdict("sigsuspend() waited", before, 5);

  /* already pending when sigsuspend unblocks it: returns at once */
  sigset_t block, old, none;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  sigemptyset(&none);
  for (int how = 0; how < 2; how++) {
    /* again (5 at most) while it took 500 ms: a loaded machine may
     * deschedule us once */
    int before_suspend = 0;
    took = -1;
    for (int i = 0; i < 5 && (took < 0 || took >= 500 * MS); i++) {
      pthread_sigmask(SIG_BLOCK, &block, &old);
      handled = 0;
      if (how == 0)
        raise(SIGUSR1);
      else
        kill(getpid(), SIGUSR1);
      before_suspend = handled;
      t0 = now_ns();
      errno = 0;
      r = sigsuspend(&none);
      e = errno;
      took = now_ns() - t0;
      pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    printf(
        "  sigsuspend() with SIGUSR1 already pending (%s): %d %s, handler ran %d before and %d "
        "in it, at once: %s\n",
        how ? "kill" : "raise", r, errname(e), before_suspend, (int)handled - before_suspend,
        yes(took < 500 * MS));
  }

  /* blocked outside sigsuspend, sent by another thread while main is in it
   * (coreutils timeout waits for SIGCHLD this way) */
  pthread_sigmask(SIG_BLOCK, &block, &old);
  handled = 0;
  before = atomic_load(&ticks);
  ready = 0;
  s = (struct sender){100, SIGUSR1, 0, 0, pthread_self(), before, &ready, 0};
  t = spawn(sender_main, &s);
  t0 = now_ns();
  atomic_store(&ready, 1);
  errno = 0;
  r = sigsuspend(&none);
  e = errno;
  took = now_ns() - t0;
  pthread_join(t, NULL);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  printf(
      "  sigsuspend() unblocking SIGUSR1 until another thread's kill: %d %s, handler ran %d "
      "time(s), when sent: %s\n",
      r, errname(e), (int)handled, yes(took >= 90 * MS && took < 20000 * MS));
  ticker_verdict("sigsuspend() waited for the blocked signal", before, 5);
}

/* ---- phase 2 ---- */

struct sigwaiter {
  int kind; /* 0 sigwait, 1 sigwaitinfo, 2 sigtimedwait */
  int sig;  /* the one waited for (with SIGRTMIN also SIGRTMIN+1) */
  long timeout_ms;
  int ret, err, got, code, value;
  long long took;
  atomic_int ready;
  int again;            /* sigtimedwait: again (20 at most) until the ticker ... */
  int before, all_long; /* ... advanced 5 times since before and one ended */
  long long quickest;   /* within 1.5 s; all_long: each took its timeout */
};

static void* sigwaiter_main(void* arg) {
  struct sigwaiter* w = arg;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, w->sig);
  siginfo_t si;
  memset(&si, 0, sizeof si);
  long long t0 = now_ns();
  atomic_store(&w->ready, 1);
  errno = 0;
  if (w->kind == 0) {
    w->ret = sigwait(&set, &w->got);
  } else if (w->kind == 1) {
    w->ret = sigwaitinfo(&set, &si);
  } else {
    struct timespec ts = {w->timeout_ms / 1000, (w->timeout_ms % 1000) * 1000000L};
    w->ret = sigtimedwait(&set, &si, &ts);
  }
  w->err = errno;
  w->took = now_ns() - t0;
  if (w->kind) {
    w->got = si.si_signo;
    w->code = si.si_code;
    w->value = si.si_value.sival_int;
  }
  /* the repeats stay on this thread: nothing between two waits lets the
   * ticker run where a wait holds the only OS thread */
  w->all_long = w->took >= w->timeout_ms * MS;
  w->quickest = w->took;
  for (int i = 1; i < w->again && (w->quickest >= 1500 * MS || atomic_load(&ticks) - w->before < 5);
       i++) {
    struct timespec ts = {w->timeout_ms / 1000, (w->timeout_ms % 1000) * 1000000L};
    t0 = now_ns();
    sigtimedwait(&set, &si, &ts);
    long long took = now_ns() - t0;
    w->all_long &= took >= w->timeout_ms * MS;
    if (took < w->quickest) w->quickest = took;
  }
  return NULL;
}

static const char* code_name(int c) {
  return c == SI_USER    ? "SI_USER"
         : c == SI_QUEUE ? "SI_QUEUE"
         : c == SI_TKILL ? "SI_TKILL"
                         : "other";
}

static void phase_sigwait(void) {
  printf("phase 2: sigwait, sigwaitinfo, sigtimedwait (SIGUSR2 and SIGRTMIN blocked everywhere)\n");
  /* the 20 s timeout is far above any delay of a loaded machine */
  const char* names[3] = {"sigwait", "sigwaitinfo", "sigtimedwait(20 s)"};
  for (int kind = 0; kind < 3; kind++) {
    struct sigwaiter w = {kind, SIGUSR2, 20000, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    int before = atomic_load(&ticks);
    struct sender s = {100, SIGUSR2, 0, 0, pthread_self(), before, &w.ready, 0};
    pthread_t tw = spawn(sigwaiter_main, &w);
    pthread_t ts = spawn(sender_main, &s);
    pthread_join(ts, NULL);
    pthread_join(tw, NULL);
    if (kind == 0)
      printf("  %s in a thread until another's kill: returned %d, got %s, when sent: %s\n",
             names[kind], w.ret, signame(w.got), yes(w.took >= 90 * MS && w.took < 20000 * MS));
    else
      printf("  %s in a thread until another's kill: returned %s, code %s, when sent: %s\n",
             names[kind], signame(w.ret), code_name(w.code),
             yes(w.took >= 90 * MS && w.took < 20000 * MS));
    char what[64];
    snprintf(what, sizeof what, "%s waited", names[kind]);
    ticker_verdict(what, before, 5);
  }

  /* sigqueue values, real-time signals queued in order */
  struct sigwaiter w = {1, SIGRTMIN, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  struct sender s = {100, SIGRTMIN, 1, 77, pthread_self(), -1, NULL, 0};
  pthread_t tw = spawn(sigwaiter_main, &w);
  pthread_t ts = spawn(sender_main, &s);
  pthread_join(ts, NULL);
  pthread_join(tw, NULL);
  printf("  sigwaitinfo until sigqueue(SIGRTMIN, 77): %s, %s, value %d\n", signame(w.ret),
         code_name(w.code), w.value);
  union sigval v;
  for (int i = 1; i <= 3; i++) {
    v.sival_int = i;
    sigqueue(getpid(), SIGRTMIN, v);
  }
  printf("  three queued SIGRTMIN come back in order:");
  for (int i = 0; i < 3; i++) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGRTMIN);
    siginfo_t si;
    int r = sigwaitinfo(&set, &si);
    printf(" %s=%d", signame(r), si.si_value.sival_int);
  }
  printf("\n");

  /* timeouts */
  /* again (20 at most) until the ticker advanced 5 times and one wait ended
   * within 1.5 s: natively so whatever the load; where the wait holds the
   * only OS thread, the ticker runs only between two waits */
  int before = atomic_load(&ticks);
  w = (struct sigwaiter){2, SIGUSR2, 150, 0, 0, 0, 0, 0, 0, 0, 20, before, 0, 0};
  tw = spawn(sigwaiter_main, &w);
  pthread_join(tw, NULL);
  printf("  sigtimedwait(150 ms) with no signal: %d %s, after 150 ms: %s\n", w.ret, errname(w.err),
         yes(w.all_long && w.quickest < 1500 * MS));
  ticker_verdict("sigtimedwait timed out", before, 5);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR2);
  struct timespec zero = {0, 0}, bad = {0, 2000000000L};
  /* the quickest of up to 10 (a loaded machine may deschedule us once) */
  int r = 0, e = 0;
  long long took = -1;
  for (int i = 0; i < 10 && (took < 0 || took >= 100 * MS); i++) {
    long long t0 = now_ns();
    errno = 0;
    r = sigtimedwait(&set, NULL, &zero);
    e = errno;
    took = now_ns() - t0;
  }
  printf("  sigtimedwait with a zero timeout: %d %s, at once: %s\n", r, errname(e),
         yes(took < 100 * MS));
  errno = 0;
  r = sigtimedwait(&set, NULL, &bad);
  printf("  sigtimedwait with tv_nsec 2e9: %d %s\n", r, errname(errno));
  int got = 0;
  took = -1;
  for (int i = 0; i < 10 && (took < 0 || took >= 100 * MS); i++) {
    kill(getpid(), SIGUSR2);
    long long t0 = now_ns();
    r = sigwait(&set, &got);
    took = now_ns() - t0;
  }
  printf("  sigwait with SIGUSR2 already pending: %d %s, at once: %s\n", r, signame(got),
         yes(took < 100 * MS));
}

/* ---- phase 3: a handled signal during a blocking call ---- */

struct blocked {
  int kind; /* 0 read, 1 waitpid */
  int fd;
  pid_t pid;
  long long ret;
  int err;
  long long took;
  int handled_here;
  atomic_int ready, done; /* about to block; returned */
};

static void* blocked_main(void* arg) {
  struct blocked* b = arg;
  sigset_t none;
  sigemptyset(&none);
  pthread_sigmask(SIG_SETMASK, &none, NULL);
  int before = handled;
  long long t0 = now_ns();
  atomic_store(&b->ready, 1);
  errno = 0;
  if (b->kind == 0) {
    char c;
    b->ret = read(b->fd, &c, 1);
  } else {
    int st = 0;
    b->ret = waitpid(b->pid, &st, 0);
    if (b->ret == b->pid) b->ret = WIFEXITED(st) ? WEXITSTATUS(st) : -2;
  }
  b->err = errno;
  b->took = now_ns() - t0;
  b->handled_here = handled - before;
  atomic_store(&b->done, 1);
  return NULL;
}

/* Ends the blocked call ms after the signal was sent; without SA_RESTART only
 * once the call returned (10 s at most), so that whatever the load the
 * signal comes first. early: the call had returned before. */
struct writer {
  int fd;
  long ms;
  struct sender* s;
  struct blocked* b;
  int restart, early;
};

static void end_later(struct writer* w) {
  wait_flag(&w->s->sent);
  msleep(w->ms);
  if (!w->restart) wait_flag(&w->b->done);
  w->early = atomic_load(&w->b->done);
}

static void* writer_main(void* arg) {
  struct writer* w = arg;
  end_later(w);
  write(w->fd, "z", 1);
  return NULL;
}

static void phase_interrupt(char* dir) {
  printf("phase 3: a handled SIGUSR1 (pthread_kill) during blocking calls\n");
  for (int restart = 0; restart < 2; restart++) {
    install(SIGUSR1, restart ? SA_RESTART : 0);
    int p[2];
    if (pipe(p) < 0) exit(1);
    struct blocked b = {0, p[0], 0, 0, 0, 0, 0, 0, 0};
    pthread_t tb;
    pthread_create(&tb, NULL, blocked_main, &b);
    struct sender s = {100, SIGUSR1, 2, 0, tb, -1, &b.ready, 0};
    struct writer w = {p[1], 150, &s, &b, restart, 0};
    pthread_t ts = spawn(sender_main, &s), tw = spawn(writer_main, &w);
    pthread_join(tb, NULL);
    pthread_join(ts, NULL);
    pthread_join(tw, NULL);
    printf("  read() on a pipe, %s: %lld %s, handler ran %d time(s) in it, %s\n",
           restart ? "SA_RESTART" : "no SA_RESTART", b.ret, errname(b.ret < 0 ? b.err : 0),
           b.handled_here,
           restart ? (!w.early ? "restarted until the data came" : "RETURNED EARLY")
                   : (w.early ? "when the signal came" : "TOO LATE"));
    close(p[0]);
    close(p[1]);
  }
  for (int restart = 0; restart < 2; restart++) {
    install(SIGUSR1, restart ? SA_RESTART : 0);
    /* the child exits once told on the pipe, after the signal came */
    int hold[2];
    if (pipe(hold) < 0) exit(1);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
      char c;
      close(hold[1]);
      if (read(hold[0], &c, 1) < 0) _exit(99);
      _exit(5);
    }
    close(hold[0]);
    struct blocked b = {1, -1, pid, 0, 0, 0, 0, 0, 0};
    pthread_t tb;
    pthread_create(&tb, NULL, blocked_main, &b);
    struct sender s = {100, SIGUSR1, 2, 0, tb, -1, &b.ready, 0};
    struct writer w = {hold[1], 150, &s, &b, restart, 0};
    pthread_t ts = spawn(sender_main, &s), tw = spawn(writer_main, &w);
    pthread_join(tb, NULL);
    pthread_join(ts, NULL);
    pthread_join(tw, NULL);
    close(hold[1]);
    if (b.ret < 0) waitpid(pid, NULL, 0);
    printf("  waitpid, %s: %s %s, handler ran %d time(s) in it\n",
           restart ? "SA_RESTART" : "no SA_RESTART",
           b.ret == 5  ? "the child's status 5"
           : b.ret < 0 ? "-1"
                       : "WRONG",
           errname(b.ret < 0 ? b.err : 0), b.handled_here);
  }

  /* flock waiting for a lock held on another open() of the file */
  install(SIGUSR1, 0);
  char path[128];
  snprintf(path, sizeof path, "%s/lock", dir);
  int a = open(path, O_RDWR | O_CREAT, 0644), c = open(path, O_RDWR);
  flock(a, LOCK_EX);
  handled = 0;
  atomic_int ready = 0;
  struct sender s = {100, SIGUSR1, 2, 0, pthread_self(), -1, &ready, 0};
  pthread_t ts = spawn(sender_main, &s);
  long long t0 = now_ns();
  atomic_store(&ready, 1);
  errno = 0;
  int r = flock(c, LOCK_EX);
  int e = errno;
  long long took = now_ns() - t0;
  pthread_join(ts, NULL);
  printf(
      "  flock() waiting for a lock, no SA_RESTART: %d %s, handler ran %d time(s), when sent: "
      "%s\n",
      r, errname(e), (int)handled, yes(took < 20000 * MS)); /* it waits forever else */
  close(a);
  close(c);
  unlink(path);
}

/* ---- phase 4: alarm-driven timeouts ---- */

/* One call that a timer interrupts, again (rounds at most) until the ticker
 * advanced at_least times since the first began and one round ended within
 * [lo, hi) ms of arming the timer: natively so whatever the load; where the
 * call holds the only OS thread, the ticker runs only between two rounds.
 * The first round's result, errno and handler count are kept. */
struct timed {
  int kind; /* 0 alarm(1) + read, 1 setitimer(200 ms) + recv, 2 setitimer + flock */
  int fd, rounds, at_least;
  long long lo, hi;
  long long ret;
  int err, handled, in_time, before;
};

static void timed_rounds(struct timed* t) {
  struct itimerval it = {{0, 0}, {0, 200000}};
  t->before = atomic_load(&ticks);
  for (int i = 0; i < t->rounds; i++) {
    char c;
    handled = 0;
    long long t0 = now_ns();
    if (t->kind == 0)
      alarm(1);
    else
      setitimer(ITIMER_REAL, &it, NULL);
    errno = 0;
    long long r = t->kind == 0   ? read(t->fd, &c, 1)
                  : t->kind == 1 ? recv(t->fd, &c, 1, 0)
                                 : flock(t->fd, LOCK_EX);
    int e = errno;
    long long took = now_ns() - t0;
    if (i == 0) t->ret = r, t->err = e, t->handled = (int)handled;
    t->in_time |= took >= t->lo * MS && took < t->hi * MS;
    if (t->in_time && atomic_load(&ticks) - t->before >= t->at_least) break;
  }
}

static void phase_alarm(char* dir) {
  printf("phase 4: alarm-driven timeouts\n");
  install(SIGALRM, 0);
  int sv[2];
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  struct timed t = {0, sv[0], 5, 30, 900, 3000, 0, 0, 0, 0, 0};
  timed_rounds(&t);
  printf("  alarm(1) during read() on a socket: %lld %s, handler ran %d time(s), after 1 s: %s\n",
         t.ret, errname(t.err), t.handled, yes(t.in_time));
  ticker_verdict("read() waited for the alarm", t.before, 30);

  t = (struct timed){1, sv[0], 20, 5, 190, 2000, 0, 0, 0, 0, 0};
  timed_rounds(&t);
  printf("  setitimer(200 ms) during recv(): %lld %s, handler ran %d time(s), after 200 ms: %s\n",
         t.ret, errname(t.err), t.handled, yes(t.in_time));
  ticker_verdict("recv() waited for the timer", t.before, 5);
  close(sv[0]);
  close(sv[1]);

  char path[128];
  snprintf(path, sizeof path, "%s/alarm-lock", dir);
  int a = open(path, O_RDWR | O_CREAT, 0644), b = open(path, O_RDWR);
  flock(a, LOCK_EX);
  t = (struct timed){2, b, 20, 5, 190, 2000, 0, 0, 0, 0, 0};
  timed_rounds(&t);
  printf(
      "  setitimer(200 ms) during flock() on a held lock: %lld %s, handler ran %d time(s), after "
      "200 ms: %s\n",
      t.ret, errname(t.err), t.handled, yes(t.in_time));
  ticker_verdict("flock() waited for the timer", t.before, 5);
  close(a);
  close(b);
  unlink(path);
}

/* ---- a signal storm during malloc ---- */

static void mode_malloc(void) {
  install(SIGUSR1, SA_RESTART);
  handled = 0;
  pid_t parent = getpid();
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    for (int i = 0; i < 100; i++) {
      struct timespec ts = {0, 2 * MS};
      nanosleep(&ts, NULL);
      kill(parent, SIGUSR1);
    }
    _exit(0);
  }
  void* blocks[64];
  unsigned x = 1;
  int st = 0, finished = 0;
  long long t0 = now_ns();
  for (long rounds = 1; now_ns() - t0 < 5000 * MS; rounds++) {
    for (int i = 0; i < 64; i++) {
      x = x * 1103515245u + 12345u;
      blocks[i] = malloc(2048 + (x >> 16) % 60000);
    }
    for (int i = 0; i < 64; i++) free(blocks[i]);
    if (rounds % 256 == 0 && waitpid(pid, &st, WNOHANG) == pid) {
      finished = 1;
      break;
    }
  }
  if (!finished) waitpid(pid, &st, 0);
  printf("100 SIGUSR1 from a child during malloc/free: handled: %s, the loop finished: %s\n",
         yes(handled > 0), yes(finished));
}

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "malloc") == 0) {
    mode_malloc();
    printf("done\n");
    return 0;
  }
  /* SIGUSR2 and SIGRTMIN are for the sigwait family: blocked in every
   * thread. Every other thread is created with all signals blocked. */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR2);
  sigaddset(&set, SIGRTMIN);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  char dir[] = "/tmp/green-signal-waits-XXXXXX";
  if (!mkdtemp(dir)) return 1;
  pthread_t ticker = spawn(ticker_main, NULL);
  phase_pause();
  phase_sigwait();
  phase_interrupt(dir);
  phase_alarm(dir);
  atomic_store(&ticker_stop, 1);
  pthread_join(ticker, NULL);
  rmdir(dir);
  printf("done\n");
  return 0;
}
