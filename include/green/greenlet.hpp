// Greenlets: gevent's spawn/join/get/kill for C++ functions, on green
// threads of the calling OS thread's hub.
//
//   auto g = green::spawn([](int x) { green::sleep(10ms); return x * 2; }, 21);
//   int v = g.get();  // 42, or rethrows what the function threw
//
// A greenlet first runs when its spawner blocks or yields. An exception that
// escapes it is kept for get() (or exception()); if nobody ever retrieves it,
// it is reported once to stderr when the last handle goes. It never ends the
// process.
//
// kill(e) is delivered at the victim's next blocking point of this API
// (green::sleep, join, Event::wait, Queue::get, ...), or before it starts.
// A blocking libc call made through libgreen's hooks that is a cancellation
// point (read, recv, send, accept, poll, sleep, nanosleep, waitpid,
// pthread_join, ...) is a blocking point too when it parks: e is thrown out
// of the call into the greenlet's code. A call that need not park returns
// as usual. One that throws has done nothing (one that already moved bytes
// returns their count, and e waits for the next blocking point). C frames
// between (a C library calling the hook) are unwound as by pthread_cancel.
// Calls that are not cancellation points (a mutex lock, flock,
// getaddrinfo) finish first.
//
// Unlike gevent, a greenlet that died of GreenletExit is not successful():
// it has no value; get() rethrows the GreenletExit. It is never reported.
#pragma once
#include <concepts>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "green/core.hpp"

namespace green {

namespace detail {

// The state a greenlet's handles and its green thread share.
class GreenletCore : public std::enable_shared_from_this<GreenletCore> {
 public:
  GreenletCore() = default;
  GreenletCore(const GreenletCore&) = delete;
  GreenletCore& operator=(const GreenletCore&) = delete;
  virtual ~GreenletCore();   // reports an exception nobody retrieved
  virtual void run() = 0;    // calls the function, keeps its value
  virtual void release() {}  // drops the function and its arguments

  uint64_t id = 0;
  void* thread = nullptr;  // its green thread while it lives
  bool started = false;
  bool done = false;
  bool retrieved = false;  // get() or exception() saw the error
  std::exception_ptr error;
  WaitList joiners;
  std::vector<std::function<void()>> links;  // run once, when it is done
};

void start(const std::shared_ptr<GreenletCore>& core, int64_t delay_ns, const char* what);
bool join(GreenletCore& core, Duration timeout, const char* what);
bool kill(GreenletCore& core, std::exception_ptr e, bool block, Duration timeout);
void link(GreenletCore& core, std::function<void()> callback);
std::shared_ptr<GreenletCore> current_core();

template <class T>
class ValueCore : public GreenletCore {
 public:
  std::optional<T> value;
};
template <>
class ValueCore<void> : public GreenletCore {};

template <class T, class F, class... Args>
class Task final : public ValueCore<T> {
 public:
  template <class G, class... A>
  explicit Task(G&& f, A&&... args)
      : call_(std::in_place, std::forward<G>(f), std::forward<A>(args)...) {}
  void run() override {
    auto& [f, args] = *call_;
    if constexpr (std::is_void_v<T>)
      std::apply(std::move(f), std::move(args));
    else
      this->value.emplace(std::apply(std::move(f), std::move(args)));
  }
  void release() override { call_.reset(); }

 private:
  struct Call {
    template <class G, class... A>
    Call(G&& g, A&&... a) : f(std::forward<G>(g)), args(std::forward<A>(a)...) {}
    F f;
    std::tuple<Args...> args;
  };
  std::optional<Call> call_;
};

template <class T>
struct IsStdFunction : std::false_type {};
template <class R, class... A>
struct IsStdFunction<std::function<R(A...)>> : std::true_type {};

template <class F>
void check_callable(const F& f, const char* what) {
  if constexpr (std::is_pointer_v<F> || std::is_member_pointer_v<F> || IsStdFunction<F>::value) {
    if (!f) throw std::invalid_argument(std::string(what) + ": the function is empty");
  }
}

}  // namespace detail

// A handle of any greenlet, whatever its result type.
class GreenletRef {
 public:
  GreenletRef() = default;
  explicit GreenletRef(std::shared_ptr<detail::GreenletCore> core) : core_(std::move(core)) {}
  explicit operator bool() const { return core_ != nullptr; }
  bool operator==(const GreenletRef& o) const { return core_ == o.core_; }

