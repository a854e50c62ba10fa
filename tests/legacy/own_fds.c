/* Descriptors as a daemon of the 1990s treats them: it expects its first
 * socket to be fd 3, starts with stdin closed, closes "every descriptor"
 * (close_range, closefrom, a loop to RLIMIT_NOFILE, a walk over
 * /proc/self/fd), dup2s onto numbers it thinks are free, and execs children
 * that must inherit nothing it did not mean to pass on. Between the phases,
 * threads still sleep, wait for each other and pass bytes through pipes. It
 * knows nothing of libgreen.
 *
 * first:       the first socket is fd 3, the pipe after it fds 4 and 5.
 * stdin:       a child exec'd with fd 0 closed gets fd 0 for its first
 *              socket, and 1 and 2 next when those are closed too.
 * count:       how many fds 3..RLIMIT_NOFILE fcntl(F_GETFD), dup and
 *              fstat-by-close see as open: exactly the program's own.
 * close_range: close_range(3, ~0U, 0), then threads still work.
 * closefrom:   closefrom(3), then threads still work.
 * loop:        close() of every fd 3..RLIMIT_NOFILE, then threads still work;
 *              the closes that succeeded are exactly the program's fds.
 * proc:        close() of every fd /proc/self/fd lists, then threads work.
 * dup2:        dup2 of a pipe onto each of the 300 highest fd numbers (each
 *              succeeds, as it would natively), then threads still work, and
 *              close()s of those numbers all succeed.
 * exec:        a child exec'd (ls /proc/self/fd, with an empty environment)
 *              lists only 0, 1, 2 and its own directory fd.
 * daemon:      after a name lookup, daemon(1, 1) (glibc forks inside): the
 *              child's first socket is fd 3 and its threads work; the child
 *              prints the rest (the parent is gone).
 * Output is deterministic: fd numbers, counts and verdicts. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "legacy.h"

static const char* self_path;

/* ---- threads still work: a chain of 4 threads passing a token through
 * pipes, each sleeping 5 ms first ---- */

#define CHAIN 4

struct link_arg {
  int in, out;
};

static void* chain_link(void* p) {
  struct link_arg* a = p;
  char c;
  msleep(5);
  if (read(a->in, &c, 1) != 1) return (void*)1;
  if (write(a->out, &c, 1) != 1) return (void*)2;
  return NULL;
}

static void threads_work(const char* after) {
  int p[CHAIN + 1][2];
  for (int i = 0; i <= CHAIN; i++)
    if (pipe(p[i]) != 0) {
      printf("  after %s: pipe failed (%s)\n", after, errname(errno));
      return;
    }
  pthread_t t[CHAIN];
  struct link_arg a[CHAIN];
  for (int i = 0; i < CHAIN; i++) {
    a[i].in = p[i][0];
    a[i].out = p[i + 1][1];
    pthread_create(&t[i], NULL, chain_link, &a[i]);
  }
  char c = 'x', back = 0;
  int ok = write(p[0][1], &c, 1) == 1 && read(p[CHAIN][0], &back, 1) == 1 && back == 'x';
  for (int i = 0; i < CHAIN; i++) {
    void* r;
    pthread_join(t[i], &r);
    ok = ok && r == NULL;
  }
  for (int i = 0; i <= CHAIN; i++) {
    close(p[i][0]);
    close(p[i][1]);
  }
  printf("  after %s: threads pass a token along a chain of pipes: %s\n", after, yes(ok));
}

/* The fds 3..limit that fcntl(F_GETFD) says are open. */
static int count_open(void) {
  int n = 0, limit = fd_limit();
  for (int fd = 3; fd < limit; fd++)
    if (fcntl(fd, F_GETFD) >= 0) n++;
  return n;
}

static void phase_first(void) {
  printf("first\n");
  int s = socket(AF_INET, SOCK_STREAM, 0);
  int p[2];
  if (pipe(p) != 0) return;
  printf("  first socket: fd %d; pipe: fds %d and %d\n", s, p[0], p[1]);
  close(s);
  close(p[0]);
  close(p[1]);
}

static void child_stdin(void) {
  /* exec'd with fd 0 (and with "all", 0-2) closed: print to a pipe on fd 9 */
  char line[128];
  int a = socket(AF_INET, SOCK_STREAM, 0);
  int b = socket(AF_INET, SOCK_STREAM, 0);
  int c = socket(AF_INET, SOCK_STREAM, 0);
  int n = snprintf(line, sizeof line, "  child's sockets: fds %d, %d, %d\n", a, b, c);
  if (write(9, line, (size_t)n) != n) _exit(1);
  _exit(0);
}

