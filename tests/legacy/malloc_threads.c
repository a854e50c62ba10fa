/* malloc and free from many threads at once, with blocking calls between:
 * 200 threads each allocate blocks of many sizes, fill them, yield and
 * sleep, check them, and free both their own blocks and blocks that other
 * threads allocated (handed over through a locked ring). Every block must
 * keep its contents, and nothing may crash or trip glibc's heap checks. */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "legacy.h"

enum { kThreads = 200, kRounds = 60, kRing = 64 };

static pthread_mutex_t ring_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned char* ring[kRing];
static size_t ring_size[kRing];
static int bad;

static void fill(unsigned char* p, size_t n, unsigned char v) {
  memset(p, v, n);
}

static int intact(const unsigned char* p, size_t n, unsigned char v) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != v) return 0;
  return 1;
}

/* Swaps a block into the ring and frees whatever another thread left. */
static void hand_over(unsigned char* p, size_t n) {
  pthread_mutex_lock(&ring_lock);
  size_t slot = (size_t)rand() % kRing;
  unsigned char* old = ring[slot];
  size_t old_n = ring_size[slot];
  ring[slot] = p;
  ring_size[slot] = n;
  pthread_mutex_unlock(&ring_lock);
  if (old && !intact(old, old_n, (unsigned char)old_n))
    __atomic_add_fetch(&bad, 1, __ATOMIC_RELAXED);
  free(old);
}

static void* worker(void* arg) {
  long id = (long)arg;
  for (int r = 0; r < kRounds; r++) {
    size_t n = 16 + (size_t)((id * 131 + r * 977) % 3000);
    unsigned char* mine = malloc(n);
    unsigned char* given = malloc(n / 2 + 1);
    if (!mine || !given) {
      __atomic_add_fetch(&bad, 1, __ATOMIC_RELAXED);
      return NULL;
    }
    fill(mine, n, (unsigned char)(id + r));
    fill(given, n / 2 + 1, (unsigned char)(n / 2 + 1));
    if (r % 3 == 0)
      sched_yield();
    else
      msleep(1);
    if (!intact(mine, n, (unsigned char)(id + r))) __atomic_add_fetch(&bad, 1, __ATOMIC_RELAXED);
    mine = realloc(mine, n * 2);
    if (!mine || !intact(mine, n, (unsigned char)(id + r)))
      __atomic_add_fetch(&bad, 1, __ATOMIC_RELAXED);
    free(mine);
    hand_over(given, n / 2 + 1);
  }
  return NULL;
}

int main(void) {
  pthread_t t[kThreads];
  for (long i = 0; i < kThreads; i++) pthread_create(&t[i], NULL, worker, (void*)i);
  for (int i = 0; i < kThreads; i++) pthread_join(t[i], NULL);
  for (int i = 0; i < kRing; i++) {
    if (ring[i] && !intact(ring[i], ring_size[i], (unsigned char)ring_size[i])) bad++;
    free(ring[i]);
  }
  printf("%d threads x %d rounds of malloc, realloc and free across blocking calls: %s\n", kThreads,
         kRounds, yes(bad == 0));
  return 0;
}
