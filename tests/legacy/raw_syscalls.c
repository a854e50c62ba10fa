/* Blocking calls made through libc's syscall() (issue 8, item 14): read,
 * poll, ppoll, epoll_wait, epoll_pwait, nanosleep, clock_nanosleep, accept4,
 * connect, sendto, recvfrom, wait4, and a raw io_uring_enter waiting for the
 * completion of a read on a pipe (a ring set up with raw system calls, no
 * liburing). Each waits for another thread (or a child) while a ticker thread
 * must keep counting; errors come back as -1 and errno. Knows nothing of
 * libgreen. */
#define _GNU_SOURCE
#include <linux/io_uring.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define LEGACY_TICKER
#include "legacy.h"

static int pipe_fds[2];

/* The ticker's count when the current writer was made: it writes only once
 * the ticker advanced 3 times since (legacy.h, wait_for_ticks). */
static int writer_before;

static void* write_later(void* arg) {
  msleep(100);
  wait_for_ticks(writer_before, 3);
  if (write(pipe_fds[1], arg, strlen(arg)) < 0) perror("write");
  return NULL;
}

static pthread_t writer(const char* text, int before) {
  pthread_t t;
  writer_before = before;
  pthread_create(&t, NULL, write_later, (void*)text);
  return t;
}

static void drain(void) {
  char buf[64];
  struct pollfd p = {pipe_fds[0], POLLIN, 0};
  while (poll(&p, 1, 0) == 1 && read(pipe_fds[0], buf, sizeof buf) > 0) {
  }
}

static void reads_and_polls(void) {
  char buf[16] = {0};
  int before = atomic_load(&ticks);
  pthread_t t = writer("hello", before);
  long r = syscall(SYS_read, pipe_fds[0], buf, sizeof buf);
  printf("syscall(SYS_read) on a pipe: %ld \"%s\"\n", r, buf);
  ticker_verdict("it waited", before, 3);
  pthread_join(t, NULL);

  struct pollfd p = {pipe_fds[0], POLLIN, 0};
  before = atomic_load(&ticks);
  t = writer("x", before);
  r = syscall(SYS_poll, &p, 1, 5000);
  printf("syscall(SYS_poll): %ld revents %s\n", r, p.revents & POLLIN ? "POLLIN" : "none");
  ticker_verdict("it waited", before, 3);
  pthread_join(t, NULL);
  drain();

  struct timespec limit = {5, 0};
  uint64_t mask = 0;
  p.revents = 0;
  before = atomic_load(&ticks);
  t = writer("x", before);
  r = syscall(SYS_ppoll, &p, 1, &limit, &mask, 8);
  printf("syscall(SYS_ppoll) with a kernel sigset: %ld revents %s\n", r,
         p.revents & POLLIN ? "POLLIN" : "none");
  printf("  the time left written back: %s\n", yes(limit.tv_sec < 5 && limit.tv_sec >= 3));
  ticker_verdict("it waited", before, 3);
  pthread_join(t, NULL);
  drain();
  errno = 0;
  r = syscall(SYS_ppoll, &p, 1, &limit, &mask, 5);
  printf("syscall(SYS_ppoll) with a sigset size of 5: %ld %s\n", r, errname(errno));

  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = pipe_fds[0]};
  epoll_ctl(ep, EPOLL_CTL_ADD, pipe_fds[0], &ev);
  struct epoll_event out;
  before = atomic_load(&ticks);
  t = writer("x", before);
  r = syscall(SYS_epoll_wait, ep, &out, 1, 5000);
  printf("syscall(SYS_epoll_wait): %ld, fd %s\n", r, yes(out.data.fd == pipe_fds[0]));
  ticker_verdict("it waited", before, 3);
  pthread_join(t, NULL);
  drain();
  before = atomic_load(&ticks);
  t = writer("x", before);
  r = syscall(SYS_epoll_pwait, ep, &out, 1, 5000, &mask, 8);
  printf("syscall(SYS_epoll_pwait): %ld\n", r);
  ticker_verdict("it waited", before, 3);
  pthread_join(t, NULL);
  drain();
  close(ep);
}

/* Sleeps of 100 ms, again until the ticker advanced 3 times since the first
 * one began (50 at most): natively it does whatever the load. Where the sleep
 * holds the only OS thread, nothing between two sleeps lets the ticker run,
 * so it never advances and the verdict says NO. Returns the first failure,
 * or 0. */
