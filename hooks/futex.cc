// syscall(SYS_futex, ...) (dispatched by hooks/syscall.cc): what libstdc++
// uses for std::atomic::wait/notify and for function-local static guards. A
// green thread's FUTEX_WAIT parks in the parking lot, keyed by address like
// the kernel's futex table; a wake wakes green waiters there and native ones
// in the kernel. Every other futex operation goes to the kernel unchanged.
#include <linux/futex.h>
#include <sys/syscall.h>

#include <climits>

#include "hooks/hook.h"
#include "hooks/syscall.h"
#include "hub/parking_lot.h"

using namespace green;

namespace {

constexpr int kCommandMask = ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);

long fail(int err) {
  errno = err;
  return -1;
}

long futex_wait(const uint32_t* addr, int op, uint32_t value, const timespec* timeout,
                uint32_t bitset) {
  if (bitset == 0) return fail(EINVAL);
  Deadline deadline = kNoDeadline;
  if (timeout) {
    if (timeout->tv_sec < 0 || timeout->tv_nsec < 0 || timeout->tv_nsec >= 1000000000)
      return fail(EINVAL);
    if ((op & kCommandMask) == FUTEX_WAIT)  // relative, on CLOCK_MONOTONIC
      deadline = deadline_after(timespec_ns(*timeout));
    else  // FUTEX_WAIT_BITSET: absolute
      deadline =
          deadline_after(timespec_ns(*timeout) -
                         clock_ns((op & FUTEX_CLOCK_REALTIME) ? CLOCK_REALTIME : CLOCK_MONOTONIC));
  }
  ParkOptions options;
  options.deadline = deadline;
  options.interruptible = true;
  options.tag = bitset;
  options.what = "futex";
  auto* word = reinterpret_cast<const std::atomic<uint32_t>*>(addr);
  ParkResult r = park_on(
      addr, [word, value] { return word->load() == value; }, options);
  switch (r) {
    case ParkResult::kWoken:
      return 0;
    case ParkResult::kInvalid:
      return fail(EAGAIN);
    case ParkResult::kTimeout:
      return fail(ETIMEDOUT);
    case ParkResult::kInterrupt:
      return fail(EINTR);
  }
  return 0;
}

long futex_wake(const uint32_t* addr, int op, int count, uint32_t bitset) {
  if (bitset == 0) return fail(EINVAL);
  size_t woken = unpark_on(addr, count < 0 ? 0 : size_t(count), 0,
                           [bitset](uint32_t tag) { return (tag & bitset) != 0; });
  long kernel = 0;
  if (woken < size_t(count)) {
    kernel = REAL(syscall)(SYS_futex, addr, op, count - int(woken), nullptr, nullptr, bitset);
    if (kernel < 0) kernel = 0;
  }
  return long(woken) + kernel;
}

}  // namespace

long green::futex_syscall(const long a[6]) {
  auto* addr = reinterpret_cast<const uint32_t*>(a[0]);
  int op = int(a[1]);
  // A null or misaligned word: the kernel says EFAULT or EINVAL at once.
  if (!addr || reinterpret_cast<uintptr_t>(addr) % alignof(uint32_t) != 0)
    return REAL(syscall)(SYS_futex, a[0], a[1], a[2], a[3], a[4], a[5]);
  switch (op & kCommandMask) {
    case FUTEX_WAIT:
    case FUTEX_WAIT_BITSET:
      if (!hook_self()) break;  // a native thread waits in the kernel
      return futex_wait(
          addr, op, uint32_t(a[2]), reinterpret_cast<const timespec*>(a[3]),
          (op & kCommandMask) == FUTEX_WAIT ? FUTEX_BITSET_MATCH_ANY : uint32_t(a[5]));
    case FUTEX_WAKE:
    case FUTEX_WAKE_BITSET:
      return futex_wake(
          addr, op, int(a[2]),
          (op & kCommandMask) == FUTEX_WAKE ? FUTEX_BITSET_MATCH_ANY : uint32_t(a[5]));
    default:
      break;
  }
  return REAL(syscall)(SYS_futex, a[0], a[1], a[2], a[3], a[4], a[5]);
}
