/* Signals as the kernel keeps them for threads. It knows nothing of
 * libgreen.
 *
 * usage: signal_fidelity PHASE   (no argument: every phase but setxid)
 *   pending:  pthread_kill and raise to a thread that blocks the signal leave
 *             it pending for that thread (sigpending shows it, the handler
 *             has not run); it runs on that thread when it unblocks it,
 *             before pthread_sigmask returns.
 *   process:  a signal sent to the process goes to the thread that does not
 *             block it (here not the main thread): its sleep is interrupted
 *             and the handler runs there.
 *   inherit:  a new thread starts with its creator's mask and an empty
 *             pending set.
 *   fork:     a forked child's one thread has the mask of the thread that
 *             forked (the kernel's view of it, in /proc/self/status), even
 *             when another thread of the parent does not block the signal.
 *   exit:     a signal arriving while every thread waits (the main thread in
 *             pthread_join) runs its handler on the thread that takes it; the
 *             handler calls pthread_exit, and the join sees its value.
 *   join:     a signal arriving while the main thread waits in pthread_join
 *             runs its handler there (SA_RESETHAND: once, then the action is
 *             the default), and the join then returns the thread's value.
 *   pipe:     SIGPIPE goes to the thread whose write found no reader: its
 *             handler runs there, and the main thread's poll meanwhile is
 *             not interrupted.
 *   abort:    abort() on a thread runs the SIGABRT handler on that thread
 *             (here it siglongjmps back), not on the main thread.
 *   jump:     an alarm's handler siglongjmps out of a blocking read, twice:
 *             the mask is restored, so the second alarm comes too.
 *   block:    a handler that makes blocking calls (a sleep, a pipe round
 *             trip through another thread) works, and the call it interrupted
 *             then fails with EINTR.
 *   setxid:   after a name lookup (which starts the resolver's threads under
 *             some runtimes), setgid and setuid to nobody work for every
 *             thread of the process (needs root; says so otherwise).
 * Output is deterministic: only verdicts. */
#define _GNU_SOURCE
#include <dirent.h>
#include <grp.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>

#include "legacy.h"

static void install(int sig, void (*fn)(int), int flags) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = fn;
  sa.sa_flags = flags;
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, NULL);
}

static void set_blocked(int sig, int block) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  pthread_sigmask(block ? SIG_BLOCK : SIG_UNBLOCK, &set, NULL);
}

static int is_pending(int sig) {
  sigset_t set;
  sigpending(&set);
  return sigismember(&set, sig);
}

static int is_blocked(int sig) {
  sigset_t set;
  pthread_sigmask(SIG_BLOCK, NULL, &set);
  return sigismember(&set, sig);
}

/* ---- pending ---- */

static atomic_int handled;
static pthread_t handled_on;

static void record(int sig) {
  (void)sig;
  handled_on = pthread_self();
  atomic_fetch_add(&handled, 1);
}

static atomic_int step;

static void wait_step(int n) {
  for (int i = 0; i < 5000 && atomic_load(&step) < n; i++) msleep(1);
}

static void* pending_target(void* arg) {
  (void)arg;
  set_blocked(SIGUSR1, 1);
  atomic_store(&step, 1);
  wait_step(2);  // main sent SIGUSR1 to this thread
  printf("  pending for the blocking thread: %s\n", yes(is_pending(SIGUSR1)));
  printf("  handler not run while blocked: %s\n", yes(atomic_load(&handled) == 0));
  set_blocked(SIGUSR1, 0);
  printf("  handler ran when unblocked, on that thread: %s\n",
         yes(atomic_load(&handled) == 1 && pthread_equal(handled_on, pthread_self())));
  printf("  no longer pending: %s\n", yes(!is_pending(SIGUSR1)));
  set_blocked(SIGUSR1, 1);
  raise(SIGUSR1);
  printf("  raise while blocked leaves it pending: %s\n",
         yes(is_pending(SIGUSR1) && atomic_load(&handled) == 1));
  set_blocked(SIGUSR1, 0);
  printf("  raised signal handled on unblock: %s\n", yes(atomic_load(&handled) == 2));
  return NULL;
}

static void phase_pending(void) {
  printf("pending\n");
  install(SIGUSR1, record, 0);
  atomic_store(&handled, 0);
  atomic_store(&step, 0);
  pthread_t t;
  pthread_create(&t, NULL, pending_target, NULL);
  wait_step(1);
  pthread_kill(t, SIGUSR1);
  printf("  not pending for the sender: %s\n", yes(!is_pending(SIGUSR1)));
  atomic_store(&step, 2);
  pthread_join(t, NULL);
}

/* ---- process ---- */

