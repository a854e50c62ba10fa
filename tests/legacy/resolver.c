/* The resolver from many threads at once, as a 2000s crawler or proxy does
 * it: getaddrinfo, getnameinfo, gethostbyname, gethostbyname2,
 * gethostbyname_r, gethostbyname2_r, gethostbyaddr and gethostbyaddr_r. It
 * knows nothing of libgreen.
 *
 * It expects /etc/resolv.conf to name the test's slow DNS responder
 * (tests/integration/python/slow_dns.py, every answer 100 ms late, with
 * "options timeout:1 attempts:1"): the harness runs it in a mount namespace
 * whose /etc/resolv.conf is bind-mounted over. Names are not in /etc/hosts:
 *   hostN.green.test -> 127.0.0.N and 2001:db8::N, 127.0.0.N -> hostN.green.test
 *   silent*.green.test: never answered; anything else: NXDOMAIN.
 *
 * A ticker thread counts 10 ms sleeps throughout: each phase says whether it
 * advanced while the lookups were in flight (natively it does, with real
 * threads; a green runtime must keep running other threads meanwhile). The
 * answers come from another process, which cannot wait for the ticker: so
 * a phase runs its lookups again (results dropped, a few rounds at most)
 * until the ticker advanced, and natively the verdict holds whatever the
 * load. Where a lookup held the only OS thread, the ticker could run only
 * between two lookups, far fewer times than the verdict asks.
 *
 * Phase 1: 50 threads call getaddrinfo at once; "ready" is printed while all
 *          of them exist; the sorted answers, and whether the 50 lookups of
 *          100 ms each overlapped (all done in under 4.9 s, which 50 lookups
 *          one after the other cannot do however fast the machine).
 * Phase 2: reverse lookups from 20 threads: getnameinfo and gethostbyaddr_r.
 * Phase 3: gethostbyname_r and gethostbyname2_r from 20 threads.
 * Phase 4: the non-reentrant gethostbyname, gethostbyname2 and gethostbyaddr,
 *          one thread each (glibc has one static result per function): the
 *          pointer from each thread's last call still shows its own answer
 *          after the other threads' lookups.
 * Phase 5: errors: a name that does not exist (EAI_NONAME, HOST_NOT_FOUND),
 *          an address without a name, bad flags, family and service, a
 *          buffer too small for gethostbyname_r (ERANGE).
 * Phase 6: a name the resolver never answers: EAI_AGAIN and TRY_AGAIN after
 *          about the 1 s timeout of the test's resolv.conf.
 * Output is deterministic: answers, error names and verdicts only. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LEGACY_TICKER
#include "legacy.h"

#define MS 1000000LL

/* ---- the ticker: another thread that must keep running ---- */

/* ---- names for the error codes ---- */

static const char* gai_name(int e) {
  switch (e) {
    case 0:
      return "0";
    case EAI_NONAME:
      return "EAI_NONAME";
    case EAI_AGAIN:
      return "EAI_AGAIN";
    case EAI_FAIL:
      return "EAI_FAIL";
    case EAI_FAMILY:
      return "EAI_FAMILY";
    case EAI_BADFLAGS:
      return "EAI_BADFLAGS";
    case EAI_SERVICE:
      return "EAI_SERVICE";
    case EAI_NODATA:
      return "EAI_NODATA";
    case EAI_SYSTEM:
      return "EAI_SYSTEM";
    case EAI_OVERFLOW:
      return "EAI_OVERFLOW";
    default:
      return "other";
  }
}

static const char* herr_name(int e) {
  switch (e) {
    case 0:
      return "0";
    case HOST_NOT_FOUND:
      return "HOST_NOT_FOUND";
    case TRY_AGAIN:
      return "TRY_AGAIN";
    case NO_RECOVERY:
      return "NO_RECOVERY";
    case NO_DATA:
      return "NO_DATA";
    case NETDB_INTERNAL:
      return "NETDB_INTERNAL";
    default:
      return "other";
  }
}

