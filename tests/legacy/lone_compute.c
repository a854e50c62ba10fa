/* One thread computes while the only other one waits, with no deadline, for
 * a pipe that the computing thread writes when it is done (issue 10): natively
 * nothing interrupts it. Under the preload there is nothing else to run and
 * no I/O or timer for the hub, so its time slices should not be interrupted
 * either (the integration test reads the preemption count). Bounded by a
 * fixed amount of work, not by time. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

static int fds[2];

static void* waiter(void* arg) {
  char c = 0;
  ssize_t n = read(fds[0], &c, 1);
  printf("waiter read %zd byte(s): %c\n", n, c);
  return arg;
}

int main(void) {
  if (pipe(fds) != 0) return 1;
  pthread_t t;
  if (pthread_create(&t, NULL, waiter, NULL) != 0) return 1;
  usleep(1000); /* the waiter parks in read first */
  uint64_t x = 88172645463325252ull;
  for (long i = 0; i < 400L * 1000 * 1000; i++) { /* about 0.3 to 1 s */
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
  }
  printf("checksum %016llx\n", (unsigned long long)x);
  fflush(stdout);
  if (write(fds[1], "x", 1) != 1) return 1;
  pthread_join(t, NULL);
  printf("done\n");
  return 0;
}
