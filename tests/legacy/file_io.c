/* Regular files, file locks and the zero-copy calls, as a threaded file
 * server or backup tool uses them. It knows nothing of libgreen.
 *
 * usage: file_io copy|direct|locks|locks-fork|splice
 *   copy:   builds a 4 MiB file, then copies it with open/read/write/fsync and
 *           with pread/pwrite/fdatasync, again and again until a ticker thread
 *           (10 ms sleeps) has advanced 10 times (at most 100 copies, or
 *           more while it is under 10 s: a loaded machine wakes the ticker
 *           late but keeps copying), and
 *           says whether it did: natively it does; under libgreen with
 *           GREEN_FILE_IO=threadpool every file call parks, so it does too.
 *           Then the checks of the copies, readv/writev, O_APPEND, and the
 *           errors (ENOENT, EEXIST, EISDIR, EBADF, EINVAL).
 *   direct: the same without the ticker verdict (libgreen's default calls
 *           regular files directly, and the ticker cannot run meanwhile).
 *   locks:  flock and F_OFD_SETLKW on two open()s of one file (such locks
 *           conflict even within a process): a thread waits for the lock
 *           another thread holds for 300 ms after the wait began, and until
 *           the ticker advanced 10 times since (so natively the ticker always
 *           advanced, whatever the load); LOCK_NB
 *           and F_OFD_SETLK give EWOULDBLOCK/EAGAIN; bad fds and arguments.
 *   locks-fork: F_SETLKW against a child process from fork that holds a
 *           POSIX lock until told to exit (by a thread of the parent, 300 ms
 *           after the wait began and once the ticker advanced 10 times), and
 *           F_GETLK naming it.
 *   splice: sendfile into a socket whose reader starts 100 ms late, splice
 *           from an empty pipe and into a full socket, tee from an empty pipe,
 *           copy_file_range between files; their errors on the wrong fds. The
 *           reader or writer that ends each wait acts only once the ticker
 *           advanced 5 times (legacy.h, wait_for_ticks).
 * Output is deterministic: checksums, errno names and verdicts. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LEGACY_TICKER
#include "legacy.h"

#define MS 1000000LL
#define SIZE (4 << 20)
#define CHUNK (64 * 1024)

/* ---- files ---- */

static char dir[64];

static const char* path(const char* name) {
  static char p[4][128];
  static int next;
  char* s = p[next++ % 4];
  snprintf(s, 128, "%s/%s", dir, name);
  return s;
}

static uint64_t fnv(uint64_t h, const unsigned char* p, size_t n) {
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ULL;
  return h;
}

/* the checksum and size of a file, read 4 KiB at a time */
static uint64_t checksum(const char* p, long long* size) {
  int fd = open(p, O_RDONLY);
  if (fd < 0) return 0;
  uint64_t h = 14695981039346656037ULL;
  unsigned char buf[4096];
  *size = 0;
  for (;;) {
    ssize_t r = read(fd, buf, sizeof buf);
    if (r <= 0) break;
    h = fnv(h, buf, (size_t)r);
    *size += r;
  }
  close(fd);
  return h;
}

