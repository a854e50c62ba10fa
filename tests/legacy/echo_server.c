/* A thread-per-connection echo server in the style of 1998: a blocking
 * accept() loop in main, one detached pthread per connection, read() and
 * write() on blocking sockets. It knows nothing of libgreen.
 *
 * usage: echo_server PORT [MAX_CONNS]
 *   Listens on 127.0.0.1:PORT (0 picks a free port) and prints
 *   "listening PORT". With MAX_CONNS > 0 it stops accepting after that many
 *   connections, joins their threads and prints a summary; without it the
 *   threads are detached and it serves until killed. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long bytes_echoed, conns_done;

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
  long total = 0;
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (write_all(fd, buf, (size_t)n) < 0) break;
    total += n;
  }
  close(fd);
  pthread_mutex_lock(&lock);
  bytes_echoed += total;
  conns_done++;
  pthread_mutex_unlock(&lock);
  return NULL;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s PORT [MAX_CONNS]\n", argv[0]);
    return 2;
  }
  int port = atoi(argv[1]);
  long max_conns = argc > 2 ? atol(argv[2]) : 0;

  int ls = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {0};
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(ls, (struct sockaddr*)&addr, sizeof addr) < 0 || listen(ls, 4096) < 0) {
    perror("bind/listen");
    return 1;
  }
  socklen_t len = sizeof addr;
  getsockname(ls, (struct sockaddr*)&addr, &len);
  printf("listening %d\n", ntohs(addr.sin_port));
  fflush(stdout);

  pthread_t* threads = max_conns > 0 ? calloc((size_t)max_conns, sizeof *threads) : NULL;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  if (!threads) pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  for (long accepted = 0; max_conns == 0 || accepted < max_conns;) {
    int fd = accept(ls, NULL, NULL);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      perror("accept");
      return 1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    pthread_t t;
    int err = pthread_create(&t, &attr, serve, (void*)(long)fd);
    if (err != 0) {
      fprintf(stderr, "pthread_create: %s\n", strerror(err));
      close(fd);
      continue;
    }
    if (threads) threads[accepted] = t;
    accepted++;
  }
  close(ls);
  for (long i = 0; i < max_conns; i++) pthread_join(threads[i], NULL);
  printf("served %ld connections, %ld bytes\n", conns_done, bytes_echoed);
  return 0;
}
