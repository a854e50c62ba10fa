/* Processes from a threaded program, as a 1990s job server does it: system,
 * fork, vfork, the wait family, pthread_atfork, popen/pclose and exec with
 * inherited fds. It knows nothing of libgreen.
 *
 * Tickers count 10 ms sleeps throughout: where a call blocks, the program
 * says whether they advanced meanwhile (natively they do, with real threads;
 * a green runtime must keep running the other threads). Each child that ends
 * such a wait (a forked one, or a shell's `read x <&N`) waits on a pipe that
 * a thread of the parent writes only once the tickers advanced (release_main),
 * so that natively the verdict holds whatever the load.
 *
 * Phase 1: 20 ticker threads ("ready" is printed while they all run); one
 *          thread runs system("sleep 0.3; read x <&N; echo hi") and another
 *          forks a child that exits with status 7 (both once released, 300 ms
 *          later at the earliest) and reaps it with waitpid.
 * Phase 2: wait, wait3, wait4, waitid, waitpid(WNOHANG), a child killed by a
 *          signal, a stopped and continued child, WNOWAIT, five threads each
 *          reaping its own child, and ECHILD/EINVAL.
 * Phase 3: fork from a thread while others run: pthread_atfork handlers in
 *          order, the child has one OS thread and the parent's other threads
 *          do not run in it; the child starts threads of its own that pass a
 *          token along a chain of pipes, printing in order.
 * Phase 4: exec: while threads of the parent wait in accept() and read(), a
 *          child exec'ed with execv sees the inherited fds with exactly the
 *          flags the program set (fd flags from /proc/self/fdinfo); execvp,
 *          execle, execve and posix_spawn give their exit statuses.
 * Phase 5: popen/pclose (reading and writing), system() statuses, vfork.
 * Output is deterministic: statuses, errno names and verdicts. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "legacy.h"

#define MS 1000000LL

extern char** environ;

static void describe(const char* what, int status) {
  if (WIFEXITED(status))
    printf("  %s: exited with status %d\n", what, WEXITSTATUS(status));
  else if (WIFSIGNALED(status))
    printf("  %s: killed by signal %d (%s)\n", what, WTERMSIG(status), strsignal(WTERMSIG(status)));
  else if (WIFSTOPPED(status))
    printf("  %s: stopped by %s\n", what, WSTOPSIG(status) == SIGSTOP ? "SIGSTOP" : "other");
  else
    printf("  %s: status %#x\n", what, status);
}

/* ---- tickers ---- */

#define TICKERS 20

static atomic_int tick[TICKERS], ticker_stop;

static void* ticker_main(void* arg) {
  int i = (int)(long)arg;
  for (int n = 0; n < 12000 && !atomic_load(&ticker_stop); n++) {
    msleep(10);
    atomic_fetch_add(&tick[i], 1);
  }
  return NULL;
}

/* the least any ticker advanced since the snapshot */
static int least_since(const int* snap, int n) {
  int least = 1 << 30;
  for (int i = 0; i < n; i++) {
    int d = atomic_load(&tick[i]) - snap[i];
    if (d < least) least = d;
  }
  return least;
}

static void snapshot(int* snap, int n) {
  for (int i = 0; i < n; i++) snap[i] = atomic_load(&tick[i]);
}

static void ticker_verdict(const char* what, const int* snap, int at_least) {
  printf("  ticker advanced while %s: %s\n", what, yes(least_since(snap, 1) >= at_least));
}

/* ---- children held until released ---- */

/* A thread that sleeps ms, waits (10 s at most) until each of the first
 * tickers advanced at_least times since snap, then writes a line on each fd
 * (gap ms apart) and closes it. Natively the wait it ends then always saw the
 * tickers advance; where that wait holds the only OS thread, this thread does
 * not run and neither do the tickers. */
struct release {
  int fd[5], count;
  long ms, gap;
  int snap[TICKERS], tickers, at_least;
  pthread_t thread;
};

