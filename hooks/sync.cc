// pthread mutexes, condition variables, rwlocks, barriers, once, spinlocks
// and POSIX semaphores: the green primitives of hub/sync.h, for every thread
// once start-up is done (a native thread must see the same lock state as a
// green one). Process-shared, robust and priority-protocol objects stay
// glibc's: on a green thread a mutex or rwlock is polled with short green
// sleeps; semaphore, condition variable and barrier waits run inside glibc's
// own wait on a helper OS thread (hub/os_wait.h), so that another process's
// post, signal or broadcast reaches them.
#include <semaphore.h>

#include <cstring>

#include "hooks/hook.h"
#include "hub/os_wait.h"
#include "hub/sync.h"

using namespace green;

namespace {

// Until the preload's constructor has run, glibc's own implementation.
bool ours() {
  return g_adopt_main_thread;
}

constexpr int kMutexSpecial = 16 | 32 | 64 | 128;  // robust, PI, PP, process-shared
constexpr uint32_t kBarrierMagic = 0x6e657267;     // "gren": initialised by us
// A green semaphore's mark, in the word where glibc keeps its futex flag:
// glibc stores 0 there for a private semaphore and 128 (FUTEX_PRIVATE_FLAG,
// its "shared" value) for sem_open and sem_init(pshared=1) ones, so neither
// can be taken for this (design.md trap 13).
constexpr uint32_t kGreenSem = 0x6d657367;  // "gsem"

Mutex* as_mutex(pthread_mutex_t* m) {
  return reinterpret_cast<Mutex*>(m);
}
bool special(pthread_mutex_t* m) {
  return as_mutex(m)->kind & kMutexSpecial;
}

bool valid_time(const timespec* ts) {
  return ts && ts->tv_nsec >= 0 && ts->tv_nsec < 1000000000;
}

Deadline deadline_on(clockid_t clock, const timespec* abstime) {
  return deadline_after(timespec_ns(*abstime) - clock_ns(clock));
}

// A glibc-owned object waited for from a green thread: poll it.
template <class Try>
int poll_green(Deadline deadline, int busy, Try&& attempt) {
  for (;;) {
    int r = attempt();
    if (r != busy) return r;
    if (monotonic_ns() >= deadline) return ETIMEDOUT;
    sleep_until(std::min(deadline, deadline_after(1000000)), false);
  }
}

int lock_special(pthread_mutex_t* m, Deadline deadline, bool try_only) {
  if (try_only) return REAL(pthread_mutex_trylock)(m);
  if (!hook_self()) {
    if (deadline == kNoDeadline) return REAL(pthread_mutex_lock)(m);
    timespec abs = ns_timespec(clock_ns(CLOCK_MONOTONIC) + (deadline - monotonic_ns()));
    return REAL(pthread_mutex_clocklock)(m, CLOCK_MONOTONIC, &abs);
  }
  return poll_green(deadline, EBUSY, [m] { return REAL(pthread_mutex_trylock)(m); });
}

int lock(pthread_mutex_t* m, Deadline deadline, bool try_only) {
  hook_self();  // a first call from main turns it green, so it parks rather than blocks
  if (special(m)) return lock_special(m, deadline, try_only);
  return mutex_lock(as_mutex(m), deadline, try_only);
}

}  // namespace

extern "C" int pthread_mutex_init(pthread_mutex_t* m, const pthread_mutexattr_t* attr) noexcept {
  int type = PTHREAD_MUTEX_NORMAL, shared = PTHREAD_PROCESS_PRIVATE, robust = PTHREAD_MUTEX_STALLED,
      protocol = PTHREAD_PRIO_NONE;
  if (attr) {
    pthread_mutexattr_gettype(attr, &type);
    pthread_mutexattr_getpshared(attr, &shared);
    pthread_mutexattr_getrobust(attr, &robust);
    pthread_mutexattr_getprotocol(attr, &protocol);
  }
  if (!ours() || shared != PTHREAD_PROCESS_PRIVATE || robust != PTHREAD_MUTEX_STALLED ||
      protocol != PTHREAD_PRIO_NONE)
    return REAL(pthread_mutex_init)(m, attr);
  memset(m, 0, sizeof *m);
  as_mutex(m)->kind = type;
  return 0;
}

extern "C" int pthread_mutex_destroy(pthread_mutex_t* m) noexcept {
  if (!ours() || special(m)) return REAL(pthread_mutex_destroy)(m);
  return mutex_locked(as_mutex(m)) ? EBUSY : 0;
}

