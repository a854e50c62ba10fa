/* Process-shared objects really shared with another process (issue 8, items
 * 1 and 3): a named semaphore (sem_open) and a sem_init(pshared=1) one in
 * MAP_SHARED memory, posted back and forth with a forked child; 100 threads
 * waiting on one process-shared condition variable, all woken by the child's
 * broadcast; a pthread_cancel of a thread waiting on one; a process-shared
 * barrier of 40 threads and the child; a timed and an interrupted semaphore
 * wait. Knows nothing of libgreen. */
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "legacy.h"

#define ROUNDS 50
#define WAITERS 100
#define BARRIER_THREADS 40

struct shared {
  sem_t ping, pong;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int waiting, go, woke;
  pthread_barrier_t barrier;
};

static struct shared* s;

static void ping_pong(sem_t* ping, sem_t* pong, const char* what) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    for (int i = 0; i < ROUNDS; i++) {
      if (sem_wait(ping) != 0) _exit(1);
      sem_post(pong);
    }
    _exit(0);
  }
  int ok = 1;
  for (int i = 0; i < ROUNDS && ok; i++) {
    sem_post(ping);
    struct timespec limit;
    clock_gettime(CLOCK_REALTIME, &limit);
    limit.tv_sec += 10;
    ok = sem_timedwait(pong, &limit) == 0;
  }
  int status = 0;
  waitpid(pid, &status, 0);
  printf("%s: %d round trips with a child: %s\n", what, ROUNDS,
         yes(ok && WIFEXITED(status) && WEXITSTATUS(status) == 0));
}

static void init_shared(void) {
  s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  sem_init(&s->ping, 1, 0);
  sem_init(&s->pong, 1, 0);
  pthread_mutexattr_t ma;
  pthread_mutexattr_init(&ma);
  pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
  pthread_mutex_init(&s->lock, &ma);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
  pthread_cond_init(&s->cond, &ca);
  pthread_barrierattr_t ba;
  pthread_barrierattr_init(&ba);
  pthread_barrierattr_setpshared(&ba, PTHREAD_PROCESS_SHARED);
  pthread_barrier_init(&s->barrier, &ba, BARRIER_THREADS + 1);
}

static void* cond_waiter(void* arg) {
  pthread_mutex_lock(&s->lock);
  s->waiting++;
  while (!s->go) pthread_cond_wait(&s->cond, &s->lock);
  s->woke++;
  pthread_mutex_unlock(&s->lock);
  return arg;
}

static void broadcast_from_child(void) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    for (int i = 0; i < 1000; i++) { /* at most 10 s */
      pthread_mutex_lock(&s->lock);
      int all = s->waiting == WAITERS;
      if (all) {
        s->go = 1;
        pthread_cond_broadcast(&s->cond);
      }
      pthread_mutex_unlock(&s->lock);
      if (all) _exit(0);
      msleep(10);
    }
    _exit(1);
  }
  pthread_t t[WAITERS];
  for (int i = 0; i < WAITERS; i++) pthread_create(&t[i], NULL, cond_waiter, NULL);
  for (int i = 0; i < WAITERS; i++) pthread_join(t[i], NULL);
  int status = 0;
  waitpid(pid, &status, 0);
  printf("process-shared condition variable: %d threads waited, the child saw them all: %s\n",
         WAITERS, yes(WIFEXITED(status) && WEXITSTATUS(status) == 0));
  printf("  woken by its broadcast: %d\n", s->woke);
}

static void unlock_it(void* m) {
  pthread_mutex_unlock(m);
}

static void* cancelled_waiter(void* arg) {
  pthread_mutex_lock(&s->lock);
  pthread_cleanup_push(unlock_it, &s->lock);
  s->waiting++;
  for (;;) pthread_cond_wait(&s->cond, &s->lock);
  pthread_cleanup_pop(1);
  return arg;
}