static void* release_main(void* arg) {
  struct release* r = arg;
  msleep(r->ms);
  for (int i = 0; i < 2000 && least_since(r->snap, r->tickers) < r->at_least; i++) msleep(5);
  for (int i = 0; i < r->count; i++) {
    if (i) msleep(r->gap);
    if (write(r->fd[i], "\n", 1) != 1) perror("write");
    close(r->fd[i]);
  }
  return NULL;
}

static void release_later(struct release* r, long ms, const int* snap, int tickers, int at_least) {
  r->ms = ms;
  memcpy(r->snap, snap, sizeof(int) * (size_t)tickers);
  r->tickers = tickers;
  r->at_least = at_least;
  pthread_create(&r->thread, NULL, release_main, r);
}

/* A pipe for a child to wait on: the write end is close-on-exec, so a shell
 * that inherits the read end does not keep it open too. */
static void hold_pipe(int p[2]) {
  if (pipe(p) < 0) exit(1);
  fcntl(p[1], F_SETFD, FD_CLOEXEC);
}

/* A child that exits with status once a line (or EOF) comes on the pipe
 * whose write end it leaves in *release. */
static pid_t child_held(int status, int* release) {
  int p[2];
  hold_pipe(p);
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    char c;
    close(p[1]);
    if (read(p[0], &c, 1) < 0) _exit(99);
    _exit(status);
  }
  close(p[0]);
  *release = p[1];
  return pid;
}

/* ---- phase 1 ---- */

static int system_status, fork_status;
static char system_command[64];
static int fork_hold[2]; /* the forked child exits once released on it */

static void* system_main(void* arg) {
  (void)arg;
  system_status = system(system_command);
  return NULL;
}

static void* forker_main(void* arg) {
  (void)arg;
  pid_t pid = fork();
  if (pid == 0) {
    char c;
    close(fork_hold[1]);
    if (read(fork_hold[0], &c, 1) < 0) _exit(99);
    _exit(7);
  }
  int st = -1;
  pid_t r;
  do r = waitpid(pid, &st, 0);
  while (r < 0 && errno == EINTR);
  fork_status = r == pid ? st : -1;
  return NULL;
}

static void phase_system_fork(pthread_t* tickers) {
  printf("phase 1: system() and fork/waitpid while %d threads tick\n", TICKERS);
  for (int i = 0; i < TICKERS; i++) pthread_create(&tickers[i], NULL, ticker_main, (void*)(long)i);
  msleep(50);
  printf("ready\n");
  fflush(stdout);
  int snap[TICKERS], system_hold[2];
  snapshot(snap, TICKERS);
  hold_pipe(system_hold);
  hold_pipe(fork_hold);
  snprintf(system_command, sizeof system_command, "sleep 0.3; read x <&%d; echo hi",
           system_hold[0]);
  struct release rel = {{system_hold[1], fork_hold[1]}, 2, 0, 0, {0}, 0, 0, 0};
  release_later(&rel, 300, snap, TICKERS, 10);
  pthread_t a, b;
  pthread_create(&a, NULL, system_main, NULL);
  pthread_create(&b, NULL, forker_main, NULL);
  pthread_join(a, NULL);
  pthread_join(b, NULL);
  pthread_join(rel.thread, NULL);
  close(system_hold[0]);
  close(fork_hold[0]);
  int least = least_since(snap, TICKERS);
  describe("system(\"sleep 0.3; read x <&N; echo hi\")", system_status);
  describe("the forked child reaped by waitpid", fork_status);
  printf("  every one of the %d tickers advanced 10 times meanwhile: %s\n", TICKERS,
         yes(least >= 10));
}

/* ---- phase 2 ---- */

static pid_t child_exiting(int status, long ms) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    msleep(ms);
    _exit(status);
  }
  return pid;
}

struct reaper {
  pid_t pid;
  int status;
};

static void* reaper_main(void* arg) {
  struct reaper* r = arg;
  r->status = -1;
  if (waitpid(r->pid, &r->status, 0) != r->pid) r->status = -1;
  return NULL;
}