extern "C" int pthread_mutex_lock(pthread_mutex_t* m) noexcept {
  if (!ours()) return REAL(pthread_mutex_lock)(m);
  return lock(m, kNoDeadline, false);
}

extern "C" int pthread_mutex_trylock(pthread_mutex_t* m) noexcept {
  if (!ours()) return REAL(pthread_mutex_trylock)(m);
  int r = lock(m, kNoDeadline, true);
  if (r == EBUSY && hook_self()) let_others_run();  // a loop of trylocks waits for the holder
  return r;
}

extern "C" int pthread_mutex_timedlock(pthread_mutex_t* m, const timespec* abstime) noexcept {
  if (!ours()) return REAL(pthread_mutex_timedlock)(m, abstime);
  int r = lock(m, kNoDeadline, true);  // a free lock is taken whatever the time says
  if (r != EBUSY) return r;
  if (!valid_time(abstime)) return EINVAL;
  return lock(m, deadline_on(CLOCK_REALTIME, abstime), false);
}

extern "C" int pthread_mutex_clocklock(pthread_mutex_t* m, clockid_t clock,
                                       const timespec* abstime) noexcept {
  if (!ours()) return REAL(pthread_mutex_clocklock)(m, clock, abstime);
  if (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC) return EINVAL;
  int r = lock(m, kNoDeadline, true);
  if (r != EBUSY) return r;
  if (!valid_time(abstime)) return EINVAL;
  return lock(m, deadline_on(clock, abstime), false);
}

extern "C" int pthread_mutex_unlock(pthread_mutex_t* m) noexcept {
  if (!ours() || special(m)) return REAL(pthread_mutex_unlock)(m);
  return mutex_unlock(as_mutex(m));
}

namespace {

CondVar* as_cond(pthread_cond_t* c) {
  return reinterpret_cast<CondVar*>(c);
}

// glibc marks a process-shared condition variable in bit 0 of __wrefs (byte 36).
bool shared_cond(pthread_cond_t* c) {
  return reinterpret_cast<const uint32_t*>(c)[9] & 1;
}

// A wait on glibc's own objects (process-shared ones): on a green thread it
// runs inside glibc on a helper OS thread, so the hub keeps running and the
// other process's wake-ups reach it; elsewhere, as is. A condition variable
// wait is a cancellation point: a cancel stops the helper's wait (glibc
// locks the mutex again) and is then acted on here, the mutex held.
template <class Call>
int glibc_wait(Call&& call, bool cancel_point) {
  GreenThread* self = hook_self();
  if (!self) return call();
  CancelPoint cp(cancel_point ? self : nullptr);
  OsWaitEnd end;
  int r = run_os_wait(call, false, &end);
  if (end == OsWaitEnd::kInterrupted) {
    cp.act();
    return 0;  // not acted on after all (disabled meanwhile): a spurious wake-up
  }
  return r;
}

// A cancellation point: a cancel that arrives during the wait is acted on
// once the mutex is locked again, as POSIX says.
int cond_wait_until(pthread_cond_t* c, pthread_mutex_t* m, Deadline deadline) {
  GreenThread* self = hook_self();
  CancelPoint cp(self);
  int r = cond_wait(as_cond(c), as_mutex(m), deadline);
  if (self && (self->cancel_pending || api_armed())) cp.act();  // a kill or Timeout too
  return r;
}

}  // namespace

extern "C" int pthread_cond_init(pthread_cond_t* c, const pthread_condattr_t* attr) noexcept {
  int shared = PTHREAD_PROCESS_PRIVATE;
  if (attr) pthread_condattr_getpshared(attr, &shared);
  if (!ours() || shared != PTHREAD_PROCESS_PRIVATE) return REAL(pthread_cond_init)(c, attr);
  clockid_t clock = CLOCK_REALTIME;
  if (attr) pthread_condattr_getclock(attr, &clock);
  memset(c, 0, sizeof *c);
  as_cond(c)->clock = clock;
  return 0;
}

extern "C" int pthread_cond_destroy(pthread_cond_t* c) noexcept {
  if (!ours() || shared_cond(c)) return REAL(pthread_cond_destroy)(c);
  return 0;  // glibc's waits for the woken waiters and returns 0, never EBUSY
}

