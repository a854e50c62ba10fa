#include "hub/sync.h"

#include <sched.h>

#include <climits>
#include <cstddef>

#include "hub/hub.h"
#include "hub/parking_lot.h"

namespace green {
namespace {

constexpr uintptr_t kHandoff = 1;  // unpark token: the lock is now yours
constexpr uint32_t kWriter = 0x80000000u;
constexpr uint32_t kPreferWriter = 2;  // PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP
constexpr size_t kAll = SIZE_MAX;

template <class T>
bool cas(std::atomic<T>& a, T expected, T desired) {
  return a.compare_exchange_strong(expected, desired, std::memory_order_acq_rel);
}

void take(Mutex* m, uintptr_t self) {
  m->owner.store(self, std::memory_order_relaxed);
  m->count = 0;
}

}  // namespace

int mutex_lock(Mutex* m, Deadline deadline, bool try_only) {
  uintptr_t self = waiter_self();
  if (cas(m->state, 0u, 1u)) {
    take(m, self);
    return 0;
  }
  if (m->owner.load(std::memory_order_relaxed) == self) {
    int type = mutex_type(m);
    if (type == kRecursive) {
      if (m->count == UINT32_MAX) return EAGAIN;
      m->count++;
      return 0;
    }
    if (type == kErrorCheck) return try_only ? EBUSY : EDEADLK;
    // A normal mutex locked twice by its owner deadlocks, as natively.
  }
  if (try_only) return EBUSY;
  ParkOptions options;
  options.deadline = deadline;
  // A native owner (a pool thread, libuv's exit handler's pool) runs on and
  // unlocks by itself: waiting for it is no deadlock.
  options.what = (m->owner.load(std::memory_order_relaxed) & 1) ? nullptr : "mutex";
  for (;;) {
    uintptr_t token = 0;
    ParkResult r = park_on(
        m,
        [m] {  // under the queue's lock: mark it contended, or find it free
          uint32_t s = m->state.load();
          while (s != 0) {
            if (s == 2 || m->state.compare_exchange_weak(s, 2)) return true;
          }
          return false;
        },
        options, &token);
    if (r == ParkResult::kWoken && token == kHandoff) {
      take(m, self);
      return 0;
    }
    if (r == ParkResult::kTimeout) return ETIMEDOUT;
    if (cas(m->state, 0u, 1u)) {
      take(m, self);
      return 0;
    }
  }
}

int mutex_unlock(Mutex* m) {
  int type = mutex_type(m);
  if (type == kRecursive || type == kErrorCheck) {
    if (m->state.load() == 0 || m->owner.load(std::memory_order_relaxed) != waiter_self())
      return EPERM;
    if (m->count > 0) {
      m->count--;
      return 0;
    }
  }
  m->owner.store(0, std::memory_order_relaxed);
  if (cas(m->state, 1u, 0u)) return 0;
  // Contended: hand it to the oldest waiter; it stays locked meanwhile.
  unpark_on(m, 1, kHandoff, nullptr, [m](size_t woken, bool more_left) {
    m->state.store(woken == 0 ? 0 : more_left ? 2 : 1, std::memory_order_release);
  });
  return 0;
}

int cond_wait(CondVar* c, Mutex* m, Deadline deadline) {
  uint32_t seq = c->seq.load();
  c->waiters.fetch_add(1);
  mutex_unlock(m);
  ParkOptions options;
  options.deadline = deadline;
  options.what = "condition variable";
  ParkResult r = park_on(
      c, [c, seq] { return c->seq.load() == seq; }, options);
  c->waiters.fetch_sub(1);
  mutex_lock(m, kNoDeadline, false);
  return r == ParkResult::kTimeout ? ETIMEDOUT : 0;
}

void cond_signal(CondVar* c) {
  if (c->waiters.load() == 0) return;
  c->seq.fetch_add(1);
  unpark_on(c, 1);
}

void cond_broadcast(CondVar* c) {
  if (c->waiters.load() == 0) return;
  c->seq.fetch_add(1);
  unpark_on(c, kAll);
}

int sem_wait_until(Semaphore* s, Deadline deadline, bool try_only) {
  ParkOptions options;
  options.deadline = deadline;
  options.interruptible = true;  // sem_wait is never restarted (man 7 signal)
  options.what = "semaphore";
  for (;;) {
    uint32_t v = s->value.load();
    while (v > 0) {
      if (s->value.compare_exchange_weak(v, v - 1, std::memory_order_acq_rel)) return 0;
    }
    if (try_only) return EAGAIN;
    s->waiters.fetch_add(1);
    ParkResult r = park_on(
        s, [s] { return s->value.load() == 0; }, options);
    s->waiters.fetch_sub(1);
    if (r == ParkResult::kTimeout) return ETIMEDOUT;
    if (r == ParkResult::kInterrupt) return EINTR;
  }
}

int sem_post_one(Semaphore* s) {
  uint32_t v = s->value.load();
  do {
    if (v >= uint32_t(SEM_VALUE_MAX)) return EOVERFLOW;
  } while (!s->value.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel));
  if (s->waiters.load() > 0) unpark_on(s, 1);
  return 0;
}

