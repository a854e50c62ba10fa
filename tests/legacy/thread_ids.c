/* Calls on a thread's identity (issue 8, item 12, in part): a second
 * pthread_join and a detach of a joined thread; the scheduling policy and
 * priority of threads, as created (inherited or from the attribute, also as
 * pthread_getattr_np reports them) and as set; pthread_rwlock_destroy of a
 * held lock. Knows nothing of libgreen. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>

#include "legacy.h"

static void* quick(void* arg) {
  return arg;
}

static const char* policy_name(int policy) {
  switch (policy) {
    case SCHED_OTHER:
      return "SCHED_OTHER";
    case SCHED_FIFO:
      return "SCHED_FIFO";
    case SCHED_RR:
      return "SCHED_RR";
    case SCHED_BATCH:
      return "SCHED_BATCH";
    case SCHED_IDLE:
      return "SCHED_IDLE";
  }
  return "other";
}

static void joins(void) {
  pthread_t t;
  pthread_create(&t, NULL, quick, NULL);
  printf("pthread_join: %s\n", errname(pthread_join(t, NULL)));
  printf("pthread_join again: %s\n", errname(pthread_join(t, NULL)));
  printf("pthread_detach of the joined thread: %s\n", errname(pthread_detach(t)));
  printf("pthread_tryjoin_np of it: %s\n", errname(pthread_tryjoin_np(t, NULL)));
  printf("pthread_cancel of it: %s\n", errname(pthread_cancel(t)));
  pthread_create(&t, NULL, quick, NULL);
  printf("pthread_detach of a running thread: %s\n", errname(pthread_detach(t)));
  msleep(20);
}

/* What a thread says of itself, as a line. */
struct report {
  char line[160];
};

static void* describe(void* arg) {
  struct report* r = arg;
  int policy = -1, inherit = -1, attr_policy = -1;
  struct sched_param param = {-1}, attr_param = {-1};
  pthread_getschedparam(pthread_self(), &policy, &param);
  pthread_attr_t attr;
  pthread_getattr_np(pthread_self(), &attr);
  pthread_attr_getinheritsched(&attr, &inherit);
  pthread_attr_getschedpolicy(&attr, &attr_policy);
  pthread_attr_getschedparam(&attr, &attr_param);
  pthread_attr_destroy(&attr);
  snprintf(r->line, sizeof r->line, "%s %d; pthread_getattr_np: %s, %s %d", policy_name(policy),
           param.sched_priority, inherit == PTHREAD_EXPLICIT_SCHED ? "explicit" : "inherit",
           policy_name(attr_policy), attr_param.sched_priority);
  return NULL;
}

static void created(const char* what, pthread_attr_t* attr) {
  struct report r = {""};
  pthread_t t;
  int err = pthread_create(&t, attr, describe, &r);
  if (err == 0) pthread_join(t, NULL);
  printf("  %s: %s %s\n", what, errname(err), r.line);
}

static void* creator(void* arg) {
  (void)arg;
  struct sched_param zero = {0};
  printf("a thread that set itself SCHED_BATCH: %s\n",
         errname(pthread_setschedparam(pthread_self(), SCHED_BATCH, &zero)));
  created("creates a thread with no attribute", NULL);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  struct sched_param five = {5};
  pthread_attr_setschedpolicy(&attr, SCHED_FIFO);
  pthread_attr_setschedparam(&attr, &five);
  created("one that inherits, the attribute saying SCHED_FIFO 5", &attr);
  pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
  pthread_attr_setschedpolicy(&attr, SCHED_OTHER);
  pthread_attr_setschedparam(&attr, &zero);
  created("one with PTHREAD_EXPLICIT_SCHED and SCHED_OTHER 0", &attr);
  pthread_attr_setschedpolicy(&attr, SCHED_RR);
  created("one with PTHREAD_EXPLICIT_SCHED and SCHED_RR 0", &attr);
  pthread_attr_destroy(&attr);
  return NULL;
}

static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;

static void* parked(void* arg) {
  pthread_mutex_lock(&gate);
  pthread_mutex_unlock(&gate);
  return arg;
}

static void set_on_another(void) {
  pthread_mutex_lock(&gate);
  pthread_t t;
  pthread_create(&t, NULL, parked, NULL);
  int policy = -1;
  struct sched_param p = {-1};
  printf("another thread, as created: %s", errname(pthread_getschedparam(t, &policy, &p)));
  printf(" %s %d\n", policy_name(policy), p.sched_priority);
  struct sched_param zero = {0}, three = {3};
  printf("  set SCHED_IDLE 0: %s", errname(pthread_setschedparam(t, SCHED_IDLE, &zero)));
  pthread_getschedparam(t, &policy, &p);
  printf(", now %s %d\n", policy_name(policy), p.sched_priority);
  printf("  set SCHED_OTHER 3: %s\n", errname(pthread_setschedparam(t, SCHED_OTHER, &three)));
  printf("  set policy 99: %s\n", errname(pthread_setschedparam(t, 99, &zero)));
  printf("  set SCHED_BATCH 0: %s", errname(pthread_setschedparam(t, SCHED_BATCH, &zero)));
  printf(", priority 3: %s", errname(pthread_setschedprio(t, 3)));
  printf(", priority 0: %s", errname(pthread_setschedprio(t, 0)));
  pthread_getschedparam(t, &policy, &p);
  printf(", now %s %d\n", policy_name(policy), p.sched_priority);
  pthread_mutex_unlock(&gate);
  pthread_join(t, NULL);
  printf("  pthread_getschedparam of it once joined: %s\n",
         errname(pthread_getschedparam(t, &policy, &p)));
}

/* Real-time policies need a privilege that this machine may or may not
 * give: the main thread's answer (a real thread either way) says which. */
static void realtime(void) {
  struct sched_param five = {5}, zero = {0};
  int main_err = pthread_setschedparam(pthread_self(), SCHED_FIFO, &five);
  pthread_setschedparam(pthread_self(), SCHED_OTHER, &zero);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
  pthread_attr_setschedpolicy(&attr, SCHED_FIFO);
  pthread_attr_setschedparam(&attr, &five);
  struct report r = {""};
  pthread_t t;
  int err = pthread_create(&t, &attr, describe, &r);
  if (err == 0) pthread_join(t, NULL);
  pthread_attr_destroy(&attr);
  int ok =
      err == main_err &&
      (err != 0 || strcmp(r.line, "SCHED_FIFO 5; pthread_getattr_np: explicit, SCHED_FIFO 5") == 0);
  printf("explicit SCHED_FIFO 5: created as the main thread may set it, and reports it: %s\n",
         yes(ok));
}

static void rwlocks(void) {
  pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
  pthread_rwlock_rdlock(&rw);
  printf("pthread_rwlock_destroy of a read-locked rwlock: %s\n",
         errname(pthread_rwlock_destroy(&rw)));
  pthread_rwlock_init(&rw, NULL);
  pthread_rwlock_wrlock(&rw);
  printf("pthread_rwlock_destroy of a write-locked rwlock: %s\n",
         errname(pthread_rwlock_destroy(&rw)));
}

int main(void) {
  joins();
  struct report r = {""};
  pthread_t t;
  pthread_create(&t, NULL, describe, &r);
  pthread_join(t, NULL);
  printf("a thread created with no attribute: %s\n", r.line);
  pthread_create(&t, NULL, creator, NULL);
  pthread_join(t, NULL);
  set_on_another();
  realtime();
  rwlocks();
  return 0;
}
