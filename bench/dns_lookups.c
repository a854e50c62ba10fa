/* Concurrent DNS lookups, for bench/dns_bench.py: the same plain pthread
 * binary runs natively and under the preload. It knows nothing of libgreen.
 *
 * usage: dns_lookups [THREADS]    (default 50, at most 200)
 * Starts THREADS threads at once, thread N calling getaddrinfo for
 * hostN.green.test (IPv4, port 80), and waits for all of them. It expects
 * /etc/resolv.conf to name tests/integration/python/slow_dns.py, which answers
 * hostN.green.test with 127.0.0.N: distinct names, so nothing can be answered
 * from a cache. Prints one line,
 *   "lookups THREADS answered CORRECT wall_ns NS"
 * NS being the CLOCK_MONOTONIC time from the first pthread_create to the last
 * pthread_join; exits 1 unless every answer was the expected address. */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define MAX_THREADS 200 /* slow_dns.py answers host1 .. host200 */

struct lookup {
  int n; /* looks up hostN.green.test */
  int correct;
};

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void* lookup_main(void* arg) {
  struct lookup* l = arg;
  char name[64], want[INET_ADDRSTRLEN], got[INET_ADDRSTRLEN] = "-";
  snprintf(name, sizeof name, "host%d.green.test", l->n);
  snprintf(want, sizeof want, "127.0.0.%d", l->n);
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_INET; /* one A query per lookup, no AAAA */
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(name, "80", &hints, &res) != 0) return NULL;
  inet_ntop(AF_INET, &((struct sockaddr_in*)res->ai_addr)->sin_addr, got, sizeof got);
  l->correct = strcmp(got, want) == 0;
  freeaddrinfo(res);
  return NULL;
}

int main(int argc, char** argv) {
  int n = argc > 1 ? atoi(argv[1]) : 50;
  if (n < 1 || n > MAX_THREADS) {
    fprintf(stderr, "usage: dns_lookups [THREADS], 1 to %d\n", MAX_THREADS);
    return 2;
  }
  static struct lookup lookups[MAX_THREADS];
  pthread_t tids[MAX_THREADS];
  long long start = now_ns();
  for (int i = 0; i < n; i++) {
    lookups[i].n = i + 1;
    if (pthread_create(&tids[i], NULL, lookup_main, &lookups[i]) != 0) {
      fprintf(stderr, "dns_lookups: pthread_create failed\n");
      return 1;
    }
  }
  for (int i = 0; i < n; i++) pthread_join(tids[i], NULL);
  long long took = now_ns() - start;
  int correct = 0;
  for (int i = 0; i < n; i++) correct += lookups[i].correct;
  printf("lookups %d answered %d wall_ns %lld\n", n, correct, took);
  return correct == n ? 0 : 1;
}
