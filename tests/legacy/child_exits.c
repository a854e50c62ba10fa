/* How children end and stop, as a pre-forking server, a tracer and a job
 * control shell see them. It knows nothing of libgreen.
 *
 * pool:    the parent resolves a name (which a threaded resolver may do on
 *          worker threads), then forks; the child calls exit(3), and the
 *          parent reaps status 3. Again with a child that resolves a name
 *          first, and with a thread of the parent blocked in read() at the
 *          moment of the fork.
 * ptrace:  a child that calls PTRACE_TRACEME and raise(SIGSTOP) is reported
 *          stopped by waitpid(pid, 0); PTRACE_CONT lets it exit with 4.
 *          Then five syscall-stops of a child traced with PTRACE_SYSCALL.
 * stops:   waitpid(pid, WUNTRACED) sees a child stop itself, and
 *          waitpid(pid, WCONTINUED) sees SIGCONT; waitid(P_PID) the same.
 * heap:    a child sets RLIMIT_AS low, mallocs until malloc fails, then
 *          calls exit(5): the parent reaps status 5.
 * heap-self (only when asked for): the same in the process itself, after
 *          a lookup and a thread; its own exit status is 5.
 * Output is deterministic: statuses and verdicts. */
#define _GNU_SOURCE
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "legacy.h"

static void describe(const char* what, int status) {
  if (WIFEXITED(status))
    printf("  %s: exited with status %d\n", what, WEXITSTATUS(status));
  else if (WIFSIGNALED(status))
    printf("  %s: killed by signal %d (%s)\n", what, WTERMSIG(status), strsignal(WTERMSIG(status)));
  else if (WIFSTOPPED(status))
    printf("  %s: stopped by %s\n", what,
           WSTOPSIG(status) == SIGSTOP            ? "SIGSTOP"
           : WSTOPSIG(status) == (SIGTRAP | 0x80) ? "a syscall stop"
           : WSTOPSIG(status) == SIGTRAP          ? "SIGTRAP"
                                                  : "another signal");
  else if (WIFCONTINUED(status))
    printf("  %s: continued\n", what);
  else
    printf("  %s: status %#x\n", what, status);
  fflush(stdout);
}

static void reap(const char* what, pid_t pid, int options) {
  int status;
  pid_t r = waitpid(pid, &status, options);
  if (r != pid) {
    printf("  %s: waitpid returned %d (%s)\n", what, (int)r, errname(errno));
    return;
  }
  describe(what, status);
}

static int resolve(void) {
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  int err = getaddrinfo("localhost", "80", &hints, &res);
  if (res) freeaddrinfo(res);
  return err == 0;
}

/* ---- pool ---- */

static int block_fds[2];

static void* blocked_reader(void* arg) {
  (void)arg;
  char c;
  ssize_t n = read(block_fds[0], &c, 1);
  return (void*)(long)n;
}

static void fork_and_exit(const char* what, int lookup) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    if (lookup && !resolve()) exit(94);
    exit(3);
  }
  reap(what, pid, 0);
}

static void phase_pool(void) {
  printf("pool\n");
  printf("  resolved localhost: %s\n", yes(resolve()));
  fork_and_exit("child after a lookup", 0);
  fork_and_exit("child that looks up too", 1);
  if (pipe(block_fds) != 0) return;
  pthread_t t;
  pthread_create(&t, NULL, blocked_reader, NULL);
  msleep(50);
  fork_and_exit("child forked while a thread reads", 0);
  if (write(block_fds[1], "x", 1) != 1) perror("write");
  void* n;
  pthread_join(t, &n);
  printf("  the reader got %ld byte\n", (long)n);
  close(block_fds[0]);
  close(block_fds[1]);
}

/* ---- ptrace ---- */

