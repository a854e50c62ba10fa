/* Blocking System V calls that another process ends, made while a thread of
 * this one computes (issue 10). The kernel never restarts semop, semtimedop,
 * msgrcv or msgsnd after a signal handler, SA_RESTART or not: a signal that
 * only the runtime sends (for its time slices) would make them fail with
 * EINTR, where natively nothing interrupts them. Each call waits about
 * 200 ms for a forked child; meanwhile the other thread spins, so under the
 * preload a time slice is running out the whole time. Every wait is bounded. */
#define _GNU_SOURCE /* semtimedop */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <unistd.h>

#include "legacy.h"

static atomic_int stop;

/* Computes until told to stop, 60 s at most. */
static void* spin(void* arg) {
  (void)arg;
  long long end = now_ns() + 60LL * 1000 * 1000 * 1000;
  uint64_t x = 88172645463325252ull;
  while (!atomic_load(&stop) && now_ns() < end)
    for (int i = 0; i < 100000; i++) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
    }
  return (void*)(uintptr_t)(x & 1);
}

struct message {
  long type;
  char text[64];
};

static int sem, queue;

static void sem_add(short n, int flags) {
  struct sembuf op = {0, n, (short)flags};
  if (semop(sem, &op, 1) != 0) _exit(9);
}

static void child_posts(void) {
  sem_add(1, 0);
}

static void child_sends(void) {
  struct message m = {1, "from the child"};
  if (msgsnd(queue, &m, sizeof m.text, 0) != 0) _exit(9);
}

static void child_receives(void) {
  struct message m;
  if (msgrcv(queue, &m, sizeof m.text, 0, 0) < 0) _exit(9);
}

/* Runs what in a child 200 ms from now. */
static pid_t later(void (*what)(void)) {
  pid_t pid = fork();
  if (pid == 0) {
    msleep(200);
    what();
    _exit(0);
  }
  return pid;
}

static void verdict(const char* call, int rc, pid_t child) {
  int e = rc < 0 ? errno : 0;
  int status = -1;
  waitpid(child, &status, 0);
  printf("%-32s %s (child status %d)\n", call, errname(e), status);
}

int main(void) {
  sem = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
  queue = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
  if (sem < 0 || queue < 0) {
    perror("semget/msgget");
    return 1;
  }
  pthread_t spinner;
  pthread_create(&spinner, NULL, spin, NULL);
  msleep(50); /* the spinner has used up slices by now */

  struct sembuf take = {0, -1, 0};
  pid_t child = later(child_posts);
  verdict("semop waits for the child", semop(sem, &take, 1), child);

  msleep(50);
  struct timespec five = {5, 0};
  child = later(child_posts);
  verdict("semtimedop waits for the child", semtimedop(sem, &take, 1, &five), child);

  msleep(50);
  struct message m;
  child = later(child_sends);
  ssize_t got = msgrcv(queue, &m, sizeof m.text, 0, 0);
  verdict("msgrcv waits for the child", got < 0 ? -1 : 0, child);
  printf("  received: %s\n", got > 0 ? m.text : "nothing");

  /* fill the queue, then one more send waits for the child to take one */
  struct message filler = {2, "filler"};
  int sent = 0;
  while (sent < 100000 && msgsnd(queue, &filler, sizeof filler.text, IPC_NOWAIT) == 0) sent++;
  printf("queue full after some messages: %s\n", yes(sent > 0 && errno == EAGAIN));
  msleep(50);
  child = later(child_receives);
  verdict("msgsnd waits for the child", msgsnd(queue, &filler, sizeof filler.text, 0), child);

  atomic_store(&stop, 1);
  pthread_join(spinner, NULL);
  semctl(sem, 0, IPC_RMID);
  msgctl(queue, IPC_RMID, NULL);
  printf("done\n");
  return 0;
}