static void run_closed_child(int close_all) {
  int p[2];
  if (pipe(p) != 0) return;
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(p[1], 9);
    close(p[0]);
    close(p[1]);
    close(0);
    if (close_all) {
      close(1);
      close(2);
    }
    execl(self_path, self_path, "stdin-child", (char*)NULL);
    _exit(127);
  }
  close(p[1]);
  char buf[256];
  ssize_t n = read(p[0], buf, sizeof buf - 1);
  close(p[0]);
  int status;
  waitpid(pid, &status, 0);
  if (n > 0) {
    buf[n] = 0;
    printf("%s", buf);
  }
  printf("  child exit status: %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

static void phase_stdin(void) {
  printf("stdin\n");
  printf("  with fd 0 closed:\n");
  run_closed_child(0);
  printf("  with fds 0, 1 and 2 closed:\n");
  run_closed_child(1);
}

static void phase_count(void) {
  printf("count\n");
  int s = socket(AF_INET, SOCK_STREAM, 0);
  int p[2];
  if (pipe(p) != 0) return;
  threads_work("opening three fds");
  printf("  open fds from 3 up (fcntl F_GETFD): %d\n", count_open());
  int limit = fd_limit(), dups = 0;
  for (int fd = 3; fd < limit; fd++) {
    int d = dup(fd);
    if (d >= 0) {
      dups++;
      close(d);
    }
  }
  printf("  fds dup could copy: %d\n", dups);
  close(s);
  close(p[0]);
  close(p[1]);
}

static void open_some(int* fds, int n) {
  for (int i = 0; i < n; i++) fds[i] = socket(AF_INET, SOCK_STREAM, 0);
}

static void phase_close_range(void) {
  printf("close_range\n");
  int fds[5];
  open_some(fds, 5);
  threads_work("opening five sockets");
  int r = close_range(3, ~0U, 0);
  printf("  close_range(3, ~0U, 0): %d; open fds left: %d\n", r, count_open());
  threads_work("close_range");
  printf("  a new socket: fd %d\n", socket(AF_INET, SOCK_STREAM, 0));
  close_range(3, ~0U, 0);
}

static void phase_closefrom(void) {
  printf("closefrom\n");
  int fds[5];
  open_some(fds, 5);
  closefrom(3);
  printf("  closefrom(3): open fds left: %d\n", count_open());
  threads_work("closefrom");
  closefrom(3);
}

static void phase_loop(void) {
  printf("loop\n");
  int fds[5];
  open_some(fds, 5);
  int limit = fd_limit(), closed = 0, ebadf = 0;
  for (int fd = 3; fd < limit; fd++) {
    if (close(fd) == 0)
      closed++;
    else if (errno == EBADF)
      ebadf++;
  }
  printf("  close of 3..RLIMIT_NOFILE: %d closed, the others EBADF: %s\n", closed,
         yes(closed + ebadf == limit - 3));
  threads_work("closing every fd");
}

static void phase_proc(void) {
  printf("proc\n");
  int fds[5];
  open_some(fds, 5);
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return;
  int own = dirfd(dir), closed = 0;
  struct dirent* d;
  while ((d = readdir(dir)) != NULL) {
    int fd = atoi(d->d_name);
    if (d->d_name[0] < '0' || d->d_name[0] > '9' || fd < 3 || fd == own) continue;
    if (close(fd) == 0) closed++;
  }
  closedir(dir);
  printf("  closed what /proc/self/fd listed: %d closed\n", closed);
  threads_work("closing what /proc/self/fd lists");
}

static void phase_dup2(void) {
  printf("dup2\n");
  int p[2];
  if (pipe(p) != 0) return;
  int limit = fd_limit(), ok = 0, first = limit - 300;
  if (first < 10) first = 10;
  for (int fd = first; fd < limit; fd++)
    if (dup2(p[0], fd) == fd) ok++;
  printf("  dup2 onto each of the %d highest numbers: %s\n", limit - first,
         yes(ok == limit - first));
  threads_work("dup2 onto the highest numbers");
  int closed = 0;
  for (int fd = first; fd < limit; fd++)
    if (close(fd) == 0) closed++;
  printf("  close of each of them: %s\n", yes(closed == limit - first));
  /* the same with dup3, then a thread still sleeps */
  ok = 0;
  for (int fd = first; fd < limit; fd++)
    if (dup3(p[1], fd, O_CLOEXEC) == fd) ok++;
  printf("  dup3 onto each of them: %s\n", yes(ok == limit - first));
  threads_work("dup3 onto the highest numbers");
  for (int fd = first; fd < limit; fd++) close(fd);
  close(p[0]);
  close(p[1]);
}

static void phase_exec(void) {
  printf("exec\n");
  int s = socket(AF_INET, SOCK_STREAM, 0);
  int keep = fcntl(s, F_DUPFD, 3);
  close(s);
  (void)keep;
  threads_work("opening a socket");
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    char* empty[] = {NULL};
    execle("/bin/ls", "ls", "/proc/self/fd", (char*)NULL, empty);
    _exit(127);
  }
  int status;
  waitpid(pid, &status, 0);
  printf("  ls exit status: %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  close(keep);
}

static void phase_daemon(void) {
  printf("daemon\n");
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_INET;
  printf("  resolved localhost: %s\n", yes(getaddrinfo("localhost", "80", &hints, &res) == 0));
  if (res) freeaddrinfo(res);
  fflush(stdout);
  if (daemon(1, 1) != 0) return;
  int s = socket(AF_INET, SOCK_STREAM, 0);
  printf("  in the daemon: first socket: fd %d; open fds from 3 up: %d\n", s, count_open());
  threads_work("daemon()");
  close(s);
}

int main(int argc, char** argv) {
  self_path = argv[0];
  const char* phase = argc > 1 ? argv[1] : "all";
  if (strcmp(phase, "stdin-child") == 0) child_stdin();
  int all = strcmp(phase, "all") == 0;
  if (all || strcmp(phase, "first") == 0) phase_first();
  if (all || strcmp(phase, "stdin") == 0) phase_stdin();
  if (all || strcmp(phase, "count") == 0) phase_count();
  if (all || strcmp(phase, "close_range") == 0) phase_close_range();
  if (all || strcmp(phase, "closefrom") == 0) phase_closefrom();
  if (all || strcmp(phase, "loop") == 0) phase_loop();
  if (all || strcmp(phase, "proc") == 0) phase_proc();
  if (all || strcmp(phase, "dup2") == 0) phase_dup2();
  if (all || strcmp(phase, "exec") == 0) phase_exec();
  if (all || strcmp(phase, "daemon") == 0) phase_daemon();
  printf("done\n");
  return 0;
}
