/* Bulk data between threads through pipes and socketpairs, written the
 * plain blocking way. It knows nothing of libgreen.
 *
 * 1. A writer thread moves 16 MiB through a pipe in single write() calls of
 *    1-4 MiB; each blocking write must return the full count. A reader
 *    thread read()s it all and checksums it.
 * 2. writev/readv across a pipe, with iovecs larger than the pipe buffer.
 * 3. A ping-pong of 10,000 rounds between two threads over a socketpair
 *    with send/recv.
 * 4. Datagrams over a socketpair with sendto/recvfrom and sendmsg/recvmsg.
 * 5. O_NONBLOCK: pipe2(O_NONBLOCK), fcntl F_SETFL on and off, and a dup'ed
 *    fd sharing the flag: EAGAIN at once, F_GETFL exactly as set, and
 *    blocking reads block again once the flag is cleared.
 * 6. dup/dup2/dup3 of pipe ends carry data and EOF.
 *
 * Output is deterministic: only counts, checksums and verdicts. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "legacy.h"

#define MIB (1024 * 1024)
#define MS 1000000LL

static void die(const char* what) {
  printf("FAILED: %s: %s\n", what, errname(errno));
  exit(1);
}

/* FNV-1a, 64 bit */
static uint64_t fnv(uint64_t h, const unsigned char* p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 1099511628211ULL;
  }
  return h;
}
#define FNV_INIT 14695981039346656037ULL

static void fill(unsigned char* p, size_t n, uint32_t seed) {
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    p[i] = (unsigned char)x;
  }
}

/* ---- 1. bulk pipe ---- */

static const size_t chunk_sizes[] = {1 * MIB + 123, 4 * MIB, 3 * MIB - 123,
                                     2 * MIB,       4 * MIB, 2 * MIB};
enum { NCHUNKS = sizeof chunk_sizes / sizeof chunk_sizes[0] };

struct bulk {
  int fd;
  long long bytes;
  uint64_t sum;
  int full_writes;
  long reads;
};

static void* bulk_writer(void* arg) {
  struct bulk* b = arg;
  b->sum = FNV_INIT;
  for (int i = 0; i < NCHUNKS; i++) {
    unsigned char* buf = malloc(chunk_sizes[i]);
    fill(buf, chunk_sizes[i], (uint32_t)i + 1);
    ssize_t w = write(b->fd, buf, chunk_sizes[i]);
    if (w == (ssize_t)chunk_sizes[i]) b->full_writes++;
    if (w > 0) {
      b->bytes += w;
      b->sum = fnv(b->sum, buf, (size_t)w);
    }
    free(buf);
  }
  close(b->fd);
  return NULL;
}