extern "C" int pthread_cond_wait(pthread_cond_t* c, pthread_mutex_t* m) {
  if (!ours()) return REAL(pthread_cond_wait)(c, m);
  if (special(m) || shared_cond(c))
    return glibc_wait([&] { return REAL(pthread_cond_wait)(c, m); }, true);
  return cond_wait_until(c, m, kNoDeadline);
}

extern "C" int pthread_cond_timedwait(pthread_cond_t* c, pthread_mutex_t* m,
                                      const timespec* abstime) {
  if (!ours()) return REAL(pthread_cond_timedwait)(c, m, abstime);
  if (special(m) || shared_cond(c))
    return glibc_wait([&] { return REAL(pthread_cond_timedwait)(c, m, abstime); }, true);
  if (!valid_time(abstime)) return EINVAL;
  return cond_wait_until(c, m, deadline_on(as_cond(c)->clock, abstime));
}

extern "C" int pthread_cond_clockwait(pthread_cond_t* c, pthread_mutex_t* m, clockid_t clock,
                                      const timespec* abstime) {
  if (!ours()) return REAL(pthread_cond_clockwait)(c, m, clock, abstime);
  if (special(m) || shared_cond(c))
    return glibc_wait([&] { return REAL(pthread_cond_clockwait)(c, m, clock, abstime); }, true);
  if ((clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC) || !valid_time(abstime)) return EINVAL;
  return cond_wait_until(c, m, deadline_on(clock, abstime));
}

extern "C" int pthread_cond_signal(pthread_cond_t* c) noexcept {
  if (!ours() || shared_cond(c)) return REAL(pthread_cond_signal)(c);
  cond_signal(as_cond(c));
  return 0;
}

extern "C" int pthread_cond_broadcast(pthread_cond_t* c) noexcept {
  if (!ours() || shared_cond(c)) return REAL(pthread_cond_broadcast)(c);
  cond_broadcast(as_cond(c));
  return 0;
}

namespace {

RWLock* as_rwlock(pthread_rwlock_t* rw) {
  return reinterpret_cast<RWLock*>(rw);
}
bool shared_rwlock(pthread_rwlock_t* rw) {
  return as_rwlock(rw)->unused[3] != 0;
}  // glibc's __shared

template <class Real>
int rwlock_special(Deadline deadline, bool try_only, Real&& real_try) {
  if (try_only || !hook_self()) return real_try();
  return poll_green(deadline, EBUSY, real_try);
}

}  // namespace

extern "C" int pthread_rwlock_init(pthread_rwlock_t* rw,
                                   const pthread_rwlockattr_t* attr) noexcept {
  int shared = PTHREAD_PROCESS_PRIVATE, kind = PTHREAD_RWLOCK_PREFER_READER_NP;
  if (attr) {
    pthread_rwlockattr_getpshared(attr, &shared);
    pthread_rwlockattr_getkind_np(attr, &kind);
  }
  if (!ours() || shared != PTHREAD_PROCESS_PRIVATE) return REAL(pthread_rwlock_init)(rw, attr);
  memset(rw, 0, sizeof *rw);
  as_rwlock(rw)->flags = uint32_t(kind);
  return 0;
}

extern "C" int pthread_rwlock_destroy(pthread_rwlock_t* rw) noexcept {
  if (!ours() || shared_rwlock(rw)) return REAL(pthread_rwlock_destroy)(rw);
  return 0;  // as glibc's, held or not (POSIX leaves a held one undefined)
}

