/* epoll_echo: a hand-written single-threaded epoll echo server, the ceiling
 * that one core can reach. Same command line as tests/legacy/echo_server.c:
 *
 * usage: epoll_echo PORT [MAX_CONNS]
 *   Listens on 127.0.0.1:PORT (0 picks a free port) and prints
 *   "listening PORT". With MAX_CONNS > 0 it stops accepting after that many
 *   connections, exits once they are all closed and prints a summary;
 *   without it it serves until killed.
 *
 * Non-blocking sockets, level-triggered epoll. Bytes that could not be
 * written at once are kept per connection, and the connection is not read
 * again until they are out (so a client that does not read cannot make it
 * buffer without bound). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUFSZ 4096

struct conn {
  char* pending; /* unsent bytes, NULL when none */
  size_t pending_off, pending_len;
  long total;
};

static struct conn** by_fd; /* indexed by fd */
static size_t by_fd_cap;
static int epfd;
static long bytes_echoed, conns_done, conns_open;

static struct conn* conn_for(int fd) {
  if ((size_t)fd >= by_fd_cap) {
    size_t cap = by_fd_cap ? by_fd_cap : 1024;
    while (cap <= (size_t)fd) cap *= 2;
    struct conn** n = realloc(by_fd, cap * sizeof *n);
    if (!n) return NULL;
    memset(n + by_fd_cap, 0, (cap - by_fd_cap) * sizeof *n);
    by_fd = n;
    by_fd_cap = cap;
  }
  if (!by_fd[fd]) by_fd[fd] = calloc(1, sizeof(struct conn));
  return by_fd[fd];
}

static void conn_close(int fd) {
  struct conn* c = by_fd[fd];
  bytes_echoed += c->total;
  conns_done++;
  conns_open--;
  free(c->pending);
  free(c);
  by_fd[fd] = NULL;
  close(fd); /* leaves the epoll set with it */
}

static void set_events(int fd, unsigned events) {
  struct epoll_event ev = {.events = events, .data.fd = fd};
  epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
}

/* Write what is pending; returns 1 when all out, 0 when it would block, -1 on error. */
static int flush_pending(int fd, struct conn* c) {
  while (c->pending_off < c->pending_len) {
    ssize_t w =
        send(fd, c->pending + c->pending_off, c->pending_len - c->pending_off, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return 0;
      return -1;
    }
    c->pending_off += (size_t)w;
  }
  free(c->pending);
  c->pending = NULL;
  c->pending_off = c->pending_len = 0;
  return 1;
}

static void on_readable(int fd, struct conn* c) {
  static char buf[BUFSZ];
  /* A bounded number of reads per wakeup keeps the loop fair. */
  for (int round = 0; round < 16; round++) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return;
      conn_close(fd);
      return;
    }
    if (n == 0) {
      conn_close(fd);
      return;
    }
    c->total += n;
    size_t off = 0;
    while (off < (size_t)n) {
      ssize_t w = send(fd, buf + off, (size_t)n - off, MSG_NOSIGNAL);
      if (w < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) break;
        conn_close(fd);
        return;
      }
      off += (size_t)w;
    }
    if (off < (size_t)n) {
      c->pending_len = (size_t)n - off;
      c->pending_off = 0;
      c->pending = malloc(c->pending_len);
      if (!c->pending) {
        conn_close(fd);
        return;
      }
      memcpy(c->pending, buf + off, c->pending_len);
      set_events(fd, EPOLLOUT); /* stop reading until it is out */
      return;
    }
    if (n < (ssize_t)sizeof buf) return; /* drained, most likely */
  }
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s PORT [MAX_CONNS]\n", argv[0]);
    return 2;
  }
  int port = atoi(argv[1]);
  long max_conns = argc > 2 ? atol(argv[2]) : 0;
  signal(SIGPIPE, SIG_IGN);

  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }

  int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
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

  epfd = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event lev = {.events = EPOLLIN, .data.fd = ls};
  epoll_ctl(epfd, EPOLL_CTL_ADD, ls, &lev);
  int listening = 1;
  long accepted = 0;

  enum { MAXEV = 512 };
  static struct epoll_event evs[MAXEV];
  while (listening || conns_open > 0) {
    int n = epoll_wait(epfd, evs, MAXEV, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      perror("epoll_wait");
      return 1;
    }
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == ls) {
        /* Accept a bounded batch, then serve the others. */
        for (int k = 0; k < 64 && listening; k++) {
          int cfd = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (cfd < 0) {
            if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) break;
            if (errno == EMFILE || errno == ENFILE) {
              perror("accept");
              break; /* retry on the next wakeup */
            }
            perror("accept");
            return 1;
          }
          setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          if (!conn_for(cfd)) {
            close(cfd);
            continue;
          }
          struct epoll_event ev = {.events = EPOLLIN, .data.fd = cfd};
          epoll_ctl(epfd, EPOLL_CTL_ADD, cfd, &ev);
          conns_open++;
          if (max_conns > 0 && ++accepted >= max_conns) {
            listening = 0;
            close(ls);
          }
        }
        continue;
      }
      if ((size_t)fd >= by_fd_cap || !by_fd[fd]) continue; /* closed earlier in this batch */
      struct conn* c = by_fd[fd];
      if (c->pending) {
        if (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
          int r = flush_pending(fd, c);
          if (r < 0)
            conn_close(fd);
          else if (r > 0)
            set_events(fd, EPOLLIN);
        }
        continue;
      }
      if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(fd, c);
    }
  }
  printf("served %ld connections, %ld bytes\n", conns_done, bytes_echoed);
  return 0;
}
