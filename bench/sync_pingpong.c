/* Round trips between two threads through pthread synchronisation, for
 * scripts/bench: the same binary runs natively and under the preload.
 *
 * usage: sync_pingpong ROUNDS
 * Prints one line per pattern: "NAME ROUNDS NS_PER_ROUND_TRIP".
 *   condvar  a turn variable under a mutex, each side waiting on a
 *            condition variable until it is its turn (signal, wait)
 *   mutex    the same turn, passed by locking and unlocking one mutex,
 *            yielding (sched_yield) while it is not the caller's turn
 *   sem      two semaphores posted back and forth
 *   yield    each side calls sched_yield once per round: under the preload
 *            a round trip is two switches there and two back, the bare
 *            cost of the switch path */
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long rounds;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t turn_changed = PTHREAD_COND_INITIALIZER;
static int turn;
static sem_t sem_to[2];

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void* condvar_side(void* arg) {
  int me = (int)(long)arg;
  for (long i = 0; i < rounds; i++) {
    pthread_mutex_lock(&lock);
    while (turn != me) pthread_cond_wait(&turn_changed, &lock);
    turn = !me;
    pthread_cond_signal(&turn_changed);
    pthread_mutex_unlock(&lock);
  }
  return NULL;
}

static void* mutex_side(void* arg) {
  int me = (int)(long)arg;
  for (long i = 0; i < rounds;) {
    pthread_mutex_lock(&lock);
    int mine = turn == me;
    if (mine) turn = !me;
    pthread_mutex_unlock(&lock);
    if (mine)
      i++;
    else
      sched_yield();
  }
  return NULL;
}

static void* sem_side(void* arg) {
  int me = (int)(long)arg;
  for (long i = 0; i < rounds; i++) {
    sem_wait(&sem_to[me]);
    sem_post(&sem_to[!me]);
  }
  return NULL;
}

static void* yield_side(void* arg) {
  (void)arg;
  for (long i = 0; i < rounds; i++) sched_yield();
  return NULL;
}

static void run(const char* name, void* (*side)(void*)) {
  pthread_t t[2];
  turn = 0;
  long long start = now_ns();
  for (long i = 0; i < 2; i++) pthread_create(&t[i], NULL, side, (void*)i);
  for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
  long long took = now_ns() - start;
  printf("%s %ld %.1f\n", name, rounds, (double)took / (double)rounds);
  fflush(stdout);
}

int main(int argc, char** argv) {
  rounds = argc > 1 ? atol(argv[1]) : 100000;
  run("condvar", condvar_side);
  run("mutex", mutex_side);
  sem_init(&sem_to[0], 0, 1);
  sem_init(&sem_to[1], 0, 0);
  run("sem", sem_side);
  run("yield", yield_side);
  return 0;
}
