// pthread_create and friends: every thread a green thread creates is a green
// thread on the same hub. Off a green thread, and for ids that are not green
// threads, libc does the work.
#include <setjmp.h>

#include <cstring>

#include "hooks/hook.h"
#include "hooks/thread_sched.h"
#include "hub/stack.h"
#include "preload/config.h"

using namespace green;

namespace {

// pthread_attr_getstacksize reports the process default (8 MiB) when the
// program set no size, so it cannot tell "unset" from "asked for 8 MiB".
// glibc keeps the size the program set in struct pthread_attr (offset 32 on
// x86_64, 0 when unset); read it there, once checked against the public API.
constexpr size_t kAttrStackSizeOffset = 32;
static_assert(sizeof(pthread_attr_t) == 56, "glibc x86_64 pthread_attr_t layout");

size_t raw_stack_size(const pthread_attr_t* attr) {
  size_t size;
  memcpy(&size, reinterpret_cast<const char*>(attr) + kAttrStackSizeOffset, sizeof size);
  return size;
}

bool layout_checked() {
  static const bool ok = [] {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    bool unset_is_zero = raw_stack_size(&attr) == 0;
    pthread_attr_setstacksize(&attr, 3 * PTHREAD_STACK_MIN);
    bool set_is_seen = raw_stack_size(&attr) == size_t(3 * PTHREAD_STACK_MIN);
    pthread_attr_destroy(&attr);
    return unset_is_zero && set_is_seen;
  }();
  return ok;
}

// GREEN_STACK_SIZE, or what glibc gives a thread that asks for nothing
// (RLIMIT_STACK, 8 MiB here): programs are written for that size, and a
// stack's pages are committed only as they are touched.
size_t default_stack_size() {
  static const size_t size = [] {
    if (config().stack_size) return config().stack_size;
    size_t native = 0;
    pthread_attr_t defaults;
    if (pthread_getattr_default_np(&defaults) == 0) {
      pthread_attr_getstacksize(&defaults, &native);
      pthread_attr_destroy(&defaults);
    }
    return native ? native : kDefaultStackSize;
  }();
  return size;
}

size_t stack_size_from(const pthread_attr_t* attr) {
  size_t asked = 0;
  if (!attr || pthread_attr_getstacksize(attr, &asked) != 0) return default_stack_size();
  if (layout_checked()) return raw_stack_size(attr) ? asked : default_stack_size();
  // Unknown layout: only a size other than the default counts as asked for.
  pthread_attr_t defaults;
  size_t native_default = 0;
  if (pthread_getattr_default_np(&defaults) == 0) {
    pthread_attr_getstacksize(&defaults, &native_default);
    pthread_attr_destroy(&defaults);
  }
  return asked != native_default ? asked : default_stack_size();
}

bool detached_from(const pthread_attr_t* attr) {
  int state = PTHREAD_CREATE_JOINABLE;
  if (attr) pthread_attr_getdetachstate(attr, &state);
  return state == PTHREAD_CREATE_DETACHED;
}

Deadline deadline_on(clockid_t clock, const timespec* abstime) {
  return deadline_after(timespec_ns(*abstime) - clock_ns(clock));
}

bool valid(const timespec* ts) {
  return ts->tv_nsec >= 0 && ts->tv_nsec < 1000000000;
}

// The ids of the last green threads joined (or detached once finished):
// their GreenThread is freed, so a second join or a detach must not hand the
// id to glibc, which would take it for its own descriptor. glibc says ESRCH
// for a joined thread whose descriptor is not reused. A new green thread that
// gets the same address is found by find_thread first.
constexpr size_t kGoneIds = 256;
pthread_t g_gone[kGoneIds];
size_t g_gone_next = 0;

void remember_gone(pthread_t id) {
  g_gone[g_gone_next++ % kGoneIds] = id;
}

bool recently_gone(pthread_t id) {
  for (pthread_t gone : g_gone)
    if (gone == id && id != 0) return true;
  return false;
}

// glibc's pthread_t is the address of its descriptor, whose TCB header
// starts with two pointers to itself (tcb at 0, self at 16 on x86_64).
bool glibc_descriptor(pthread_t id) {
  auto* words = reinterpret_cast<const pthread_t*>(id);
  return id != 0 && words[0] == id && words[2] == id;
}

int join_green(GreenThread* t, void** retval, Deadline deadline) {
  pthread_t id = t->id;
  int err = join_thread(t, retval, deadline);
  if (err == 0) remember_gone(id);
  return err;
}

// A green thread joining a thread that is not green (one that existed before
// start-up, say): poll for its end without blocking the hub.
int join_native(pthread_t thread, void** retval, Deadline deadline) {
  for (;;) {
    int r = REAL(pthread_tryjoin_np)(thread, retval);
    if (r != EBUSY) return r;
    if (monotonic_ns() >= deadline) return ETIMEDOUT;
    sleep_until(std::min(deadline, deadline_after(1000000)), false);
  }
}

// pthread_join is a cancellation point.
int green_join(pthread_t thread, void** retval, Deadline deadline) {
  CancelPoint cp(tls.current);
  if (GreenThread* t = find_thread(thread)) return cp.done_errno(join_green(t, retval, deadline));
  if (not_a_thread(thread)) return ESRCH;
  return join_native(thread, retval, deadline);
}

}  // namespace

