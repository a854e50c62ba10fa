/* loadclient: a single-threaded, epoll-based, closed-loop echo load generator.
 *
 * N connections to 127.0.0.1:PORT each send one message, wait for the whole
 * echo (checking every byte), record the round-trip latency and send the next
 * message. Three phases, all bounded in time:
 *
 *   connect  Connections are opened at most --connect-rate per 10 ms tick, with
 *            at most --max-pending of them not yet proven, so a server that
 *            accepts slowly (one thread per connection, backlog 4096) is never
 *            flooded. A connection is proven ("connected") once one message
 *            has come back intact; it then waits until all are proven. Refused,
 *            timed-out, reset or stalled attempts are retried with exponential
 *            backoff, a bounded number of times. The phase ends when all are
 *            proven, or fails after --connect-timeout seconds (default 60).
 *   warmup   All connections run the closed loop; nothing is recorded.
 *   measure  Same loop for --duration seconds; completed messages and their
 *            latencies are recorded.
 *
 * It then prints one JSON line on stdout and exits (0 on success, 1 if not
 * every connection could be made or nothing was measured, 2 on bad usage).
 * The JSON has latency percentiles (p50, p90, p99, p99.9, max).
 *
 * With --hold SECONDS it stops after the connect phase instead: it prints
 * "connected N SECONDS" on stdout and keeps every connection open and idle
 * until stdin reaches end of file or SECONDS have passed (for measuring the
 * memory of idle connections, bench/idle_bench.py).
 * Only loopback addresses (127.0.0.0/8) are accepted. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 10000
#define MAX_MSG 65536
#define TICK_NS 10000000LL /* 10 ms */
#define MAX_ATTEMPTS 12
#define ATTEMPT_TIMEOUT_NS (15LL * 1000000000LL) /* one attempt: connect + first echo */
#define BACKOFF_MIN_NS (20LL * 1000000LL)
#define BACKOFF_MAX_NS (2LL * 1000000000LL)

/* ---------------------------------------------------------------- options */

static struct {
  int port;
  const char* host;
  int conns;
  int msg_size;
  double duration, warmup, connect_timeout;
  int connect_rate; /* per 10 ms tick */
  int max_pending;
  int verbose;
  double hold; /* > 0: hold the connections idle instead of running the loop */
} opt = {0, "127.0.0.1", 100, 64, 5.0, 1.0, 60.0, 50, 1000, 0, 0};

static void usage(FILE* f) {
  fprintf(f,
          "usage: loadclient --port PORT [options]\n"
          "  --port PORT            server port on 127.0.0.1 (required)\n"
          "  --host ADDR            loopback address, 127.0.0.0/8 only (default 127.0.0.1)\n"
          "  --conns N              concurrent connections, 1..%d (default 100)\n"
          "  --msg-size BYTES       message size, 1..%d (default 64)\n"
          "  --duration SECONDS     measured time (default 5)\n"
          "  --warmup SECONDS       unmeasured time before it (default 1)\n"
          "  --connect-rate N       connections opened per 10 ms tick (default 50)\n"
          "  --max-pending N        connections opened but not yet proven, at most (default 1000)\n"
          "  --connect-timeout S    give up if not all connected after S seconds (default 60, max "
          "600)\n"
          "  --hold SECONDS         after connecting, print \"connected N S\" and hold the\n"
          "                         connections idle until stdin closes or SECONDS pass\n"
          "  --verbose              progress on stderr\n",
          MAX_CONNS, MAX_MSG);
}

static double parse_num(const char* name, const char* s, double lo, double hi) {
  char* end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end || !(v >= lo && v <= hi)) {
    fprintf(stderr, "loadclient: --%s must be a number in [%g, %g], got '%s'\n", name, lo, hi, s);
    exit(2);
  }
  return v;
}