static void* process_sleeper(void* arg) {
  (void)arg;
  set_blocked(SIGUSR2, 0);  // the creator's mask blocks it
  atomic_store(&step, 1);
  struct timespec ts = {10, 0};
  int r = nanosleep(&ts, NULL);
  int e = errno;
  printf("  the unblocking thread's sleep interrupted: %s (%s)\n", yes(r == -1 && e == EINTR),
         errname(e));
  printf("  handler ran on that thread: %s\n",
         yes(atomic_load(&handled) == 1 && pthread_equal(handled_on, pthread_self())));
  return NULL;
}

static void phase_process(void) {
  printf("process\n");
  install(SIGUSR2, record, 0);
  atomic_store(&handled, 0);
  atomic_store(&step, 0);
  set_blocked(SIGUSR2, 1);
  pthread_t t;
  pthread_create(&t, NULL, process_sleeper, NULL);
  wait_step(1);
  msleep(50);  // the sleeper is in its nanosleep
  kill(getpid(), SIGUSR2);
  pthread_join(t, NULL);
  printf("  main (blocking it) never ran it: %s\n", yes(atomic_load(&handled) == 1));
  set_blocked(SIGUSR2, 0);
}

/* ---- inherit ---- */

static void* inherit_child(void* arg) {
  (void)arg;
  printf("  child inherits the mask: %s\n", yes(is_blocked(SIGUSR1) && !is_blocked(SIGUSR2)));
  printf("  child's pending set is empty: %s\n", yes(!is_pending(SIGUSR1)));
  return NULL;
}

static void phase_inherit(void) {
  printf("inherit\n");
  install(SIGUSR1, record, 0);
  atomic_store(&handled, 0);
  set_blocked(SIGUSR1, 1);
  raise(SIGUSR1);
  printf("  pending in the creator: %s\n", yes(is_pending(SIGUSR1)));
  pthread_t t;
  pthread_create(&t, NULL, inherit_child, NULL);
  pthread_join(t, NULL);
  set_blocked(SIGUSR1, 0);
  printf("  creator's handler ran on unblock: %s\n", yes(atomic_load(&handled) == 1));
}

/* ---- fork ---- */

static int gate[2];

static void* unblocked_waiter(void* arg) {
  (void)arg;
  set_blocked(SIGUSR2, 0);
  char c;
  read(gate[0], &c, 1);
  return NULL;
}

/* Whether the kernel's mask of this (one-threaded) process blocks sig. */
static int kernel_blocks(int sig) {
  FILE* f = fopen("/proc/self/status", "r");
  char line[256];
  unsigned long long mask = 0;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "SigBlk: %llx", &mask) == 1) break;
  if (f) fclose(f);
  return (mask >> (sig - 1)) & 1;
}

static void phase_fork(void) {
  printf("fork\n");
  pipe(gate);
  pthread_t t;
  pthread_create(&t, NULL, unblocked_waiter, NULL);
  msleep(20);
  set_blocked(SIGUSR2, 1);
  pid_t child = fork();
  if (child == 0) {
    printf("  child's thread blocks what the forking thread blocked: %s\n",
           yes(kernel_blocks(SIGUSR2)));
    fflush(stdout);
    _exit(0);
  }
  waitpid(child, NULL, 0);
  write(gate[1], "x", 1);
  pthread_join(t, NULL);
  set_blocked(SIGUSR2, 0);
  close(gate[0]);
  close(gate[1]);
}

/* ---- exit ---- */

static void exit_from_handler(int sig) {
  (void)sig;
  atomic_fetch_add(&handled, 1);
  pthread_exit((void*)42);
}

static void* exit_waiter(void* arg) {
  (void)arg;
  set_blocked(SIGUSR1, 0);  // the creator's mask blocks it
  atomic_store(&step, 1);
  for (int i = 0; i < 100; i++) msleep(100);  // 10 s at most: the handler ends it
  return (void*)1;
}

static void* exit_self_signaller(void* arg) {
  (void)arg;
  set_blocked(SIGUSR1, 0);
  kill(getpid(), SIGUSR1);
  for (int i = 0; i < 100; i++) msleep(100);
  return (void*)1;
}

