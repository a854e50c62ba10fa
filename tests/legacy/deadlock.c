/* A lock-order deadlock: two threads lock two mutexes in opposite order and
 * block forever, while main waits for them in pthread_join. It knows nothing
 * of libgreen. Natively it just hangs: the harness runs it only under the
 * preload, where the runtime sees that no green thread can ever run again.
 *
 * It prints, before the deadlock, what a report should name (these values
 * differ from run to run):
 *   thread locker-a 0x...  (its name, set with pthread_setname_np, and its
 *   thread locker-b 0x...   pthread_t in hex)
 *   mutex lock_a 0x...     (the mutexes' addresses, as %p prints them)
 *   mutex lock_b 0x...
 *   deadlocking */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;
static int holds_pipe[2]; /* each locker writes one byte once it holds its first mutex */
static int go_pipe[2];    /* main writes two bytes once both do */

static void* locker(void* arg) {
  int first_a = arg != NULL;
  pthread_mutex_t* first = first_a ? &lock_a : &lock_b;
  pthread_mutex_t* second = first_a ? &lock_b : &lock_a;
  pthread_mutex_lock(first);
  write(holds_pipe[1], "h", 1);
  char c;
  read(go_pipe[0], &c, 1);
  pthread_mutex_lock(second); /* never returns */
  printf("UNEXPECTED: got the second mutex\n");
  pthread_mutex_unlock(second);
  pthread_mutex_unlock(first);
  return NULL;
}

int main(void) {
  if (pipe(holds_pipe) < 0 || pipe(go_pipe) < 0) return 1;
  pthread_t a, b;
  pthread_create(&a, NULL, locker, (void*)1);
  pthread_create(&b, NULL, locker, NULL);
  pthread_setname_np(a, "locker-a");
  pthread_setname_np(b, "locker-b");
  printf("thread locker-a %#lx\nthread locker-b %#lx\n", (unsigned long)a, (unsigned long)b);
  printf("mutex lock_a %p\nmutex lock_b %p\n", (void*)&lock_a, (void*)&lock_b);
  char c[2];
  for (int got = 0; got < 2;) {
    ssize_t n = read(holds_pipe[0], c, 2);
    if (n <= 0) return 1;
    got += (int)n;
  }
  printf("deadlocking\n");
  fflush(stdout);
  write(go_pipe[1], "gg", 2);
  pthread_join(a, NULL);
  pthread_join(b, NULL);
  printf("UNEXPECTED: joined both\n");
  return 0;
}
