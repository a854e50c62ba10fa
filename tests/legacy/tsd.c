/* Thread-specific data (pthread_key_*) as an old program uses it for
 * per-thread buffers and contexts. It knows nothing of libgreen.
 *
 * Phase 1: 50 threads each store their own value under one key, block (a
 *   sleep, a socket round trip) so that all the others run, and read their
 *   own value back; a new thread starts with NULL; main's value is its own.
 *   At thread exit the destructor runs once per thread with that thread's
 *   value (whether it returned or called pthread_exit), sees the key already
 *   NULL, and is not called for a NULL value.
 * Phase 2: a destructor that stores a value again is called again, up to
 *   PTHREAD_DESTRUCTOR_ITERATIONS times; destructors of several keys all run.
 * Phase 3: pthread_key_delete does not call destructors; deleting twice or
 *   using a deleted key is EINVAL; 100 keys at once are distinct.
 * Output is deterministic: only counts and verdicts. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "legacy.h"

/* ---- phase 1: one value per thread ---- */

#define THREADS 50

struct ctx {
  int id;
  int magic;
};

static pthread_key_t ctx_key;
static atomic_int dtor_calls, dtor_id_sum, dtor_bad, dtor_saw_value;
static atomic_int kept_own, started_null, threads_done;
static int echo_fds[2];
static pthread_mutex_t echo_lock = PTHREAD_MUTEX_INITIALIZER;

static void ctx_dtor(void* p) {
  struct ctx* c = p;
  atomic_fetch_add(&dtor_calls, 1);
  if (c == NULL || c->magic != 0x5eed)
    atomic_fetch_add(&dtor_bad, 1);
  else
    atomic_fetch_add(&dtor_id_sum, c->id);
  if (pthread_getspecific(ctx_key) != NULL) atomic_fetch_add(&dtor_saw_value, 1);
  free(c);
}

static void round_trip(void) {
  char c = 'x';
  pthread_mutex_lock(&echo_lock);
  write(echo_fds[0], &c, 1);
  read(echo_fds[0], &c, 1);
  pthread_mutex_unlock(&echo_lock);
}

static void* echo_main(void* arg) {
  (void)arg;
  char c;
  while (read(echo_fds[1], &c, 1) == 1) write(echo_fds[1], &c, 1);
  return NULL;
}

static void* worker(void* arg) {
  int id = (int)(long)arg;
  if (pthread_getspecific(ctx_key) == NULL) atomic_fetch_add(&started_null, 1);
  struct ctx* c = malloc(sizeof *c);
  c->id = id;
  c->magic = 0x5eed;
  pthread_setspecific(ctx_key, c);
  msleep(1 + id % 7);
  if (id % 3 == 0) round_trip();
  msleep(20);
  struct ctx* back = pthread_getspecific(ctx_key);
  if (back == c && back->id == id) atomic_fetch_add(&kept_own, 1);
  atomic_fetch_add(&threads_done, 1);
  if (id % 2) pthread_exit(NULL); /* destructors run on pthread_exit too */
  return NULL;
}

static void* null_worker(void* arg) {
  (void)arg;
  pthread_setspecific(ctx_key, NULL); /* NULL: no destructor call */
  msleep(5);
  return NULL;
}

static void phase_values(void) {
  printf("phase 1: %d threads, one key\n", THREADS);
  tcp_pair(echo_fds);
  pthread_t echo;
  pthread_create(&echo, NULL, echo_main, NULL);
  int e = pthread_key_create(&ctx_key, ctx_dtor);
  struct ctx mine = {-1, 0x5eed};
  pthread_setspecific(ctx_key, &mine);
  pthread_t t[THREADS + 5];
  for (long i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, worker, (void*)(i + 1));
  for (int i = THREADS; i < THREADS + 5; i++) pthread_create(&t[i], NULL, null_worker, NULL);
  msleep(10);
  int main_kept_mid = pthread_getspecific(ctx_key) == &mine;
  for (int i = 0; i < THREADS + 5; i++) pthread_join(t[i], NULL);
  int expected_sum = THREADS * (THREADS + 1) / 2;
  printf("  key_create %s; %d started with NULL, %d kept their own value across blocking calls\n",
         errname(e), atomic_load(&started_null), atomic_load(&kept_own));
  printf(
      "  destructor: %d calls (5 threads left NULL), values right: %s, bad %d, saw the key "
      "still set %d\n",
      atomic_load(&dtor_calls), yes(atomic_load(&dtor_id_sum) == expected_sum),
      atomic_load(&dtor_bad), atomic_load(&dtor_saw_value));
  printf("  main kept its own value: %s %s\n", yes(main_kept_mid),
         yes(pthread_getspecific(ctx_key) == &mine));
  pthread_setspecific(ctx_key, NULL);
  shutdown(echo_fds[0], SHUT_WR);
  pthread_join(echo, NULL);
  close(echo_fds[0]);
  close(echo_fds[1]);
}

