// Address-keyed wait queues (a "parking lot", like the kernel's futex table):
// the one place where any thread, green or native, waits for a
// synchronisation object. A green thread parks on its hub; a native thread
// (a libuv worker, one that existed before start-up) blocks on a futex of its
// own. Wakers may be on any OS thread: a green thread of another OS thread is
// woken through its hub's uv_async. Queues are FIFO.
#pragma once
#include <cstddef>
#include <cstdint>
#include "hub/clock.h"
#include "hub/function_ref.h"

namespace green {

enum class ParkResult : uint8_t {
  kWoken,      // an unpark chose this waiter
  kInvalid,    // validate() said no: the caller did not sleep
  kTimeout,    // the deadline passed
  kInterrupt,  // a handled signal (interruptible waits on green threads only)
};

struct ParkOptions {
  Deadline deadline = kNoDeadline;
  bool interruptible = false;
  uint32_t tag = 0;             // the waiter's own mark, visible to unpark's chooser
  const char* what = "a lock";  // for the deadlock report
};

// Queues the caller on addr and sleeps, but only if validate() (run under the
// queue's lock) returns true. *token receives what the waker passed.
ParkResult park_on(const void* addr, FunctionRef<bool()> validate, const ParkOptions& options,
                   uintptr_t* token = nullptr);

// Wakes up to `count` waiters of addr, oldest first. choose(tag) (under the
// queue's lock) may return false to pass a waiter over. after(woken, more_left)
// runs under the lock once the waiters are taken (e.g. to hand over a lock).
// Returns the number woken.
size_t unpark_on(const void* addr, size_t count, uintptr_t token = 0,
                 FunctionRef<bool(uint32_t tag)> choose = nullptr,
                 FunctionRef<void(size_t woken, bool more_left)> after = nullptr);

bool has_waiters(const void* addr);

struct Hub;
// On the hub: wakes the green threads that other OS threads unparked.
void deliver_remote_wakes(Hub* hub);

// In a forked child, on the one thread left: every queued waiter belonged to
// a thread that is not here (the caller is running, not waiting). Empties the
// queues, so a wake-up goes to the child's own waiters instead of a ghost.
void parking_lot_after_fork();

// The identity of the calling thread for ownership checks: its green thread,
// or its OS thread.
uintptr_t waiter_self();

}  // namespace green
