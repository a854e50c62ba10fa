// The native C++ API (include/green/green.h) over the hub.
#include <green/green.h>

#include <cerrno>
#include <green/core.hpp>
#include <green/greenlet.hpp>
#include <stdexcept>
#include <system_error>

#include "hub/api_block.h"
#include "hub/api_interrupt.h"
#include "hub/fd_table.h"
#include "hub/hub.h"
#include "hub/stack.h"

namespace green {
namespace {

// Throws green::Error when the caller has no hub and cannot get one (the
// hub fiber, a libuv pool thread, a native thread under the preload).
void ensure_green(const char* what) {
  detail::self(what);
}

Deadline deadline_for(std::chrono::nanoseconds timeout) {
  return timeout.count() < 0 ? kNoDeadline : deadline_after(timeout.count());
}

// A blocking point of the API: a kill or a green::Timeout ends the wait.
bool wait_ready(int fd, int events, std::chrono::nanoseconds timeout, const char* what) {
  ApiBlock block(what, deadline_for(timeout));
  FdEntry* e = fd_entry(fd);
  if (!e) throw std::system_error(EBADF, std::generic_category(), what);
  for (;;) {
    WakeReason why = wait_fd(e, events, block.until(), false);
    if (why == WakeReason::kReady) return true;
    if (why == WakeReason::kClosed) throw std::system_error(EBADF, std::generic_category(), what);
    if (block.expired()) return false;
  }
}

}  // namespace

Thread& Thread::operator=(Thread&& other) noexcept {
  if (this != &other) {
    if (t_) detach_thread(t_);
    t_ = other.t_;
    other.t_ = nullptr;
  }
  return *this;
}

Thread::~Thread() {
  if (t_) detach_thread(t_);
}

void Thread::join() {
  if (!t_) throw std::system_error(EINVAL, std::generic_category(), "green::Thread::join");
  int err = join_thread(t_, nullptr, kNoDeadline);
  if (err) throw std::system_error(err, std::generic_category(), "green::Thread::join");
  t_ = nullptr;
}

Thread spawn(std::function<void()> fn, size_t stack_size) {
  if (!fn) throw std::invalid_argument("green::spawn: the function is empty");
  ensure_green("green::spawn");
  GreenThread* t = spawn_thread(
      [fn = std::move(fn)]() -> void* {
        fn();
        return nullptr;
      },
      stack_size ? stack_size : kDefaultStackSize, false);
  if (!t) throw std::system_error(errno, std::generic_category(), "green::spawn");
  return Thread(t);
}

// A blocking point of the API: a kill or an expired green::Timeout acts
// before and after the switch.
void yield() {
  api_checkpoint("green::yield");
  yield_thread();
  api_checkpoint("green::yield");
}

// green::sleep: a blocking point of the API (kill, green::Timeout); a
// negative duration sleeps not at all, as before.
void sleep_for(std::chrono::nanoseconds duration) {
  green::sleep(duration.count() < 0 ? std::chrono::nanoseconds(0) : duration);
}

bool wait_readable(int fd, std::chrono::nanoseconds timeout) {
  return wait_ready(fd, kWantRead, timeout, "green::wait_readable");
}

bool wait_writable(int fd, std::chrono::nanoseconds timeout) {
  return wait_ready(fd, kWantWrite, timeout, "green::wait_writable");
}

size_t live_threads() {
  ensure_green("green::live_threads");
  return tls.hub->live;
}

}  // namespace green