static void* bulk_reader(void* arg) {
  struct bulk* b = arg;
  static unsigned char buf[100000]; /* deliberately not a power of two */
  b->sum = FNV_INIT;
  for (;;) {
    ssize_t n = read(b->fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    b->reads++;
    b->bytes += n;
    b->sum = fnv(b->sum, buf, (size_t)n);
  }
  close(b->fd);
  return NULL;
}

static void test_bulk(void) {
  int p[2];
  if (pipe(p) < 0) die("pipe");
  struct bulk w = {p[1], 0, 0, 0, 0}, r = {p[0], 0, 0, 0, 0};
  pthread_t tw, tr;
  pthread_create(&tr, NULL, bulk_reader, &r);
  pthread_create(&tw, NULL, bulk_writer, &w);
  pthread_join(tw, NULL);
  pthread_join(tr, NULL);
  printf("bulk pipe: wrote %lld bytes in %d writes (%d returned the full count)\n", w.bytes,
         NCHUNKS, w.full_writes);
  printf("bulk pipe: read %lld bytes, checksum %016llx, %s, %s\n", r.bytes,
         (unsigned long long)r.sum, r.sum == w.sum ? "checksums match" : "CHECKSUM MISMATCH",
         r.reads > NCHUNKS ? "many partial reads" : "FEW READS");
}

/* ---- 2. writev / readv ---- */

#define V1 (100 * 1024)
#define V2 1
#define V3 (200 * 1024 + 7)

static unsigned char vsrc[V1 + V2 + V3];

static void* vec_writer(void* arg) {
  int fd = *(int*)arg;
  struct iovec iov[3] = {{vsrc, V1}, {vsrc + V1, V2}, {vsrc + V1 + V2, V3}};
  ssize_t w = writev(fd, iov, 3);
  /* second writev: empty iovec in the middle */
  struct iovec iov2[3] = {{vsrc, 10}, {vsrc, 0}, {vsrc + 10, 20}};
  ssize_t w2 = writev(fd, iov2, 3);
  printf("writev: %s\n", w == V1 + V2 + V3 && w2 == 30 ? "full counts" : "SHORT WRITEV");
  close(fd);
  return NULL;
}

static void test_vec(void) {
  fill(vsrc, sizeof vsrc, 99);
  int p[2];
  if (pipe(p) < 0) die("pipe");
  pthread_t t;
  pthread_create(&t, NULL, vec_writer, &p[1]);
  msleep(40); /* let the writer block on a full pipe first */
  static unsigned char dst[V1 + V2 + V3 + 30];
  size_t got = 0;
  int calls = 0;
  for (;;) {
    /* three uneven pieces per call */
    size_t left = sizeof dst - got;
    size_t a = left < 777 ? left : 777, b = left - a < 5000 ? left - a : 5000, c = left - a - b;
    struct iovec iov[3] = {{dst + got, a}, {dst + got + a, b}, {dst + got + a + b, c}};
    ssize_t n = readv(p[0], iov, 3);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    calls++;
    got += (size_t)n;
  }
  pthread_join(t, NULL);
  close(p[0]);
  int same = got == sizeof dst && memcmp(dst, vsrc, sizeof vsrc) == 0 &&
             memcmp(dst + sizeof vsrc, vsrc, 30) == 0;
  printf("readv: %zu bytes, %s\n", got, same ? "data identical" : "DATA DIFFERS");
}

/* ---- 3. socketpair ping-pong ---- */

#define ROUNDS 10000

static int recv_all(int fd, void* p, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = recv(fd, (char*)p + got, n - got, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    got += (size_t)r;
  }
  return 0;
}

static void* pong(void* arg) {
  int fd = *(int*)arg;
  uint32_t v;
  for (;;) {
    if (recv_all(fd, &v, sizeof v) < 0) break;
    v++;
    if (send(fd, &v, sizeof v, 0) != sizeof v) break;
  }
  close(fd);
  return NULL;
}

static void test_pingpong(void) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) die("socketpair");
  pthread_t t;
  pthread_create(&t, NULL, pong, &sv[1]);
  uint32_t v = 0;
  int rounds = 0;
  for (int i = 0; i < ROUNDS; i++) {
    v++;
    if (send(sv[0], &v, sizeof v, 0) != sizeof v) break;
    if (recv_all(sv[0], &v, sizeof v) < 0) break;
    rounds++;
  }
  shutdown(sv[0], SHUT_WR); /* pong sees EOF */
  char c;
  ssize_t eof = recv(sv[0], &c, 1, 0); /* and then we see its close */
  pthread_join(t, NULL);
  close(sv[0]);
  printf("ping-pong: %d rounds, counter %u, then EOF %zd\n", rounds, v, eof);
}

/* ---- 4. datagrams ---- */

static void* dgram_sender(void* arg) {
  int fd = *(int*)arg;
  msleep(40);
  char a[] = "first datagram";
  sendto(fd, a, sizeof a, 0, NULL, 0);
  char h[] = "second ", t[] = "datagram in two pieces";
  struct iovec iov[2] = {{h, strlen(h)}, {t, sizeof t}};
  struct msghdr m;
  memset(&m, 0, sizeof m);
  m.msg_iov = iov;
  m.msg_iovlen = 2;
  msleep(40);
  sendmsg(fd, &m, 0);
  return NULL;
}

