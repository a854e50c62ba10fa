// pause, sigsuspend, sigwait, sigwaitinfo, sigtimedwait. pause and
// sigsuspend park until a handled signal interrupts the thread (a signal
// sent to the process goes to a thread that does not block it: hub/signal.h).
// The sigwait family waits on a signalfd for the set and then takes the
// signal with a zero-timeout sigtimedwait, so other green threads run
// meanwhile.
#include <sys/signalfd.h>

#include "hooks/hook.h"
#include "hub/own_fds.h"
#include "hub/signal.h"

using namespace green;

namespace {

// Parks until a handled signal interrupts the caller; EINTR, as natively.
int park_for_signal(CancelPoint& cp) {
  for (;;) {
    WakeReason why = park(kNoDeadline, true);
    if (why == WakeReason::kSignal) why = signal_interrupted_wait(tls.current);
    if (why == WakeReason::kSignal) break;
    if (why == WakeReason::kCancel) {
      errno = ECANCELED;
      return cp.done(-1);
    }
  }
  errno = EINTR;
  return -1;
}

// Takes a pending signal of `set`, parking until one is pending or the
// deadline passes. Returns the signal, or -1 with errno (EAGAIN at the
// deadline, EINTR when a handled signal interrupted it).
int take_signal(const sigset_t* set, siginfo_t* info, Deadline deadline) {
  const int entry_errno = errno;
  if (int sig = signal_take(tls.current, sigset_bits(*set), info))
    return sig;  // held by the runtime
  timespec zero{0, 0};
  int sfd = REAL(signalfd)(-1, set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (sfd < 0) return REAL(sigtimedwait)(set, info, nullptr);  // cannot watch: wait as libc does
  own_fd_temp(&sfd);                                           // the runtime's, not the program's
  CancelPoint cp(tls.current);
  int r;
  for (;;) {
    r = REAL(sigtimedwait)(set, info, &zero);
    if (r > 0 || errno != EAGAIN) break;
    FdEntry* e = fd_entry(sfd);
    WakeReason why = e ? wait_fd(e, kWantRead, deadline, true) : WakeReason::kTimeout;
    if (why == WakeReason::kTimeout) {
      r = REAL(sigtimedwait)(set, info, &zero);
      break;
    }
    if (why == WakeReason::kSignal || why == WakeReason::kCancel) {
      errno = why == WakeReason::kSignal ? EINTR : ECANCELED;
      r = -1;
      break;
    }
  }
  int err = errno;
  own_fd_release(sfd);
  close(sfd);
  errno = r > 0 ? entry_errno : err;
  return r > 0 ? r : cp.done(r);
}

}  // namespace

extern "C" int pause() {
  GreenThread* self = hook_self();
  if (!self) return REAL(pause)();
  CancelPoint cp(self);
  return park_for_signal(cp);
}

// The caller's mask becomes `mask` while it waits (the OS thread's mask
// follows: apply_signal_masks), then its own mask is back. A pending signal
// that `mask` lets through is handled at once and ends the wait.
extern "C" int sigsuspend(const sigset_t* mask) {
  GreenThread* self = hook_self();
  if (!self) return REAL(sigsuspend)(mask);
  CancelPoint cp(self);
  sigset_t old;
  pthread_sigmask(SIG_SETMASK, mask, &old);
  int r = park_for_signal(cp);
  int err = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  errno = err;
  return r;
}

extern "C" int sigwait(const sigset_t* set, int* sig) {
  if (!hook_self()) return REAL(sigwait)(set, sig);
  for (;;) {
    int r = take_signal(set, nullptr, kNoDeadline);
    if (r > 0) {
      *sig = r;
      return 0;
    }
    if (errno != EINTR) return errno;  // sigwait is restarted after a handler, as glibc's
  }
}

extern "C" int sigwaitinfo(const sigset_t* set, siginfo_t* info) {
  if (!hook_self()) return REAL(sigwaitinfo)(set, info);
  return take_signal(set, info, kNoDeadline);
}

extern "C" int sigtimedwait(const sigset_t* set, siginfo_t* info, const timespec* timeout) {
  if (!hook_self() || (timeout && (timeout->tv_nsec < 0 || timeout->tv_nsec >= 1000000000 ||
                                   (timeout->tv_sec == 0 && timeout->tv_nsec == 0))))
    return REAL(sigtimedwait)(set, info, timeout);
  return take_signal(set, info, timeout ? deadline_after(timespec_ns(*timeout)) : kNoDeadline);
}
