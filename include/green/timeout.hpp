// green::Timeout: a deadline for a scope of the calling green thread.
//
//   {
//     green::Timeout t(100ms);
//     auto item = queue.get();  // throws green::TimeoutError if 100 ms pass
//   }
//
// Every blocking call of the API inside the scope (however deeply nested)
// throws TimeoutError once the deadline has passed: the one that waits past
// it, or the next one to start. Nested timeouts: the innermost of those
// whose deadline has passed fires first (an outer one with an earlier
// deadline fires through the inner scope). Each fires once, and the
// error says which (TimeoutError::from(t)). A Timeout that has not fired
// stops applying when cancelled or destroyed.
//
// The non-throwing form, with_timeout(d, f, args...), runs f and returns its
// result as an optional: empty when its own timeout fired (the TimeoutError
// is caught there; an outer one's passes through).
//
// A blocking libc call made through libgreen's hooks that is a cancellation
// point (read, recv, accept, poll, sleep, ...) is bounded too: TimeoutError
// is thrown out of it when the deadline passes while it is parked (or has
// passed when it parks), as for kill (green/greenlet.hpp).
#pragma once
#include <optional>
#include <type_traits>
#include <utility>

#include "green/core.hpp"

namespace green {

namespace detail {
struct TimeoutAccess;
}

class Timeout {
 public:
  explicit Timeout(Duration duration);  // throws on a negative one
  ~Timeout();
  Timeout(const Timeout&) = delete;
  Timeout& operator=(const Timeout&) = delete;

  void cancel();  // no longer applies (idempotent)
  bool pending() const { return active_ && !fired_; }
  bool expired() const { return fired_; }  // it fired (threw its TimeoutError)

 private:
  friend struct detail::TimeoutAccess;
  void* thread_ = nullptr;  // the green thread whose scope it is
  Timeout* outer_ = nullptr;
  int64_t deadline_;
  bool active_ = true;
  bool fired_ = false;
};

// Runs f(args...) under a Timeout of duration. Returns its result, or an
// empty optional when that timeout fired (for a void f: true / false).
template <class F, class... Args>
auto with_timeout(Duration duration, F&& f, Args&&... args) {
  using R = std::invoke_result_t<F, Args...>;
  Timeout t(duration);
  if constexpr (std::is_void_v<R>) {
    try {
      std::forward<F>(f)(std::forward<Args>(args)...);
      return true;
    } catch (const TimeoutError& e) {
      if (!e.from(t)) throw;
      return false;
    }
  } else {
    try {
      return std::optional<std::decay_t<R>>(std::forward<F>(f)(std::forward<Args>(args)...));
    } catch (const TimeoutError& e) {
      if (!e.from(t)) throw;
      return std::optional<std::decay_t<R>>();
    }
  }
}

}  // namespace green