static void test_dgram(void) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) < 0) die("socketpair dgram");
  pthread_t t;
  pthread_create(&t, NULL, dgram_sender, &sv[1]);
  char buf[64];
  ssize_t n = recvfrom(sv[0], buf, sizeof buf, 0, NULL, NULL);
  printf("recvfrom: %zd bytes \"%s\"\n", n, n > 0 ? buf : "");
  char p1[10], p2[64];
  memset(p2, 0, sizeof p2);
  struct iovec iov[2] = {{p1, sizeof p1}, {p2, sizeof p2}};
  struct msghdr m;
  memset(&m, 0, sizeof m);
  m.msg_iov = iov;
  m.msg_iovlen = 2;
  n = recvmsg(sv[0], &m, 0);
  printf("recvmsg: %zd bytes \"%.10s\" + \"%s\", flags %d\n", n, p1, p2, m.msg_flags);
  pthread_join(t, NULL);
  /* a datagram larger than the buffer is truncated: MSG_TRUNC */
  char big[100];
  memset(big, 'x', sizeof big);
  send(sv[1], big, sizeof big, 0);
  char small[10];
  struct iovec iov3 = {small, sizeof small};
  memset(&m, 0, sizeof m);
  m.msg_iov = &iov3;
  m.msg_iovlen = 1;
  n = recvmsg(sv[0], &m, 0);
  printf("recvmsg truncated: %zd bytes, MSG_TRUNC %s\n", n,
         m.msg_flags & MSG_TRUNC ? "set" : "clear");
  close(sv[0]);
  close(sv[1]);
}

/* ---- 5. O_NONBLOCK as the program sets it ---- */

static void* late_writer(void* arg) {
  int fd = *(int*)arg;
  msleep(100);
  write(fd, "late", 4);
  return NULL;
}

static void show_flags(const char* what, int fd) {
  int fl = fcntl(fd, F_GETFL);
  printf("  %s: F_GETFL 0x%x (access %s, O_NONBLOCK %s)\n", what, fl,
         (fl & O_ACCMODE) == O_RDONLY   ? "O_RDONLY"
         : (fl & O_ACCMODE) == O_WRONLY ? "O_WRONLY"
                                        : "O_RDWR",
         fl & O_NONBLOCK ? "set" : "clear");
}

static void test_nonblock(void) {
  printf("nonblocking pipes:\n");
  int p[2];
  if (pipe2(p, O_NONBLOCK) < 0) die("pipe2");
  show_flags("pipe2(O_NONBLOCK) read end", p[0]);
  show_flags("pipe2(O_NONBLOCK) write end", p[1]);
  char buf[16];
  long long t0, took;
  ssize_t n;
  int e0;
  QUICKEST_OF_10(took, 500 * MS, {
    t0 = now_ns();
    errno = 0;
    n = read(p[0], buf, sizeof buf);
    e0 = errno;
    took = now_ns() - t0;
  });
  printf("  read on empty: %zd %s %s\n", n, errname(e0), took < 500 * MS ? "at once" : "LATE");

  /* fill the write end until it refuses */
  static char block[4096];
  long total = 0;
  int writes = 0;
  t0 = now_ns();
  for (;;) {
    ssize_t w = write(p[1], block, sizeof block);
    if (w < 0) break;
    total += w;
    if (++writes > 100000) break;
  }
  int e = errno;
  took = now_ns() - t0;
  printf("  write until full: %s after %s bytes, %s\n", errname(e), total > 0 ? "some" : "NO",
         took < 500 * MS ? "at once" : "LATE");
  /* drain it again */
  while (read(p[0], block, sizeof block) > 0) {
  }

  /* clear O_NONBLOCK on the read end: reads block again */
  int fl = fcntl(p[0], F_GETFL);
  printf("  F_SETFL clear: %d\n", fcntl(p[0], F_SETFL, fl & ~O_NONBLOCK));
  show_flags("after clearing, read end", p[0]);
  show_flags("write end untouched", p[1]);
  fcntl(p[1], F_SETFL, fcntl(p[1], F_GETFL) & ~O_NONBLOCK);
  pthread_t t;
  pthread_create(&t, NULL, late_writer, &p[1]);
  t0 = now_ns();
  memset(buf, 0, sizeof buf);
  n = read(p[0], buf, sizeof buf);
  took = now_ns() - t0;
  pthread_join(t, NULL);
  printf("  blocking read: %zd \"%s\" %s\n", n, buf,
         took >= 90 * MS ? "waited for the writer" : "DID NOT WAIT");
  close(p[0]);
  close(p[1]);

  /* a plain pipe made non-blocking with F_SETFL; a dup shares the flag */
  if (pipe(p) < 0) die("pipe");
  show_flags("pipe() read end", p[0]);
  int d = dup(p[0]);
  printf("  F_SETFL set: %d\n", fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK));
  show_flags("after setting, read end", p[0]);
  show_flags("its dup", d);
  QUICKEST_OF_10(took, 500 * MS, {
    errno = 0;
    t0 = now_ns();
    n = read(d, buf, sizeof buf);
    e0 = errno;
    took = now_ns() - t0;
  });
  printf("  read on the dup: %zd %s %s\n", n, errname(e0), took < 500 * MS ? "at once" : "LATE");
  /* clear it through the dup; the original sees it cleared */
  fcntl(d, F_SETFL, fcntl(d, F_GETFL) & ~O_NONBLOCK);
  show_flags("cleared through the dup, read end", p[0]);
  pthread_create(&t, NULL, late_writer, &p[1]);
  t0 = now_ns();
  memset(buf, 0, sizeof buf);
  n = read(p[0], buf, sizeof buf);
  took = now_ns() - t0;
  pthread_join(t, NULL);
  printf("  blocking read: %zd \"%s\" %s\n", n, buf,
         took >= 90 * MS ? "waited for the writer" : "DID NOT WAIT");
  close(d);
  close(p[0]);
  close(p[1]);
}

