// syscall(): the system calls libgreen hooks as libc functions, made through
// libc's syscall() instead, take the same green path on a green thread (a
// program or library that calls syscall(SYS_read, ...) would otherwise block
// the hub: design.md trap 22). Each number maps to the hook of the same
// name, with the kernel's calling convention turned into libc's where they
// differ (a kernel sigset of 8 bytes, clock_nanosleep's returned error).
// Every other number, every call off a green thread, and a call whose
// arguments the kernel would refuse at once (a sigset size other than 8)
// goes to the kernel unchanged. Inline system calls (liburing's, a static
// libc's) never reach here.
#include <linux/futex.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/syscall.h>

#include <cstdarg>
#include <cstring>

#include "hooks/hook.h"
#include "hub/own_fds.h"
#include "hooks/syscall.h"

using namespace green;

namespace {

constexpr long kKernelSigsetSize = 8;  // _NSIG / 8: what the kernel's rt_* calls accept

template <class T>
T* ptr(long arg) {
  return reinterpret_cast<T*>(arg);
}

// The kernel's 8-byte signal set as a libc sigset_t (null stays null).
const sigset_t* libc_sigset(long arg, sigset_t* storage) {
  if (!arg) return nullptr;
  sigemptyset(storage);
  memcpy(storage, ptr<const void>(arg), kKernelSigsetSize);
  return storage;
}

// An error number returned by a libc call (clock_nanosleep) as syscall() does.
long errno_result(int err) {
  if (err == 0) return 0;
  errno = err;
  return -1;
}

// The kernel's ppoll writes the time left back into the timeout, as select
// does; libc's ppoll leaves it alone.
long raw_ppoll(const long a[6], sigset_t* set) {
  auto* timeout = ptr<timespec>(a[2]);
  int64_t start = monotonic_ns();
  long r = ppoll(ptr<pollfd>(a[0]), nfds_t(a[1]), timeout, libc_sigset(a[3], set));
  if (timeout && timeout->tv_nsec >= 0 && timeout->tv_nsec < 1000000000) {
    int saved = errno;
    int64_t left = timespec_ns(*timeout) - (monotonic_ns() - start);
    *timeout = ns_timespec(left > 0 ? left : 0);
    errno = saved;
  }
  return r;
}

// System call `number` made through its hook; false when it has none (the
// kernel then takes the call).
bool green_call(long number, const long a[6], long* result) {
  sigset_t set;
  switch (number) {
    case SYS_read:
      *result = read(int(a[0]), ptr<void>(a[1]), size_t(a[2]));
      return true;
    case SYS_write:
      *result = write(int(a[0]), ptr<const void>(a[1]), size_t(a[2]));
      return true;
    case SYS_readv:
      *result = readv(int(a[0]), ptr<const iovec>(a[1]), int(a[2]));
      return true;
    case SYS_writev:
      *result = writev(int(a[0]), ptr<const iovec>(a[1]), int(a[2]));
      return true;
    case SYS_recvfrom:
      *result = recvfrom(int(a[0]), ptr<void>(a[1]), size_t(a[2]), int(a[3]), ptr<sockaddr>(a[4]),
                         ptr<socklen_t>(a[5]));
      return true;
    case SYS_sendto:
      *result = sendto(int(a[0]), ptr<const void>(a[1]), size_t(a[2]), int(a[3]),
                       ptr<const sockaddr>(a[4]), socklen_t(a[5]));
      return true;
    case SYS_recvmsg:
      *result = recvmsg(int(a[0]), ptr<msghdr>(a[1]), int(a[2]));
      return true;
    case SYS_sendmsg:
      *result = sendmsg(int(a[0]), ptr<const msghdr>(a[1]), int(a[2]));
      return true;
    case SYS_accept:
      *result = accept(int(a[0]), ptr<sockaddr>(a[1]), ptr<socklen_t>(a[2]));
      return true;
    case SYS_accept4:
      *result = accept4(int(a[0]), ptr<sockaddr>(a[1]), ptr<socklen_t>(a[2]), int(a[3]));
      return true;
    case SYS_connect:
      *result = connect(int(a[0]), ptr<const sockaddr>(a[1]), socklen_t(a[2]));
      return true;
    case SYS_close:
      // libuv closes its own descriptors this way (also from its fork
      // handlers, outside the runtime): those reach the kernel.
      if (own_fd_hidden(int(a[0]))) return false;
      *result = close(int(a[0]));
      return true;
    case SYS_close_range:  // as programs from before glibc's wrapper call it
      *result = close_range(unsigned(a[0]), unsigned(a[1]), int(a[2]));
      return true;
    case SYS_poll:
      *result = poll(ptr<pollfd>(a[0]), nfds_t(a[1]), int(a[2]));
      return true;
    case SYS_ppoll:
      if (a[3] && a[4] != kKernelSigsetSize) return false;
      *result = raw_ppoll(a, &set);
      return true;
    case SYS_select:
      *result = select(int(a[0]), ptr<fd_set>(a[1]), ptr<fd_set>(a[2]), ptr<fd_set>(a[3]),
                       ptr<timeval>(a[4]));
      return true;
    case SYS_epoll_wait:
      *result = epoll_wait(int(a[0]), ptr<epoll_event>(a[1]), int(a[2]), int(a[3]));
      return true;
    case SYS_epoll_pwait:
      if (a[4] && a[5] != kKernelSigsetSize) return false;
      *result = epoll_pwait(int(a[0]), ptr<epoll_event>(a[1]), int(a[2]), int(a[3]),
                            libc_sigset(a[4], &set));
      return true;
    case SYS_epoll_pwait2:
      if (a[4] && a[5] != kKernelSigsetSize) return false;
      *result = epoll_pwait2(int(a[0]), ptr<epoll_event>(a[1]), int(a[2]),
                             ptr<const timespec>(a[3]), libc_sigset(a[4], &set));
      return true;
    case SYS_nanosleep:
      *result = nanosleep(ptr<const timespec>(a[0]), ptr<timespec>(a[1]));
      return true;
    case SYS_clock_nanosleep:
      *result = errno_result(clock_nanosleep(clockid_t(a[0]), int(a[1]), ptr<const timespec>(a[2]),
                                             ptr<timespec>(a[3])));
      return true;
    case SYS_wait4:
      *result = wait4(pid_t(a[0]), ptr<int>(a[1]), int(a[2]), ptr<rusage>(a[3]));
      return true;
    case SYS_waitid:  // libc's waitid has no rusage argument
      if (a[4]) return false;
      *result = waitid(idtype_t(a[0]), id_t(a[1]), ptr<siginfo_t>(a[2]), int(a[3]));
      return true;
    case SYS_pause:
      *result = pause();
      return true;
    case SYS_rt_sigsuspend:
      if (a[1] != kKernelSigsetSize || !a[0]) return false;
      *result = sigsuspend(libc_sigset(a[0], &set));
      return true;
    case SYS_rt_sigtimedwait:
      if (a[3] != kKernelSigsetSize || !a[0]) return false;
      *result =
          sigtimedwait(libc_sigset(a[0], &set), ptr<siginfo_t>(a[1]), ptr<const timespec>(a[2]));
      return true;
    case SYS_sched_yield:
      *result = sched_yield();
      return true;
    case SYS_futex:
      *result = futex_syscall(a);
      return true;
    case SYS_io_uring_enter:
      *result = io_uring_enter_syscall(a);
      return true;
    case SYS_gettid:  // each green thread's own id (hooks/identity.cc)
      *result = gettid();
      return true;
    case SYS_tgkill:
      *result = tgkill(pid_t(a[0]), pid_t(a[1]), int(a[2]));
      return true;
    default:
      return false;
  }
}

}  // namespace

extern "C" long syscall(long number, ...) noexcept {
  va_list ap;
  va_start(ap, number);
  long a[6];
  for (long& arg : a) arg = va_arg(ap, long);
  va_end(ap);
  long result;
  // Each hook decides for itself whether its caller is green (a native
  // thread's call goes straight to libc); SYS_futex wakes must reach green
  // waiters from native threads too.
  bool hooked = !tls.in_runtime && g_adopt_main_thread &&
                (tls.mode != ThreadMode::kNative || number == SYS_futex);
  if (hooked && green_call(number, a, &result)) return result;
  return REAL(syscall)(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}
