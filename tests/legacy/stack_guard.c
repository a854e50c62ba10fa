/* Built with -fstack-protector-all: every function checks its canary
 * (%fs:0x28). setjmp/longjmp and sigsetjmp/siglongjmp mangle the saved
 * stack and return addresses with the pointer guard (%fs:0x30). 20 threads
 * each jump back 10 times out of a nested function after blocking calls,
 * while the others run: a wrong canary aborts ("stack smashing detected"),
 * a wrong guard crashes the longjmp. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define THREADS 20
#define JUMPS 10

static int pipes[THREADS][2];
static atomic_int completed;

static void deeper(jmp_buf* env, int id, int round) {
  char local[64];
  snprintf(local, sizeof local, "thread %d round %d", id, round);
  char c;
  if (read(pipes[id][0], &c, 1) != 1) return;
  if (strlen(local) > 0) longjmp(*env, round + 1);
}

static void sig_deeper(sigjmp_buf* env, int id) {
  char local[32];
  memset(local, id, sizeof local);
  usleep(100);
  siglongjmp(*env, 1);
}

static void* jumper(void* arg) {
  int id = (int)(long)arg;
  jmp_buf env;
  volatile int rounds = 0;
  if (setjmp(env) < JUMPS) {
    rounds++;
    deeper(&env, id, rounds - 1);
  }
  sigjmp_buf senv;
  volatile int sig_rounds = 0;
  if (sigsetjmp(senv, 1) == 0 || ++sig_rounds < JUMPS) sig_deeper(&senv, id);
  if (rounds == JUMPS && sig_rounds == JUMPS) atomic_fetch_add(&completed, 1);
  return NULL;
}

int main(void) {
  pthread_t threads[THREADS];
  for (long i = 0; i < THREADS; i++) {
    pipe(pipes[i]);
    pthread_create(&threads[i], NULL, jumper, (void*)i);
  }
  for (int round = 0; round < JUMPS; round++) {
    usleep(2000);
    for (int i = 0; i < THREADS; i++) write(pipes[i][1], "x", 1);
  }
  for (int i = 0; i < THREADS; i++) pthread_join(threads[i], NULL);
  printf("threads that jumped back %d times with setjmp and sigsetjmp: %d of %d\n", JUMPS,
         atomic_load(&completed), THREADS);
  return 0;
}