static void phase_exit(void) {
  printf("exit\n");
  install(SIGUSR1, exit_from_handler, 0);
  atomic_store(&handled, 0);
  atomic_store(&step, 0);
  set_blocked(SIGUSR1, 1);
  pthread_t t;
  pthread_create(&t, NULL, exit_waiter, NULL);
  wait_step(1);
  pid_t parent = getpid();
  pid_t child = fork();
  if (child == 0) {
    // The signal comes from outside while both threads wait.
    struct timespec ts = {0, 100000000};
    nanosleep(&ts, NULL);
    kill(parent, SIGUSR1);
    _exit(0);
  }
  void* result = NULL;
  pthread_join(t, &result);
  waitpid(child, NULL, 0);
  printf("  handler's pthread_exit ended its thread: %s\n", yes(result == (void*)42));
  printf("  handler ran once: %s\n", yes(atomic_load(&handled) == 1));
  // A thread that signals the process while it runs takes the signal itself
  // (the main thread blocks it); twice, so the first exit left no mask behind.
  for (int round = 0; round < 2; round++) {
    pthread_create(&t, NULL, exit_self_signaller, NULL);
    result = NULL;
    pthread_join(t, &result);
    printf("  running thread exited by its own signal's handler: %s\n",
           yes(result == (void*)42 && atomic_load(&handled) == 2 + round));
  }
  set_blocked(SIGUSR1, 0);
  install(SIGUSR1, record, 0);
}

/* ---- join ---- */

static void* join_sleeper(void* arg) {
  (void)arg;
  msleep(300);
  return (void*)7;
}

static void phase_join(void) {
  printf("join\n");
  install(SIGUSR1, record, SA_RESETHAND);
  atomic_store(&handled, 0);
  pthread_t t;
  set_blocked(SIGUSR1, 1);
  pthread_create(&t, NULL, join_sleeper, NULL);  // it blocks SIGUSR1 too
  set_blocked(SIGUSR1, 0);
  pid_t parent = getpid();
  pid_t child = fork();
  if (child == 0) {
    struct timespec ts = {0, 100000000};
    nanosleep(&ts, NULL);
    kill(parent, SIGUSR1);
    _exit(0);
  }
  void* result = NULL;
  int r = pthread_join(t, &result);
  waitpid(child, NULL, 0);
  printf("  join returned the value: %s\n", yes(r == 0 && result == (void*)7));
  printf("  handler ran once, on the joining thread: %s\n",
         yes(atomic_load(&handled) == 1 && pthread_equal(handled_on, pthread_self())));
  struct sigaction now;
  sigaction(SIGUSR1, NULL, &now);
  printf("  SA_RESETHAND left the default action: %s\n", yes(now.sa_handler == SIG_DFL));
  install(SIGUSR1, record, 0);
}

/* ---- pipe ---- */

static int broken[2];
static int write_result, write_errno, ran_on_writer;

static void* broken_writer(void* arg) {
  (void)arg;
  msleep(50);  // the main thread is in its poll
  write_result = (int)write(broken[1], "x", 1);
  write_errno = errno;
  ran_on_writer = atomic_load(&handled) == 1 && pthread_equal(handled_on, pthread_self());
  return NULL;
}

static void phase_pipe(void) {
  printf("pipe\n");
  install(SIGPIPE, record, 0);
  atomic_store(&handled, 0);
  int idle[2];
  pipe(idle);
  pipe(broken);
  close(broken[0]);
  pthread_t t;
  pthread_create(&t, NULL, broken_writer, NULL);
  struct pollfd pf = {idle[0], POLLIN, 0};
  int r = poll(&pf, 1, 300);
  pthread_join(t, NULL);
  printf("  write without a reader: %s (%s)\n", yes(write_result == -1 && write_errno == EPIPE),
         errname(write_errno));
  printf("  SIGPIPE handled on the writing thread: %s\n", yes(ran_on_writer));
  printf("  main thread's poll not interrupted: %s\n", yes(r == 0));
  close(broken[1]);
  close(idle[0]);
  close(idle[1]);
  signal(SIGPIPE, SIG_DFL);
}

/* ---- abort ---- */

static sigjmp_buf abort_env;

static void abort_handler(int sig) {
  record(sig);
  siglongjmp(abort_env, 1);
}

static void* aborter(void* arg) {
  (void)arg;
  if (sigsetjmp(abort_env, 1) == 0) abort();
  printf("  SIGABRT handled on the aborting thread: %s\n",
         yes(atomic_load(&handled) == 1 && pthread_equal(handled_on, pthread_self())));
  return NULL;
}

static void phase_abort(void) {
  printf("abort\n");
  install(SIGABRT, abort_handler, 0);
  atomic_store(&handled, 0);
  pthread_t t;
  pthread_create(&t, NULL, aborter, NULL);
  pthread_join(t, NULL);
  signal(SIGABRT, SIG_DFL);
}

/* ---- jump ---- */

static sigjmp_buf jump_env;

static void jump_out(int sig) {
  (void)sig;
  atomic_fetch_add(&handled, 1);
  siglongjmp(jump_env, 1);
}