  uint64_t id() const { return core().id; }
  bool started() const { return core().started; }
  bool ready() const { return core().done; }  // finished, one way or another
  bool successful() const { return core().done && !core().error; }
  // Waits until it finishes or the timeout passes; returns ready().
  bool join(Duration timeout = Duration::forever()) const {
    return detail::join(core(), timeout, "green::Greenlet::join");
  }
  // Raises e (default GreenletExit) in it at its next blocking point; with
  // block, waits (up to timeout) for it to finish. Returns ready(). On the
  // greenlet itself, throws e at once.
  bool kill(std::exception_ptr e = nullptr, bool block = true,
            Duration timeout = Duration::forever()) const {
    return detail::kill(core(), e ? e : std::make_exception_ptr(GreenletExit()), block, timeout);
  }
  template <class E>
  requires std::derived_from<E, std::exception>
  bool kill(E e, bool block = true, Duration timeout = Duration::forever()) const {
    return kill(std::make_exception_ptr(std::move(e)), block, timeout);
  }
  // The exception it died of, if any (counts as retrieved).
  std::exception_ptr exception() const {
    core().retrieved = true;
    return core().error;
  }
  // callback(handle) runs once it is done (at once if it is already), on its
  // green thread before its joiners wake. An exception from it is reported.
  template <class F>
  requires std::invocable<F&, GreenletRef>
  void link(F callback) const {
    std::weak_ptr<detail::GreenletCore> weak = core_;
    detail::link(core(),
                 [weak, cb = std::move(callback)]() mutable { cb(GreenletRef(weak.lock())); });
  }

 protected:
  detail::GreenletCore& core() const {
    if (!core_) throw Error("green::Greenlet: an empty handle");
    return *core_;
  }
  std::shared_ptr<detail::GreenletCore> core_;
};

template <class T>
class Greenlet : public GreenletRef {
 public:
  Greenlet() = default;
  explicit Greenlet(std::shared_ptr<detail::ValueCore<T>> core) : GreenletRef(std::move(core)) {}

  // Waits for it, then returns its value or rethrows its exception. Throws
  // TimeoutError (from(nullptr)) when the timeout passes first.
  std::add_lvalue_reference_t<T> get(Duration timeout = Duration::forever()) const {
    if (!detail::join(core(), timeout, "green::Greenlet::get")) throw TimeoutError(nullptr);
    if (core().error) {
      core().retrieved = true;
      std::rethrow_exception(core().error);
    }
    if constexpr (!std::is_void_v<T>) return *static_cast<detail::ValueCore<T>&>(core()).value;
  }

  template <class F>
  requires std::invocable<F&, Greenlet<T>>
  void link(F callback) const {
    std::weak_ptr<detail::GreenletCore> weak = core_;
    detail::link(core(), [weak, cb = std::move(callback)]() mutable {
      cb(Greenlet<T>(std::static_pointer_cast<detail::ValueCore<T>>(weak.lock())));
    });
  }
};

template <class F, class... Args>
using SpawnResult = std::decay_t<std::invoke_result_t<std::decay_t<F>, std::decay_t<Args>...>>;

namespace detail {
template <class F, class... Args>
Greenlet<SpawnResult<F, Args...>> spawn_after(int64_t delay_ns, const char* what, F&& f,
                                              Args&&... args) {
  using T = SpawnResult<F, Args...>;
  check_callable(f, what);
  auto core = std::make_shared<Task<T, std::decay_t<F>, std::decay_t<Args>...>>(
      std::forward<F>(f), std::forward<Args>(args)...);
  start(core, delay_ns, what);
  return Greenlet<T>(std::move(core));
}
}  // namespace detail

// Starts f(args...) on a new greenlet (args are copied or moved into it).
// Throws std::invalid_argument when f is an empty function.
template <class F, class... Args>
requires std::invocable<std::decay_t<F>, std::decay_t<Args>...> Greenlet<SpawnResult<F, Args...>>
spawn(F&& f, Args&&... args) {
  return detail::spawn_after(-1, "green::spawn", std::forward<F>(f), std::forward<Args>(args)...);
}

// As spawn, but f starts once delay has passed (a kill before then: never).
template <class F, class... Args>
requires std::invocable<std::decay_t<F>, std::decay_t<Args>...> Greenlet<SpawnResult<F, Args...>>
spawn_later(Duration delay, F&& f, Args&&... args) {
  int64_t ns = delay.ns();
  if (delay.negative()) throw std::invalid_argument("green::spawn_later: the delay is negative");
  return detail::spawn_after(ns, "green::spawn_later", std::forward<F>(f),
                             std::forward<Args>(args)...);
}

// Waits for every greenlet (up to timeout in all); returns whether all are ready.
bool joinall(const std::vector<GreenletRef>& greenlets, Duration timeout = Duration::forever());
template <class G>
bool joinall(const std::vector<Greenlet<G>>& greenlets, Duration timeout = Duration::forever()) {
  return joinall(std::vector<GreenletRef>(greenlets.begin(), greenlets.end()), timeout);
}

// Kills every greenlet first, then (with block) waits for them all.
bool killall(const std::vector<GreenletRef>& greenlets, std::exception_ptr e = nullptr,
             bool block = true, Duration timeout = Duration::forever());
template <class G>
bool killall(const std::vector<Greenlet<G>>& greenlets, std::exception_ptr e = nullptr,
             bool block = true, Duration timeout = Duration::forever()) {
  return killall(std::vector<GreenletRef>(greenlets.begin(), greenlets.end()), e, block, timeout);
}

// Parks the caller for duration (a blocking point: kill and Timeout act);
// sleep(0) yields to the other ready green threads.
void sleep(Duration duration);

// The running greenlet; an empty handle on a green thread that is not one
// (the main thread, a pthread under the preload).
GreenletRef current();

// yield() (in green/green.h) is a blocking point too.
void yield();

}  // namespace green
