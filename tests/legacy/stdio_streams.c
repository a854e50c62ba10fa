/* stdio on sockets and pipes, as a 1995 thread-per-connection server writes
 * it: fdopen the connection, fgets a line, fputs it back, fflush. Also
 * stdin and stdout when they are pipes or sockets. It knows nothing of
 * libgreen.
 *
 * A ticker thread counts 10 ms sleeps throughout: where a stream call
 * blocks, the program says whether the ticker advanced meanwhile (natively
 * it does, with real threads; a green runtime must keep running others).
 * The thread that ends such a wait (a writer, a reader) acts only once the
 * ticker advanced (legacy.h, wait_for_ticks): natively the verdict then
 * holds whatever the load.
 *
 * Phase 1: a line echo server (one thread per connection, fdopen + fgets +
 *          fputs + fflush) and 1,000 client threads (plain read/write) all
 *          connected at once: "ready" is printed while every client has had
 *          its first line echoed and waits (2,000+ threads); then each sends
 *          two more lines in one write and reads them back.
 * Phase 2: buffering: a fully buffered socket stream sends nothing before
 *          fflush, a line-buffered one sends at the newline, an unbuffered
 *          one at once.
 * Phase 3: reads that wait: fgets, fread (fills the whole count across
 *          several writes, short at EOF), getline, fgetc/ungetc, feof and
 *          clearerr.
 * Phase 4: error flags: a write to a closed peer (EPIPE, ferror), a read
 *          from a write-only stream (EBADF), a stream whose fd was closed
 *          underneath (EBADF), fdopen of a bad fd or with the wrong mode.
 * Phase 5: pipes: fgets on an fdopen'd pipe, a 1 MiB fwrite into a pipe read
 *          slowly, stdin as a pipe and as a socket, stdout as a pipe.
 * Output is deterministic: counts, errno names and verdicts. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LEGACY_TICKER
#include "legacy.h"

#define MS 1000000LL

/* ---- helpers ---- */

/* Writes data ms later; with ticks, only once the ticker advanced that many
 * times since before; with after, only once that one has written. */
struct delayed {
  int fd;
  long ms;
  const char* data;
  size_t len;
  int close_after;
  int before, ticks;
  struct delayed* after;
  atomic_int done;
};

static void* delayed_main(void* arg) {
  struct delayed* d = arg;
  msleep(d->ms);
  if (d->ticks) wait_for_ticks(d->before, d->ticks);
  for (int i = 0; d->after && i < 2000 && !atomic_load(&d->after->done); i++) msleep(5);
  if (d->len) write(d->fd, d->data, d->len);
  if (d->close_after) close(d->fd);
  atomic_store(&d->done, 1);
  return NULL;
}

static pthread_t later(struct delayed* d) {
  pthread_t t;
  pthread_create(&t, NULL, delayed_main, d);
  return t;
}

static int read_line(int fd, char* buf, size_t cap) {
  size_t n = 0;
  while (n + 1 < cap) {
    ssize_t r = read(fd, buf + n, 1);
    if (r <= 0) return -1;
    if (buf[n++] == '\n') break;
  }
  buf[n] = 0;
  return (int)n;
}

static int read_full(int fd, char* buf, size_t len) {
  size_t got = 0;
  while (got < len) {
    ssize_t r = read(fd, buf + got, len - got);
    if (r <= 0) return -1;
    got += (size_t)r;
  }
  return 0;
}

/* ---- phase 1: the echo server and 1,000 clients ---- */

#define CLIENTS 1000

static pthread_attr_t small_stack;
static atomic_int streams_at_eof, stream_errors, lines_served;

static void* handler_main(void* arg) {
  int fd = (int)(long)arg;
  FILE* in = fdopen(fd, "r");
  FILE* out = fdopen(dup(fd), "w");
  if (!in || !out) {
    atomic_fetch_add(&stream_errors, 1);
    return NULL;
  }
  char line[256];
  while (fgets(line, sizeof line, in)) {
    fputs(line, out);
    fflush(out);
    atomic_fetch_add(&lines_served, 1);
  }
  if (feof(in) && !ferror(in)) atomic_fetch_add(&streams_at_eof, 1);
  if (ferror(in) || ferror(out)) atomic_fetch_add(&stream_errors, 1);
  fclose(out);
  fclose(in);
  return NULL;
}