namespace {

bool readers_blocked(const RWLock* rw) {
  uint32_t s = rw->state.load();
  if (s & kWriter) return true;
  return (rw->flags & kPreferWriter) && rw->writers_waiting.load() > 0;
}

}  // namespace

int rwlock_rdlock(RWLock* rw, Deadline deadline, bool try_only) {
  if ((rw->state.load() & kWriter) && rw->writer.load() == waiter_self())
    return try_only ? EBUSY : EDEADLK;
  ParkOptions options;
  options.deadline = deadline;
  options.what = "rwlock (read)";
  for (;;) {
    uint32_t s = rw->state.load();
    if (!readers_blocked(rw)) {
      if (rw->state.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel)) return 0;
      continue;
    }
    if (try_only) return EBUSY;
    if (park_on(
            rw, [rw] { return readers_blocked(rw); }, options) == ParkResult::kTimeout)
      return ETIMEDOUT;
  }
}

int rwlock_wrlock(RWLock* rw, Deadline deadline, bool try_only) {
  uintptr_t self = waiter_self();
  if ((rw->state.load() & kWriter) && rw->writer.load() == self) return try_only ? EBUSY : EDEADLK;
  ParkOptions options;
  options.deadline = deadline;
  options.what = "rwlock (write)";
  for (;;) {
    if (cas(rw->state, 0u, kWriter)) {
      rw->writer.store(self);
      return 0;
    }
    if (try_only) return EBUSY;
    rw->writers_waiting.fetch_add(1);
    ParkResult r = park_on(
        rw, [rw] { return rw->state.load() != 0; }, options);
    rw->writers_waiting.fetch_sub(1);
    if (r == ParkResult::kTimeout) return ETIMEDOUT;
  }
}

int rwlock_unlock(RWLock* rw) {
  uint32_t s = rw->state.load();
  if (s & kWriter) {
    rw->writer.store(0);
    rw->state.store(0, std::memory_order_release);
  } else if (s > 0) {
    if (rw->state.fetch_sub(1, std::memory_order_acq_rel) != 1) return 0;
  } else {
    return EPERM;
  }
  // Free now: everyone queued tries again, oldest first.
  unpark_on(rw, kAll);
  return 0;
}

int barrier_init(Barrier* b, unsigned count) {
  if (count == 0) return EINVAL;
  b->count = count;
  b->arrived.store(0);
  b->generation.store(0);
  return 0;
}

int barrier_wait(Barrier* b) {
  uint32_t generation = b->generation.load();
  if (b->arrived.fetch_add(1) + 1 == b->count) {
    b->arrived.store(0);
    b->generation.fetch_add(1);
    unpark_on(b, kAll);
    return PTHREAD_BARRIER_SERIAL_THREAD;
  }
  ParkOptions options;
  options.what = "barrier";
  while (b->generation.load() == generation)
    park_on(
        b, [b, generation] { return b->generation.load() == generation; }, options);
  return 0;
}

int once(pthread_once_t* o, void (*init)()) {
  auto* state = reinterpret_cast<std::atomic<int>*>(o);
  ParkOptions options;
  options.what = "pthread_once";
  for (;;) {
    int v = state->load(std::memory_order_acquire);
    if (v == 2) return 0;
    if (v == 0 && cas(*state, 0, 1)) {
      try {
        init();
      } catch (...) {  // cancelled or thrown: another caller may run it
        state->store(0);
        unpark_on(o, kAll);
        throw;
      }
      state->store(2, std::memory_order_release);
      unpark_on(o, kAll);
      return 0;
    }
    park_on(
        o, [state] { return state->load() == 1; }, options);
  }
}

int spin_lock(pthread_spinlock_t* s, bool try_only) {
  auto* word = reinterpret_cast<std::atomic<int>*>(const_cast<int*>(s));
  for (unsigned spins = 0;; spins++) {
    if (cas(*word, 0, 1)) return 0;
    if (try_only) return EBUSY;
    // The holder may be a parked green thread on this very OS thread: give
    // it the chance to run rather than spin forever.
    if (tls.current && tls.in_runtime == 0)
      yield_thread();
    else if (spins > 100)
      sched_yield();
    else
      __builtin_ia32_pause();
  }
}

int spin_unlock(pthread_spinlock_t* s) {
  reinterpret_cast<std::atomic<int>*>(const_cast<int*>(s))->store(0, std::memory_order_release);
  return 0;
}

}  // namespace green