static void phase_wait(void) {
  printf("phase 2: the wait family\n");
  int snap[1];
  int st = 0;
  struct release rel = {{-1}, 1, 0, 0, {0}, 0, 0, 0};
  snapshot(snap, 1);
  pid_t pid = child_held(3, &rel.fd[0]);
  release_later(&rel, 100, snap, 1, 5);
  pid_t r = wait(&st);
  pthread_join(rel.thread, NULL);
  describe(r == pid ? "wait" : "wait (WRONG PID)", st);
  ticker_verdict("wait blocked", snap, 5);

  struct rusage ru;
  snapshot(snap, 1);
  pid = child_held(4, &rel.fd[0]);
  release_later(&rel, 100, snap, 1, 5);
  r = wait3(&st, 0, &ru);
  pthread_join(rel.thread, NULL);
  describe(r == pid ? "wait3" : "wait3 (WRONG PID)", st);
  ticker_verdict("wait3 blocked", snap, 5);

  snapshot(snap, 1);
  pid = child_held(5, &rel.fd[0]);
  release_later(&rel, 100, snap, 1, 5);
  r = wait4(pid, &st, 0, &ru);
  pthread_join(rel.thread, NULL);
  describe(r == pid ? "wait4" : "wait4 (WRONG PID)", st);
  ticker_verdict("wait4 blocked", snap, 5);

  siginfo_t si;
  memset(&si, 0, sizeof si);
  snapshot(snap, 1);
  pid = child_held(6, &rel.fd[0]);
  release_later(&rel, 100, snap, 1, 5);
  int w = waitid(P_PID, (id_t)pid, &si, WEXITED);
  pthread_join(rel.thread, NULL);
  printf("  waitid: %d, %s, status %d, right pid: %s\n", w,
         si.si_code == CLD_EXITED ? "CLD_EXITED" : "other", si.si_status, yes(si.si_pid == pid));
  ticker_verdict("waitid blocked", snap, 5);

  /* held, so it still runs whatever the load */
  int hold;
  pid = child_held(8, &hold);
  r = waitpid(pid, &st, WNOHANG);
  printf("  waitpid(WNOHANG) while the child runs: %d\n", (int)r);
  close(hold);
  r = waitpid(pid, &st, 0);
  describe(r == pid ? "then waitpid" : "then waitpid (WRONG PID)", st);

  /* killed by a signal */
  pid = child_exiting(0, 10000);
  msleep(50);
  kill(pid, SIGTERM);
  r = waitpid(pid, &st, 0);
  describe(r == pid ? "a child sent SIGTERM" : "a child sent SIGTERM (WRONG PID)", st);

  /* stopped, continued, killed */
  pid = child_exiting(0, 10000);
  msleep(50);
  kill(pid, SIGSTOP);
  r = waitpid(pid, &st, WUNTRACED);
  describe(r == pid ? "waitpid(WUNTRACED)" : "waitpid(WUNTRACED) (WRONG PID)", st);
  kill(pid, SIGCONT);
  memset(&si, 0, sizeof si);
  w = waitid(P_PID, (id_t)pid, &si, WCONTINUED);
  printf("  waitid(WCONTINUED): %d, %s\n", w,
         si.si_code == CLD_CONTINUED ? "CLD_CONTINUED" : "other");
  kill(pid, SIGKILL);
  memset(&si, 0, sizeof si);
  w = waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT);
  printf("  waitid(WNOWAIT): %d, %s\n", w, si.si_code == CLD_KILLED ? "CLD_KILLED" : "other");
  r = waitpid(pid, &st, 0);
  describe(r == pid ? "then waitpid" : "then waitpid (WRONG PID)", st);

  /* five threads, each reaping its own child; the children exit in reverse,
   * 50 ms apart */
  struct reaper rs[5];
  pthread_t ts[5];
  snapshot(snap, 1);
  rel.count = 5;
  rel.gap = 50;
  for (int i = 0; i < 5; i++) {
    rs[i].pid = child_held(10 + i, &rel.fd[4 - i]);
    pthread_create(&ts[i], NULL, reaper_main, &rs[i]);
  }
  release_later(&rel, 50, snap, 1, 5);
  pthread_join(rel.thread, NULL);
  int right = 0;
  for (int i = 0; i < 5; i++) {
    pthread_join(ts[i], NULL);
    right += rs[i].status >= 0 && WIFEXITED(rs[i].status) && WEXITSTATUS(rs[i].status) == 10 + i;
  }
  printf("  five threads each reaped its own child's status: %d of 5\n", right);
  ticker_verdict("the five waited", snap, 5);

  /* errors */
  errno = 0;
  r = waitpid(pid, &st, 0);
  printf("  waitpid of a reaped pid: %d %s\n", (int)r, errname(errno));
  errno = 0;
  r = wait(&st);
  printf("  wait with no children: %d %s\n", (int)r, errname(errno));
  errno = 0;
  r = waitpid(-1, &st, 0x40000);
  printf("  waitpid with bad options: %d %s\n", (int)r, errname(errno));
  errno = 0;
  w = waitid(P_PID, (id_t)pid, &si, 0);
  printf("  waitid without WEXITED/WSTOPPED/WCONTINUED: %d %s\n", w, errname(errno));
}