static const char* errno_name(int e) {
  switch (e) {
    case 0:
      return "0";
    case ERANGE:
      return "ERANGE";
    case EAGAIN:
      return "EAGAIN";
    case EINVAL:
      return "EINVAL";
    default:
      return "other";
  }
}

/* "name [aliases] family addr" of a hostent, into out */
static void describe_hostent(const struct hostent* h, char* out, size_t len) {
  char addr[INET6_ADDRSTRLEN] = "-";
  if (h->h_addr_list[0]) inet_ntop(h->h_addrtype, h->h_addr_list[0], addr, sizeof addr);
  int aliases = 0;
  while (h->h_aliases[aliases]) aliases++;
  snprintf(out, len, "%s, %s, length %d, %s, %d alias(es)", h->h_name,
           h->h_addrtype == AF_INET    ? "AF_INET"
           : h->h_addrtype == AF_INET6 ? "AF_INET6"
                                       : "other",
           h->h_length, addr, aliases);
}

/* ---- jobs: one lookup per thread ---- */

enum kind {
  K_GETADDRINFO,
  K_GETNAMEINFO,
  K_GETHOSTBYADDR_R,
  K_GETHOSTBYNAME_R,
  K_GETHOSTBYNAME2_R,
  K_GETHOSTBYNAME,
  K_GETHOSTBYNAME2,
  K_GETHOSTBYADDR,
  K_GAI_ERROR,
  K_GHBN_ERROR,
  K_GHBNR_ERROR,
  K_GNI_ERROR,
  K_GHBA_ERROR,
};

struct job {
  enum kind kind;
  const char* name; /* or the IPv4 address for the reverse ones */
  char result[256];
  int gate_fd;    /* read after the lookup until EOF: keeps the thread alive */
  int done_fd;    /* one byte written here when the lookup is done */
  long long took; /* ns */
};

static void reverse_addr(const char* text, struct sockaddr_in* sin) {
  memset(sin, 0, sizeof *sin);
  sin->sin_family = AF_INET;
  sin->sin_port = htons(80);
  inet_pton(AF_INET, text, &sin->sin_addr);
}

static void do_lookup(struct job* j) {
  char* out = j->result;
  size_t len = sizeof j->result;
  struct addrinfo hints, *res = NULL;
  struct sockaddr_in sin;
  struct hostent he, *hp = NULL;
  char buf[2048], host[128], serv[32];
  int r, herr = 0;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  switch (j->kind) {
    case K_GETADDRINFO:
    case K_GAI_ERROR:
      r = getaddrinfo(j->name, "80", &hints, &res);
      if (r == 0) {
        int n = 0;
        char addr[INET_ADDRSTRLEN] = "-";
        for (struct addrinfo* a = res; a; a = a->ai_next) n++;
        struct sockaddr_in* s = (struct sockaddr_in*)res->ai_addr;
        inet_ntop(AF_INET, &s->sin_addr, addr, sizeof addr);
        snprintf(out, len, "%s -> %s port %d (%d result(s))", j->name, addr, ntohs(s->sin_port), n);
        freeaddrinfo(res);
      } else {
        snprintf(out, len, "%s -> %s", j->name, gai_name(r));
      }
      break;
    case K_GETNAMEINFO:
    case K_GNI_ERROR:
      reverse_addr(j->name, &sin);
      r = getnameinfo((struct sockaddr*)&sin, sizeof sin, host, sizeof host, serv, sizeof serv,
                      NI_NUMERICSERV | (j->kind == K_GNI_ERROR ? NI_NAMEREQD : 0));
      if (r == 0)
        snprintf(out, len, "%s -> %s service %s", j->name, host, serv);
      else
        snprintf(out, len, "%s -> %s", j->name, gai_name(r));
      break;
    case K_GETHOSTBYADDR_R:
      reverse_addr(j->name, &sin);
      r = gethostbyaddr_r(&sin.sin_addr, sizeof sin.sin_addr, AF_INET, &he, buf, sizeof buf, &hp,
                          &herr);
      if (r == 0 && hp)
        describe_hostent(hp, out, len);
      else
        snprintf(out, len, "%s -> returned %d, h_errno %s", j->name, r, herr_name(herr));
      break;
    case K_GETHOSTBYNAME_R:
    case K_GHBNR_ERROR:
      r = gethostbyname_r(j->name, &he, buf, sizeof buf, &hp, &herr);
      if (r == 0 && hp)
        describe_hostent(hp, out, len);
      else
        snprintf(out, len, "%s -> returned %s, %s, h_errno %s", j->name, errno_name(r),
                 hp ? "a result" : "no result", herr_name(herr));
      break;
    case K_GETHOSTBYNAME2_R:
      r = gethostbyname2_r(j->name, AF_INET6, &he, buf, sizeof buf, &hp, &herr);
      if (r == 0 && hp)
        describe_hostent(hp, out, len);
      else
        snprintf(out, len, "%s -> returned %d, h_errno %s", j->name, r, herr_name(herr));
      break;
    case K_GHBN_ERROR:
      /* the result lives in a static buffer: copy it at once */
      hp = gethostbyname(j->name);
      if (hp)
        describe_hostent(hp, out, len);
      else
        snprintf(out, len, "%s -> NULL, h_errno %s", j->name, herr_name(h_errno));
      break;
    case K_GHBA_ERROR:
      reverse_addr(j->name, &sin);
      hp = gethostbyaddr(&sin.sin_addr, sizeof sin.sin_addr, AF_INET);
      if (hp)
        describe_hostent(hp, out, len);
      else
        snprintf(out, len, "%s -> NULL, h_errno %s", j->name, herr_name(h_errno));
      break;
    default: /* the non-reentrant ones run in static_main */
      snprintf(out, len, "?");
      break;
  }
}