struct acceptor {
  int listen_fd;
  int accepted;
};

static void* acceptor_main(void* arg) {
  struct acceptor* a = arg;
  static pthread_t handlers[CLIENTS];
  int n = 0;
  while (n < CLIENTS) {
    int fd = accept(a->listen_fd, NULL, NULL);
    if (fd < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (pthread_create(&handlers[n], &small_stack, handler_main, (void*)(long)fd) != 0) {
      close(fd);
      break;
    }
    n++;
  }
  a->accepted = n;
  for (int i = 0; i < n; i++) pthread_join(handlers[i], NULL);
  return NULL;
}

struct client {
  int port, id, arrived_fd, gate_fd;
  int ok;
};

static void* client_main(void* arg) {
  struct client* c = arg;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct timeval tv = {10, 0}; /* a broken server must not hang the program */
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  struct sockaddr_in sin;
  memset(&sin, 0, sizeof sin);
  sin.sin_family = AF_INET;
  sin.sin_port = htons((uint16_t)c->port);
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  char line[128], back[256], two[256];
  int ok = 0;
  if (connect(fd, (struct sockaddr*)&sin, sizeof sin) == 0) {
    int len = snprintf(line, sizeof line, "hello from client %d\n", c->id);
    if (write(fd, line, (size_t)len) == len && read_line(fd, back, sizeof back) == len &&
        strcmp(line, back) == 0)
      ok++;
  }
  write(c->arrived_fd, "x", 1);
  char g;
  while (read(c->gate_fd, &g, 1) > 0) {
  }
  int len = snprintf(two, sizeof two, "line two of %d\nline three of %d\n", c->id, c->id);
  if (ok && write(fd, two, (size_t)len) == len && read_full(fd, back, (size_t)len) == 0 &&
      memcmp(two, back, (size_t)len) == 0)
    ok += 2;
  close(fd);
  c->ok = ok;
  return NULL;
}

static void phase_server(void) {
  printf("phase 1: a line echo server on stdio streams, %d clients at once\n", CLIENTS);
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  int on = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  struct sockaddr_in sin;
  memset(&sin, 0, sizeof sin);
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t slen = sizeof sin;
  if (bind(lfd, (struct sockaddr*)&sin, sizeof sin) < 0 || listen(lfd, 4096) < 0 ||
      getsockname(lfd, (struct sockaddr*)&sin, &slen) < 0) {
    perror("listen");
    exit(1);
  }
  int before = atomic_load(&ticks);
  struct acceptor a = {lfd, 0};
  pthread_t acc;
  pthread_create(&acc, NULL, acceptor_main, &a);
  int arrived[2], gate[2];
  if (pipe(arrived) < 0 || pipe(gate) < 0) exit(1);
  static struct client clients[CLIENTS];
  static pthread_t tids[CLIENTS];
  int created = 0;
  for (int i = 0; i < CLIENTS; i++) {
    clients[i] = (struct client){ntohs(sin.sin_port), i, arrived[1], gate[0], 0};
    if (pthread_create(&tids[i], &small_stack, client_main, &clients[i]) != 0) break;
    created++;
  }
  char c;
  for (int got = 0; got < created;) {
    ssize_t r = read(arrived[0], &c, 1);
    if (r == 1) got++;
    if (r == 0 || (r < 0 && errno != EINTR)) break;
  }
  printf("ready\n");
  fflush(stdout);
  msleep(200); /* all 2,000 threads stay alive while the harness counts them */
  wait_for_ticks(before, 3);
  close(gate[1]);
  int first = 0, all = 0;
  for (int i = 0; i < created; i++) {
    pthread_join(tids[i], NULL);
    first += clients[i].ok >= 1;
    all += clients[i].ok == 3;
  }
  pthread_join(acc, NULL);
  close(lfd);
  close(arrived[0]);
  close(arrived[1]);
  close(gate[0]);
  printf("  clients created %d, first line echoed %d, all 3 lines echoed %d\n", created, first,
         all);
  printf("  server: accepted %d, lines served %d, streams ended at EOF %d, stream errors %d\n",
         a.accepted, atomic_load(&lines_served), atomic_load(&streams_at_eof),
         atomic_load(&stream_errors));
  ticker_verdict("the server's fgets and the clients waited", before, 3);
}

/* ---- phase 2: buffering ---- */

static int peer_has_data(int fd, int ms) {
  struct pollfd p = {fd, POLLIN, 0};
  return poll(&p, 1, ms) == 1;
}

static void phase_buffering(void) {
  printf("phase 2: buffering on a socket stream\n");
  int sv[2];
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  FILE* f = fdopen(sv[0], "w");
  char buf[64];
  int n = fprintf(f, "full %d\n", 1);
  int early = peer_has_data(sv[1], 50);
  int fl = fflush(f);
  int after = peer_has_data(sv[1], 1000);
  ssize_t r = read(sv[1], buf, sizeof buf);
  printf(
      "  fully buffered (the default): fprintf %d, sent before fflush: %s, fflush %d, then: %s "
      "(%zd bytes)\n",
      n, early ? "YES" : "no", fl, yes(after), r);

  setvbuf(f, NULL, _IOLBF, 0);
  fputs("no newline yet", f);
  early = peer_has_data(sv[1], 50);
  fputs(", now\n", f);
  after = peer_has_data(sv[1], 1000);
  r = read(sv[1], buf, sizeof buf);
  printf("  line buffered: sent before the newline: %s, at the newline: %s (%zd bytes)\n",
         early ? "YES" : "no", yes(after), r);

  setvbuf(f, NULL, _IONBF, 0);
  fputc('x', f);
  after = peer_has_data(sv[1], 1000);
  r = read(sv[1], buf, sizeof buf);
  printf("  unbuffered: fputc sent at once: %s (%zd bytes)\n", yes(after), r);
  fclose(f);
  close(sv[1]);
}

/* ---- phase 3: reads that wait ---- */

static void phase_reads(void) {
  printf("phase 3: reads that wait\n");
  int sv[2];
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  FILE* in = fdopen(sv[0], "r");
  char buf[128];

  int before = atomic_load(&ticks);
  struct delayed d = {sv[1], 100, "a line\n", 7, 0, before, 5, NULL, 0};
  pthread_t t = later(&d);
  char* s = fgets(buf, sizeof buf, in);
  pthread_join(t, NULL);
  printf("  fgets waited for the line: %s\n", yes(s && strcmp(buf, "a line\n") == 0));
  ticker_verdict("fgets blocked", before, 5);

  /* fread keeps reading until the count is complete */
  before = atomic_load(&ticks);
  d = (struct delayed){sv[1], 100, "0123456789", 10, 0, 0, 0, NULL, 0};
  struct delayed d2 = {sv[1], 250, "abcdefghij", 10, 0, before, 10, &d, 0};
  t = later(&d);
  pthread_t t2 = later(&d2);
  size_t n = fread(buf, 1, 20, in);
  pthread_join(t, NULL);
  pthread_join(t2, NULL);
  printf("  fread(20) across two writes 150 ms apart: %zu, \"%.20s\", feof %d\n", n, buf,
         feof(in) != 0);
  ticker_verdict("fread blocked", before, 10);

  /* short at EOF */
  d = (struct delayed){sv[1], 100, "last", 4, 1, 0, 0, NULL, 0};
  t = later(&d);
  n = fread(buf, 1, 20, in);
  pthread_join(t, NULL);
  printf("  fread(20) of 4 bytes then EOF: %zu, feof %d, ferror %d\n", n, feof(in) != 0,
         ferror(in) != 0);
  clearerr(in);
  int cleared = feof(in) != 0;
  s = fgets(buf, sizeof buf, in);
  printf("  after clearerr: feof %d; fgets at EOF again: %s, feof %d\n", cleared,
         s ? "a line" : "NULL", feof(in) != 0);
  fclose(in);

  /* getline, fgetc, ungetc */
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  in = fdopen(sv[0], "r");
  d = (struct delayed){sv[1], 100, "first line\nsecond", 17, 1, 0, 0, NULL, 0};
  t = later(&d);
  char* line = NULL;
  size_t cap = 0;
  ssize_t l1 = getline(&line, &cap, in);
  char first[32];
  snprintf(first, sizeof first, "%s", l1 > 0 ? line : "");
  first[strcspn(first, "\n")] = 0;
  ssize_t l2 = getline(&line, &cap, in);
  ssize_t l3 = getline(&line, &cap, in);
  pthread_join(t, NULL);
  printf("  getline: %zd \"%s\\n\", %zd \"%s\", then %zd with feof %d\n", l1, first, l2,
         l2 > 0 ? line : "", l3, feof(in) != 0);
  free(line);
  fclose(in);

  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  in = fdopen(sv[0], "r");
  d = (struct delayed){sv[1], 100, "xy", 2, 1, 0, 0, NULL, 0};
  t = later(&d);
  int c1 = fgetc(in);
  int u = ungetc('Q', in);
  int c2 = fgetc(in), c3 = fgetc(in), c4 = fgetc(in);
  pthread_join(t, NULL);
  printf("  fgetc/ungetc: %c, ungetc %c, then %c %c, then %s\n", c1, u, c2, c3,
         c4 == EOF ? "EOF" : "MORE");
  fclose(in);
}

/* ---- phase 4: error flags ---- */

static void phase_errors(void) {
  printf("phase 4: error flags\n");
  signal(SIGPIPE, SIG_IGN);
  int sv[2];
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  close(sv[1]);
  FILE* f = fdopen(sv[0], "w");
  int p = fputs("into the void\n", f);
  errno = 0;
  int fl = fflush(f);
  int e = errno;
  printf("  fputs %s, fflush to a closed peer: %s %s, ferror %d\n", p >= 0 ? "ok" : "EOF",
         fl == EOF ? "EOF" : "0", errname(e), ferror(f) != 0);
  clearerr(f);
  printf("  after clearerr: ferror %d\n", ferror(f) != 0);
  fclose(f);

  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  f = fdopen(sv[0], "w");
  char buf[64];
  errno = 0;
  char* s = fgets(buf, sizeof buf, f);
  e = errno;
  printf("  fgets on a write-only stream: %s %s, ferror %d\n", s ? "a line" : "NULL", errname(e),
         ferror(f) != 0);
  fclose(f);
  close(sv[1]);

  /* the fd closed underneath the stream */
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  FILE* in = fdopen(sv[0], "r");
  f = fdopen(dup(sv[0]), "w");
  close(fileno(in));
  errno = 0;
  s = fgets(buf, sizeof buf, in);
  e = errno;
  printf("  fgets after close(fileno()): %s %s, ferror %d\n", s ? "a line" : "NULL", errname(e),
         ferror(in) != 0);
  fputs("pending\n", f);
  close(fileno(f));
  errno = 0;
  fl = fflush(f);
  e = errno;
  printf("  fflush after close(fileno()): %s %s, ferror %d\n", fl == EOF ? "EOF" : "0", errname(e),
         ferror(f) != 0);
  fclose(in);
  fclose(f);
  close(sv[1]);

  errno = 0;
  f = fdopen(999, "r");
  e = errno;
  printf("  fdopen of a closed fd: %s %s\n", f ? "a stream" : "NULL", errname(e));
  int pp[2];
  if (pipe(pp) < 0) return;
  errno = 0;
  f = fdopen(pp[0], "w");
  e = errno;
  printf("  fdopen(\"w\") of a pipe's read end: %s %s\n", f ? "a stream" : "NULL", errname(e));
  close(pp[0]);
  close(pp[1]);
  signal(SIGPIPE, SIG_DFL);
}

/* ---- phase 5: pipes, stdin, stdout ---- */

#define BIG (1 << 20)

struct drain {
  int fd;
  long ms;
  size_t got;
  int before; /* it reads once the ticker advanced 5 times since */
};

static void* drain_main(void* arg) {
  struct drain* d = arg;
  msleep(d->ms);
  wait_for_ticks(d->before, 5);
  char buf[65536];
  for (;;) {
    ssize_t r = read(d->fd, buf, sizeof buf);
    if (r <= 0) break;
    d->got += (size_t)r;
  }
  return NULL;
}

static void phase_pipes(void) {
  printf("phase 5: pipes, stdin and stdout\n");
  int p[2];
  if (pipe(p) < 0) exit(1);
  FILE* in = fdopen(p[0], "r");
  int before = atomic_load(&ticks);
  struct delayed d = {p[1], 100, "through a pipe\n", 15, 1, before, 5, NULL, 0};
  pthread_t t = later(&d);
  char buf[128];
  char* s = fgets(buf, sizeof buf, in);
  pthread_join(t, NULL);
  printf("  fgets on a pipe: %s, then %s\n", yes(s && strcmp(buf, "through a pipe\n") == 0),
         fgets(buf, sizeof buf, in) ? "MORE" : "EOF");
  ticker_verdict("fgets blocked on the pipe", before, 5);
  fclose(in);

  if (pipe(p) < 0) exit(1);
  FILE* out = fdopen(p[1], "w");
  before = atomic_load(&ticks);
  struct drain dr = {p[0], 100, 0, before};
  pthread_t td;
  pthread_create(&td, NULL, drain_main, &dr);
  char* data = calloc(1, BIG);
  size_t w = fwrite(data, 1, BIG, out);
  int fl = fflush(out);
  fclose(out);
  pthread_join(td, NULL);
  close(p[0]);
  free(data);
  printf("  fwrite of 1 MiB into a pipe read after 100 ms: %zu, fflush %d, reader got all: %s\n", w,
         fl, yes(dr.got == BIG));
  ticker_verdict("fwrite blocked on the pipe", before, 5);

  /* stdin as a pipe, then as a socket */
  int saved_in = dup(0);
  for (int i = 0; i < 2; i++) {
    int q[2];
    if (i == 0 ? pipe(q) < 0 : socketpair(AF_UNIX, SOCK_STREAM, 0, q) < 0) exit(1);
    dup2(q[0], 0);
    close(q[0]);
    clearerr(stdin);
    before = atomic_load(&ticks);
    d = (struct delayed){q[1], 100, "typed line\nsecond\n", 18, 1, before, 5, NULL, 0};
    t = later(&d);
    char a[64] = "", b[64] = "";
    char* r1 = fgets(a, sizeof a, stdin);
    char* r2 = fgets(b, sizeof b, stdin);
    char* r3 = fgets(b, sizeof b, stdin);
    pthread_join(t, NULL);
    printf("  stdin as a %s: fgets %s, %s, then %s with feof %d\n", i ? "socket" : "pipe",
           yes(r1 && strcmp(a, "typed line\n") == 0), yes(r2 && strcmp(b, "second\n") == 0),
           r3 ? "MORE" : "NULL", feof(stdin) != 0);
    ticker_verdict("fgets(stdin) blocked", before, 5);
  }
  dup2(saved_in, 0);
  close(saved_in);
  clearerr(stdin);

  /* stdout as a pipe read after 100 ms */
  fflush(stdout);
  int saved_out = dup(1);
  if (pipe(p) < 0) exit(1);
  before = atomic_load(&ticks);
  dr = (struct drain){p[0], 100, 0, before};
  pthread_create(&td, NULL, drain_main, &dr);
  dup2(p[1], 1);
  close(p[1]);
  int printed = 0;
  for (int i = 0; i < 4096; i++)
    printed += printf("line %04d of stdout into a pipe .........\n", i);
  int sfl = fflush(stdout);
  dup2(saved_out, 1);
  close(saved_out);
  pthread_join(td, NULL);
  close(p[0]);
  printf("  printf of %d bytes to stdout as a pipe: fflush %d, reader got all: %s\n", printed, sfl,
         yes(dr.got == (size_t)printed));
  ticker_verdict("printf and fflush blocked on stdout", before, 5);
}

int main(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  pthread_attr_init(&small_stack);
  pthread_attr_setstacksize(&small_stack, 64 * 1024);
  pthread_t ticker;
  pthread_create(&ticker, NULL, ticker_main, NULL);
  phase_server();
  phase_buffering();
  phase_reads();
  phase_errors();
  phase_pipes();
  atomic_store(&ticker_stop, 1);
  pthread_join(ticker, NULL);
  printf("done\n");
  return 0;
}