/* ---- phase 3 ---- */

static char atfork_log[64];

static void log_step(const char* s) {
  strncat(atfork_log, s, sizeof atfork_log - strlen(atfork_log) - 1);
}
static void on_prepare(void) {
  log_step("prepare ");
}
static void on_parent(void) {
  log_step("parent ");
}
static void on_child(void) {
  log_step("child ");
}

static int os_threads(void) {
  FILE* f = fopen("/proc/self/status", "r");
  char line[256];
  int n = -1;
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, "Threads:", 8) == 0) n = atoi(line + 8);
  if (f) fclose(f);
  return n;
}

#define CHAIN 5

static int chain[CHAIN + 1][2];

static void* chain_main(void* arg) {
  int i = (int)(long)arg;
  char token[32];
  ssize_t n = read(chain[i][0], token, sizeof token - 1);
  token[n > 0 ? n : 0] = 0;
  printf("  child thread %d got \"%s\"\n", i, token);
  fflush(stdout);
  char next[32];
  int len = snprintf(next, sizeof next, "token %d", i + 1);
  write(chain[i + 1][1], next, (size_t)len);
  return NULL;
}

static void child_of_phase3(void) {
  printf("  in the child: atfork log \"%s\", OS threads %d\n", atfork_log, os_threads());
  int before = atomic_load(&tick[0]);
  msleep(100);
  printf("  in the child: the parent's ticker ran on: %s\n",
         atomic_load(&tick[0]) != before ? "YES" : "no");
  fflush(stdout);
  for (int i = 0; i <= CHAIN; i++)
    if (pipe(chain[i]) < 0) _exit(1);
  pthread_t ts[CHAIN];
  /* created last to first: they still print first to last, each waiting
   * for its token */
  for (int i = CHAIN - 1; i >= 0; i--) pthread_create(&ts[i], NULL, chain_main, (void*)(long)i);
  write(chain[0][1], "token 0", 7);
  char last[32];
  ssize_t n = read(chain[CHAIN][0], last, sizeof last - 1);
  last[n > 0 ? n : 0] = 0;
  for (int i = 0; i < CHAIN; i++) pthread_join(ts[i], NULL);
  printf("  in the child: the chain ended with \"%s\"\n", last);
  fflush(stdout);
  _exit(21);
}

static void* phase3_forker(void* arg) {
  int* status = arg;
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) child_of_phase3();
  *status = -1;
  waitpid(pid, status, 0);
  return NULL;
}

static void phase_atfork(void) {
  printf("phase 3: fork from a thread, pthread_atfork, threads in the child\n");
  pthread_atfork(on_prepare, on_parent, on_child);
  int status = 0;
  pthread_t t;
  pthread_create(&t, NULL, phase3_forker, &status);
  pthread_join(t, NULL);
  printf("  in the parent: atfork log \"%s\"\n", atfork_log);
  describe("the child", status);
}

/* ---- phase 4 ---- */

