/* Signals interrupting blocking calls, as alarm()-based timeouts in old
 * programs do. It knows nothing of libgreen.
 *
 * usage: signals [read|wait]   (no argument: both)
 *   read: alarm() interrupts a blocking read() on a pipe in the main thread:
 *         without SA_RESTART it returns -1/EINTR; with SA_RESTART it restarts
 *         and returns the data another thread writes later. SIGPIPE reaches
 *         a handler and the write gives EPIPE; MSG_NOSIGNAL suppresses it.
 *   wait: nanosleep interrupted by alarm() returns EINTR with a sensible
 *         remaining time; poll interrupted returns EINTR even with
 *         SA_RESTART, as Linux does; a blocking write that has written part
 *         of its data returns that partial count.
 * Each alarm costs a second (alarm's granularity), so each mode takes two
 * or three seconds. Output is deterministic: only verdicts. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "legacy.h"

#define MS 1000000LL

static volatile sig_atomic_t alarms, pipes;

static void on_alarm(int sig) {
  (void)sig;
  alarms++;
}

static void on_pipe(int sig) {
  (void)sig;
  pipes++;
}

static void install(int sig, void (*fn)(int), int flags) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = fn;
  sa.sa_flags = flags;
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, NULL);
}

struct delayed {
  int fd;
  long ms;
};

static void* delayed_writer(void* arg) {
  struct delayed* d = arg;
  msleep(d->ms);
  write(d->fd, "hello", 5);
  return NULL;
}

static void mode_read(void) {
  int p[2];
  char buf[16];
  if (pipe(p) < 0) return;

  printf("alarm(0) after alarm(5): %u\n", (alarm(5), alarm(0)));

  install(SIGALRM, on_alarm, 0);
  alarms = 0;
  long long t0 = now_ns();
  alarm(1); /* after t0: the wait is timed from before the alarm */
  errno = 0;
  ssize_t n = read(p[0], buf, sizeof buf);
  int e = errno;
  long long took = now_ns() - t0;
  printf("read, handler without SA_RESTART: %zd %s, handler ran %d time(s), %s\n", n, errname(e),
         (int)alarms,
         took >= 900 * MS && took < 30000 * MS ? "when the alarm fired" : "AT THE WRONG TIME");

  install(SIGALRM, on_alarm, SA_RESTART);
  alarms = 0;
  struct delayed d = {p[1], 1300};
  pthread_t t;
  pthread_create(&t, NULL, delayed_writer, &d);
  t0 = now_ns();
  alarm(1); /* after t0: the wait is timed from before the alarm */
  memset(buf, 0, sizeof buf);
  errno = 0;
  n = read(p[0], buf, sizeof buf);
  e = errno;
  took = now_ns() - t0;
  pthread_join(t, NULL);
  /* errno means something only when the call failed */
  printf("read, handler with SA_RESTART: %zd %s%s%s, handler ran %d time(s), %s\n", n,
         n < 0 ? errname(e) : "\"", n < 0 ? "" : buf, n < 0 ? "" : "\"", (int)alarms,
         took >= 1250 * MS ? "restarted and waited for the data" : "RETURNED TOO EARLY");

  /* SIGPIPE: delivered to a handler, the write fails with EPIPE */
  int sv[2];
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  close(sv[1]);
  install(SIGPIPE, on_pipe, 0);
  errno = 0;
  n = write(sv[0], "x", 1);
  e = errno;
  printf("write to a closed socket: %zd %s, SIGPIPE handler ran %d time(s)\n", n, errname(e),
         (int)pipes);
  errno = 0;
  n = send(sv[0], "x", 1, MSG_NOSIGNAL);
  e = errno;
  printf("send(MSG_NOSIGNAL) to it: %zd %s, SIGPIPE handler ran %d time(s)\n", n, errname(e),
         (int)pipes);
  errno = 0;
  n = send(sv[0], "x", 1, 0);
  e = errno;
  printf("send() to it: %zd %s, SIGPIPE handler ran %d time(s)\n", n, errname(e), (int)pipes);
  close(sv[0]);
  close(p[0]);
  close(p[1]);
}

static void mode_wait(void) {
  install(SIGALRM, on_alarm, SA_RESTART);
  alarms = 0;
  struct timespec req = {3, 0}, rem = {-1, -1};
  long long t0 = now_ns();
  alarm(1); /* after t0: the wait is timed from before the alarm */
  errno = 0;
  int r = nanosleep(&req, &rem);
  int e = errno;
  long long took = now_ns() - t0;
  long long left = rem.tv_sec * 1000000000LL + rem.tv_nsec, asked = 3000 * MS;
  printf("nanosleep(3 s), SA_RESTART handler: %d %s, handler ran %d time(s), %s\n", r, errname(e),
         (int)alarms,
         took >= 900 * MS && took < 2900 * MS ? "when the alarm fired" : "AT THE WRONG TIME");
  printf("  rem %s, %s\n", left > 0 && left <= asked ? "> 0 and <= requested" : "OUT OF RANGE",
         left <= asked - took + 50 * MS && left >= asked - took - 500 * MS
             ? "matches the time left"
             : "DOES NOT MATCH THE TIME LEFT");

  int p[2];
  if (pipe(p) < 0) return;
  alarms = 0;
  struct pollfd pfd = {p[0], POLLIN, 0};
  t0 = now_ns();
  alarm(1); /* after t0: the wait is timed from before the alarm */
  errno = 0;
  r = poll(&pfd, 1, -1);
  e = errno;
  took = now_ns() - t0;
  printf("poll(forever), SA_RESTART handler: %d %s, handler ran %d time(s), %s\n", r, errname(e),
         (int)alarms,
         took >= 900 * MS && took < 30000 * MS ? "when the alarm fired" : "AT THE WRONG TIME");
  close(p[0]);
  close(p[1]);

  /* a blocking write that has written part of its data when the signal
   * comes returns that count, SA_RESTART or not */
  if (pipe(p) < 0) return;
  size_t big = 4u << 20;
  static char data[4u << 20];
  alarms = 0;
  t0 = now_ns();
  alarm(1); /* after t0: the wait is timed from before the alarm */
  errno = 0;
  ssize_t n = write(p[1], data, big);
  e = errno;
  took = now_ns() - t0;
  printf(
      "write(4 MiB) into a pipe nobody reads, SA_RESTART handler: %s, handler ran %d time(s), %s\n",
      n > 0 && (size_t)n < big ? "partial count"
      : n < 0                  ? errname(e)
                               : "FULL COUNT",
      (int)alarms,
      took >= 900 * MS && took < 30000 * MS ? "when the alarm fired" : "AT THE WRONG TIME");
  close(p[0]);
  close(p[1]);
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "all";
  if (strcmp(mode, "read") == 0 || strcmp(mode, "all") == 0) mode_read();
  if (strcmp(mode, "wait") == 0 || strcmp(mode, "all") == 0) mode_wait();
  printf("done\n");
  return 0;
}
