/* A program whose first output is wide (wprintf), from several threads, as
 * a 2003 tool built for wide-character locales writes it: stdout takes its
 * orientation from its first call, after which byte calls on it fail.
 * Plain C and pthreads. */
#include <pthread.h>
#include <stdio.h>
#include <wchar.h>

static pthread_mutex_t order = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t turn_changed = PTHREAD_COND_INITIALIZER;
static int turn;

/* Each thread writes its line when its turn comes, so the order is fixed. */
static void* writer(void* arg) {
  int me = (int)(long)arg;
  pthread_mutex_lock(&order);
  while (turn != me) pthread_cond_wait(&turn_changed, &order);
  wprintf(L"  thread %d: %ls\n", me, L"a wide line");
  turn++;
  pthread_cond_broadcast(&turn_changed);
  pthread_mutex_unlock(&order);
  return NULL;
}

int main(void) {
  int before = fwide(stdout, 0);
  int r = wprintf(L"wide output, %d %ls\n", 42, L"first");
  int after = fwide(stdout, 0);
  pthread_t threads[4];
  for (long i = 0; i < 4; i++) pthread_create(&threads[i], NULL, writer, (void*)i);
  for (int i = 0; i < 4; i++) pthread_join(threads[i], NULL);
  int bytes = printf("a byte line\n");
  putwchar(L'x');
  fputws(L" and fputws\n", stdout);
  wprintf(L"orientation before %d, after %d; wprintf gave %d; printf on it gave %d\n", before,
          after, r, bytes);
  return 0;
}