/* ---- 6. dup2 / dup3 ---- */

static void* eof_writer(void* arg) {
  int fd = *(int*)arg;
  msleep(50);
  write(fd, "via dup", 7);
  msleep(50);
  close(fd);
  return NULL;
}

static void test_dups(void) {
  int p[2];
  if (pipe(p) < 0) die("pipe");
  /* move both ends to fixed high numbers */
  int r = dup2(p[0], 200), w = dup3(p[1], 201, O_CLOEXEC);
  printf("dup2 -> %d, dup3 -> %d\n", r, w);
  close(p[0]);
  close(p[1]);
  pthread_t t;
  pthread_create(&t, NULL, eof_writer, &w);
  char buf[32];
  memset(buf, 0, sizeof buf);
  ssize_t n = read(r, buf, sizeof buf);
  ssize_t eof = read(r, buf + 16, 16);
  pthread_join(t, NULL);
  printf("read through dup2: %zd \"%s\", then %zd (EOF)\n", n, buf, eof);
  /* dup2 onto an fd that is in use closes it first */
  int q[2];
  if (pipe(q) < 0) die("pipe");
  int r2 = dup2(q[0], r);
  write(q[1], "x", 1);
  n = read(r, buf, 1);
  printf("dup2 over an open fd: %d, read %zd\n", r2, n);
  close(r);
  close(q[0]);
  close(q[1]);
  errno = 0;
  n = read(r, buf, 1);
  printf("read after close: %zd %s\n", n, errname(errno));
  errno = 0;
  int bad = dup2(1000000, 202);
  printf("dup2 of a bad fd: %d %s\n", bad, errname(errno));
  /* writing to a pipe nobody reads: EPIPE once SIGPIPE is ignored */
  signal(SIGPIPE, SIG_IGN);
  if (pipe(q) < 0) die("pipe");
  close(q[0]);
  errno = 0;
  n = write(q[1], "x", 1);
  printf("write to a pipe without readers: %zd %s\n", n, errname(errno));
  close(q[1]);
}

int main(void) {
  test_bulk();
  test_vec();
  test_pingpong();
  test_dgram();
  test_nonblock();
  test_dups();
  printf("done\n");
  return 0;
}
