/* Process-shared synchronisation in shared memory between a parent and a
 * forked child: a mutex, a condition variable and a barrier, each with
 * PTHREAD_PROCESS_SHARED. A ticker thread in the parent must keep running
 * while the parent waits for the child. Knows nothing of libgreen. */
#include <pthread.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

struct shared {
  pthread_mutex_t lock;
  pthread_cond_t changed;
  pthread_barrier_t both;
  int stage;
};

static volatile int ticks;

static void* ticker(void* arg) {
  for (int i = 0; i < 60; i++) {
    usleep(10000);
    ticks++;
  }
  return arg;
}

static void child(struct shared* s) {
  usleep(150000);
  pthread_mutex_lock(&s->lock);
  s->stage = 1;
  pthread_cond_signal(&s->changed);
  pthread_mutex_unlock(&s->lock);
  usleep(150000);
  pthread_barrier_wait(&s->both);
  _exit(0);
}

int main(void) {
  struct shared* s =
      mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
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
  if (pid == 0) child(s);
  pthread_t t;
  pthread_create(&t, NULL, ticker, NULL);

  int before = ticks;
  pthread_mutex_lock(&s->lock);
  while (s->stage == 0) pthread_cond_wait(&s->changed, &s->lock);
  pthread_mutex_unlock(&s->lock);
  printf("process-shared condition variable: signalled by the child, stage %d\n", s->stage);
  printf("  ticker advanced while the parent waited: %s\n", ticks > before + 3 ? "yes" : "no");
  before = ticks;
  int r = pthread_barrier_wait(&s->both);
  printf("process-shared barrier: passed with the child (%s)\n",
         r == 0 || r == PTHREAD_BARRIER_SERIAL_THREAD ? "ok" : "error");
  printf("  ticker advanced while the parent waited: %s\n", ticks > before + 3 ? "yes" : "no");
  int status = 0;
  waitpid(pid, &status, 0);
  printf("child exited with %d\n", WEXITSTATUS(status));
  pthread_join(t, NULL);
  return 0;
}
