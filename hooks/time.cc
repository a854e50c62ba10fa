// sleep, usleep, nanosleep, clock_nanosleep: park on a hub timer. None of
// them is restarted after a handled signal (man 7 signal): they report EINTR
// and, where the API has a place for it, the time left.
#include <cmath>

#include "hooks/hook.h"

using namespace green;

namespace {

bool valid(const timespec* ts) {
  return ts && ts->tv_sec >= 0 && ts->tv_nsec >= 0 && ts->tv_nsec < 1000000000;
}

int64_t left_ns(Deadline deadline) {
  int64_t left = deadline - monotonic_ns();
  return left > 0 ? left : 0;
}

// Parks until the deadline; true when a signal cut it short.
// Sleeps are cancellation points.
bool interrupted(Deadline deadline) {
  CancelPoint cp(tls.current);
  WakeReason why = sleep_until(deadline);
  if (why == WakeReason::kCancel) cp.act();
  return why == WakeReason::kSignal;
}

bool sleepable_clock(clockid_t clock) {
  return clock == CLOCK_REALTIME || clock == CLOCK_MONOTONIC || clock == CLOCK_BOOTTIME ||
         clock == CLOCK_TAI;
}

}  // namespace

extern "C" unsigned int sleep(unsigned int seconds) {
  if (!hook_self()) return REAL(sleep)(seconds);
  Deadline deadline = deadline_after(int64_t(seconds) * 1000000000);
  if (!interrupted(deadline)) return 0;
  return unsigned((left_ns(deadline) + 999999999) / 1000000000);  // glibc rounds up
}

extern "C" int usleep(useconds_t usec) {
  if (!hook_self()) return REAL(usleep)(usec);
  if (usec == 0) {
    yield_thread();
    return 0;
  }
  if (interrupted(deadline_after(int64_t(usec) * 1000))) {
    errno = EINTR;
    return -1;
  }
  return 0;
}

extern "C" int nanosleep(const timespec* req, timespec* rem) {
  if (!hook_self() || !valid(req)) return REAL(nanosleep)(req, rem);  // libc reports EINVAL/EFAULT
  Deadline deadline = deadline_after(timespec_ns(*req));
  if (!interrupted(deadline)) return 0;
  if (rem) *rem = ns_timespec(left_ns(deadline));
  errno = EINTR;
  return -1;
}

extern "C" int clock_nanosleep(clockid_t clock, int flags, const timespec* req, timespec* rem) {
  if (!hook_self() || !valid(req) || !sleepable_clock(clock))
    return REAL(clock_nanosleep)(clock, flags, req, rem);
  Deadline deadline;
  if (flags & TIMER_ABSTIME) {
    int64_t now = clock_ns(clock);
    deadline = deadline_after(timespec_ns(*req) - now);
  } else {
    deadline = deadline_after(timespec_ns(*req));
  }
  if (!interrupted(deadline)) return 0;
  if (rem && !(flags & TIMER_ABSTIME)) *rem = ns_timespec(left_ns(deadline));
  return EINTR;  // clock_nanosleep returns the error instead of setting errno
}
