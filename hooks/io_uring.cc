// io_uring_enter(2) made through syscall() by a green thread: a wait for
// completions (IORING_ENTER_GETEVENTS with min_complete > 0) parks on the
// ring fd's readiness instead of blocking the OS thread, and with it every
// green thread (design.md trap 22).
//
// The submission half goes to the kernel at once without waiting; then a
// zero-timeout wait (IORING_ENTER_EXT_ARG, Linux 5.11) asks whether
// min_complete completions are there. The ring fd polls readable while its
// completion queue holds any entry, which may be fewer than min_complete:
// then the thread sleeps a little (1 to 16 ms) and asks again rather than
// spin on a readiness that does not change.
//
// liburing's own io_uring_enter is an inline system call (its syscall.h
// "__do_syscall"), not a call of libc's syscall(): it cannot be seen, and a
// liburing program's waits still block the hub. Rings registered with
// IORING_ENTER_REGISTERED_RING (an index, not an fd) go to the kernel too.
#include <linux/io_uring.h>
#include <sys/syscall.h>

#include "hooks/hook.h"
#include "hooks/syscall.h"

using namespace green;

namespace {

long kernel_enter(long fd, unsigned to_submit, unsigned min_complete, unsigned flags,
                  const void* arg, size_t arg_size) {
  return REAL(syscall)(SYS_io_uring_enter, fd, to_submit, min_complete, flags, arg, arg_size);
}

// The deadline of the caller's own IORING_ENTER_EXT_ARG timeout, if any.
Deadline caller_deadline(unsigned flags, const io_uring_getevents_arg* arg) {
  if (!(flags & IORING_ENTER_EXT_ARG) || !arg || !arg->ts) return kNoDeadline;
  auto* ts = reinterpret_cast<const __kernel_timespec*>(uintptr_t(arg->ts));
  return deadline_after(int64_t(ts->tv_sec) * 1000000000 + ts->tv_nsec);
}

// 1: min_complete completions are there; 0: not yet; -1: an error (errno).
int completions_ready(long fd, unsigned min_complete, const io_uring_getevents_arg* caller) {
  __kernel_timespec zero{0, 0};
  io_uring_getevents_arg arg{};
  if (caller) arg = *caller;  // the caller's signal mask, if it gave one
  arg.ts = uintptr_t(&zero);
  // Only the wait: not SQ_WAKEUP, not SQ_WAIT (which could block on a full queue).
  unsigned wait_flags = IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG;
  long r = kernel_enter(fd, 0, min_complete, wait_flags, &arg, sizeof arg);
  if (r >= 0) return 1;
  return errno == ETIME ? 0 : -1;
}

}  // namespace

long green::io_uring_enter_syscall(const long a[6]) {
  long fd = a[0];
  auto to_submit = unsigned(a[1]), min_complete = unsigned(a[2]), flags = unsigned(a[3]);
  auto* ext = (flags & IORING_ENTER_EXT_ARG) ? reinterpret_cast<const io_uring_getevents_arg*>(a[4])
                                             : nullptr;
  FdEntry* e = nullptr;
  if (!(flags & IORING_ENTER_GETEVENTS) || min_complete == 0 ||
      (flags & IORING_ENTER_REGISTERED_RING) || (ext && size_t(a[5]) != sizeof *ext) ||
      !(e = green_fd(int(fd))))
    return REAL(syscall)(SYS_io_uring_enter, a[0], a[1], a[2], a[3], a[4], a[5]);
  const int entry_errno = errno;
  long submitted = 0;
  if (to_submit > 0) {
    submitted = kernel_enter(fd, to_submit, 0,
                             flags & ~(IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG), nullptr, 0);
    if (submitted < 0) return submitted;
  }
  CancelPoint cp(tls.current);  // natively a signal interrupts the wait: EINTR
  Deadline deadline = caller_deadline(flags, ext);
  for (int64_t backoff = 1000000;; backoff = std::min<int64_t>(backoff * 2, 16000000)) {
    int ready = completions_ready(fd, min_complete, ext);
    if (ready < 0 && errno == EINVAL && submitted == 0)  // no EXT_ARG (before 5.11)
      return REAL(syscall)(SYS_io_uring_enter, a[0], a[1], a[2], a[3], a[4], a[5]);
    if (ready < 0) return submitted > 0 ? submitted : -1;
    if (ready > 0) break;
    if (monotonic_ns() >= deadline) {
      if (submitted > 0) break;
      errno = ETIME;
      return -1;
    }
    WakeReason why;
    if (!poll_ready(int(fd), POLLIN))
      why = wait_fd(e, kWantRead, deadline, true);
    else  // some completions, fewer than asked for
      why = sleep_until(std::min(deadline, deadline_after(backoff)));
    if (why == WakeReason::kSignal || why == WakeReason::kCancel) {
      if (why == WakeReason::kCancel) cp.act();
      if (submitted > 0) break;
      errno = EINTR;
      return -1;
    }
    if (why == WakeReason::kClosed) {
      errno = EBADF;
      return -1;
    }
  }
  errno = entry_errno;
  return submitted;
}
