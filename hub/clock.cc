#include "hub/clock.h"

namespace green {

int64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return timespec_ns(ts);
}

int64_t clock_ns(clockid_t clock) {
  timespec ts;
  if (clock_gettime(clock, &ts) != 0) return -1;
  return timespec_ns(ts);
}

}  // namespace green