static void make_source(void) {
  int fd = open(path("src"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  static unsigned char buf[CHUNK];
  uint32_t x = 12345;
  for (int off = 0; off < SIZE; off += CHUNK) {
    for (int i = 0; i < CHUNK; i++) {
      x = x * 1103515245u + 12345u;
      buf[i] = (unsigned char)(x >> 16);
    }
    if (write(fd, buf, CHUNK) != CHUNK) {
      perror("write");
      exit(1);
    }
  }
  fsync(fd);
  close(fd);
}

/* read/write forwards, then fsync */
static int copy_rw(const char* from, const char* to) {
  int in = open(from, O_RDONLY);
  int out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (in < 0 || out < 0) return -1;
  static char buf[CHUNK];
  int ok = 1;
  for (;;) {
    ssize_t r = read(in, buf, sizeof buf);
    if (r < 0) ok = 0;
    if (r <= 0) break;
    if (write(out, buf, (size_t)r) != r) ok = 0;
  }
  if (fsync(out) != 0) ok = 0;
  close(in);
  close(out);
  return ok;
}

/* pread/pwrite backwards, in 32 KiB pieces, then fdatasync */
static int copy_positional(const char* from, const char* to) {
  int in = open(from, O_RDONLY);
  int out = open(to, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (in < 0 || out < 0) return -1;
  static char buf[CHUNK / 2];
  int ok = 1;
  for (off_t off = SIZE - (off_t)sizeof buf; off >= 0; off -= (off_t)sizeof buf) {
    if (pread(in, buf, sizeof buf, off) != (ssize_t)sizeof buf) ok = 0;
    if (pwrite(out, buf, sizeof buf, off) != (ssize_t)sizeof buf) ok = 0;
  }
  if (fdatasync(out) != 0) ok = 0;
  close(in);
  close(out);
  return ok;
}

static void mode_copy(int judge) {
  printf("copies of a 4 MiB file\n");
  make_source();
  long long size = 0;
  uint64_t src = checksum(path("src"), &size);
  printf("  source: %lld bytes, checksum %016llx\n", size, (unsigned long long)src);

  int before = atomic_load(&ticks);
  int ok = 1, copies = 0;
  long long t0 = now_ns();
  do {
    ok &= copy_rw(path("src"), path("a")) == 1;
    ok &= copy_positional(path("a"), path("b")) == 1;
    copies++;
  } while (copies < 1000 && (copies < 100 || now_ns() - t0 < 10000 * MS) &&
           atomic_load(&ticks) - before < 10);
  long long sa = 0, sb = 0;
  uint64_t ca = checksum(path("a"), &sa), cb = checksum(path("b"), &sb);
  printf("  every copy call succeeded: %s\n", yes(ok));
  printf("  read/write copy: %lld bytes, identical: %s\n", sa, yes(ca == src && sa == size));
  printf("  pread/pwrite copy: %lld bytes, identical: %s\n", sb, yes(cb == src && sb == size));
  if (judge)
    printf("  ticker advanced 10 times while the copies ran (at most 100 copies or 10 s): %s\n",
           yes(atomic_load(&ticks) - before >= 10));

  /* readv/writev, O_APPEND, lseek, fstat */
  int fd = open(path("v"), O_RDWR | O_CREAT | O_TRUNC, 0644);
  char a[] = "alpha ", b[] = "beta ", c[] = "gamma\n";
  struct iovec iov[3] = {{a, 6}, {b, 5}, {c, 6}};
  ssize_t w = writev(fd, iov, 3);
  lseek(fd, 0, SEEK_SET);
  char x[6], y[5], z[6];
  struct iovec riov[3] = {{x, 6}, {y, 5}, {z, 6}};
  ssize_t r = readv(fd, riov, 3);
  printf("  writev %zd, readv %zd, same bytes: %s\n", w, r,
         yes(memcmp(x, a, 6) == 0 && memcmp(y, b, 5) == 0 && memcmp(z, c, 6) == 0));
  char eof[8];
  printf("  read at EOF: %zd, pread past EOF: %zd\n", read(fd, eof, sizeof eof),
         pread(fd, eof, sizeof eof, 1000));
  close(fd);
  fd = open(path("v"), O_WRONLY | O_APPEND);
  lseek(fd, 0, SEEK_SET);
  write(fd, "appended\n", 9);
  struct stat st;
  fstat(fd, &st);
  printf("  O_APPEND write after lseek(0) lands at the end: size %lld\n", (long long)st.st_size);
  close(fd);

  /* errors */
  errno = 0;
  fd = open(path("missing"), O_RDONLY);
  printf("  open of a missing file: %d %s\n", fd, errname(errno));
  errno = 0;
  fd = open(path("v"), O_WRONLY | O_CREAT | O_EXCL, 0644);
  printf("  open O_CREAT|O_EXCL of an existing file: %d %s\n", fd, errname(errno));
  fd = open(dir, O_RDONLY | O_DIRECTORY);
  errno = 0;
  r = read(fd, eof, sizeof eof);
  printf("  read of a directory: %zd %s\n", r, errname(errno));
  close(fd);
  fd = open(path("v"), O_RDONLY);
  errno = 0;
  w = write(fd, "x", 1);
  printf("  write to an O_RDONLY fd: %zd %s\n", w, errname(errno));
  errno = 0;
  w = pwrite(fd, "x", 1, -1);
  printf("  pwrite at offset -1: %zd %s\n", w, errname(errno));
  close(fd);
  int p[2];
  if (pipe(p) < 0) exit(1);
  errno = 0;
  int s = fsync(p[0]);
  printf("  fsync of a pipe: %d %s\n", s, errname(errno));
  errno = 0;
  r = pread(p[0], eof, 1, 0);
  printf("  pread of a pipe: %zd %s\n", r, errname(errno));
  close(p[0]);
  close(p[1]);
  errno = 0;
  r = read(999, eof, 1);
  printf("  read of a closed fd: %zd %s\n", r, errname(errno));
  errno = 0;
  s = fsync(999);
  printf("  fsync of a closed fd: %d %s\n", s, errname(errno));
}

/* ---- locks ---- */

struct lock_try {
  int fd;
  int kind; /* 0: flock, 1: F_OFD_SETLKW, 2: F_SETLKW */
  int ret, err;
  long long took;
  atomic_int started; /* set once took's clock started */
};

static void fill_lock(struct flock* fl, short type) {
  memset(fl, 0, sizeof *fl);
  fl->l_type = type;
  fl->l_whence = SEEK_SET;
  fl->l_start = 0;
  fl->l_len = 0;
}

static void* lock_waiter(void* arg) {
  struct lock_try* t = arg;
  struct flock fl;
  fill_lock(&fl, F_WRLCK);
  long long t0 = now_ns();
  atomic_store(&t->started, 1);
  errno = 0;
  t->ret = t->kind == 0   ? flock(t->fd, LOCK_EX)
           : t->kind == 1 ? fcntl(t->fd, F_OFD_SETLKW, &fl)
                          : fcntl(t->fd, F_SETLKW, &fl);
  t->err = errno;
  t->took = now_ns() - t0;
  return NULL;
}

/* Ends a wait ms after the waiter began it and once the ticker advanced n
 * times since before, whatever the load: a lower bound on the wait's length
 * that always holds natively. */
static void release_later(struct lock_try* t, long ms, int before, int n) {
  for (int i = 0; i < 2000 && !atomic_load(&t->started); i++) msleep(5);
  msleep(ms);
  wait_for_ticks(before, n);
}

struct holder {
  int fd, kind;
  long ms;
  struct lock_try* waiter;
  int before;
};

static void* lock_holder(void* arg) {
  struct holder* h = arg;
  release_later(h->waiter, h->ms, h->before, 10);
  if (h->kind == 0) {
    flock(h->fd, LOCK_UN);
  } else {
    struct flock fl;
    fill_lock(&fl, F_UNLCK);
    fcntl(h->fd, F_OFD_SETLK, &fl);
  }
  return NULL;
}

static void mode_locks(void) {
  printf("file locks within one process\n");
  int a = open(path("lock"), O_RDWR | O_CREAT, 0644);
  int b = open(path("lock"), O_RDWR);
  const char* names[2] = {"flock(LOCK_EX)", "fcntl(F_OFD_SETLKW)"};
  for (int kind = 0; kind < 2; kind++) {
    struct flock fl;
    fill_lock(&fl, F_WRLCK);
    int held = kind == 0 ? flock(a, LOCK_EX) : fcntl(a, F_OFD_SETLK, &fl);
    /* the other open() conflicts at once without waiting */
    errno = 0;
    int nb = kind == 0 ? flock(b, LOCK_EX | LOCK_NB) : fcntl(b, F_OFD_SETLK, &fl);
    int nb_err = errno;
    printf("  %s held on one open(): %d; the other open() without waiting: %d %s\n",
           kind == 0 ? "flock" : "OFD lock", held, nb,
           nb_err == EWOULDBLOCK ? "EWOULDBLOCK/EAGAIN" : errname(nb_err));
    struct lock_try t = {b, kind, -2, 0, 0, 0};
    int before = atomic_load(&ticks);
    struct holder h = {a, kind, 300, &t, before};
    pthread_t tw, th;
    pthread_create(&th, NULL, lock_holder, &h);
    pthread_create(&tw, NULL, lock_waiter, &t);
    pthread_join(tw, NULL);
    pthread_join(th, NULL);
    printf("  %s on the other open() waited for the release: %d %s, after 300 ms: %s\n",
           names[kind], t.ret, errname(t.ret < 0 ? t.err : 0), yes(t.took >= 250 * MS));
    char what[64];
    snprintf(what, sizeof what, "%s waited", names[kind]);
    ticker_verdict(what, before, 10);
    if (kind == 0) {
      flock(b, LOCK_UN);
    } else {
      fill_lock(&fl, F_UNLCK);
      fcntl(b, F_OFD_SETLK, &fl);
    }
  }

  /* shared locks do not conflict; a conversion waits for the other reader */
  flock(a, LOCK_SH);
  int sh = flock(b, LOCK_SH | LOCK_NB);
  errno = 0;
  int up = flock(b, LOCK_EX | LOCK_NB);
  printf("  two LOCK_SH: %d; LOCK_EX|LOCK_NB while the other holds LOCK_SH: %d %s\n", sh, up,
         errno == EWOULDBLOCK ? "EWOULDBLOCK" : errname(errno));
  flock(a, LOCK_UN);
  flock(b, LOCK_UN);

  /* errors */
  errno = 0;
  int r = flock(999, LOCK_EX);
  printf("  flock of a closed fd: %d %s\n", r, errname(errno));
  errno = 0;
  r = flock(a, LOCK_NB);
  printf("  flock(LOCK_NB) without LOCK_SH, LOCK_EX or LOCK_UN: %d %s\n", r, errname(errno));
  struct flock fl;
  fill_lock(&fl, F_WRLCK);
  fl.l_pid = 1;
  errno = 0;
  r = fcntl(a, F_OFD_SETLKW, &fl);
  printf("  F_OFD_SETLKW with l_pid set: %d %s\n", r, errname(errno));
  fill_lock(&fl, F_WRLCK);
  errno = 0;
  r = fcntl(999, F_SETLKW, &fl);
  printf("  F_SETLKW on a closed fd: %d %s\n", r, errname(errno));
  int ro = open(path("lock"), O_RDONLY);
  errno = 0;
  r = fcntl(ro, F_SETLKW, &fl);
  printf("  F_SETLKW write lock on an O_RDONLY fd: %d %s\n", r, errname(errno));
  close(ro);
  close(a);
  close(b);
}

struct child_release {
  struct lock_try* waiter;
  int before, fd; /* a byte on fd tells the child to exit */
};

static void* child_releaser(void* arg) {
  struct child_release* c = arg;
  release_later(c->waiter, 300, c->before, 10);
  if (write(c->fd, "x", 1) != 1) perror("write");
  return NULL;
}

static void mode_locks_fork(void) {
  printf("a POSIX lock held by a child process\n");
  int fd = open(path("plock"), O_RDWR | O_CREAT, 0644);
  int ready[2], leave[2];
  if (pipe(ready) < 0 || pipe(leave) < 0) exit(1);
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    struct flock fl;
    fill_lock(&fl, F_WRLCK);
    fcntl(fd, F_SETLK, &fl);
    write(ready[1], "x", 1);
    char c;
    close(leave[1]); /* EOF, should the parent end first */
    if (read(leave[0], &c, 1) < 0) perror("read");
    _exit(0); /* releases the lock */
  }
  char c;
  read(ready[0], &c, 1);
  struct flock q;
  fill_lock(&q, F_WRLCK);
  fcntl(fd, F_GETLK, &q);
  printf("  F_GETLK names the child: %s, a write lock: %s\n", yes(q.l_pid == pid),
         yes(q.l_type == F_WRLCK));
  struct flock fl;
  fill_lock(&fl, F_WRLCK);
  errno = 0;
  int r = fcntl(fd, F_SETLK, &fl);
  printf("  F_SETLK without waiting: %d %s\n", r,
         errno == EAGAIN || errno == EACCES ? "EAGAIN/EACCES" : errname(errno));
  struct lock_try t = {fd, 2, -2, 0, 0, 0};
  int before = atomic_load(&ticks);
  struct child_release cr = {&t, before, leave[1]};
  pthread_t tw, tr;
  pthread_create(&tr, NULL, child_releaser, &cr);
  pthread_create(&tw, NULL, lock_waiter, &t);
  pthread_join(tw, NULL);
  pthread_join(tr, NULL);
  printf("  F_SETLKW waited for the child to exit: %d %s, after 300 ms: %s\n", t.ret,
         errname(t.ret < 0 ? t.err : 0), yes(t.took >= 200 * MS));
  ticker_verdict("F_SETLKW waited", before, 10);
  int status = 0;
  waitpid(pid, &status, 0);
  printf("  child exited with status %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  close(fd);
  close(ready[0]);
  close(ready[1]);
  close(leave[0]);
  close(leave[1]);
}

/* ---- sendfile, splice, tee, copy_file_range ---- */

struct sink {
  int fd;
  long ms;
  int before; /* it reads once the ticker advanced 5 times since */
  long long got;
  uint64_t sum;
};

static void* sink_main(void* arg) {
  struct sink* s = arg;
  msleep(s->ms);
  wait_for_ticks(s->before, 5);
  static char buf[CHUNK];
  s->sum = 14695981039346656037ULL;
  for (;;) {
    ssize_t r = read(s->fd, buf, sizeof buf);
    if (r <= 0) break;
    s->sum = fnv(s->sum, (unsigned char*)buf, (size_t)r);
    s->got += r;
  }
  return NULL;
}

struct feeder {
  int fd;
  long ms;
  const char* data;
  size_t len;
  int before; /* it writes once the ticker advanced 5 times since */
};

static void* feeder_main(void* arg) {
  struct feeder* f = arg;
  msleep(f->ms);
  wait_for_ticks(f->before, 5);
  write(f->fd, f->data, f->len);
  return NULL;
}

static void mode_splice(void) {
  printf("sendfile, splice, tee and copy_file_range\n");
  make_source();
  long long size = 0;
  uint64_t src = checksum(path("src"), &size);

  /* sendfile into a socket whose reader starts late: it must wait */
  int sv[2];
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  int before = atomic_load(&ticks);
  struct sink s = {sv[1], 100, before, 0, 0};
  pthread_t ts;
  pthread_create(&ts, NULL, sink_main, &s);
  int in = open(path("src"), O_RDONLY);
  off_t off = 0;
  long long sent = 0;
  int calls = 0;
  while (sent < SIZE && calls < 10000) {
    ssize_t r = sendfile(sv[0], in, &off, (size_t)(SIZE - sent));
    calls++;
    if (r <= 0) break;
    sent += r;
  }
  close(sv[0]);
  pthread_join(ts, NULL);
  close(sv[1]);
  printf("  sendfile of 4 MiB into a socket read late: sent %lld, received intact: %s\n", sent,
         yes(s.got == size && s.sum == src));
  ticker_verdict("sendfile blocked", before, 5);

  /* splice from an empty pipe into a socket: waits for the pipe's writer */
  int p[2];
  if (pipe(p) < 0) exit(1);
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  before = atomic_load(&ticks);
  struct feeder f = {p[1], 100, "spliced bytes", 13, before};
  pthread_t tf;
  pthread_create(&tf, NULL, feeder_main, &f);
  ssize_t r = splice(p[0], NULL, sv[0], NULL, 64, 0);
  pthread_join(tf, NULL);
  char buf[64] = "";
  ssize_t got = read(sv[1], buf, sizeof buf);
  printf("  splice from an empty pipe to a socket: %zd, the socket got \"%.*s\"\n", r, (int)got,
         buf);
  ticker_verdict("splice waited on the pipe", before, 5);

  /* splice from an empty socket into a pipe: waits for the socket's peer */
  before = atomic_load(&ticks);
  f = (struct feeder){sv[1], 100, "from the socket", 15, before};
  pthread_create(&tf, NULL, feeder_main, &f);
  r = splice(sv[0], NULL, p[1], NULL, 64, 0);
  pthread_join(tf, NULL);
  got = read(p[0], buf, sizeof buf);
  printf("  splice from an empty socket to a pipe: %zd, the pipe got \"%.*s\"\n", r, (int)got, buf);
  ticker_verdict("splice waited on the socket", before, 5);

  /* tee from an empty pipe: waits, then both pipes hold the bytes */
  int q[2];
  if (pipe(q) < 0) exit(1);
  before = atomic_load(&ticks);
  f = (struct feeder){p[1], 100, "teed", 4, before};
  pthread_create(&tf, NULL, feeder_main, &f);
  r = tee(p[0], q[1], 64, 0);
  pthread_join(tf, NULL);
  char b1[16] = "", b2[16] = "";
  ssize_t g1 = read(p[0], b1, sizeof b1), g2 = read(q[0], b2, sizeof b2);
  printf("  tee from an empty pipe: %zd, source still holds \"%.*s\", copy holds \"%.*s\"\n", r,
         (int)g1, b1, (int)g2, b2);
  ticker_verdict("tee waited on the pipe", before, 5);

  /* errors */
  errno = 0;
  r = splice(in, NULL, sv[0], NULL, 64, 0);
  printf("  splice from a file to a socket: %zd %s\n", r, errname(errno));
  errno = 0;
  r = tee(p[0], sv[0], 64, 0);
  printf("  tee into a socket: %zd %s\n", r, errname(errno));
  errno = 0;
  r = sendfile(sv[0], p[0], NULL, 64);
  printf("  sendfile from a pipe: %zd %s\n", r, errname(errno));
  errno = 0;
  r = splice(p[0], NULL, q[1], NULL, 64, SPLICE_F_NONBLOCK);
  printf("  splice SPLICE_F_NONBLOCK from an empty pipe: %zd %s\n", r, errname(errno));
  close(p[0]);
  close(p[1]);
  close(q[0]);
  close(q[1]);
  close(sv[0]);
  close(sv[1]);

  /* copy_file_range between regular files */
  int out = open(path("cfr"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  long long copied = 0;
  for (int i = 0; i < 10000 && copied < size; i++) {
    r = copy_file_range(in, NULL, out, NULL, (size_t)(size - copied), 0);
    if (r <= 0) break;
    copied += r;
  }
  close(out);
  long long csize = 0;
  uint64_t csum = checksum(path("cfr"), &csize);
  printf("  copy_file_range of 4 MiB: %lld bytes, identical: %s\n", copied,
         yes(csum == src && csize == size));
  if (pipe(p) < 0) exit(1);
  errno = 0;
  r = copy_file_range(p[0], NULL, in, NULL, 64, 0);
  printf("  copy_file_range from a pipe: %zd %s\n", r, errname(errno));
  errno = 0;
  r = copy_file_range(in, NULL, in, NULL, 64, 12345);
  printf("  copy_file_range with bad flags: %zd %s\n", r, errname(errno));
  close(p[0]);
  close(p[1]);
  close(in);
}

static void cleanup(void) {
  const char* names[] = {"src", "a", "b", "v", "lock", "plock", "cfr"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) unlink(path(names[i]));
  rmdir(dir);
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  const char* tmp = getenv("TMPDIR");
  snprintf(dir, sizeof dir, "%s/green-file-io-XXXXXX", tmp && strlen(tmp) < 30 ? tmp : "/tmp");
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  pthread_t ticker;
  pthread_create(&ticker, NULL, ticker_main, NULL);
  int known = 1;
  if (strcmp(mode, "copy") == 0)
    mode_copy(1);
  else if (strcmp(mode, "direct") == 0)
    mode_copy(0);
  else if (strcmp(mode, "locks") == 0)
    mode_locks();
  else if (strcmp(mode, "locks-fork") == 0)
    mode_locks_fork();
  else if (strcmp(mode, "splice") == 0)
    mode_splice();
  else
    known = 0;
  atomic_store(&ticker_stop, 1);
  pthread_join(ticker, NULL);
  cleanup();
  if (!known) {
    fprintf(stderr, "usage: file_io copy|direct|locks|locks-fork|splice\n");
    return 2;
  }
  printf("done\n");
  return 0;
}