static void parse_args(int argc, char** argv) {
  static const struct option longopts[] = {{"port", required_argument, 0, 'p'},
                                           {"host", required_argument, 0, 'H'},
                                           {"conns", required_argument, 0, 'c'},
                                           {"msg-size", required_argument, 0, 's'},
                                           {"duration", required_argument, 0, 'd'},
                                           {"warmup", required_argument, 0, 'w'},
                                           {"connect-rate", required_argument, 0, 'r'},
                                           {"max-pending", required_argument, 0, 'm'},
                                           {"connect-timeout", required_argument, 0, 't'},
                                           {"hold", required_argument, 0, 'o'},
                                           {"verbose", no_argument, 0, 'v'},
                                           {"help", no_argument, 0, 'h'},
                                           {0, 0, 0, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "p:H:c:s:d:w:r:m:t:o:vh", longopts, NULL)) != -1) {
    switch (c) {
      case 'p':
        opt.port = (int)parse_num("port", optarg, 1, 65535);
        break;
      case 'H':
        opt.host = optarg;
        break;
      case 'c':
        opt.conns = (int)parse_num("conns", optarg, 1, MAX_CONNS);
        break;
      case 's':
        opt.msg_size = (int)parse_num("msg-size", optarg, 1, MAX_MSG);
        break;
      case 'd':
        opt.duration = parse_num("duration", optarg, 0.1, 3600);
        break;
      case 'w':
        opt.warmup = parse_num("warmup", optarg, 0, 3600);
        break;
      case 'r':
        opt.connect_rate = (int)parse_num("connect-rate", optarg, 1, MAX_CONNS);
        break;
      case 'm':
        opt.max_pending = (int)parse_num("max-pending", optarg, 1, MAX_CONNS);
        break;
      case 't':
        opt.connect_timeout = parse_num("connect-timeout", optarg, 1, 600);
        break;
      case 'o':
        opt.hold = parse_num("hold", optarg, 0.1, 3600);
        break;
      case 'v':
        opt.verbose = 1;
        break;
      case 'h':
        usage(stdout);
        exit(0);
      default:
        usage(stderr);
        exit(2);
    }
  }
  if (optind < argc) {
    fprintf(stderr, "loadclient: unexpected argument '%s'\n", argv[optind]);
    usage(stderr);
    exit(2);
  }
  if (opt.port == 0) {
    fprintf(stderr, "loadclient: --port is required\n");
    usage(stderr);
    exit(2);
  }
}

/* ------------------------------------------------------------------ clock */

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t t_start; /* program start, for progress messages */

static void vlog(const char* fmt, ...) {
  if (!opt.verbose) return;
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "loadclient [%7.3f s] ", (double)(now_ns() - t_start) / 1e9);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

/* -------------------------------------------------- latency histogram (ns)
 * Log-linear buckets: exact below 128 ns, then 64 sub-buckets per power of
 * two (relative error under 1.6%), up to 2^46 ns. */

#define SUB_BITS 6
#define SUB (1 << SUB_BITS)
#define NBUCKETS (2 * SUB + 40 * SUB)
static uint64_t hist[NBUCKETS];
static uint64_t hist_count, hist_max;

static int bucket_of(uint64_t v) {
  if (v < 2 * SUB) return (int)v;
  int msb = 63 - __builtin_clzll(v);
  int shift = msb - SUB_BITS;
  int idx = 2 * SUB + (shift - 1) * SUB + (int)((v >> shift) - SUB);
  return idx < NBUCKETS ? idx : NBUCKETS - 1;
}

static double bucket_mid(int idx) {
  if (idx < 2 * SUB) return idx;
  int shift = (idx - 2 * SUB) / SUB + 1;
  uint64_t top = (uint64_t)((idx - 2 * SUB) % SUB + SUB);
  return (double)(top << shift) + (double)(1ULL << shift) / 2.0;
}

static void hist_add(uint64_t v) {
  hist[bucket_of(v)]++;
  hist_count++;
  if (v > hist_max) hist_max = v;
}

static double hist_quantile(double q) {
  if (!hist_count) return 0;
  uint64_t rank = (uint64_t)(q * (double)hist_count);
  if (rank >= hist_count) rank = hist_count - 1;
  uint64_t seen = 0;
  for (int i = 0; i < NBUCKETS; i++) {
    seen += hist[i];
    if (seen > rank) return bucket_mid(i);
  }
  return (double)hist_max;
}

/* ------------------------------------------------------------ connections */

enum cstate {
  C_NEW,        /* never started */
  C_BACKOFF,    /* waiting to retry at retry_at */
  C_CONNECTING, /* non-blocking connect in progress */
  C_PROVING,    /* connected, first message in flight */
  C_PARKED,     /* proven; waiting for the others */
  C_RUNNING,    /* closed loop */
  C_FAILED,     /* out of attempts */
  C_DEAD,       /* error after it was proven */
};

