// Monotonic time and deadlines for the hub. A Deadline is an absolute point on
// CLOCK_MONOTONIC in nanoseconds; kNoDeadline means "wait as long as it takes".
#pragma once
#include <cstdint>
#include <ctime>

namespace green {

using Deadline = int64_t;
constexpr Deadline kNoDeadline = INT64_MAX;

int64_t monotonic_ns();
int64_t clock_ns(clockid_t clock);  // -1 when the clock cannot be read

inline int64_t timespec_ns(const timespec& ts) {
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}
inline timespec ns_timespec(int64_t ns) {
  if (ns < 0) ns = 0;
  return timespec{time_t(ns / 1000000000), long(ns % 1000000000)};
}
// now + delta, saturating at kNoDeadline.
inline Deadline deadline_after(int64_t delta_ns) {
  int64_t now = monotonic_ns();
  return delta_ns >= kNoDeadline - now ? kNoDeadline : now + delta_ns;
}

}  // namespace green