static void* job_main(void* arg) {
  struct job* j = arg;
  long long t0 = now_ns();
  do_lookup(j);
  j->took = now_ns() - t0;
  if (j->done_fd >= 0) write(j->done_fd, "x", 1);
  if (j->gate_fd >= 0) {
    char c;
    while (read(j->gate_fd, &c, 1) > 0) {
    }
  }
  return NULL;
}

/* Runs every job on its own thread at once; returns the wall time until the
 * last one finished, in ns. With announce, prints "ready" while all the
 * threads exist (each waits at a gate until all are done). */
static long long run_jobs(struct job* jobs, int n, int announce) {
  int gate[2], done[2];
  if (pipe(gate) < 0 || pipe(done) < 0) {
    perror("pipe");
    exit(1);
  }
  pthread_t* tids = calloc((size_t)n, sizeof *tids);
  long long t0 = now_ns();
  for (int i = 0; i < n; i++) {
    jobs[i].gate_fd = gate[0];
    jobs[i].done_fd = done[1];
    if (pthread_create(&tids[i], NULL, job_main, &jobs[i]) != 0) {
      fprintf(stderr, "pthread_create failed\n");
      exit(1);
    }
  }
  if (announce) {
    printf("ready\n");
    fflush(stdout);
  }
  char c;
  for (int got = 0; got < n;) {
    ssize_t r = read(done[0], &c, 1);
    if (r == 1) got++;
    if (r == 0 || (r < 0 && errno != EINTR)) break;
  }
  long long took = now_ns() - t0;
  close(gate[1]);
  for (int i = 0; i < n; i++) pthread_join(tids[i], NULL);
  close(gate[0]);
  close(done[0]);
  close(done[1]);
  free(tids);
  return took;
}

/* Runs copies of the jobs (their results dropped) until the ticker advanced
 * at_least times since t0, rounds at most. */
static void again_until_ticks(const struct job* jobs, int n, int t0, int at_least, int rounds) {
  static struct job copy[64];
  for (int r = 0; r < rounds && atomic_load(&ticks) - t0 < at_least; r++) {
    memcpy(copy, jobs, sizeof *jobs * (size_t)n);
    run_jobs(copy, n, 0);
  }
}

static char names[200][64];

