/* Fault signals that nobody's instruction caused: a test suite that checks
 * its crash handling kills a worker with raise(SIGSEGV) (CPython's
 * faulthandler._sigsegv), a supervisor sends kill -SEGV. With the default
 * action the process dies of that signal, as if it had faulted; with a
 * handler, the handler runs once and the program goes on. It knows nothing
 * of libgreen.
 *
 * Each case runs in a forked child; the parent prints how the child ended
 * (the signal that killed it, or its exit status). Core dumps are off.
 * Output is deterministic. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "legacy.h"

static void* sleeper(void* arg) {
  (void)arg;
  msleep(2000);
  return NULL;
}

static void* raiser(void* arg) {
  raise(*(int*)arg);
  msleep(500);
  return NULL;
}

static volatile sig_atomic_t handled, handled_code;

static void on_fault(int sig, siginfo_t* info, void* context) {
  (void)sig;
  (void)context;
  handled++;
  handled_code = info->si_code;
}

static void handle(int sig, int flags) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO | flags;
  sigaction(sig, &sa, NULL);
}

static const char* code_name(int code) {
  return code == SI_TKILL   ? "SI_TKILL"
         : code == SI_USER  ? "SI_USER"
         : code == SI_QUEUE ? "SI_QUEUE"
                            : "other";
}

static void run_case(int n) {
  int sig = SIGSEGV;
  pthread_t t;
  switch (n) {
    case 0:
      raise(SIGSEGV);
      break;
    case 1:
      kill(getpid(), SIGSEGV);
      break;
    case 2: {
      union sigval v = {.sival_int = 7};
      sigqueue(getpid(), SIGSEGV, v);
      break;
    }
    case 3:
      pthread_create(&t, NULL, raiser, &sig);
      pthread_join(t, NULL);
      break;
    case 4:
      pthread_create(&t, NULL, sleeper, NULL);
      pthread_kill(t, SIGSEGV);
      pthread_join(t, NULL);
      break;
    case 5:
      raise(SIGBUS);
      break;
    case 6:
      raise(SIGILL);
      break;
    case 7:
      raise(SIGFPE);
      break;
    case 8: {
      volatile int* p = NULL;
      *p = 1;
      break;
    }
    case 9:
      handle(SIGSEGV, 0);
      raise(SIGSEGV);
      printf("    handler ran %d time(s), si_code %s; the program goes on\n", (int)handled,
             code_name(handled_code));
      fflush(stdout);
      _exit(3);
    case 10:
      handle(SIGSEGV, SA_RESETHAND);
      kill(getpid(), SIGSEGV);
      printf("    handler ran %d time(s), si_code %s; sent again:\n", (int)handled,
             code_name(handled_code));
      fflush(stdout);
      raise(SIGSEGV);
      break;
  }
  msleep(500);
  _exit(0);
}

static const char* names[] = {
    "raise(SIGSEGV)",
    "kill(getpid(), SIGSEGV)",
    "sigqueue(getpid(), SIGSEGV)",
    "a second thread's raise(SIGSEGV)",
    "pthread_kill(sleeping thread, SIGSEGV)",
    "raise(SIGBUS)",
    "raise(SIGILL)",
    "raise(SIGFPE)",
    "a store through NULL",
    "raise(SIGSEGV) with a handler",
    "kill(getpid(), SIGSEGV) with an SA_RESETHAND handler",
};

static void report(const char* what, int status) {
  if (WIFSIGNALED(status))
    printf("  %s: killed by %s\n", what, strsignal(WTERMSIG(status)));
  else
    printf("  %s: exit status %d\n", what, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* A child sleeping in a second thread and in main, sent SIGSEGV from here. */
static void from_outside(void) {
  int p[2];
  if (pipe(p) != 0) return;
  pid_t pid = fork();
  if (pid == 0) {
    pthread_t t;
    pthread_create(&t, NULL, sleeper, NULL);
    char c = 'r';
    if (write(p[1], &c, 1) != 1) _exit(1);
    pthread_join(t, NULL);
    _exit(0);
  }
  char c;
  if (read(p[0], &c, 1) != 1) return;
  kill(pid, SIGSEGV);
  int status;
  waitpid(pid, &status, 0);
  report("kill -SEGV from the parent", status);
  close(p[0]);
  close(p[1]);
}

int main(void) {
  struct rlimit no_core = {0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("sent faults\n");
  for (int n = 0; n < (int)(sizeof names / sizeof names[0]); n++) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) run_case(n);
    int status;
    waitpid(pid, &status, 0);
    report(names[n], status);
  }
  from_outside();
  return 0;
}