bool green::not_a_thread(pthread_t id) {
  return recently_gone(id) || !glibc_descriptor(id);
}

extern "C" int pthread_create(pthread_t* out, const pthread_attr_t* attr, void* (*start)(void*),
                              void* arg) noexcept {
  if (!hook_self()) return REAL(pthread_create)(out, attr, start, arg);
  if (int err = sched_attr_check(attr)) return err;  // hooks/thread_sched.cc
  GreenThread* t = spawn_thread([start, arg]() { return start(arg); }, stack_size_from(attr),
                                detached_from(attr));
  if (!t) return EAGAIN;  // no stack: as natively, not a crash
  sched_created(t, attr);
  *out = t->id;
  return 0;
}

extern "C" int pthread_join(pthread_t thread, void** retval) {
  if (!hook_self()) return REAL(pthread_join)(thread, retval);
  return green_join(thread, retval, kNoDeadline);
}

extern "C" int pthread_tryjoin_np(pthread_t thread, void** retval) noexcept {
  if (!hook_self()) return REAL(pthread_tryjoin_np)(thread, retval);
  GreenThread* t = find_thread(thread);
  if (!t && recently_gone(thread)) return EBUSY;  // glibc's answer for a joined thread
  if (!t) return not_a_thread(thread) ? ESRCH : REAL(pthread_tryjoin_np)(thread, retval);
  if (t->state != RunState::kFinished) return EBUSY;
  return join_green(t, retval, kNoDeadline);
}

extern "C" int pthread_timedjoin_np(pthread_t thread, void** retval, const timespec* abstime) {
  if (!hook_self()) return REAL(pthread_timedjoin_np)(thread, retval, abstime);
  if (abstime && !valid(abstime)) return EINVAL;
  return green_join(thread, retval, abstime ? deadline_on(CLOCK_REALTIME, abstime) : kNoDeadline);
}

extern "C" int pthread_clockjoin_np(pthread_t thread, void** retval, clockid_t clock,
                                    const timespec* abstime) {
  if (!hook_self()) return REAL(pthread_clockjoin_np)(thread, retval, clock, abstime);
  if (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC) return EINVAL;
  if (abstime && !valid(abstime)) return EINVAL;
  return green_join(thread, retval, abstime ? deadline_on(clock, abstime) : kNoDeadline);
}

extern "C" int pthread_detach(pthread_t thread) noexcept {
  if (hook_self()) {
    if (GreenThread* t = find_thread(thread)) {
      bool frees = t->state == RunState::kFinished && !t->detached;
      int err = detach_thread(t);
      if (frees) remember_gone(thread);
      return err;
    }
    if (not_a_thread(thread)) return ESRCH;
  }
  return REAL(pthread_detach)(thread);
}

extern "C" void pthread_exit(void* retval) {
  if (hook_self()) thread_exit(retval);
  REAL(pthread_exit)(retval);
  __builtin_unreachable();
}

extern "C" pthread_t pthread_self() noexcept {
  if (GreenThread* self = hook_self()) return self->id;
  return REAL(pthread_self)();
}

extern "C" int pthread_equal(pthread_t a, pthread_t b) noexcept {
  return a == b;
}

extern "C" int sched_yield() noexcept {
  if (!hook_self()) return REAL(sched_yield)();
  yield_thread();
  return 0;
}