static const char* host_name(int n) {
  snprintf(names[n], sizeof names[n], "host%d.green.test", n);
  return names[n];
}

static const char* host_addr(int n) {
  snprintf(names[n], sizeof names[n], "127.0.0.%d", n);
  return names[n];
}

#define LOOKUPS 50

static void phase_getaddrinfo(void) {
  static struct job jobs[LOOKUPS];
  printf("phase 1: %d threads call getaddrinfo at once\n", LOOKUPS);
  for (int i = 0; i < LOOKUPS; i++) {
    jobs[i].kind = K_GETADDRINFO;
    jobs[i].name = host_name(i + 1);
  }
  int t0 = atomic_load(&ticks);
  /* 50 lookups of 100 ms (the responder's delay) one after the other take
   * 5 s at least: ending sooner proves they overlapped, whatever the load
   * (a round that a loaded machine slowed is tried again, 3 at most) */
  long long took = run_jobs(jobs, LOOKUPS, 1);
  static struct job copy[LOOKUPS];
  for (int r = 0; r < 2 && took >= (LOOKUPS - 1) * 100 * MS; r++) {
    memcpy(copy, jobs, sizeof jobs);
    took = run_jobs(copy, LOOKUPS, 0);
  }
  again_until_ticks(jobs, LOOKUPS, t0, 5, 10);
  int correct = 0;
  for (int i = 0; i < LOOKUPS; i++) {
    char want[128];
    snprintf(want, sizeof want, "host%d.green.test -> 127.0.0.%d port 80 (1 result(s))", i + 1,
             i + 1);
    correct += strcmp(jobs[i].result, want) == 0;
    printf("  %s\n", jobs[i].result);
  }
  printf("  %d of %d answers correct\n", correct, LOOKUPS);
  printf("  %d lookups of 100 ms each overlapped (all done in under %.1f s): %s\n", LOOKUPS,
         (LOOKUPS - 1) / 10.0, took < (LOOKUPS - 1) * 100 * MS ? "yes" : "NO");
  ticker_verdict("getaddrinfo blocked", t0, 5);
}

static void print_jobs(struct job* jobs, int n) {
  for (int i = 0; i < n; i++) printf("  %s\n", jobs[i].result);
}

static void phase_reverse(void) {
  static struct job jobs[21];
  printf("phase 2: reverse lookups from 21 threads\n");
  for (int i = 0; i < 10; i++) {
    jobs[i].kind = K_GETNAMEINFO;
    jobs[i].name = host_addr(100 + i);
    jobs[10 + i].kind = K_GETHOSTBYADDR_R;
    jobs[10 + i].name = host_addr(110 + i);
  }
  jobs[20].kind = K_GETNAMEINFO;
  jobs[20].name = "127.0.0.1"; /* from /etc/hosts */
  int t0 = atomic_load(&ticks);
  run_jobs(jobs, 21, 0);
  again_until_ticks(jobs, 21, t0, 5, 10);
  print_jobs(jobs, 21);
  ticker_verdict("getnameinfo and gethostbyaddr_r blocked", t0, 5);
}

static void phase_reentrant(void) {
  static struct job jobs[20];
  printf("phase 3: gethostbyname_r and gethostbyname2_r from 20 threads\n");
  for (int i = 0; i < 10; i++) {
    jobs[i].kind = K_GETHOSTBYNAME_R;
    jobs[i].name = host_name(120 + i);
    jobs[10 + i].kind = K_GETHOSTBYNAME2_R;
    jobs[10 + i].name = host_name(130 + i);
  }
  int t0 = atomic_load(&ticks);
  run_jobs(jobs, 20, 0);
  again_until_ticks(jobs, 20, t0, 5, 10);
  print_jobs(jobs, 20);
  ticker_verdict("gethostbyname_r and gethostbyname2_r blocked", t0, 5);
}

/* One thread per non-reentrant function (each has its own static buffer in
 * glibc, so natively these three threads do not race): three lookups in a
 * row, the first two copied at once, the last one kept as the returned
 * pointer and read only after all three threads have done all their
 * lookups. It must still describe that thread's own last answer. */