static void phase_jump(void) {
  printf("jump\n");
  install(SIGALRM, jump_out, 0);
  atomic_store(&handled, 0);
  int p[2];
  pipe(p);
  int jumped = 0;
  for (int round = 0; round < 2; round++) {
    if (sigsetjmp(jump_env, 1) == 0) {
      alarm(1);
      char c;
      read(p[0], &c, 1);  // nobody writes: only the alarm ends it
      printf("  read returned: NO\n");
    } else {
      jumped++;
    }
  }
  printf("  siglongjmp out of a blocking read, twice: %s\n",
         yes(jumped == 2 && atomic_load(&handled) == 2));
  printf("  SIGALRM not blocked afterwards: %s\n", yes(!is_blocked(SIGALRM)));
  close(p[0]);
  close(p[1]);
  signal(SIGALRM, SIG_DFL);
}

/* ---- block ---- */

static int ping[2], pong[2];
static int handler_ok;

static void blocking_handler(int sig) {
  (void)sig;
  struct timespec ts = {0, 20000000};
  int slept = nanosleep(&ts, NULL) == 0;
  char c = 'x';
  int sent = write(ping[1], &c, 1) == 1;
  int got = read(pong[0], &c, 1) == 1 && c == 'y';
  handler_ok = slept && sent && got;
  atomic_fetch_add(&handled, 1);
}

static void* echo(void* arg) {
  (void)arg;
  char c;
  if (read(ping[0], &c, 1) == 1) write(pong[1], "y", 1);
  return NULL;
}

static void phase_block(void) {
  printf("block\n");
  install(SIGALRM, blocking_handler, 0);
  atomic_store(&handled, 0);
  pipe(ping);
  pipe(pong);
  pthread_t t;
  pthread_create(&t, NULL, echo, NULL);
  int p[2];
  pipe(p);
  alarm(1);
  char c;
  ssize_t r = read(p[0], &c, 1);
  int e = errno;
  printf("  interrupted read: %s (%s)\n", yes(r == -1 && e == EINTR), errname(e));
  printf("  handler's sleep and pipe round trip worked: %s\n",
         yes(atomic_load(&handled) == 1 && handler_ok));
  pthread_join(t, NULL);
  close(p[0]);
  close(p[1]);
  signal(SIGALRM, SIG_DFL);
}

/* ---- setxid ---- */

static int every_thread_has_uid(unsigned uid) {
  DIR* d = opendir("/proc/self/task");
  if (!d) return 0;
  int ok = 1, seen = 0;
  struct dirent* de;
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.') continue;
    char path[320], line[256];
    snprintf(path, sizeof path, "/proc/self/task/%s/status", de->d_name);
    FILE* f = fopen(path, "r");
    if (!f) continue;
    while (fgets(line, sizeof line, f)) {
      unsigned real, effective;
      if (sscanf(line, "Uid: %u %u", &real, &effective) == 2) {
        seen++;
        if (real != uid || effective != uid) ok = 0;
      }
    }
    fclose(f);
  }
  closedir(d);
  return ok && seen > 0;
}

static void phase_setxid(void) {
  printf("setxid\n");
  if (geteuid() != 0) {
    printf("  needs root: skipped\n");
    return;
  }
  struct addrinfo* ai = NULL;
  int r = getaddrinfo("localhost", NULL, NULL, &ai);
  printf("  resolved localhost: %s\n", yes(r == 0));
  if (ai) freeaddrinfo(ai);
  printf("  setgroups: %s\n", yes(setgroups(0, NULL) == 0));
  printf("  setgid(65534): %s\n", yes(setgid(65534) == 0));
  printf("  setuid(65534): %s\n", yes(setuid(65534) == 0));
  printf("  getuid %u geteuid %u getgid %u\n", (unsigned)getuid(), (unsigned)geteuid(),
         (unsigned)getgid());
  printf("  every thread changed: %s\n", yes(every_thread_has_uid(65534)));
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  const char* phase = argc > 1 ? argv[1] : "";
  int all = !*phase;
  if (all || !strcmp(phase, "pending")) phase_pending();
  if (all || !strcmp(phase, "process")) phase_process();
  if (all || !strcmp(phase, "inherit")) phase_inherit();
  if (all || !strcmp(phase, "fork")) phase_fork();
  if (all || !strcmp(phase, "exit")) phase_exit();
  if (all || !strcmp(phase, "join")) phase_join();
  if (all || !strcmp(phase, "pipe")) phase_pipe();
  if (all || !strcmp(phase, "abort")) phase_abort();
  if (all || !strcmp(phase, "jump")) phase_jump();
  if (all || !strcmp(phase, "block")) phase_block();
  if (!strcmp(phase, "setxid")) phase_setxid();
  return 0;
}