static long sleep_until_ticks(int clock, int before) {
  for (int i = 0; i < 50 && atomic_load(&ticks) - before < 3; i++) {
    struct timespec ts = {0, 100000000};
    long r = clock < 0 ? syscall(SYS_nanosleep, &ts, NULL)
                       : syscall(SYS_clock_nanosleep, clock, 0, &ts, NULL);
    if (r != 0) return r;
  }
  return 0;
}

static void sleeps(void) {
  struct timespec ts = {0, 100000000};
  int before = atomic_load(&ticks);
  long r = sleep_until_ticks(-1, before);
  printf("syscall(SYS_nanosleep) 100 ms: %ld\n", r);
  ticker_verdict("it slept", before, 3);
  before = atomic_load(&ticks);
  r = sleep_until_ticks(CLOCK_MONOTONIC, before);
  printf("syscall(SYS_clock_nanosleep) 100 ms: %ld\n", r);
  ticker_verdict("it slept", before, 3);
  errno = 0;
  r = syscall(SYS_clock_nanosleep, 12345, 0, &ts, NULL);
  printf("syscall(SYS_clock_nanosleep) on no clock: %ld %s\n", r, errname(errno));
}

static struct sockaddr_in listen_addr;
/* The ticker's count when the main thread began its recvfrom, -1 before. */
static atomic_int recv_before = -1;

static void* connect_later(void* arg) {
  int before = *(int*)arg;
  msleep(100);
  wait_for_ticks(before, 3);
  int c = socket(AF_INET, SOCK_STREAM, 0);
  long r = syscall(SYS_connect, c, &listen_addr, sizeof listen_addr);
  msleep(100);
  for (int i = 0; i < 2000 && atomic_load(&recv_before) < 0; i++) msleep(5);
  wait_for_ticks(atomic_load(&recv_before), 3);
  long sent = syscall(SYS_sendto, c, "ping", 4, 0, NULL, 0);
  printf("syscall(SYS_connect): %ld, syscall(SYS_sendto): %ld\n", r, sent);
  fflush(stdout);
  msleep(50);
  close(c);
  return NULL;
}

static void sockets(void) {
  int l = socket(AF_INET, SOCK_STREAM, 0);
  listen_addr.sin_family = AF_INET;
  listen_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof listen_addr;
  bind(l, (struct sockaddr*)&listen_addr, sizeof listen_addr);
  listen(l, 4);
  getsockname(l, (struct sockaddr*)&listen_addr, &len);
  pthread_t t;
  int before = atomic_load(&ticks);
  pthread_create(&t, NULL, connect_later, &before);
  long s = syscall(SYS_accept4, l, NULL, NULL, SOCK_CLOEXEC);
  printf("syscall(SYS_accept4): %s\n", s >= 0 ? "a connection" : "failed");
  ticker_verdict("it waited", before, 3);
  fflush(stdout);
  char buf[8] = {0};
  atomic_store(&recv_before, atomic_load(&ticks));
  before = atomic_load(&recv_before);
  long n = syscall(SYS_recvfrom, s, buf, sizeof buf, 0, NULL, NULL);
  pthread_join(t, NULL);
  printf("syscall(SYS_recvfrom): %ld \"%s\"\n", n, buf);
  ticker_verdict("it waited", before, 3);
  close((int)s);
  close(l);
}

static int exit_fds[2]; /* a byte on it tells the child to exit */

static void* release_child(void* arg) {
  msleep(100);
  wait_for_ticks(*(int*)arg, 3);
  if (write(exit_fds[1], "x", 1) != 1) perror("write");
  return NULL;
}

static void children(void) {
  if (pipe(exit_fds) != 0) return;
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    char c;
    close(exit_fds[1]);
    if (read(exit_fds[0], &c, 1) < 0) perror("read");
    _exit(3);
  }
  int status = 0, before = atomic_load(&ticks);
  pthread_t t;
  pthread_create(&t, NULL, release_child, &before);
  long r = syscall(SYS_wait4, pid, &status, 0, NULL);
  pthread_join(t, NULL);
  close(exit_fds[0]);
  close(exit_fds[1]);
  printf("syscall(SYS_wait4): %s, exit status %d\n", r == pid ? "the child" : "failed",
         WEXITSTATUS(status));
  ticker_verdict("it waited", before, 3);
}

