/* I/O on the wrong end (issue 8, item 13): a write to a pipe's read end, a
 * read from its write end, the same on a FIFO opened read-only or
 * write-only, and sockets shut down in one direction. Each call returns at
 * once with the native result: none of them waits. Knows nothing of
 * libgreen. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "legacy.h"

static volatile sig_atomic_t sigpipes;

static void on_sigpipe(int sig) {
  (void)sig;
  sigpipes++;
}

static void show(const char* what, long r, int err) {
  printf("%-44s %ld %s\n", what, r, errname(r < 0 ? err : 0));
}

#define SHOW(what, call)    \
  do {                      \
    errno = 0;              \
    long r_ = (long)(call); \
    show(what, r_, errno);  \
  } while (0)

static void pipes(void) {
  int p[2];
  char c = 'x';
  struct iovec iov = {&c, 1};
  if (pipe(p) != 0) return;
  SHOW("write to a pipe's read end:", write(p[0], &c, 1));
  SHOW("writev to a pipe's read end:", writev(p[0], &iov, 1));
  SHOW("read from a pipe's write end:", read(p[1], &c, 1));
  SHOW("readv from a pipe's write end:", readv(p[1], &iov, 1));
  close(p[0]);
  close(p[1]);
}

static void fifos(void) {
  char path[64];
  snprintf(path, sizeof path, "/tmp/wrong_end_%d", (int)getpid());
  if (mkfifo(path, 0600) != 0) return;
  int both = open(path, O_RDWR);  // a reader and a writer, so the opens below never wait
  int rd = open(path, O_RDONLY);
  int wr = open(path, O_WRONLY);
  unlink(path);
  char c = 'x';
  SHOW("write to a FIFO opened O_RDONLY:", write(rd, &c, 1));
  SHOW("read from a FIFO opened O_WRONLY:", read(wr, &c, 1));
  SHOW("write to it O_WRONLY, then read O_RDONLY:", write(wr, &c, 1) + read(rd, &c, 1));
  close(both);
  close(rd);
  close(wr);
}

static void shut(int fds[2], const char* kind) {
  char c = 'x', line[80];
  shutdown(fds[0], SHUT_RD);
  snprintf(line, sizeof line, "%s: read after SHUT_RD:", kind);
  SHOW(line, read(fds[0], &c, 1));
  snprintf(line, sizeof line, "%s: recv after SHUT_RD:", kind);
  SHOW(line, recv(fds[0], &c, 1, 0));
  shutdown(fds[0], SHUT_WR);
  sigpipes = 0;
  snprintf(line, sizeof line, "%s: write after SHUT_WR:", kind);
  SHOW(line, write(fds[0], &c, 1));
  snprintf(line, sizeof line, "%s: send after SHUT_WR:", kind);
  SHOW(line, send(fds[0], &c, 1, 0));
  printf("  SIGPIPE delivered for each: %s\n", yes(sigpipes == 2));
  close(fds[0]);
  close(fds[1]);
}

static void* run_all(void* arg) {
  pipes();
  fifos();
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0) shut(fds, "unix stream");
  tcp_pair(fds);
  shut(fds, "tcp");
  return arg;
}

int main(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigpipe;
  sigaction(SIGPIPE, &sa, NULL);
  printf("on the main thread:\n");
  run_all(NULL);
  printf("on another thread:\n");
  fflush(stdout);
  pthread_t t;
  pthread_create(&t, NULL, run_all, NULL);
  pthread_join(t, NULL);
  return 0;
}
