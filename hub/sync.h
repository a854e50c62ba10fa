// Green synchronisation primitives. Each lives inside the program's own
// pthread object (the layouts below overlay glibc's, whose static
// initialisers are all zeros apart from the mutex kind, which stays where
// glibc keeps it). Waiting goes through the parking lot, so a green thread
// parks, a native thread blocks for real, and either can wake the other.
// Waiters are served in FIFO order (a mutex is handed to its oldest waiter).
#pragma once
#include <pthread.h>
#include <semaphore.h>

#include <atomic>
#include <cstdint>

#include "hub/clock.h"

namespace green {

// pthread_mutex_t (glibc: __lock, __count, __owner + __nusers, __kind, ...).
struct Mutex {
  std::atomic<uint32_t> state;   // 0 free, 1 locked, 2 locked and maybe waited for
  uint32_t count;                // recursive re-locks beyond the first
  std::atomic<uintptr_t> owner;  // waiter_self() of the holder
  int kind;                      // glibc's __kind: type and flags
  uint32_t unused[5];
};
static_assert(sizeof(Mutex) == sizeof(pthread_mutex_t));

enum MutexType { kNormal = 0, kRecursive = 1, kErrorCheck = 2, kAdaptive = 3 };
inline int mutex_type(const Mutex* m) {
  return m->kind & 3;
}

// 0, EBUSY (try), ETIMEDOUT, EDEADLK, EAGAIN (recursion limit).
int mutex_lock(Mutex* m, Deadline deadline, bool try_only);
int mutex_unlock(Mutex* m);  // 0 or EPERM
inline bool mutex_locked(const Mutex* m) {
  return m->state.load() != 0;
}

// pthread_cond_t.
struct CondVar {
  std::atomic<uint32_t> seq;      // bumped by every signal and broadcast
  std::atomic<uint32_t> waiters;  // threads between "about to wait" and "woke"
  int32_t clock;                  // pthread_condattr_setclock; the initialiser's 0 is REALTIME
  uint32_t unused[9];
};
static_assert(sizeof(CondVar) == sizeof(pthread_cond_t));

int cond_wait(CondVar* c, Mutex* m, Deadline deadline);  // 0 or ETIMEDOUT
void cond_signal(CondVar* c);
void cond_broadcast(CondVar* c);

// sem_t (glibc keeps the value in the low half of its first 64 bits too).
struct Semaphore {
  std::atomic<uint32_t> value;
  std::atomic<uint32_t> waiters;
  uint32_t unused[6];
};
static_assert(sizeof(Semaphore) == sizeof(sem_t));

int sem_wait_until(Semaphore* s, Deadline deadline, bool try_only);  // 0, EAGAIN, ETIMEDOUT, EINTR
int sem_post_one(Semaphore* s);                                      // 0 or EOVERFLOW

// pthread_rwlock_t (glibc's __flags, at byte 48, says whether writers are preferred).
struct RWLock {
  std::atomic<uint32_t> state;  // kWriter, or the number of readers
  std::atomic<uint32_t> writers_waiting;
  std::atomic<uintptr_t> writer;
  uint32_t unused[8];
  uint32_t flags;
  uint32_t unused2;
};
static_assert(sizeof(RWLock) == sizeof(pthread_rwlock_t));

int rwlock_rdlock(RWLock* rw, Deadline deadline, bool try_only);  // 0, EBUSY, ETIMEDOUT, EDEADLK
int rwlock_wrlock(RWLock* rw, Deadline deadline, bool try_only);
int rwlock_unlock(RWLock* rw);  // 0 or EPERM

// pthread_barrier_t.
struct Barrier {
  uint32_t count;
  std::atomic<uint32_t> arrived;
  std::atomic<uint32_t> generation;
  uint32_t unused[5];
};
static_assert(sizeof(Barrier) == sizeof(pthread_barrier_t));

int barrier_init(Barrier* b, unsigned count);  // 0 or EINVAL
int barrier_wait(Barrier* b);                  // 0 or PTHREAD_BARRIER_SERIAL_THREAD

// pthread_once_t: 0 not run, 1 running, 2 done (glibc's values).
int once(pthread_once_t* o, void (*init)());

// pthread_spinlock_t: a green thread that finds it held yields to the others.
int spin_lock(pthread_spinlock_t* s, bool try_only);  // 0 or EBUSY
int spin_unlock(pthread_spinlock_t* s);

}  // namespace green