/* A ring of 4 entries, mapped as io_uring_setup(2) describes. */
struct ring {
  int fd;
  unsigned *sq_tail, *sq_mask, *sq_array, *cq_head, *cq_tail, *cq_mask;
  struct io_uring_sqe* sqes;
  struct io_uring_cqe* cqes;
};

static int ring_setup(struct ring* r) {
  struct io_uring_params p;
  memset(&p, 0, sizeof p);
  r->fd = (int)syscall(SYS_io_uring_setup, 4, &p);
  if (r->fd < 0) return -1;
  size_t sq_size = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  size_t cq_size = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
  char* sq = mmap(NULL, sq_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd,
                  IORING_OFF_SQ_RING);
  char* cq = mmap(NULL, cq_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd,
                  IORING_OFF_CQ_RING);
  r->sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQES);
  if (sq == MAP_FAILED || cq == MAP_FAILED || r->sqes == MAP_FAILED) return -1;
  r->sq_tail = (unsigned*)(sq + p.sq_off.tail);
  r->sq_mask = (unsigned*)(sq + p.sq_off.ring_mask);
  r->sq_array = (unsigned*)(sq + p.sq_off.array);
  r->cq_head = (unsigned*)(cq + p.cq_off.head);
  r->cq_tail = (unsigned*)(cq + p.cq_off.tail);
  r->cq_mask = (unsigned*)(cq + p.cq_off.ring_mask);
  r->cqes = (struct io_uring_cqe*)(cq + p.cq_off.cqes);
  return 0;
}

static void ring_queue(struct ring* r, const struct io_uring_sqe* sqe) {
  unsigned tail = *r->sq_tail, index = tail & *r->sq_mask;
  r->sqes[index] = *sqe;
  r->sq_array[index] = index;
  __atomic_store_n(r->sq_tail, tail + 1, __ATOMIC_RELEASE);
}

static int ring_reap(struct ring* r, struct io_uring_cqe* out) {
  unsigned head = *r->cq_head;
  if (head == __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE)) return 0;
  *out = r->cqes[head & *r->cq_mask];
  __atomic_store_n(r->cq_head, head + 1, __ATOMIC_RELEASE);
  return 1;
}

static void io_uring(void) {
  struct ring r;
  if (ring_setup(&r) != 0) {
    printf("io_uring: not available here (%s)\n", errname(errno));
    return;
  }
  char buf[16] = {0};
  struct io_uring_sqe sqe;
  memset(&sqe, 0, sizeof sqe);
  sqe.opcode = IORING_OP_READ;
  sqe.fd = pipe_fds[0];
  sqe.addr = (unsigned long)buf;
  sqe.len = sizeof buf;
  sqe.user_data = 42;
  ring_queue(&r, &sqe);
  int before = atomic_load(&ticks);
  pthread_t t = writer("uring", before);
  long n = syscall(SYS_io_uring_enter, r.fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0);
  struct io_uring_cqe cqe;
  int got = ring_reap(&r, &cqe);
  printf("io_uring_enter(GETEVENTS, min_complete 1): submitted %ld, completion %s, res %d \"%s\"\n",
         n, got && cqe.user_data == 42 ? "ours" : "missing", got ? cqe.res : 0, buf);
  ticker_verdict("it waited", before, 3);
  pthread_join(t, NULL);

  memset(&sqe, 0, sizeof sqe);
  sqe.opcode = IORING_OP_NOP;
  sqe.user_data = 7;
  ring_queue(&r, &sqe);
  n = syscall(SYS_io_uring_enter, r.fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0);
  got = ring_reap(&r, &cqe);
  printf("io_uring_enter with a NOP: submitted %ld, completion %s\n", n,
         got && cqe.user_data == 7 ? "ours" : "missing");
  close(r.fd);
}

int main(void) {
  pthread_t ticker;
  pthread_create(&ticker, NULL, ticker_main, NULL);
  if (pipe(pipe_fds) != 0) return 1;
  reads_and_polls();
  sleeps();
  sockets();
  children();
  io_uring();
  printf("syscall(SYS_getpid) is getpid(): %s\n", yes(syscall(SYS_getpid) == getpid()));
  atomic_store(&ticker_stop, 1);
  pthread_join(ticker, NULL);
  return 0;
}
