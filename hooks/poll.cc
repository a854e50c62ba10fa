// poll, ppoll, select, pselect over any mix of fds. The kernel answers
// readiness (a zero-timeout call, the probe); the hub only parks the thread on
// every fd of interest until something may have changed, then probes again.
// None of them is restarted after a handled signal: EINTR, as on Linux.
#include <vector>

#include "hooks/hook.h"

extern "C" [[noreturn]] void __chk_fail(void);

using namespace green;

namespace {

constexpr short kReadEvents = POLLIN | POLLRDNORM | POLLRDBAND;
constexpr short kWriteEvents = POLLOUT | POLLWRNORM | POLLWRBAND;

void want(std::vector<FdWait>& waits, int fd, int events) {
  if (fd < 0 || events == 0) return;
  FdEntry* e = fd_entry(fd);
  if (!e) return;  // not open: the probe reports it
  FdWait w;
  w.entry = e;
  w.events = events;
  waits.push_back(w);
}

// probe() is the real call with a zero timeout; collect(waits) names the fds
// to park on. Returns the probe's answer, 0 at the deadline, -1/EINTR.
template <class Probe, class Collect>
int readiness_wait(Deadline deadline, Probe&& probe, Collect&& collect) {
  const int entry_errno = errno;
  std::vector<FdWait> waits;
  for (;;) {
    int r = probe();
    if (r != 0 || monotonic_ns() >= deadline) return r;
    errno = entry_errno;
    waits.clear();
    collect(waits);
    WakeReason why = wait_fds(waits.data(), int(waits.size()), deadline, true);
    if (why == WakeReason::kSignal || why == WakeReason::kCancel) {
      errno = why == WakeReason::kSignal ? EINTR : ECANCELED;
      return -1;
    }
    if (why == WakeReason::kTimeout) return probe();
  }
}

int green_poll(pollfd* fds, nfds_t n, Deadline deadline, const sigset_t* mask, bool with_mask) {
  timespec zero{0, 0};
  return readiness_wait(
      deadline,
      [&] { return with_mask ? REAL(ppoll)(fds, n, &zero, mask) : REAL(poll)(fds, n, 0); },
      [&](std::vector<FdWait>& waits) {
        for (nfds_t i = 0; i < n; i++) {
          short ev = fds[i].events;
          want(waits, fds[i].fd,
               ((ev & kReadEvents) ? kWantRead : 0) | ((ev & kWriteEvents) ? kWantWrite : 0) |
                   ((ev & POLLPRI) ? kWantPriority : 0));
        }
      });
}

struct FdSets {
  fd_set* sets[3];  // read, write, except, as the program passed them
  fd_set saved[3];
};

int green_select(int nfds, FdSets& s, Deadline deadline, const sigset_t* mask, bool with_mask) {
  for (int i = 0; i < 3; i++)
    if (s.sets[i]) s.saved[i] = *s.sets[i];
  auto probe = [&] {
    for (int i = 0; i < 3; i++)
      if (s.sets[i]) *s.sets[i] = s.saved[i];
    timespec zero_ts{0, 0};
    timeval zero_tv{0, 0};
    return with_mask ? REAL(pselect)(nfds, s.sets[0], s.sets[1], s.sets[2], &zero_ts, mask)
                     : REAL(select)(nfds, s.sets[0], s.sets[1], s.sets[2], &zero_tv);
  };
  return readiness_wait(deadline, probe, [&](std::vector<FdWait>& waits) {
    static const int kind[3] = {kWantRead, kWantWrite, kWantPriority};
    for (int fd = 0; fd < nfds && fd < FD_SETSIZE; fd++) {
      int events = 0;
      for (int i = 0; i < 3; i++)
        if (s.sets[i] && FD_ISSET(fd, &s.saved[i])) events |= kind[i];
      want(waits, fd, events);
    }
  });
}

Deadline poll_deadline(int timeout_ms) {
  return timeout_ms < 0 ? kNoDeadline : deadline_after(int64_t(timeout_ms) * 1000000);
}

bool valid(const timespec* ts) {
  return ts->tv_sec >= 0 && ts->tv_nsec >= 0 && ts->tv_nsec < 1000000000;
}

}  // namespace