struct conn {
  int fd;
  enum cstate state;
  int attempts;
  int send_off, recv_off; /* progress through the current message */
  uint32_t seq;
  int want_out; /* EPOLLOUT registered */
  int64_t t_send, t_attempt, retry_at;
};

static struct conn* conns;
static int epfd;
static struct sockaddr_in server_addr;
static unsigned char* sendbuf; /* current message, rebuilt per (conn, seq) */
static unsigned char recvbuf[MAX_MSG];

static int n_proven, n_failed, n_pending; /* pending = CONNECTING + PROVING */
static uint64_t errors_mismatch, errors_reset, retries;
static int last_errno_seen;

enum phase { P_CONNECT, P_WARMUP, P_MEASURE, P_DONE };
static enum phase phase = P_CONNECT;
static uint64_t measured_msgs;
static int64_t measure_start, measure_end;

/* Message content depends on the connection, the sequence number and the byte
 * position, so an echo from the wrong connection, a stale echo or a shifted
 * byte all show up as mismatches. */
static inline unsigned char msg_byte(int ci, uint32_t seq, int i) {
  uint32_t x = (uint32_t)ci * 2654435761u ^ seq * 40503u ^ (uint32_t)i * 2246822519u;
  x ^= x >> 13;
  return (unsigned char)(x ^ (x >> 7));
}

/* Every message is one line (lower-case letters, then a newline), so a
 * line-oriented server (fgets/fputs) echoes it as a byte-oriented one does. */
static inline unsigned char msg_char(int ci, uint32_t seq, int i) {
  return i == opt.msg_size - 1 ? '\n' : (unsigned char)('a' + msg_byte(ci, seq, i) % 26);
}

static void fill_msg(int ci, uint32_t seq) {
  for (int i = 0; i < opt.msg_size; i++) sendbuf[i] = msg_char(ci, seq, i);
}

static void ep_set(struct conn* c, int ci, int want_out) {
  struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0), .data.u32 = (uint32_t)ci};
  if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0) {
    perror("loadclient: epoll_ctl MOD");
    exit(1);
  }
  c->want_out = want_out;
}

static int retryable(int err) {
  return err == ECONNREFUSED || err == EAGAIN || err == ETIMEDOUT || err == ECONNRESET ||
         err == EADDRNOTAVAIL || err == EPIPE || err == ECONNABORTED || err == EINTR;
}

static void close_fd(struct conn* c) {
  if (c->fd >= 0) {
    close(c->fd); /* also removes it from the epoll set */
    c->fd = -1;
  }
}

/* A connection attempt failed before the connection was proven. */
static void attempt_failed(struct conn* c, int err, int64_t now) {
  if (c->state == C_CONNECTING || c->state == C_PROVING) n_pending--;
  close_fd(c);
  last_errno_seen = err;
  if (c->attempts >= MAX_ATTEMPTS || !retryable(err)) {
    c->state = C_FAILED;
    n_failed++;
    vlog("connection gave up after %d attempts: %s", c->attempts, strerror(err));
    return;
  }
  int64_t backoff = BACKOFF_MIN_NS << (c->attempts - 1 < 10 ? c->attempts - 1 : 10);
  if (backoff > BACKOFF_MAX_NS) backoff = BACKOFF_MAX_NS;
  backoff += (int64_t)(rand() % 1000) * (backoff / 4000); /* jitter up to 25% */
  c->state = C_BACKOFF;
  c->retry_at = now + backoff;
  retries++;
}

/* After a connection was proven: a reset or a mismatch ends it for good. */
static void conn_dead(struct conn* c) {
  close_fd(c);
  c->state = C_DEAD;
}

static int start_send(struct conn* c, int ci, int64_t now);

static int do_send(struct conn* c, int ci) {
  /* sendbuf may hold another connection's message: rebuild it. */
  fill_msg(ci, c->seq);
  while (c->send_off < opt.msg_size) {
    ssize_t w =
        send(c->fd, sendbuf + c->send_off, (size_t)(opt.msg_size - c->send_off), MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        if (!c->want_out) ep_set(c, ci, 1);
        return 0;
      }
      return -errno;
    }
    c->send_off += (int)w;
  }
  if (c->want_out) ep_set(c, ci, 0);
  return 0;
}

static int start_send(struct conn* c, int ci, int64_t now) {
  c->seq++;
  c->send_off = 0;
  c->recv_off = 0;
  c->t_send = now;
  return do_send(c, ci);
}

