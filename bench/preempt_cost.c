/* The cost of one preemption, for bench/preempt_bench.py: plain pthreads, run
 * natively (the kernel preempts) and under the preload (GREEN_TIMESLICE
 * preempts). It knows nothing of libgreen.
 *
 * usage: preempt_cost seq|par UNITS
 *   seq  one thread does 2 x UNITS work units, alone
 *   par  two threads do UNITS each at once, so on one core they are
 *        preempted in turn
 * A work unit is a short chain of multiplications (no system call, no libc)
 * followed by a clock_gettime. Each thread notes its own gaps: two units
 * more than GAP_NS apart, so something else had the core in between. When
 * one thread stops, the other runs and stops, and the first resumes while
 * the other is still stopped, the core was handed over: a preemption. Its
 * cost is measured directly, as the time from the other's last unit before
 * its gap to this one's first unit after (plus about one unit, which the
 * script subtracts), and indirectly, as the CPU time over seq's. Each
 * thread takes its own timestamps, so where exactly a preemption lands does
 * not matter.
 *
 * Prints one line: "MODE elapsed_ns E units U unit_ns N handovers H
 * handover_p10_ns P handover_median_ns M handover_mean_ns A gaps G
 * gap_mean_ns S cpu_ns C" (C: the process's CPU time): gaps counts every stop of either thread,
 * hand-over or not (in seq: the time slice's signal with nothing else to run, interrupts, other
 * processes). */
#include <pthread.h>
#include <sys/resource.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHAIN 64
#define GAP_NS 10000 /* 10 us: far above a unit, far below a time slice */
#define MAX_GAPS 65536

static volatile uint64_t sink;
static long units;

struct gap {
  int64_t from, to; /* the thread's last unit before it and first after */
};

struct worker {
  int me;
  long units;
  int n; /* gaps */
  struct gap gaps[MAX_GAPS];
};

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void* work(void* arg) {
  struct worker* w = arg;
  uint64_t x = 88172645463325252ULL + (uint64_t)w->me;
  int64_t prev = now_ns();
  for (long u = 0; u < w->units; u++) {
    for (int i = 0; i < CHAIN; i++) x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    int64_t t = now_ns();
    if (t - prev > GAP_NS && w->n < MAX_GAPS) w->gaps[w->n++] = (struct gap){prev, t};
    prev = t;
  }
  sink = x;
  return NULL;
}

/* Hand-overs to b: b stopped, then a ran and stopped, then b resumed while a
 * was still stopped (a gap of a that starts inside a gap of b and ends after
 * it). The times from a's last unit to b's first go to out. Both lists are
 * in time order. A short stop of b while a waits (an interrupt) is not one:
 * a's gap began before it. */
static int handovers(const struct worker* a, const struct worker* b, int64_t* out) {
  int n = 0, i = 0;
  for (int j = 0; j < b->n; j++) {
    const struct gap* g = &b->gaps[j];
    while (i < a->n && a->gaps[i].from <= g->from) i++;
    for (int k = i; k < a->n && a->gaps[k].from < g->to; k++)
      if (a->gaps[k].to > g->to) {
        out[n++] = g->to - a->gaps[k].from;
        break;
      }
  }
  return n;
}

static int cmp(const void* a, const void* b) {
  int64_t x = *(const int64_t*)a, y = *(const int64_t*)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char** argv) {
  if (argc != 3 || (strcmp(argv[1], "seq") && strcmp(argv[1], "par")) ||
      (units = atol(argv[2])) <= 0) {
    fprintf(stderr, "usage: %s seq|par UNITS\n", argv[0]);
    return 2;
  }
  int par = !strcmp(argv[1], "par");
  static struct worker w[2];
  w[0].me = 0;
  w[1].me = 1;
  w[0].units = par ? units : 2 * units;
  w[1].units = units;
  pthread_t t[2];
  int64_t start = now_ns();
  for (int i = 0; i < 1 + par; i++)
    if (pthread_create(&t[i], NULL, work, &w[i]) != 0) {
      fprintf(stderr, "pthread_create failed\n");
      return 1;
    }
  for (int i = 0; i < 1 + par; i++) pthread_join(t[i], NULL);
  int64_t elapsed = now_ns() - start;
  struct rusage ru; /* CPU time: the other processes' share of the core is not in it */
  getrusage(RUSAGE_SELF, &ru);
  int64_t cpu = ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
                ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;

  static int64_t all[2 * MAX_GAPS];
  int n = 0;
  if (par) {
    n = handovers(&w[0], &w[1], all);
    n += handovers(&w[1], &w[0], all + n);
  }
  double sum = 0, gap_sum = 0;
  for (int i = 0; i < n; i++) sum += (double)all[i];
  int gaps = w[0].n + w[1].n;
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < w[i].n; j++) gap_sum += (double)(w[i].gaps[j].to - w[i].gaps[j].from);
  qsort(all, (size_t)n, sizeof all[0], cmp);
  printf(
      "%s elapsed_ns %lld units %ld unit_ns %.1f handovers %d handover_p10_ns %lld "
      "handover_median_ns %lld handover_mean_ns %.0f gaps %d gap_mean_ns %.0f cpu_ns %lld\n",
      argv[1], (long long)elapsed, 2 * units, (double)elapsed / (double)(2 * units), n,
      (long long)(n ? all[n / 10] : 0), (long long)(n ? all[n / 2] : 0), n ? sum / n : 0.0, gaps,
      gaps ? gap_sum / gaps : 0.0, (long long)cpu);
  return 0;
}
