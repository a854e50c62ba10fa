// A green thread's identity as the kernel would give it: with
// GREEN_TLS=private each green thread has its own thread id (hub/tcb.h),
// and the calls that take a thread id act on the green thread it names. The
// kernel only knows the OS thread, so where it needs a real id (affinity)
// the OS thread's is used.
#include <sys/syscall.h>

#include "hooks/hook.h"
#include "hub/tcb.h"

using namespace green;

namespace {

// The green thread a kernel-style id names, or null (then the kernel decides).
GreenThread* named_thread(pid_t tid) {
  return hook_self() ? find_thread_by_tid(tid) : nullptr;
}

// The OS thread a green thread runs on, as the kernel sees it: 0 (the caller).
pid_t kernel_id_for(pid_t tid) {
  return named_thread(tid) ? 0 : tid;
}

}  // namespace

extern "C" pid_t gettid() noexcept {
  GreenThread* self = g_private_tls ? hook_self() : nullptr;
  return self ? self->tid : REAL(gettid)();
}

extern "C" int tgkill(pid_t tgid, pid_t tid, int sig) noexcept {
  GreenThread* t = tgid == getpid() ? named_thread(tid) : nullptr;
  if (!t) return REAL(tgkill)(tgid, tid, sig);
  int err = pthread_kill(t->id, sig);
  if (err == 0) return 0;
  errno = err;
  return -1;
}

extern "C" int sched_setaffinity(pid_t pid, size_t size, const cpu_set_t* set) noexcept {
  return REAL(sched_setaffinity)(kernel_id_for(pid), size, set);
}

extern "C" int sched_getaffinity(pid_t pid, size_t size, cpu_set_t* set) noexcept {
  return REAL(sched_getaffinity)(kernel_id_for(pid), size, set);
}

extern "C" int pthread_setaffinity_np(pthread_t thread, size_t size,
                                      const cpu_set_t* set) noexcept {
  GreenThread* t = hook_self() ? find_thread(thread) : nullptr;
  if (!t) return REAL(pthread_setaffinity_np)(thread, size, set);
  if (t->state == RunState::kFinished) return ESRCH;
  return REAL(sched_setaffinity)(0, size, set) == 0 ? 0 : errno;
}

extern "C" int pthread_getaffinity_np(pthread_t thread, size_t size, cpu_set_t* set) noexcept {
  GreenThread* t = hook_self() ? find_thread(thread) : nullptr;
  if (!t) return REAL(pthread_getaffinity_np)(thread, size, set);
  if (t->state == RunState::kFinished) return ESRCH;
  return REAL(sched_getaffinity)(0, size, set) == 0 ? 0 : errno;
}
