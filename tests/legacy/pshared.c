/* Process-shared synchronisation in shared memory between a parent and a
 * forked child: a mutex, a condition variable and a barrier, each with
 * PTHREAD_PROCESS_SHARED. A ticker thread in the parent must keep running
 * while the parent waits for the child. The ticks are counted in the shared
 * memory: the child ends each wait only once they advanced, so natively the
 * verdict holds whatever the load; where the wait holds the parent's only OS
 * thread, the ticker cannot run and the child gives up waiting after 10 s.
 * Knows nothing of libgreen. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

struct shared {
  pthread_mutex_t lock;
  pthread_cond_t changed;
  pthread_barrier_t both;
  int stage;
  atomic_int ticks, stop;
  atomic_int before[2]; /* the ticks when the parent began wait i, + 1 (0: not yet) */
};

static struct shared* s;

static void* ticker(void* arg) {
  for (int i = 0; i < 3000 && !atomic_load(&s->stop); i++) {
    usleep(10000);
    atomic_fetch_add(&s->ticks, 1);
  }
  return arg;
}

/* In the child: once the parent is in wait i, 150 ms and until the ticker
 * advanced 4 times (10 s at most). */
static void before_acting(int i) {
  for (int n = 0; n < 2000 && atomic_load(&s->before[i]) == 0; n++) usleep(5000);
  usleep(150000);
  int before = atomic_load(&s->before[i]) - 1;
  for (int n = 0; n < 2000 && atomic_load(&s->ticks) <= before + 3; n++) usleep(5000);
}

static void child(void) {
  before_acting(0);
  pthread_mutex_lock(&s->lock);
  s->stage = 1;
  pthread_cond_signal(&s->changed);
  pthread_mutex_unlock(&s->lock);
  before_acting(1);
  pthread_barrier_wait(&s->both);
  _exit(0);
}

int main(void) {
  s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  pthread_mutexattr_t ma;
  pthread_mutexattr_init(&ma);
  pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
  pthread_mutex_init(&s->lock, &ma);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
  pthread_cond_init(&s->changed, &ca);
  pthread_barrierattr_t ba;
  pthread_barrierattr_init(&ba);
  pthread_barrierattr_setpshared(&ba, PTHREAD_PROCESS_SHARED);
  pthread_barrier_init(&s->both, &ba, 2);

  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) child();
  pthread_t t;
  pthread_create(&t, NULL, ticker, NULL);

  int before = atomic_load(&s->ticks);
  atomic_store(&s->before[0], before + 1);
  pthread_mutex_lock(&s->lock);
  while (s->stage == 0) pthread_cond_wait(&s->changed, &s->lock);
  pthread_mutex_unlock(&s->lock);
  printf("process-shared condition variable: signalled by the child, stage %d\n", s->stage);
  printf("  ticker advanced while the parent waited: %s\n",
         atomic_load(&s->ticks) > before + 3 ? "yes" : "no");
  before = atomic_load(&s->ticks);
  atomic_store(&s->before[1], before + 1);
  int r = pthread_barrier_wait(&s->both);
  printf("process-shared barrier: passed with the child (%s)\n",
         r == 0 || r == PTHREAD_BARRIER_SERIAL_THREAD ? "ok" : "error");
  printf("  ticker advanced while the parent waited: %s\n",
         atomic_load(&s->ticks) > before + 3 ? "yes" : "no");
  int status = 0;
  waitpid(pid, &status, 0);
  printf("child exited with %d\n", WEXITSTATUS(status));
  atomic_store(&s->stop, 1);
  pthread_join(t, NULL);
  return 0;
}
