// What every part of the green C++ API shares: its exceptions, a duration
// type for timeouts, and the one blocking primitive (detail::wait) that every
// blocking call goes through. That one place is where a kill() reaches its
// victim and where a green::Timeout passes its deadline.
//
// The API's objects belong to one hub (one OS thread): make and use them from
// green threads of that OS thread. A blocking call from a thread that has no
// hub and cannot get one (the hub fiber itself, a libuv pool thread, a native
// thread under the preload) throws green::Error naming the call.
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <stdexcept>
#include <string>

namespace green {

class Timeout;

// A blocking call could not be made (no hub), or the API was misused.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The default exception of Greenlet::kill: the greenlet is asked to end.
class GreenletExit : public std::exception {
 public:
  const char* what() const noexcept override { return "green::GreenletExit"; }
};

// Thrown from the blocking call that passes a green::Timeout's deadline, or
// by a get(timeout) whose own timeout passed (then from(nullptr) is true).
class TimeoutError : public std::runtime_error {
 public:
  explicit TimeoutError(const Timeout* source)
      : std::runtime_error("green::TimeoutError: the timeout passed"), source_(source) {}
  bool from(const Timeout* t) const { return source_ == t; }
  bool from(const Timeout& t) const { return source_ == &t; }

 private:
  const Timeout* source_;
};

// A timeout: any std::chrono::duration, or forever. A negative one is kept
// as such and refused (std::invalid_argument) by the call it is given to.
class Duration {
 public:
  static constexpr int64_t kForever = INT64_MAX;
  template <class Rep, class Period>
  Duration(std::chrono::duration<Rep, Period> d) {  // NOLINT: implicit on purpose
    if (d < d.zero()) {
      ns_ = -1;
    } else if (std::chrono::duration<long double, std::nano>(d).count() >= 9.2e18L) {
      ns_ = kForever;
    } else {
      ns_ = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
    }
  }
  static Duration forever() { return Duration(); }
  int64_t ns() const { return ns_; }
  bool negative() const { return ns_ < 0; }

 private:
  Duration() : ns_(kForever) {}
  int64_t ns_;
};

namespace detail {

// A green thread waiting in a WaitList. Lives on the waiter's stack.
struct WaitNode {
  void* thread = nullptr;  // the waiting green thread
  WaitNode* prev = nullptr;
  WaitNode* next = nullptr;
  void* slot = nullptr;   // what the waker hands over (an item, ...), if anything
  bool notified = false;  // a waker chose it: the wait succeeded
  bool linked = false;
};

// A FIFO of waiters. Not thread-safe: one hub's green threads only.
class WaitList {
 public:
  WaitList() = default;
  WaitList(const WaitList&) = delete;
  WaitList& operator=(const WaitList&) = delete;
  bool empty() const { return head_ == nullptr; }
  size_t size() const { return size_; }
  WaitNode* front() const { return head_; }
  void push(WaitNode* n);
  void remove(WaitNode* n);
  // Takes the oldest waiter and makes it ready; it runs after the caller
  // next blocks or yields. Returns it (its slot may still be filled) or null.
  WaitNode* notify_one();
  size_t notify_all();

 private:
  WaitNode* head_ = nullptr;
  WaitNode* tail_ = nullptr;
  size_t size_ = 0;
};

// Monotonic nanoseconds (the hub's clock) and a deadline from a timeout.
int64_t now_ns();
int64_t deadline_for(Duration timeout, const char* what);  // throws on negative
constexpr int64_t kNoDeadline = INT64_MAX;

// Blocks the calling green thread in list until a waker notifies it (true)
// or the deadline passes (false). Throws a pending kill's exception, the
// TimeoutError of a green::Timeout whose deadline passes first, or
// green::Error when the caller cannot block. A notified waiter always
// returns true: what was handed to it is never lost.
bool wait(WaitList& list, WaitNode& node, int64_t deadline, const char* what);

// A blocking point that does not wait: delivers a pending kill or an expired
// timeout; throws green::Error when the caller cannot block.
void checkpoint(const char* what);

// The calling green thread (joining a hub first when it may), or throws
// green::Error naming what.
void* self(const char* what);

// Writes "libgreen: " + text + "\n" to stderr.
void report(const std::string& text);

}  // namespace detail
}  // namespace green
