// The program's own event loop: epoll_wait parks on the epoll fd's readiness
// (an epoll fd is itself pollable), and eventfd, timerfd, signalfd and epoll
// fds are recorded as pollable fds, so read() on them parks like a pipe's.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>

#include "hooks/hook.h"
#include "hub/own_fds.h"

using namespace green;

namespace {

int record(int fd, bool nonblock) {
  if (fd >= 0 && hook_self()) fd_created(fd, FdKind::kPipe, false, nonblock);
  return fd;
}

// probe() is the real call with a zero timeout. epoll_wait is never
// restarted after a handled signal (man 7 signal).
template <class Probe>
int epoll_park(int epfd, Deadline deadline, Probe&& probe) {
  const int entry_errno = errno;
  CancelPoint cp(tls.current);
  for (;;) {
    int r = probe();
    if (r != 0 || monotonic_ns() >= deadline) return r;
    errno = entry_errno;
    FdEntry* e = fd_entry(epfd);
    if (!e) return probe();  // closed meanwhile: the real call says so
    WakeReason why = wait_fd(e, kWantRead, deadline, true);
    if (why == WakeReason::kSignal) {
      errno = EINTR;
      return -1;
    }
    if (why == WakeReason::kCancel) {
      errno = ECANCELED;
      return cp.done(-1);
    }
    if (why == WakeReason::kTimeout) return probe();
  }
}

Deadline ms_deadline(int timeout) {
  return timeout < 0 ? kNoDeadline : deadline_after(int64_t(timeout) * 1000000);
}

}  // namespace

// libuv's own epoll fd and eventfd (own_fds.h) are never the program's.
extern "C" int epoll_create(int size) noexcept {
  return record(own_fd_created(REAL(epoll_create)(size), __builtin_return_address(0)), false);
}

extern "C" int epoll_create1(int flags) noexcept {
  return record(own_fd_created(REAL(epoll_create1)(flags), __builtin_return_address(0)), false);
}

extern "C" int eventfd(unsigned int count, int flags) noexcept {
  return record(own_fd_created(REAL(eventfd)(count, flags), __builtin_return_address(0)),
                flags & EFD_NONBLOCK);
}

extern "C" int timerfd_create(clockid_t clock, int flags) noexcept {
  return record(REAL(timerfd_create)(clock, flags), flags & TFD_NONBLOCK);
}

extern "C" int signalfd(int fd, const sigset_t* mask, int flags) noexcept {
  int r = REAL(signalfd)(fd, mask, flags);
  if (fd == -1) record(r, flags & SFD_NONBLOCK);  // a new fd; otherwise only its mask changed
  return r;
}

extern "C" int epoll_wait(int epfd, epoll_event* events, int max, int timeout) {
  if (timeout == 0) return poll_now([&] { return REAL(epoll_wait)(epfd, events, max, 0); });
  if (!hook_self()) return REAL(epoll_wait)(epfd, events, max, timeout);
  return epoll_park(epfd, ms_deadline(timeout),
                    [&] { return REAL(epoll_wait)(epfd, events, max, 0); });
}

extern "C" int epoll_pwait(int epfd, epoll_event* events, int max, int timeout,
                           const sigset_t* mask) {
  if (timeout == 0) return poll_now([&] { return REAL(epoll_pwait)(epfd, events, max, 0, mask); });
  if (!hook_self()) return REAL(epoll_pwait)(epfd, events, max, timeout, mask);
  return epoll_park(epfd, ms_deadline(timeout),
                    [&] { return REAL(epoll_pwait)(epfd, events, max, 0, mask); });
}

extern "C" int epoll_pwait2(int epfd, epoll_event* events, int max, const timespec* timeout,
                            const sigset_t* mask) {
  if (timeout && timeout->tv_sec == 0 && timeout->tv_nsec == 0)
    return poll_now([&] { return REAL(epoll_pwait2)(epfd, events, max, timeout, mask); });
  if (!hook_self() || (timeout && (timeout->tv_nsec < 0 || timeout->tv_nsec >= 1000000000)))
    return REAL(epoll_pwait2)(epfd, events, max, timeout, mask);
  timespec zero{0, 0};
  Deadline deadline = timeout ? deadline_after(timespec_ns(*timeout)) : kNoDeadline;
  return epoll_park(epfd, deadline,
                    [&] { return REAL(epoll_pwait2)(epfd, events, max, &zero, mask); });
}
