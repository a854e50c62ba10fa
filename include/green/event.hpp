// green::Event (a flag green threads wait for) and green::AsyncResult<T> (a
// value or an exception that arrives once), as in gevent. Waits are
// blocking points: a kill or a green::Timeout acts there.
#pragma once
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include "green/core.hpp"

namespace green {

class Event {
 public:
  Event() = default;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  bool is_set() const { return set_; }
  // Sets the flag and wakes every waiter (they run after the caller blocks).
  void set() {
    set_ = true;
    waiters_.notify_all();
  }
  void clear() { set_ = false; }
  // Waits until the flag is set or the timeout passes; returns is_set().
  bool wait(Duration timeout = Duration::forever()) {
    int64_t deadline = detail::deadline_for(timeout, "green::Event::wait");
    if (set_) {
      detail::checkpoint("green::Event::wait");
      return true;
    }
    detail::WaitNode node;
    return detail::wait(waiters_, node, deadline, "green::Event::wait") || set_;
  }

 private:
  bool set_ = false;
  detail::WaitList waiters_;
};

template <class T>
class AsyncResult {
 public:
  AsyncResult() = default;
  AsyncResult(const AsyncResult&) = delete;
  AsyncResult& operator=(const AsyncResult&) = delete;

  bool ready() const { return ready_; }
  bool successful() const { return ready_ && !error_; }
  std::exception_ptr exception() const { return error_; }

  // The first set or set_exception wins; later ones are ignored (as gevent
  // overwrites, but a result that changes under its readers helps nobody).
  template <class U = T>
  requires(!std::is_void_v<T>) void set(U&& value) {
    if (ready_) return;
    value_.emplace(std::forward<U>(value));
    finish();
  }
  void set() requires std::is_void_v<T> {
    if (!ready_) finish();
  }
  void set_exception(std::exception_ptr e) {
    if (ready_) return;
    error_ = std::move(e);
    finish();
  }

  // Waits until it is ready or the timeout passes; returns ready().
  bool wait(Duration timeout = Duration::forever()) {
    int64_t deadline = detail::deadline_for(timeout, "green::AsyncResult::wait");
    if (ready_) return true;
    detail::WaitNode node;
    return detail::wait(waiters_, node, deadline, "green::AsyncResult::wait") || ready_;
  }
  // The value, or rethrows the exception; TimeoutError (from(nullptr)) when
  // the timeout passes first.
  std::add_lvalue_reference_t<T> get(Duration timeout = Duration::forever()) {
    if (!wait(timeout)) throw TimeoutError(nullptr);
    if (error_) std::rethrow_exception(error_);
    if constexpr (!std::is_void_v<T>) return *value_;
  }

 private:
  void finish() {
    ready_ = true;
    waiters_.notify_all();
  }
  struct Empty {};
  std::optional<std::conditional_t<std::is_void_v<T>, Empty, T>> value_;
  std::exception_ptr error_;
  bool ready_ = false;
  detail::WaitList waiters_;
};

}  // namespace green
