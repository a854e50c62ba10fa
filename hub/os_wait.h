// Waits that must stay glibc's own: process-shared semaphores, condition
// variables and barriers. The other side of such an object is another
// process that only speaks glibc's protocol (its futex words, its waiter
// counts), so a green thread cannot park in the parking lot for it; it has
// to be inside glibc's wait. The call runs on a helper OS thread of its own
// while the green thread parks. See os_wait.cc for why not the pool or a poll.
#pragma once
#include "hub/function_ref.h"

namespace green {

enum class OsWaitEnd {
  kReturned,     // call() returned: its result is what run_os_wait returned
  kInterrupted,  // a handled signal (interruptible) or pthread_cancel stopped the call
};

// Runs call() (a glibc call that blocks and is a cancellation point) on a
// helper OS thread and parks the calling green thread until it returns;
// errno is carried back. When a handled signal (if interruptible) or a
// pthread_cancel of the green thread wakes it first, the helper is
// cancelled: glibc's own cleanup undoes the wait (a condition variable's
// mutex is locked again), and *end says kInterrupted unless the call had
// returned anyway (then its result wins, as a wake-up wins natively).
int run_os_wait(FunctionRef<int()> call, bool interruptible, OsWaitEnd* end);

}  // namespace green
