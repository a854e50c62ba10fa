/* The thread-per-connection echo server of tests/legacy/echo_server.c with
 * one more thread that computes without end and never blocks, for
 * scripts/bench (echo_bench.py --servers native-cpu,green-cpu): how long do
 * echoes wait while a CPU-bound thread shares the core? Natively the
 * kernel's scheduler decides; under the preload the time slice
 * (GREEN_TIMESLICE) does. It knows nothing of libgreen.
 *
 * usage: cpu_echo_server PORT
 *   Listens on 127.0.0.1:PORT (0 picks a free port), starts the computing
 *   thread, prints "listening PORT" and serves until killed. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile uint64_t sink; /* keeps the computation from being optimised away */

/* Pure arithmetic in the program's own code: no system call, no libc. */
static void* compute(void* arg) {
  (void)arg;
  uint64_t x = 88172645463325252ULL;
  for (;;) {
    for (int i = 0; i < 1000000; i++) x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    sink = x;
  }
  return NULL;
}

static int write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static void* serve(void* arg) {
  int fd = (int)(long)arg;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (write_all(fd, buf, (size_t)n) < 0) break;
  }
  close(fd);
  return NULL;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s PORT\n", argv[0]);
    return 2;
  }
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {0};
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)atoi(argv[1]));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(ls, (struct sockaddr*)&addr, sizeof addr) < 0 || listen(ls, 4096) < 0) {
    perror("bind/listen");
    return 1;
  }
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t t;
  int err = pthread_create(&t, &attr, compute, NULL);
  if (err != 0) {
    fprintf(stderr, "pthread_create: %s\n", strerror(err));
    return 1;
  }
  socklen_t len = sizeof addr;
  getsockname(ls, (struct sockaddr*)&addr, &len);
  printf("listening %d\n", ntohs(addr.sin_port));
  fflush(stdout);
  for (;;) {
    int fd = accept(ls, NULL, NULL);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      perror("accept");
      return 1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    err = pthread_create(&t, &attr, serve, (void*)(long)fd);
    if (err != 0) {
      fprintf(stderr, "pthread_create: %s\n", strerror(err));
      close(fd);
    }
  }
}