// Deferred cancellation: the request is acted on at the target's next
// cancellation point (hooked blocking calls, pthread_testcancel); a target
// parked in one is woken for it. With asynchronous cancellation it also acts
// when the target's time slice interrupts it (hub/preempt.h), wherever it
// computes: within a slice, as natively "at any time".
extern "C" int pthread_cancel(pthread_t thread) {
  GreenThread* t = hook_self() ? find_thread(thread) : nullptr;
  if (!t && hook_self() && not_a_thread(thread))
    return recently_gone(thread) ? 0 : ESRCH;  // glibc: 0 for a joined thread
  if (!t || t->adopted) return REAL(pthread_cancel)(thread);
  if (t->state == RunState::kFinished) return 0;
  t->cancel_pending = true;
  if (t == tls.current) {
    if (!t->cancel_disabled && t->in_cancel_point) cancellation_point();
    return 0;
  }
  if (t->state == RunState::kParked && t->in_cancel_point && !t->cancel_disabled)
    unpark(t, WakeReason::kCancel);
  return 0;
}

extern "C" int pthread_setcancelstate(int state, int* old) {
  GreenThread* self = hook_self();
  if (!self || self->adopted) return REAL(pthread_setcancelstate)(state, old);
  if (state != PTHREAD_CANCEL_ENABLE && state != PTHREAD_CANCEL_DISABLE) return EINVAL;
  if (old) *old = self->cancel_disabled ? PTHREAD_CANCEL_DISABLE : PTHREAD_CANCEL_ENABLE;
  self->cancel_disabled = state == PTHREAD_CANCEL_DISABLE;
  return 0;
}

extern "C" int pthread_setcanceltype(int type, int* old) {
  GreenThread* self = hook_self();
  if (!self || self->adopted) return REAL(pthread_setcanceltype)(type, old);
  if (type != PTHREAD_CANCEL_DEFERRED && type != PTHREAD_CANCEL_ASYNCHRONOUS) return EINVAL;
  if (old) *old = self->cancel_async ? PTHREAD_CANCEL_ASYNCHRONOUS : PTHREAD_CANCEL_DEFERRED;
  self->cancel_async = type == PTHREAD_CANCEL_ASYNCHRONOUS;
  if (self->cancel_async) cancellation_point();  // as glibc: a pending cancel acts at once
  return 0;
}

extern "C" void pthread_testcancel() {
  if (GreenThread* self = hook_self(); self && !self->adopted) {
    cancellation_point();
    return;
  }
  REAL(pthread_testcancel)();
}

// C's pthread_cleanup_push registers a jump buffer with glibc, which runs the
// handlers on pthread_exit and cancellation by jumping into each in turn. A
// green thread keeps its own chain: thread_exit jumps into the newest
// buffer; the macro runs the handler and calls __pthread_unwind_next, which
// continues with the next one, and after the last the stack unwinds.
// (C++ code uses a destructor instead, which the unwinding runs.)
namespace {

void* previous(__pthread_unwind_buf_t* buf) {
  return buf->__pad[0];
}

GreenThread* own_chain_thread() {
  GreenThread* self = hook_self();
  return self && !self->adopted ? self : nullptr;
}

void run_cleanup_handlers(GreenThread* t) {
  if (!t->cleanup_top) return;
  auto* buf = static_cast<__pthread_unwind_buf_t*>(t->cleanup_top);
  longjmp(reinterpret_cast<__jmp_buf_tag*>(buf->__cancel_jmp_buf), 1);
}

[[maybe_unused]] const bool g_registered = [] {
  g_exit_unwinder = run_cleanup_handlers;
  return true;
}();

}  // namespace

extern "C" void __pthread_register_cancel(__pthread_unwind_buf_t* buf) {
  GreenThread* self = own_chain_thread();
  if (!self) return REAL(__pthread_register_cancel)(buf);
  buf->__pad[0] = self->cleanup_top;
  self->cleanup_top = buf;
}

extern "C" void __pthread_unregister_cancel(__pthread_unwind_buf_t* buf) {
  GreenThread* self = own_chain_thread();
  if (!self) return REAL(__pthread_unregister_cancel)(buf);
  self->cleanup_top = previous(buf);
}

extern "C" void __pthread_unwind_next(__pthread_unwind_buf_t* buf) {
  GreenThread* self = own_chain_thread();
  if (!self) REAL(__pthread_unwind_next)(buf);
  self->cleanup_top = previous(buf);
  thread_exit(self->retval);
}