static void start_connect(struct conn* c, int ci, int64_t now) {
  c->attempts++;
  c->t_attempt = now;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    fprintf(stderr, "loadclient: socket: %s\n", strerror(errno));
    exit(1);
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->fd = fd;
  c->state = C_CONNECTING;
  n_pending++;
  int r = connect(fd, (struct sockaddr*)&server_addr, sizeof server_addr);
  if (r < 0 && errno != EINPROGRESS) {
    attempt_failed(c, errno, now);
    return;
  }
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = (uint32_t)ci};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
    perror("loadclient: epoll_ctl ADD");
    exit(1);
  }
  c->want_out = 1;
}

/* The connect completed (writable or error). */
static void on_connected(struct conn* c, int ci, int64_t now) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
  if (err) {
    attempt_failed(c, err, now);
    return;
  }
  c->state = C_PROVING;
  c->seq = 0;
  int r = start_send(c, ci, now);
  if (r < 0) attempt_failed(c, -r, now);
}

/* A whole message came back. */
static void on_echo(struct conn* c, int ci, int64_t now) {
  if (c->state == C_PROVING) {
    c->state = C_PARKED;
    n_pending--;
    n_proven++;
    return; /* stays silent until every connection is proven */
  }
  /* Every echo completed inside the window counts (also one sent just before
   * it: with N connections, dropping those would undercount by N). */
  if (phase == P_MEASURE && now <= measure_end) {
    hist_add((uint64_t)(now - c->t_send));
    measured_msgs++;
  }
  int r = start_send(c, ci, now);
  if (r < 0) {
    errors_reset++;
    conn_dead(c);
  }
}

static void on_readable(struct conn* c, int ci, int64_t now) {
  for (;;) {
    int want = opt.msg_size - c->recv_off;
    ssize_t n = recv(c->fd, recvbuf, (size_t)(want > 0 ? want : 1), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return;
      if (c->state == C_PROVING)
        attempt_failed(c, errno, now);
      else {
        errors_reset++;
        conn_dead(c);
      }
      return;
    }
    if (n == 0) { /* EOF: the server closed on us */
      if (c->state == C_PROVING)
        attempt_failed(c, ECONNRESET, now);
      else {
        errors_reset++;
        conn_dead(c);
      }
      return;
    }
    if (want <= 0 || c->send_off < c->recv_off + n) {
      /* Bytes we never sent (or not yet): the stream is out of step. */
      errors_mismatch++;
      if (c->state == C_PROVING) {
        n_pending--;
        c->state = C_FAILED;
        n_failed++;
        close_fd(c);
      } else
        conn_dead(c);
      return;
    }
    for (ssize_t i = 0; i < n; i++) {
      if (recvbuf[i] != msg_char(ci, c->seq, c->recv_off + (int)i)) {
        errors_mismatch++;
        if (c->state == C_PROVING) {
          n_pending--;
          c->state = C_FAILED;
          n_failed++;
          close_fd(c);
        } else
          conn_dead(c);
        return;
      }
    }
    c->recv_off += (int)n;
    if (c->recv_off == opt.msg_size) {
      /* One message in flight per connection: nothing more can be there
       * until the server echoes the next one, so do not read again. */
      on_echo(c, ci, now);
      return;
    }
  }
}

static void on_event(int ci, uint32_t events, int64_t now) {
  struct conn* c = &conns[ci];
  if (c->fd < 0) return; /* closed earlier in this batch */
  switch (c->state) {
    case C_CONNECTING:
      on_connected(c, ci, now);
      break;
    case C_PROVING:
    case C_PARKED:
    case C_RUNNING:
      if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(c, ci, now);
      if (c->fd >= 0 && (events & EPOLLOUT) && c->send_off < opt.msg_size) {
        int r = do_send(c, ci);
        if (r < 0) {
          if (c->state == C_PROVING)
            attempt_failed(c, -r, now);
          else {
            errors_reset++;
            conn_dead(c);
          }
        }
      }
      break;
    default:
      break;
  }
}

/* ------------------------------------------------------------------- main */

/* --hold: every connection is proven (one echo each); report and keep them
 * open without traffic until stdin closes or the time is up. */
