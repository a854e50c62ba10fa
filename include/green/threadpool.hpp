// green::threadpool::run(f, args...): f runs on libuv's thread pool (an OS
// thread of its own, for CPU-heavy or truly blocking work) while the hub
// keeps running the other green threads. It returns at once with a
// Greenlet<R> whose get() waits for the result or rethrows f's exception.
//
// f runs where there is no hub: it must not call the blocking API (that
// throws green::Error). A kill reaches the waiting greenlet only once f is
// over: a pool thread cannot be interrupted.
#pragma once
#include <exception>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

#include "green/greenlet.hpp"

namespace green::threadpool {

namespace detail {
// Runs work on a pool thread; the calling green thread parks until it is done.
void run_blocking(void (*work)(void*), void* arg);
}  // namespace detail

template <class F, class... Args>
requires std::invocable<std::decay_t<F>, std::decay_t<Args>...> Greenlet<SpawnResult<F, Args...>>
run(F&& f, Args&&... args) {
  using R = SpawnResult<F, Args...>;
  green::detail::check_callable(f, "green::threadpool::run");
  green::detail::self("green::threadpool::run");  // the error names this call, not spawn
  return green::spawn(
      [](std::decay_t<F> fn, std::decay_t<Args>... a) -> R {
        struct Job {
          std::decay_t<F>* fn;
          std::tuple<std::decay_t<Args>&...> args;
          std::optional<std::conditional_t<std::is_void_v<R>, bool, R>> value;
          std::exception_ptr error;
        } job{&fn, std::tie(a...), std::nullopt, nullptr};
        detail::run_blocking(
            [](void* p) {
              auto* j = static_cast<Job*>(p);
              try {
                if constexpr (std::is_void_v<R>) {
                  std::apply(std::move(*j->fn), std::move(j->args));
                  j->value.emplace(true);
                } else {
                  j->value.emplace(std::apply(std::move(*j->fn), std::move(j->args)));
                }
              } catch (...) {
                j->error = std::current_exception();
              }
            },
            &job);
        green::detail::checkpoint("green::threadpool::run");  // a kill that came meanwhile
        if (job.error) std::rethrow_exception(job.error);
        if constexpr (!std::is_void_v<R>) return std::move(*job.value);
      },
      std::forward<F>(f), std::forward<Args>(args)...);
}

}  // namespace green::threadpool