static void child_flags(int argc, char** argv) {
  for (int i = 2; i + 1 < argc; i += 2) {
    char p[64], line[128];
    snprintf(p, sizeof p, "/proc/self/fdinfo/%s", argv[i]);
    FILE* f = fopen(p, "r");
    long flags = -1;
    while (f && fgets(line, sizeof line, f))
      if (strncmp(line, "flags:", 6) == 0) flags = strtol(line + 6, NULL, 8);
    if (f) fclose(f);
    printf("  exec'd child sees %s: %s\n", argv[i + 1],
           flags < 0              ? "NOT OPEN"
           : (flags & O_NONBLOCK) ? "O_NONBLOCK"
                                  : "blocking");
  }
  fflush(stdout);
}

struct acceptor {
  int fd, got;
};

static void* acceptor_main(void* arg) {
  struct acceptor* a = arg;
  int c = accept(a->fd, NULL, NULL);
  a->got = c >= 0;
  if (c >= 0) close(c);
  return NULL;
}

static void* reader_main(void* arg) {
  int fd = *(int*)arg;
  char c;
  *(int*)arg = (int)read(fd, &c, 1);
  return NULL;
}

static void run_and_wait(const char* what, pid_t pid) {
  int st = -1;
  if (pid < 0 || waitpid(pid, &st, 0) != pid) st = -1;
  describe(what, st);
}

static void phase_exec(const char* self) {
  printf("phase 4: exec with inherited fds while threads wait on them\n");
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sin;
  memset(&sin, 0, sizeof sin);
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t slen = sizeof sin;
  bind(lfd, (struct sockaddr*)&sin, sizeof sin);
  listen(lfd, 8);
  getsockname(lfd, (struct sockaddr*)&sin, &slen);
  int p[2], sv[2];
  if (pipe(p) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) exit(1);
  fcntl(sv[1], F_SETFL, fcntl(sv[1], F_GETFL) | O_NONBLOCK); /* the program's own choice */

  struct acceptor a = {lfd, 0};
  int rd = p[0], srd = sv[0];
  pthread_t ta, tr, ts;
  pthread_create(&ta, NULL, acceptor_main, &a);
  pthread_create(&tr, NULL, reader_main, &rd);
  pthread_create(&ts, NULL, reader_main, &srd);
  msleep(100); /* they are all waiting now */

  char fds[6][16];
  snprintf(fds[0], 16, "%d", lfd);
  snprintf(fds[1], 16, "%d", p[0]);
  snprintf(fds[2], 16, "%d", sv[0]);
  snprintf(fds[3], 16, "%d", sv[1]);
  snprintf(fds[4], 16, "%d", p[1]);
  char* args[] = {(char*)self, "flags",
                  fds[0],      "the listening socket (a thread in accept)",
                  fds[1],      "the pipe's read end (a thread in read)",
                  fds[2],      "a socket (a thread in read)",
                  fds[3],      "its peer (O_NONBLOCK set by the program)",
                  fds[4],      "the pipe's write end",
                  NULL};
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    execv(self, args);
    _exit(127);
  }
  run_and_wait("the execv'd child", pid);
  printf("  the parent still sees the socket's peer as O_NONBLOCK: %s, the pipe as blocking: %s\n",
         yes(fcntl(sv[1], F_GETFL) & O_NONBLOCK), yes(!(fcntl(p[0], F_GETFL) & O_NONBLOCK)));

  /* release the waiting threads */
  int c = socket(AF_INET, SOCK_STREAM, 0);
  connect(c, (struct sockaddr*)&sin, sizeof sin);
  write(p[1], "x", 1);
  write(sv[1], "y", 1);
  pthread_join(ta, NULL);
  pthread_join(tr, NULL);
  pthread_join(ts, NULL);
  printf("  the waiting threads got their connection and bytes: %s\n",
         yes(a.got && rd == 1 && srd == 1));
  close(c);
  close(lfd);
  close(p[0]);
  close(p[1]);
  close(sv[0]);
  close(sv[1]);

  fflush(stdout);
  pid = fork();
  if (pid == 0) {
    execlp("sh", "sh", "-c", "exit 31", (char*)NULL);
    _exit(127);
  }
  run_and_wait("execlp(\"sh\", ...)", pid);
  pid = fork();
  if (pid == 0) {
    char* argv[] = {"sh", "-c", "exit 32", NULL};
    execvp("sh", argv);
    _exit(127);
  }
  run_and_wait("execvp(\"sh\", ...)", pid);
  pid = fork();
  if (pid == 0) {
    char* env[] = {"TEST_EXIT_VALUE=33", NULL};
    execle("/bin/sh", "sh", "-c", "exit $TEST_EXIT_VALUE", (char*)NULL, env);
    _exit(127);
  }
  run_and_wait("execle with TEST_EXIT_VALUE=33", pid);
  pid = fork();
  if (pid == 0) {
    char* argv[] = {"sh", "-c", "exit 34", NULL};
    execve("/bin/sh", argv, environ);
    _exit(127);
  }
  run_and_wait("execve(\"/bin/sh\", ...)", pid);
  char* argv[] = {"sh", "-c", "exit 35", NULL};
  pid_t sp = -1;
  int e = posix_spawn(&sp, "/bin/sh", NULL, NULL, argv, environ);
  printf("  posix_spawn: %d\n", e);
  run_and_wait("the spawned child", sp);
  pid = fork();
  if (pid == 0) {
    execl("/nonexistent/program", "x", (char*)NULL);
    _exit(errno == ENOENT ? 40 : 41);
  }
  run_and_wait("execl of a missing program (40: ENOENT)", pid);
}