static int hold_idle(double connect_s) {
  printf("connected %d %.3f\n", n_proven, connect_s);
  fflush(stdout);
  int64_t end = now_ns() + (int64_t)(opt.hold * 1e9);
  struct pollfd in = {.fd = 0, .events = POLLIN};
  char buf[256];
  for (int64_t now = now_ns(); now < end; now = now_ns()) {
    int r = poll(&in, 1, (int)((end - now) / 1000000) + 1);
    if (r < 0 && errno != EINTR) break;
    if (r > 0 && read(0, buf, sizeof buf) <= 0) break; /* EOF (or error): done */
  }
  return 0;
}

static void raise_nofile(int need) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) < 0) return;
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur >= (rlim_t)need) return;
  if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= (rlim_t)need) {
    rl.rlim_cur = (rlim_t)need;
  } else {
    rl.rlim_cur = rl.rlim_max = (rlim_t)need; /* needs privilege */
  }
  if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
    struct rlimit cur;
    getrlimit(RLIMIT_NOFILE, &cur);
    fprintf(stderr, "loadclient: need %d open files but RLIMIT_NOFILE is %llu (hard %llu): %s\n",
            need, (unsigned long long)cur.rlim_cur, (unsigned long long)cur.rlim_max,
            strerror(errno));
    exit(1);
  }
}

static void print_result(int ok, const char* error, double connect_s) {
  double secs = (double)(measure_end - measure_start) / 1e9;
  printf(
      "{\"ok\": %s, \"conns_requested\": %d, \"conns_connected\": %d, \"connect_seconds\": %.3f, "
      "\"warmup_seconds\": %.3f, \"duration_seconds\": %.3f, \"msg_size\": %d, "
      "\"messages\": %llu, \"msgs_per_sec\": %.1f, \"p50_us\": %.1f, \"p90_us\": %.1f, "
      "\"p99_us\": %.1f, \"p999_us\": %.1f, \"max_us\": %.1f, \"errors\": %llu, "
      "\"mismatches\": %llu, \"resets\": %llu, \"connect_retries\": %llu, \"connect_failures\": %d",
      ok ? "true" : "false", opt.conns, n_proven, connect_s, opt.warmup, ok ? secs : 0.0,
      opt.msg_size, (unsigned long long)measured_msgs,
      ok && secs > 0 ? (double)measured_msgs / secs : 0.0, hist_quantile(0.50) / 1e3,
      hist_quantile(0.90) / 1e3, hist_quantile(0.99) / 1e3, hist_quantile(0.999) / 1e3,
      (double)hist_max / 1e3, (unsigned long long)(errors_mismatch + errors_reset),
      (unsigned long long)errors_mismatch, (unsigned long long)errors_reset,
      (unsigned long long)retries, n_failed);
  if (error) {
    printf(", \"error\": \"");
    for (const char* p = error; *p; p++) {
      if (*p == '"' || *p == '\\') putchar('\\');
      putchar(*p);
    }
    printf("\"");
  }
  printf("}\n");
  fflush(stdout);
}

