/* glibc records the owner of a process-shared, robust or priority-
 * inheritance mutex by thread id: each thread must be its own owner.
 * Thread A locks each kind of mutex; thread B (and main) then try it,
 * and unlock it, while A holds it; then A unlocks. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "legacy.h"

struct kind {
  const char* name;
  int type, pshared, robust, protocol;
};

static struct kind kinds[] = {
    {"pshared recursive", PTHREAD_MUTEX_RECURSIVE, PTHREAD_PROCESS_SHARED, 0, PTHREAD_PRIO_NONE},
    {"pshared errorcheck", PTHREAD_MUTEX_ERRORCHECK, PTHREAD_PROCESS_SHARED, 0, PTHREAD_PRIO_NONE},
    {"robust normal", PTHREAD_MUTEX_NORMAL, PTHREAD_PROCESS_PRIVATE, 1, PTHREAD_PRIO_NONE},
    {"robust errorcheck", PTHREAD_MUTEX_ERRORCHECK, PTHREAD_PROCESS_SHARED, 1, PTHREAD_PRIO_NONE},
    {"priority-inherit recursive", PTHREAD_MUTEX_RECURSIVE, PTHREAD_PROCESS_PRIVATE, 0,
     PTHREAD_PRIO_INHERIT},
};
#define KINDS (int)(sizeof kinds / sizeof kinds[0])
static pthread_mutex_t mutexes[KINDS];

static int held[2], release[2];

static void* holder(void* arg) {
  (void)arg;
  for (int i = 0; i < KINDS; i++) {
    int r = pthread_mutex_lock(&mutexes[i]);
    int again = kinds[i].type == PTHREAD_MUTEX_RECURSIVE ? pthread_mutex_trylock(&mutexes[i]) : -1;
    printf("A: lock %s: %s, again by its owner: %s\n", kinds[i].name, errname(r),
           again == -1 ? "-" : errname(again));
    if (again == 0) pthread_mutex_unlock(&mutexes[i]);
  }
  write(held[1], "x", 1);
  char c;
  read(release[0], &c, 1);
  for (int i = 0; i < KINDS; i++)
    printf("A: unlock %s: %s\n", kinds[i].name, errname(pthread_mutex_unlock(&mutexes[i])));
  return NULL;
}

static void* other(void* arg) {
  (void)arg;
  for (int i = 0; i < KINDS; i++) {
    printf("B: trylock %s held by A: %s\n", kinds[i].name,
           errname(pthread_mutex_trylock(&mutexes[i])));
    if (kinds[i].type != PTHREAD_MUTEX_NORMAL)
      printf("B: unlock %s held by A: %s\n", kinds[i].name,
             errname(pthread_mutex_unlock(&mutexes[i])));
  }
  return NULL;
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  for (int i = 0; i < KINDS; i++) {
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, kinds[i].type);
    pthread_mutexattr_setpshared(&a, kinds[i].pshared);
    if (kinds[i].robust) pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    pthread_mutexattr_setprotocol(&a, kinds[i].protocol);
    int r = pthread_mutex_init(&mutexes[i], &a);
    if (r != 0) printf("init %s: %s\n", kinds[i].name, errname(r));
    pthread_mutexattr_destroy(&a);
  }
  pipe(held);
  pipe(release);
  pthread_t a, b;
  pthread_create(&a, NULL, holder, NULL);
  char c;
  read(held[0], &c, 1);
  pthread_create(&b, NULL, other, NULL);
  pthread_join(b, NULL);
  for (int i = 0; i < KINDS; i++)
    printf("main: trylock %s held by A: %s\n", kinds[i].name,
           errname(pthread_mutex_trylock(&mutexes[i])));
  write(release[1], "x", 1);
  pthread_join(a, NULL);
  for (int i = 0; i < KINDS; i++) {
    int r = pthread_mutex_trylock(&mutexes[i]);
    printf("main: trylock %s once free: %s", kinds[i].name, errname(r));
    if (r == 0) printf(", unlock %s", errname(pthread_mutex_unlock(&mutexes[i])));
    printf("\n");
  }
  return 0;
}