#define GREEN_RWLOCK_OP(name, op, try_only, deadline_expr, real_call, check)   \
  extern "C" int name noexcept {                                               \
    if (!ours()) return real_call;                                             \
    check;                                                                     \
    hook_self();                                                               \
    if (shared_rwlock(rw))                                                     \
      return rwlock_special(deadline_expr, try_only,                           \
                            [&] { return REAL(pthread_rwlock_try##op)(rw); }); \
    return rwlock_##op(as_rwlock(rw), deadline_expr, try_only);                \
  }

GREEN_RWLOCK_OP(pthread_rwlock_rdlock(pthread_rwlock_t* rw), rdlock, false, kNoDeadline,
                REAL(pthread_rwlock_rdlock)(rw), )
GREEN_RWLOCK_OP(pthread_rwlock_tryrdlock(pthread_rwlock_t* rw), rdlock, true, kNoDeadline,
                REAL(pthread_rwlock_tryrdlock)(rw), )
GREEN_RWLOCK_OP(pthread_rwlock_timedrdlock(pthread_rwlock_t* rw, const timespec* t), rdlock, false,
                deadline_on(CLOCK_REALTIME, t), REAL(pthread_rwlock_timedrdlock)(rw, t),
                if (!valid_time(t)) return EINVAL)
GREEN_RWLOCK_OP(pthread_rwlock_clockrdlock(pthread_rwlock_t* rw, clockid_t c, const timespec* t),
                rdlock, false, deadline_on(c, t), REAL(pthread_rwlock_clockrdlock)(rw, c, t),
                if (!valid_time(t) || (c != CLOCK_REALTIME && c != CLOCK_MONOTONIC)) return EINVAL)
GREEN_RWLOCK_OP(pthread_rwlock_wrlock(pthread_rwlock_t* rw), wrlock, false, kNoDeadline,
                REAL(pthread_rwlock_wrlock)(rw), )
GREEN_RWLOCK_OP(pthread_rwlock_trywrlock(pthread_rwlock_t* rw), wrlock, true, kNoDeadline,
                REAL(pthread_rwlock_trywrlock)(rw), )
GREEN_RWLOCK_OP(pthread_rwlock_timedwrlock(pthread_rwlock_t* rw, const timespec* t), wrlock, false,
                deadline_on(CLOCK_REALTIME, t), REAL(pthread_rwlock_timedwrlock)(rw, t),
                if (!valid_time(t)) return EINVAL)
GREEN_RWLOCK_OP(pthread_rwlock_clockwrlock(pthread_rwlock_t* rw, clockid_t c, const timespec* t),
                wrlock, false, deadline_on(c, t), REAL(pthread_rwlock_clockwrlock)(rw, c, t),
                if (!valid_time(t) || (c != CLOCK_REALTIME && c != CLOCK_MONOTONIC)) return EINVAL)
#undef GREEN_RWLOCK_OP

extern "C" int pthread_rwlock_unlock(pthread_rwlock_t* rw) noexcept {
  if (!ours() || shared_rwlock(rw)) return REAL(pthread_rwlock_unlock)(rw);
  return rwlock_unlock(as_rwlock(rw));
}

extern "C" int pthread_barrier_init(pthread_barrier_t* b, const pthread_barrierattr_t* attr,
                                    unsigned count) noexcept {
  int shared = PTHREAD_PROCESS_PRIVATE;
  if (attr) pthread_barrierattr_getpshared(attr, &shared);
  if (!ours() || shared != PTHREAD_PROCESS_PRIVATE)
    return REAL(pthread_barrier_init)(b, attr, count);
  auto* barrier = reinterpret_cast<Barrier*>(b);
  int r = barrier_init(barrier, count);
  if (r == 0) barrier->unused[0] = kBarrierMagic;
  return r;
}

extern "C" int pthread_barrier_destroy(pthread_barrier_t* b) noexcept {
  auto* barrier = reinterpret_cast<Barrier*>(b);
  if (barrier->unused[0] != kBarrierMagic) return REAL(pthread_barrier_destroy)(b);
  if (barrier->arrived.load() != 0) return EBUSY;
  barrier->unused[0] = 0;
  return 0;
}

extern "C" int pthread_barrier_wait(pthread_barrier_t* b) noexcept {
  auto* barrier = reinterpret_cast<Barrier*>(b);
  if (barrier->unused[0] != kBarrierMagic)
    return glibc_wait([&] { return REAL(pthread_barrier_wait)(b); }, false);
  hook_self();
  return barrier_wait(barrier);
}

extern "C" int pthread_once(pthread_once_t* o, void (*init)()) {
  if (!ours()) return REAL(pthread_once)(o, init);
  hook_self();
  return once(o, init);
}

extern "C" int pthread_spin_init(pthread_spinlock_t* s, int) noexcept {
  *s = 0;
  return 0;
}

extern "C" int pthread_spin_destroy(pthread_spinlock_t*) noexcept {
  return 0;
}

extern "C" int pthread_spin_lock(pthread_spinlock_t* s) noexcept {
  hook_self();
  return spin_lock(s, false);
}

extern "C" int pthread_spin_trylock(pthread_spinlock_t* s) noexcept {
  return spin_lock(s, true);
}

extern "C" int pthread_spin_unlock(pthread_spinlock_t* s) noexcept {
  return spin_unlock(s);
}

namespace {

Semaphore* as_sem(sem_t* s) {
  return reinterpret_cast<Semaphore*>(s);
}
bool private_sem(sem_t* s) {
  return as_sem(s)->unused[0] == kGreenSem;
}

int sem_result(int err) {
  if (err == 0) return 0;
  errno = err;
  return -1;
}

int sem_wait_green(sem_t* s, Deadline deadline, bool try_only) {
  GreenThread* self = hook_self();
  CancelPoint cp(try_only ? nullptr : self);  // sem_wait is a cancellation point
  int err = sem_wait_until(as_sem(s), deadline, try_only);
  if (err == EINTR && self && self->cancel_pending) cp.act();
  return sem_result(err);
}

// A glibc semaphore (process-shared, or made before start-up): call() is
// glibc's wait. A green thread that cannot take it at once waits in call()
// on a helper OS thread; a handled signal or a cancel stops that wait
// (EINTR, or the cancel acted on) unless the helper took the semaphore.
template <class Call>
int sem_wait_glibc(sem_t* s, Call&& call) {
  GreenThread* self = hook_self();
  if (!self) return call();
  CancelPoint cp(self);
  int entry_errno = errno;
  if (REAL(sem_trywait)(s) == 0) return 0;
  errno = entry_errno;
  OsWaitEnd end;
  int r = run_os_wait(call, true, &end);
  if (end == OsWaitEnd::kReturned) return r;
  if (self->cancel_pending) cp.act();
  return sem_result(EINTR);
}

}  // namespace

extern "C" int sem_init(sem_t* s, int pshared, unsigned value) noexcept {
  if (!ours() || pshared) return REAL(sem_init)(s, pshared, value);
  if (value > unsigned(SEM_VALUE_MAX)) return sem_result(EINVAL);
  memset(s, 0, sizeof *s);
  as_sem(s)->value.store(value);
  as_sem(s)->unused[0] = kGreenSem;
  return 0;
}

extern "C" int sem_destroy(sem_t* s) noexcept {
  if (!ours() || !private_sem(s)) return REAL(sem_destroy)(s);
  return 0;
}

extern "C" int sem_wait(sem_t* s) {
  if (!ours()) return REAL(sem_wait)(s);
  if (!private_sem(s)) return sem_wait_glibc(s, [s] { return REAL(sem_wait)(s); });
  return sem_wait_green(s, kNoDeadline, false);
}

extern "C" int sem_trywait(sem_t* s) noexcept {
  if (!ours() || !private_sem(s)) return REAL(sem_trywait)(s);
  int r = sem_wait_green(s, kNoDeadline, true);
  if (r != 0 && hook_self()) {
    int err = errno;
    let_others_run();  // a loop of trywaits waits for a post
    errno = err;
  }
  return r;
}

extern "C" int sem_timedwait(sem_t* s, const timespec* abstime) {
  if (!ours()) return REAL(sem_timedwait)(s, abstime);
  if (!private_sem(s)) return sem_wait_glibc(s, [&] { return REAL(sem_timedwait)(s, abstime); });
  int entry_errno = errno;
  if (sem_wait_green(s, kNoDeadline, true) == 0) return 0;
  errno = entry_errno;
  if (!valid_time(abstime)) return sem_result(EINVAL);
  return sem_wait_green(s, deadline_on(CLOCK_REALTIME, abstime), false);
}

extern "C" int sem_clockwait(sem_t* s, clockid_t clock, const timespec* abstime) {
  if (!ours()) return REAL(sem_clockwait)(s, clock, abstime);
  if (!private_sem(s))
    return sem_wait_glibc(s, [&] { return REAL(sem_clockwait)(s, clock, abstime); });
  int entry_errno = errno;
  if (sem_wait_green(s, kNoDeadline, true) == 0) return 0;
  errno = entry_errno;
  if ((clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC) || !valid_time(abstime))
    return sem_result(EINVAL);
  return sem_wait_green(s, deadline_on(clock, abstime), false);
}

extern "C" int sem_post(sem_t* s) noexcept {
  if (!ours() || !private_sem(s)) return REAL(sem_post)(s);
  return sem_result(sem_post_one(as_sem(s)));
}

extern "C" int sem_getvalue(sem_t* __restrict s, int* __restrict value) noexcept {
  if (!ours() || !private_sem(s)) return REAL(sem_getvalue)(s, value);
  *value = int(as_sem(s)->value.load());
  return 0;
}