extern "C" int poll(pollfd* fds, nfds_t n, int timeout) {
  if (timeout == 0) return poll_now([&] { return REAL(poll)(fds, n, 0); });
  if (!hook_self()) return REAL(poll)(fds, n, timeout);
  return CancelPoint(tls.current).done(green_poll(fds, n, poll_deadline(timeout), nullptr, false));
}

extern "C" int __poll_chk(pollfd* fds, nfds_t n, int timeout, size_t fds_len) {
  if (fds_len / sizeof *fds < n) __chk_fail();
  return poll(fds, n, timeout);
}

extern "C" int ppoll(pollfd* fds, nfds_t n, const timespec* timeout, const sigset_t* mask) {
  if (timeout && valid(timeout) && timeout->tv_sec == 0 && timeout->tv_nsec == 0)
    return poll_now([&] { return REAL(ppoll)(fds, n, timeout, mask); });
  if (!hook_self() || (timeout && !valid(timeout))) return REAL(ppoll)(fds, n, timeout, mask);
  Deadline deadline = timeout ? deadline_after(timespec_ns(*timeout)) : kNoDeadline;
  return CancelPoint(tls.current).done(green_poll(fds, n, deadline, mask, true));
}

namespace {

// A zero-timeout select or pselect (poll_now): select overwrites the sets,
// so a second look needs the first ones again.
template <class Select>
int select_now(fd_set* r, fd_set* w, fd_set* x, Select&& select_once) {
  fd_set sets[3];
  fd_set* in[3] = {r, w, x};
  for (int i = 0; i < 3; i++)
    if (in[i]) sets[i] = *in[i];
  return poll_now([&] {
    for (int i = 0; i < 3; i++)
      if (in[i]) *in[i] = sets[i];
    return select_once();
  });
}

}  // namespace

extern "C" int select(int nfds, fd_set* r, fd_set* w, fd_set* x, timeval* timeout) {
  if (timeout && timeout->tv_sec == 0 && timeout->tv_usec == 0)
    return select_now(r, w, x, [&] { return REAL(select)(nfds, r, w, x, timeout); });
  if (!hook_self() ||
      (timeout && (timeout->tv_sec < 0 || timeout->tv_usec < 0 || timeout->tv_usec >= 1000000)))
    return REAL(select)(nfds, r, w, x, timeout);
  Deadline deadline =
      timeout ? deadline_after(int64_t(timeout->tv_sec) * 1000000000 + timeout->tv_usec * 1000)
              : kNoDeadline;
  FdSets sets{{r, w, x}, {}};
  CancelPoint cp(tls.current);
  int result = green_select(nfds, sets, deadline, nullptr, false);
  if (timeout) {  // Linux reports the time left
    int64_t left = deadline - monotonic_ns();
    if (left < 0) left = 0;
    timeout->tv_sec = left / 1000000000;
    timeout->tv_usec = (left % 1000000000) / 1000;
  }
  return cp.done(result);
}

extern "C" int pselect(int nfds, fd_set* r, fd_set* w, fd_set* x, const timespec* timeout,
                       const sigset_t* mask) {
  if (timeout && valid(timeout) && timeout->tv_sec == 0 && timeout->tv_nsec == 0)
    return select_now(r, w, x, [&] { return REAL(pselect)(nfds, r, w, x, timeout, mask); });
  if (!hook_self() || (timeout && !valid(timeout)))
    return REAL(pselect)(nfds, r, w, x, timeout, mask);
  FdSets sets{{r, w, x}, {}};
  Deadline deadline = timeout ? deadline_after(timespec_ns(*timeout)) : kNoDeadline;
  return CancelPoint(tls.current).done(green_select(nfds, sets, deadline, mask, true));
}