struct static_job {
  enum kind kind;
  int first; /* hostN or 127.0.0.N, N = first .. first + 2 */
  char result[3][128];
  int gate_fd, done_fd;
};

static struct hostent* static_lookup(enum kind kind, int n) {
  struct sockaddr_in sin;
  switch (kind) {
    case K_GETHOSTBYNAME:
      return gethostbyname(host_name(n));
    case K_GETHOSTBYNAME2:
      return gethostbyname2(host_name(n), AF_INET6);
    default:
      reverse_addr(host_addr(n), &sin);
      return gethostbyaddr(&sin.sin_addr, sizeof sin.sin_addr, AF_INET);
  }
}

static void* static_main(void* arg) {
  struct static_job* j = arg;
  struct hostent* hp = NULL;
  for (int k = 0; k < 3; k++) {
    hp = static_lookup(j->kind, j->first + k);
    if (!hp)
      snprintf(j->result[k], sizeof j->result[k], "NULL, h_errno %s", herr_name(h_errno));
    else if (k < 2)
      describe_hostent(hp, j->result[k], sizeof j->result[k]);
  }
  write(j->done_fd, "x", 1);
  char c;
  while (read(j->gate_fd, &c, 1) > 0) {
  }
  if (hp) describe_hostent(hp, j->result[2], sizeof j->result[2]);
  return NULL;
}

/* The three threads, each with its three lookups; returns once all are done
 * and the threads have ended. */
static void run_static(struct static_job* jobs) {
  int gate[2], done[2];
  if (pipe(gate) < 0 || pipe(done) < 0) exit(1);
  pthread_t tids[3];
  for (int i = 0; i < 3; i++) {
    jobs[i].gate_fd = gate[0];
    jobs[i].done_fd = done[1];
    pthread_create(&tids[i], NULL, static_main, &jobs[i]);
  }
  char c;
  for (int got = 0; got < 3;) {
    ssize_t r = read(done[0], &c, 1);
    if (r == 1) got++;
    if (r == 0 || (r < 0 && errno != EINTR)) break;
  }
  close(gate[1]);
  for (int i = 0; i < 3; i++) pthread_join(tids[i], NULL);
  close(gate[0]);
  close(done[0]);
  close(done[1]);
}

static void phase_static(void) {
  static struct static_job jobs[3] = {
      {K_GETHOSTBYNAME, 140, {""}, -1, -1},
      {K_GETHOSTBYNAME2, 150, {""}, -1, -1},
      {K_GETHOSTBYADDR, 160, {""}, -1, -1},
  };
  static const char* what[3] = {"gethostbyname", "gethostbyname2", "gethostbyaddr"};
  printf("phase 4: gethostbyname, gethostbyname2 and gethostbyaddr, one thread each\n");
  int t0 = atomic_load(&ticks);
  run_static(jobs);
  /* again (results dropped, 10 rounds at most) until the ticker advanced 5
   * times within one round: where the lookups held the only OS thread, it
   * could run only when one of the three threads was done, 3 times a round */
  int most = atomic_load(&ticks) - t0;
  static struct static_job copy[3];
  for (int r = 0; r < 10 && most < 5; r++) {
    memcpy(copy, jobs, sizeof jobs);
    int round0 = atomic_load(&ticks);
    run_static(copy);
    if (atomic_load(&ticks) - round0 > most) most = atomic_load(&ticks) - round0;
  }
  printf("  ticker advanced while gethostbyname, gethostbyname2 and gethostbyaddr blocked: %s\n",
         yes(most >= 5));
  for (int i = 0; i < 3; i++)
    for (int k = 0; k < 3; k++)
      printf("  %s #%d%s: %s\n", what[i], k + 1, k == 2 ? " (kept, read last)" : "",
             jobs[i].result[k]);
}