/* ---- phase 2: destructors that store a value again, and several keys ---- */

static pthread_key_t again_key, k1, k2, k3;
static atomic_int again_calls, k_calls;

static void again_dtor(void* p) {
  int n = atomic_fetch_add(&again_calls, 1) + 1;
  if (n < 3) pthread_setspecific(again_key, p); /* set again: called again */
}

static void sticky_dtor(void* p) {
  (void)p;
  atomic_fetch_add(&again_calls, 1);
  pthread_setspecific(again_key, (void*)1); /* always: glibc gives up after the limit */
}

static void k_dtor(void* p) {
  atomic_fetch_add(&k_calls, (int)(intptr_t)p);
}

static void* again_main(void* arg) {
  (void)arg;
  pthread_setspecific(again_key, (void*)1);
  pthread_setspecific(k1, (void*)1);
  pthread_setspecific(k2, (void*)10);
  pthread_setspecific(k3, (void*)100);
  msleep(5);
  return NULL;
}

static void phase_again(void) {
  printf("phase 2: destructors storing values again\n");
  pthread_key_create(&again_key, again_dtor);
  pthread_key_create(&k1, k_dtor);
  pthread_key_create(&k2, k_dtor);
  pthread_key_create(&k3, k_dtor);
  pthread_t t;
  pthread_create(&t, NULL, again_main, NULL);
  pthread_join(t, NULL);
  printf(
      "  a destructor that stores the value twice more: called %d times; three keys' "
      "destructors: sum %d\n",
      atomic_load(&again_calls), atomic_load(&k_calls));
  pthread_key_delete(again_key);

  atomic_store(&again_calls, 0);
  pthread_key_create(&again_key, sticky_dtor);
  pthread_create(&t, NULL, again_main, NULL);
  pthread_join(t, NULL);
  printf(
      "  a destructor that always stores it again: called %d times (PTHREAD_DESTRUCTOR_"
      "ITERATIONS %d)\n",
      atomic_load(&again_calls), PTHREAD_DESTRUCTOR_ITERATIONS);
  pthread_key_delete(again_key);
  pthread_key_delete(k1);
  pthread_key_delete(k2);
  pthread_key_delete(k3);
}

/* ---- phase 3: deleting keys ---- */

static pthread_key_t del_key;
static atomic_int del_calls, del_ready;
static int del_pipe[2];

static void del_dtor(void* p) {
  (void)p;
  atomic_fetch_add(&del_calls, 1);
}

static void* del_main(void* arg) {
  (void)arg;
  pthread_setspecific(del_key, (void*)1);
  atomic_store(&del_ready, 1);
  char c;
  read(del_pipe[0], &c, 1); /* the key is deleted meanwhile */
  return NULL;
}

#define MANY_KEYS 100

static void phase_delete(void) {
  printf("phase 3: deleting keys\n");
  if (pipe(del_pipe) < 0) exit(1);
  pthread_key_create(&del_key, del_dtor);
  pthread_t t;
  pthread_create(&t, NULL, del_main, NULL);
  while (!atomic_load(&del_ready)) msleep(2);
  int d1 = pthread_key_delete(del_key);
  write(del_pipe[1], "x", 1);
  pthread_join(t, NULL);
  int d2 = pthread_key_delete(del_key);
  int s = pthread_setspecific(del_key, (void*)1);
  printf(
      "  delete while a thread holds a value: %s, its destructor calls %d; delete again %s, "
      "setspecific on it %s\n",
      errname(d1), atomic_load(&del_calls), errname(d2), errname(s));
  close(del_pipe[0]);
  close(del_pipe[1]);

  pthread_key_t keys[MANY_KEYS];
  int created = 0, distinct = 1, values_ok = 1;
  for (int i = 0; i < MANY_KEYS; i++)
    if (pthread_key_create(&keys[i], NULL) == 0) created++;
  for (int i = 0; i < MANY_KEYS; i++) {
    for (int j = 0; j < i; j++) distinct &= keys[i] != keys[j];
    pthread_setspecific(keys[i], (void*)(intptr_t)(i + 1));
  }
  for (int i = 0; i < MANY_KEYS; i++) {
    values_ok &= pthread_getspecific(keys[i]) == (void*)(intptr_t)(i + 1);
    pthread_key_delete(keys[i]);
  }
  pthread_key_t fresh;
  pthread_key_create(&fresh, NULL);
  printf("  %d keys created, distinct: %s, values kept: %s; a new key starts NULL: %s\n", created,
         yes(distinct), yes(values_ok), yes(pthread_getspecific(fresh) == NULL));
  pthread_key_delete(fresh);
}

int main(void) {
  phase_values();
  phase_again();
  phase_delete();
  printf("done\n");
  return 0;
}