int main(int argc, char** argv) {
  t_start = now_ns();
  parse_args(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  srand((unsigned)getpid());

  struct in_addr a;
  if (inet_pton(AF_INET, opt.host, &a) != 1) {
    fprintf(stderr, "loadclient: --host must be a numeric IPv4 loopback address, got '%s'\n",
            opt.host);
    return 2;
  }
  if ((ntohl(a.s_addr) >> 24) != 127) {
    fprintf(stderr, "loadclient: refusing --host %s: only 127.0.0.0/8 (loopback) is allowed\n",
            opt.host);
    return 2;
  }
  server_addr.sin_family = AF_INET;
  server_addr.sin_port = htons((uint16_t)opt.port);
  server_addr.sin_addr = a;

  raise_nofile(opt.conns + 64);
  conns = calloc((size_t)opt.conns, sizeof *conns);
  sendbuf = malloc((size_t)opt.msg_size);
  if (!conns || !sendbuf) {
    fprintf(stderr, "loadclient: out of memory\n");
    return 1;
  }
  for (int i = 0; i < opt.conns; i++) conns[i].fd = -1;
  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) {
    perror("loadclient: epoll_create1");
    return 1;
  }

  enum { MAXEV = 1024 };
  static struct epoll_event evs[MAXEV];
  int64_t connect_deadline = t_start + (int64_t)(opt.connect_timeout * 1e9);
  int64_t next_tick = t_start, next_progress = t_start + 1000000000LL;
  int next_new = 0; /* conns[next_new..] never started */
  int64_t warmup_end = 0;
  double connect_s = 0;
  vlog("connecting %d to %s:%d, %d per 10 ms tick, at most %d pending", opt.conns, opt.host,
       opt.port, opt.connect_rate, opt.max_pending);

  while (phase != P_DONE) {
    int64_t now = now_ns();
    int64_t wake;
    if (phase == P_CONNECT) {
      if (now >= next_tick) {
        /* Start or restart up to connect_rate connections, keeping pending bounded.
         * Due retries first, then new ones. Also time out stalled attempts. */
        int budget = opt.connect_rate;
        for (int i = 0; i < next_new && budget > 0 && n_pending < opt.max_pending; i++) {
          struct conn* c = &conns[i];
          if (c->state == C_BACKOFF && c->retry_at <= now) {
            start_connect(c, i, now);
            budget--;
          }
        }
        while (next_new < opt.conns && budget > 0 && n_pending < opt.max_pending) {
          start_connect(&conns[next_new], next_new, now);
          next_new++;
          budget--;
        }
        for (int i = 0; i < next_new; i++) {
          struct conn* c = &conns[i];
          if ((c->state == C_CONNECTING || c->state == C_PROVING) &&
              now - c->t_attempt > ATTEMPT_TIMEOUT_NS)
            attempt_failed(c, ETIMEDOUT, now);
        }
        next_tick += TICK_NS;
        if (next_tick < now) next_tick = now + TICK_NS;
      }
      if (now >= next_progress) {
        vlog("%d proven, %d pending, %d failed, %llu retries", n_proven, n_pending, n_failed,
             (unsigned long long)retries);
        next_progress += 1000000000LL;
      }
      if (n_proven + n_failed == opt.conns || now >= connect_deadline) {
        connect_s = (double)(now - t_start) / 1e9;
        if (n_proven < opt.conns) {
          char msg[256];
          snprintf(
              msg, sizeof msg,
              "only %d of %d connections made within %.1f s (%d gave up, %d still connecting or "
              "waiting for their first echo, %d waiting to retry; last error: %s)",
              n_proven, opt.conns, connect_s, n_failed, n_pending,
              opt.conns - n_proven - n_failed - n_pending,
              last_errno_seen ? strerror(last_errno_seen) : "none");
          fprintf(stderr, "loadclient: %s\n", msg);
          measure_start = measure_end = 0;
          print_result(0, msg, connect_s);
          return 1;
        }
        if (opt.hold > 0) return hold_idle(connect_s);
        vlog("all %d connected in %.3f s (%llu retries); warming up %.1f s", n_proven, connect_s,
             (unsigned long long)retries, opt.warmup);
        phase = P_WARMUP;
        warmup_end = now + (int64_t)(opt.warmup * 1e9);
        for (int i = 0; i < opt.conns; i++) {
          struct conn* c = &conns[i];
          c->state = C_RUNNING;
          int r = start_send(c, i, now);
          if (r < 0) {
            errors_reset++;
            conn_dead(c);
          }
        }
        continue;
      }
      wake = next_tick < connect_deadline ? next_tick : connect_deadline;
    } else if (phase == P_WARMUP) {
      if (now >= warmup_end) {
        phase = P_MEASURE;
        measure_start = now;
        measure_end = now + (int64_t)(opt.duration * 1e9);
        vlog("measuring %.1f s", opt.duration);
        continue;
      }
      wake = warmup_end;
    } else {
      if (now >= measure_end) {
        phase = P_DONE;
        break;
      }
      wake = measure_end;
    }
    int64_t wait_ns = wake - now;
    int timeout_ms = wait_ns <= 0 ? 0 : (int)((wait_ns + 999999) / 1000000);
    int n = epoll_wait(epfd, evs, MAXEV, timeout_ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      perror("loadclient: epoll_wait");
      return 1;
    }
    now = now_ns();
    for (int i = 0; i < n; i++) on_event((int)evs[i].data.u32, evs[i].events, now);
  }

  /* Messages that completed exactly at the end are in; measure_end is the window. */
  int alive = 0;
  for (int i = 0; i < opt.conns; i++) alive += conns[i].state == C_RUNNING;
  vlog("done: %llu messages, %d of %d connections alive", (unsigned long long)measured_msgs, alive,
       opt.conns);
  int ok = measured_msgs > 0;
  print_result(ok, ok ? NULL : "no message completed in the measured window", connect_s);
  return ok ? 0 : 1;
}