static void phase_errors(void) {
  static struct job jobs[6];
  printf("phase 5: errors\n");
  jobs[0].kind = K_GAI_ERROR;
  jobs[0].name = "nosuch1.green.test";
  jobs[1].kind = K_GHBN_ERROR;
  jobs[1].name = "nosuch2.green.test";
  jobs[2].kind = K_GHBNR_ERROR;
  jobs[2].name = "nosuch3.green.test";
  jobs[3].kind = K_GNI_ERROR;
  jobs[3].name = "127.0.0.250"; /* no PTR record: NI_NAMEREQD fails */
  jobs[4].kind = K_GETNAMEINFO;
  jobs[4].name = "127.0.0.251"; /* without NI_NAMEREQD: the number */
  jobs[5].kind = K_GHBA_ERROR;
  jobs[5].name = "127.0.0.252";
  run_jobs(jobs, 6, 0);
  print_jobs(jobs, 6);

  /* argument errors, answered without asking the resolver */
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_INET;
  hints.ai_flags = 0x7fff0000;
  printf("  getaddrinfo with bad ai_flags: %s\n",
         gai_name(getaddrinfo("host1.green.test", "80", &hints, &res)));
  memset(&hints, 0, sizeof hints);
  hints.ai_family = 12345;
  printf("  getaddrinfo with bad ai_family: %s\n",
         gai_name(getaddrinfo("host1.green.test", "80", &hints, &res)));
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  printf("  getaddrinfo(NULL, NULL): %s\n", gai_name(getaddrinfo(NULL, NULL, &hints, &res)));
  printf("  getaddrinfo with an unknown service: %s\n",
         gai_name(getaddrinfo("host1.green.test", "no-such-service-xyz", &hints, &res)));
  hints.ai_flags = AI_NUMERICHOST;
  printf("  getaddrinfo AI_NUMERICHOST of a name: %s\n",
         gai_name(getaddrinfo("host1.green.test", "80", &hints, &res)));
  struct hostent he, *hp = (struct hostent*)1;
  char tiny[8];
  int herr = 0;
  int r = gethostbyname_r("host2.green.test", &he, tiny, sizeof tiny, &hp, &herr);
  printf("  gethostbyname_r with an 8-byte buffer: returned %s, %s, h_errno %s\n", errno_name(r),
         hp ? "a result" : "no result", herr_name(herr));
}

static void phase_silent(void) {
  static struct job jobs[2];
  printf("phase 6: a name the resolver never answers (timeout:1 attempts:1)\n");
  jobs[0].kind = K_GAI_ERROR;
  jobs[0].name = "silent1.green.test";
  jobs[1].kind = K_GHBNR_ERROR;
  jobs[1].name = "silent2.green.test";
  int t0 = atomic_load(&ticks);
  run_jobs(jobs, 2, 0);
  /* again (5 rounds at most) until the ticker advanced 30 times and each
   * lookup once gave up within [0.7 s, 3 s): a loaded machine may slow one
   * round; a lookup holding the only OS thread lets the ticker run only
   * between two lookups */
  int about[2] = {0, 0};
  static struct job copy[2];
  memcpy(copy, jobs, sizeof jobs);
  for (int r = 0;; r++) {
    for (int i = 0; i < 2; i++) about[i] |= copy[i].took >= 700 * MS && copy[i].took < 3000 * MS;
    if ((about[0] && about[1] && atomic_load(&ticks) - t0 >= 30) || r == 4) break;
    run_jobs(copy, 2, 0);
  }
  print_jobs(jobs, 2);
  for (int i = 0; i < 2; i++) printf("  gave up after about 1 s: %s\n", yes(about[i]));
  ticker_verdict("the lookups waited for the timeout", t0, 30);
}

int main(void) {
  pthread_t ticker;
  pthread_create(&ticker, NULL, ticker_main, NULL);
  phase_getaddrinfo();
  phase_reverse();
  phase_reentrant();
  phase_static();
  phase_errors();
  phase_silent();
  atomic_store(&ticker_stop, 1);
  pthread_join(ticker, NULL);
  printf("done\n");
  return 0;
}