static void phase_ptrace(void) {
  printf("ptrace\n");
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) != 0) _exit(90);
    raise(SIGSTOP);
    _exit(4);
  }
  reap("traced child", pid, 0);
  ptrace(PTRACE_CONT, pid, NULL, NULL);
  reap("traced child", pid, 0);

  pid = fork();
  if (pid == 0) {
    if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) != 0) _exit(90);
    raise(SIGSTOP);
    for (int i = 0; i < 10; i++) getppid();
    _exit(0);
  }
  reap("syscall-traced child", pid, 0);
  ptrace(PTRACE_SETOPTIONS, pid, NULL, (void*)PTRACE_O_TRACESYSGOOD);
  int stops = 0;
  for (int i = 0; i < 5; i++) {
    int status;
    ptrace(PTRACE_SYSCALL, pid, NULL, NULL);
    if (waitpid(pid, &status, 0) == pid && WIFSTOPPED(status) &&
        WSTOPSIG(status) == (SIGTRAP | 0x80))
      stops++;
  }
  printf("  syscall stops seen: %d of 5\n", stops);
  kill(pid, SIGKILL);
  reap("syscall-traced child", pid, 0);
}

/* ---- stops ---- */

static void phase_stops(void) {
  printf("stops\n");
  int go[2];
  if (pipe(go) != 0) return;
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    close(go[1]);
    raise(SIGSTOP);
    char c;
    if (read(go[0], &c, 1) != 1) _exit(91);
    raise(SIGSTOP);
    if (read(go[0], &c, 1) != 1) _exit(92);
    _exit(6);
  }
  close(go[0]);
  reap("child", pid, WUNTRACED);
  kill(pid, SIGCONT);
  reap("child", pid, WCONTINUED);
  if (write(go[1], "x", 1) != 1) perror("write");
  siginfo_t info;
  memset(&info, 0, sizeof info);
  int r = waitid(P_PID, (id_t)pid, &info, WSTOPPED);
  printf("  waitid: %d, %s\n", r, info.si_code == CLD_STOPPED ? "stopped" : "not stopped");
  kill(pid, SIGCONT);
  memset(&info, 0, sizeof info);
  r = waitid(P_PID, (id_t)pid, &info, WCONTINUED);
  printf("  waitid: %d, %s\n", r, info.si_code == CLD_CONTINUED ? "continued" : "not continued");
  if (write(go[1], "x", 1) != 1) perror("write");
  reap("child", pid, 0);
  close(go[1]);
}

/* ---- heap ---- */

static void exhaust_heap_and_exit(void) {
  struct rlimit rl = {256L << 20, 256L << 20};
  setrlimit(RLIMIT_AS, &rl);
  size_t got = 0;
  for (size_t size = 1 << 20; size >= 16;) {
    void* p = malloc(size);
    if (p) {
      memset(p, 1, size < 4096 ? size : 4096);
      got += size;
    } else {
      size /= 2;
    }
  }
  exit(got > 0 ? 5 : 93);
}

static void phase_heap(void) {
  printf("heap\n");
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) exhaust_heap_and_exit();
  reap("child that exhausted its heap", pid, 0);
}

static void phase_heap_self(void) {
  printf("heap-self\n");
  printf("  resolved localhost: %s\n", yes(resolve()));
  if (pipe(block_fds) != 0) return;
  pthread_t t;
  pthread_create(&t, NULL, blocked_reader, NULL);
  msleep(20);
  printf("  exhausting the heap, then exit(5) with a thread blocked in read\n");
  fflush(stdout);
  exhaust_heap_and_exit();
}

int main(int argc, char** argv) {
  const char* phase = argc > 1 ? argv[1] : "all";
  int all = strcmp(phase, "all") == 0;
  if (all || strcmp(phase, "pool") == 0) phase_pool();
  if (all || strcmp(phase, "ptrace") == 0) phase_ptrace();
  if (all || strcmp(phase, "stops") == 0) phase_stops();
  if (all || strcmp(phase, "heap") == 0) phase_heap();
  if (strcmp(phase, "heap-self") == 0) phase_heap_self();
  printf("done\n");
  return 0;
}
