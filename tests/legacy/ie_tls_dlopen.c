/* dlopen of a library with initial-exec TLS while threads exist: glibc puts
 * its TLS in the static area and initialises it in every existing thread.
 *   - 8 threads start, dirty their stack and wait on a pipe;
 *   - a ninth thread (not main) dlopens libie_tls_plugin.so;
 *   - every thread, main and the loader included, then finds the initial
 *     values (42, "ie-plugin", zeros), adds its own number, blocks (a pipe
 *     read), and finds its own sum kept;
 *   - a thread made after the dlopen finds the initial values too.
 * The library is named without a directory: it is found through this
 * program's own RUNPATH, which dlopen searches for the object that calls it. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "legacy.h"

enum { kThreads = 8 };

static long (*ie_counter)(void);
static long (*ie_add)(long);
static const char* (*ie_name)(void);
static long (*ie_zeroed_sum)(void);
static int loaded[2], go[2], again[2];

/* Finds the initial values, then keeps its own sum across a blocking read. */
static int check(long id, int fd) {
  int initial = ie_counter() == 42 && strcmp(ie_name(), "ie-plugin") == 0 && ie_zeroed_sum() == 0;
  ie_add(id);
  char c;
  if (fd >= 0 && read(fd, &c, 1) != 1) return 0;
  if (fd < 0) msleep(20);
  return initial && ie_counter() == 42 + id;
}

static void* waiter(void* arg) {
  long id = (long)arg;
  volatile char dirt[2048];
  memset((char*)dirt, 0x5a, sizeof dirt); /* an old stack under the new TLS */
  char c;
  if (read(go[0], &c, 1) != 1) return (void*)0;
  return (void*)(long)check(id, again[0]);
}

static void* loader(void* arg) {
  (void)arg;
  void* lib = dlopen("libie_tls_plugin.so", RTLD_NOW);
  if (!lib) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    if (write(loaded[1], "x", 1) != 1) return (void*)0;
    return (void*)0;
  }
  ie_counter = (long (*)(void))dlsym(lib, "ie_counter");
  ie_add = (long (*)(long))dlsym(lib, "ie_add");
  ie_name = (const char* (*)(void))dlsym(lib, "ie_name");
  ie_zeroed_sum = (long (*)(void))dlsym(lib, "ie_zeroed_sum");
  if (write(loaded[1], "x", 1) != 1) return (void*)0;
  return (void*)(long)check(100, -1);
}

static void* late(void* arg) {
  return (void*)(long)check((long)arg, -1);
}

int main(void) {
  if (pipe(loaded) || pipe(go) || pipe(again)) return 1;
  pthread_t t[kThreads], l, n;
  for (long i = 0; i < kThreads; i++) pthread_create(&t[i], NULL, waiter, (void*)(i + 1));
  msleep(50);
  pthread_create(&l, NULL, loader, NULL);
  char c;
  if (read(loaded[0], &c, 1) != 1) return 1;
  printf("plugin loaded while %d threads wait: %s\n", kThreads, yes(ie_counter != NULL));
  if (!ie_counter) return 1;
  if (write(go[1], "xxxxxxxx", kThreads) != kThreads) return 1;
  int main_ok = check(1000, -1);
  msleep(50);
  if (write(again[1], "xxxxxxxx", kThreads) != kThreads) return 1;
  int ok = 0;
  for (int i = 0; i < kThreads; i++) {
    void* r;
    pthread_join(t[i], &r);
    ok += r != NULL;
  }
  void* r;
  pthread_join(l, &r);
  printf("threads that existed: initial values, own sums kept: %d of %d\n", ok, kThreads);
  printf("the thread that called dlopen: %s\n", yes(r != NULL));
  printf("main: %s\n", yes(main_ok));
  pthread_create(&n, NULL, late, (void*)7);
  pthread_join(n, &r);
  printf("a thread made after the dlopen: %s\n", yes(r != NULL));
  return 0;
}