/* ---- phase 5 ---- */

static void phase_popen(void) {
  printf("phase 5: popen, pclose, system, vfork\n");
  int snap[1], hold[2];
  char command[64];
  fflush(stdout);
  snapshot(snap, 1);
  hold_pipe(hold);
  snprintf(command, sizeof command, "sleep 0.2; read x <&%d; echo from popen", hold[0]);
  struct release rel = {{hold[1]}, 1, 0, 0, {0}, 0, 0, 0};
  release_later(&rel, 200, snap, 1, 5);
  FILE* f = popen(command, "r");
  char line[64] = "";
  char* s = f ? fgets(line, sizeof line, f) : NULL;
  int st = f ? pclose(f) : -1;
  pthread_join(rel.thread, NULL);
  close(hold[0]);
  printf("  popen(\"r\") line: %s", s ? line : "NONE\n");
  describe("its pclose", st);
  ticker_verdict("fgets waited on the popen'd command", snap, 5);

  f = popen("cat >/dev/null; exit 3", "w");
  if (f) fputs("to the command\n", f);
  st = f ? pclose(f) : -1;
  describe("popen(\"w\") then pclose", st);
  errno = 0;
  f = popen("true", "x");
  printf("  popen with mode \"x\": %s %s\n", f ? "a stream" : "NULL", errname(errno));

  printf("  system(NULL): %s\n", system(NULL) ? "a shell is available" : "NO SHELL");
  describe("system(\"exit 4\")", system("exit 4"));
  describe("system(\"kill -TERM $$\")", system("kill -TERM $$"));

  fflush(stdout);
  snapshot(snap, 1);
  pid_t pid = vfork();
  if (pid == 0) _exit(9);
  run_and_wait("a vfork'ed child", pid);
  hold_pipe(hold);
  snprintf(command, sizeof command, "sleep 0.2; read x <&%d; exit 10", hold[0]);
  rel.fd[0] = hold[1];
  release_later(&rel, 200, snap, 1, 5);
  pid = vfork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", command, (char*)NULL);
    _exit(127);
  }
  run_and_wait("a vfork'ed child that exec'd sh", pid);
  pthread_join(rel.thread, NULL);
  close(hold[0]);
  ticker_verdict("the parent waited for it", snap, 5);
}

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "flags") == 0) {
    child_flags(argc, argv);
    return 0;
  }
  char self[256];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return 1;
  self[n] = 0;
  pthread_t tickers[TICKERS];
  phase_system_fork(tickers);
  phase_wait();
  phase_atfork();
  phase_exec(self);
  phase_popen();
  atomic_store(&ticker_stop, 1);
  for (int i = 0; i < TICKERS; i++) pthread_join(tickers[i], NULL);
  printf("done\n");
  return 0;
}