static void cancel_a_waiter(void) {
  s->waiting = 0;
  pthread_t t;
  pthread_create(&t, NULL, cancelled_waiter, NULL);
  for (int i = 0; i < 1000; i++) {
    pthread_mutex_lock(&s->lock);
    int in = s->waiting == 1;
    pthread_mutex_unlock(&s->lock);
    if (in) break;
    msleep(10);
  }
  msleep(20);
  pthread_cancel(t);
  void* result = NULL;
  pthread_join(t, &result);
  printf("pthread_cancel of a thread waiting on it: %s\n",
         result == PTHREAD_CANCELED ? "cancelled" : "NOT cancelled");
  int r = pthread_mutex_trylock(&s->lock);
  printf("  its cleanup handler unlocked the mutex: %s\n", yes(r == 0));
  if (r == 0) pthread_mutex_unlock(&s->lock);
}

static void* barrier_thread(void* arg) {
  (void)arg;
  int r = pthread_barrier_wait(&s->barrier);
  return (void*)(long)(r == 0 || r == PTHREAD_BARRIER_SERIAL_THREAD);
}

static void barrier_with_child(void) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    msleep(100);
    int r = pthread_barrier_wait(&s->barrier);
    _exit(r == 0 || r == PTHREAD_BARRIER_SERIAL_THREAD ? 0 : 1);
  }
  pthread_t t[BARRIER_THREADS];
  for (int i = 0; i < BARRIER_THREADS; i++) pthread_create(&t[i], NULL, barrier_thread, NULL);
  int passed = 0;
  for (int i = 0; i < BARRIER_THREADS; i++) {
    void* ok;
    pthread_join(t[i], &ok);
    passed += ok != NULL;
  }
  int status = 0;
  waitpid(pid, &status, 0);
  printf("process-shared barrier: %d threads and the child passed it: %s\n", passed,
         yes(WIFEXITED(status) && WEXITSTATUS(status) == 0));
}

static void on_usr1(int sig) {
  (void)sig;
}

static volatile int interrupted;

/* Until the wait has returned: a signal that came before the wait began
 * would only run the handler. */
static void* send_usr1(void* arg) {
  for (int i = 0; i < 50 && !interrupted; i++) {
    msleep(100);
    if (!interrupted) pthread_kill(*(pthread_t*)arg, SIGUSR1);
  }
  return NULL;
}

static void timed_and_interrupted(void) {
  struct timespec limit;
  clock_gettime(CLOCK_REALTIME, &limit);
  limit.tv_nsec += 50000000;
  if (limit.tv_nsec >= 1000000000) {
    limit.tv_sec++;
    limit.tv_nsec -= 1000000000;
  }
  errno = 0;
  int r = sem_timedwait(&s->ping, &limit);
  printf("sem_timedwait on a shared semaphore nobody posts: %d %s\n", r, errname(errno));
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  sigaction(SIGUSR1, &sa, NULL);
  pthread_t self = pthread_self(), t;
  pthread_create(&t, NULL, send_usr1, &self);
  errno = 0;
  r = sem_wait(&s->ping);
  int err = errno;
  interrupted = 1;
  printf("sem_wait on it, interrupted by a handled signal: %d %s\n", r, errname(err));
  pthread_join(t, NULL);
  sem_post(&s->ping);
  errno = 0;
  r = sem_wait(&s->ping);
  int value = -1;
  sem_getvalue(&s->ping, &value);
  printf("then posted and taken: %d %s, value %d\n", r, errname(errno), value);
}

int main(void) {
  char name[64];
  snprintf(name, sizeof name, "/pshared_procs_%d", (int)getpid());
  sem_t* ping = sem_open(name, O_CREAT | O_EXCL, 0600, 0);
  char name2[80];
  snprintf(name2, sizeof name2, "%s_pong", name);
  sem_t* pong = sem_open(name2, O_CREAT | O_EXCL, 0600, 0);
  if (ping == SEM_FAILED || pong == SEM_FAILED) {
    perror("sem_open");
    return 1;
  }
  sem_unlink(name);
  sem_unlink(name2);
  ping_pong(ping, pong, "sem_open semaphores");
  init_shared();
  ping_pong(&s->ping, &s->pong, "sem_init(pshared=1) semaphores");
  broadcast_from_child();
  cancel_a_waiter();
  barrier_with_child();
  timed_and_interrupted();
  return 0;
}
