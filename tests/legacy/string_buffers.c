/* glibc's strsignal and strerror/strerror_l keep the text for an unknown
 * number in a buffer of the calling thread, which the thread's exit frees.
 *   1. per thread: four threads each get their own text, wait until all
 *      have asked (a blocking pipe read), and find theirs unchanged;
 *   2. freed at exit: 10,000 threads (100 at a time) each get such texts;
 *      the bytes malloc has in use afterwards stay within a bound far below
 *      what 10,000 leaked pairs of buffers would hold. */
#include <locale.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "legacy.h"

enum { kPerThread = 4, kThreads = 10000, kBatch = 100 };

static int go[2];
static locale_t c_locale;

static void* per_thread(void* arg) {
  long i = (long)arg;
  char want_sig[64], want_err[64], want_err_l[64];
  const char* sig = strsignal(1000 + (int)i);
  snprintf(want_sig, sizeof want_sig, "%s", sig);
  const char* err = strerror(100000 + (int)i);
  snprintf(want_err, sizeof want_err, "%s", err);
  /* strerror_l and strerror share the thread's buffer: the last call wins. */
  const char* err_l = strerror_l(200000 + (int)i, c_locale);
  snprintf(want_err_l, sizeof want_err_l, "%s", err_l);
  char c;
  if (read(go[0], &c, 1) != 1) return (void*)1; /* every thread has asked */
  char sig_n[24], err_n[24], err_l_n[24];
  snprintf(sig_n, sizeof sig_n, "%ld", 1000 + i);
  snprintf(err_n, sizeof err_n, "%ld", 100000 + i);
  snprintf(err_l_n, sizeof err_l_n, "%ld", 200000 + i);
  int ok = strcmp(sig, want_sig) == 0 && strcmp(err_l, want_err_l) == 0 &&
           strstr(want_sig, sig_n) && strstr(want_err, err_n) && strstr(want_err_l, err_l_n);
  return ok ? NULL : (void*)1;
}

static void* asks(void* arg) {
  long i = (long)arg;
  volatile const char* s = strsignal(1000 + (int)(i % 50));
  volatile const char* e = strerror(100000 + (int)i);
  (void)s;
  (void)e;
  return NULL;
}

int main(void) {
  c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
  if (pipe(go) != 0) return 1;
  pthread_t t[kBatch];
  for (long i = 0; i < kPerThread; i++) pthread_create(&t[i], NULL, per_thread, (void*)i);
  msleep(50);
  if (write(go[1], "xxxx", kPerThread) != kPerThread) return 1;
  int bad = 0;
  for (int i = 0; i < kPerThread; i++) {
    void* r;
    pthread_join(t[i], &r);
    bad += r != NULL;
  }
  printf("each thread keeps its own strsignal/strerror_l text: %s\n", yes(bad == 0));

  /* Warm up (arenas, caches), then count the bytes in use. */
  for (long i = 0; i < kBatch; i++) pthread_create(&t[i], NULL, asks, (void*)i);
  for (int i = 0; i < kBatch; i++) pthread_join(t[i], NULL);
  size_t before = mallinfo2().uordblks;
  for (long done = 0; done < kThreads; done += kBatch) {
    for (long i = 0; i < kBatch; i++) pthread_create(&t[i], NULL, asks, (void*)(done + i));
    for (int i = 0; i < kBatch; i++) pthread_join(t[i], NULL);
  }
  size_t after = mallinfo2().uordblks;
  size_t grown = after > before ? after - before : 0;
  /* 10,000 leaked pairs would hold at least 640,000 bytes. */
  printf("%d threads: their buffers freed at exit (in use grew under 128 KiB): %s\n", kThreads,
         yes(grown < 128 * 1024));
  if (getenv("STRING_BUFFERS_VERBOSE")) fprintf(stderr, "grew %zu bytes\n", grown);
  freelocale(c_locale);
  return 0;
}
