// green::Group (a set of greenlets to join or kill together) and green::Pool
// (a Group that runs at most `size` greenlets at once), as gevent.pool.
//
//   green::Pool pool(20);
//   auto pages = pool.map(fetch, urls);  // at most 20 fetches at a time
//
// Pool::spawn waits (a blocking point: kill, green::Timeout) until a slot is
// free; the slot is freed when a greenlet's function is over, before its
// joiners wake. The bound is exact: never more than size functions run.
// A Group forgets a greenlet once it has finished. Destroying a Group does
// not stop its greenlets.
#pragma once
#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

#include "green/core.hpp"
#include "green/greenlet.hpp"
#include "green/queue.hpp"
#include "green/semaphore.hpp"

namespace green {

class Group {
 public:
  Group() : state_(std::make_shared<State>()) {}
  Group(const Group&) = delete;
  Group& operator=(const Group&) = delete;

  // Starts f(args...) as a member (in a Pool, once a slot is free).
  template <class F, class... Args>
  requires std::invocable<std::decay_t<F>, std::decay_t<Args>...> Greenlet<SpawnResult<F, Args...>>
  spawn(F&& f, Args&&... args) {
    return spawn_in(state_, std::forward<F>(f), std::forward<Args>(args)...);
  }

  // Makes an already running greenlet a member (it takes no Pool slot).
  void add(const GreenletRef& g) { track(state_, g, false); }
  bool contains(const GreenletRef& g) const { return g && state_->members.count(g.id()) > 0; }
  size_t size() const { return state_->members.size(); }
  bool empty() const { return state_->members.empty(); }

  // Waits until every member has finished (false when the timeout passes).
  bool join(Duration timeout = Duration::forever()) {
    int64_t deadline = detail::deadline_for(timeout, "green::Group::join");
    detail::checkpoint("green::Group::join");
    while (!state_->members.empty()) {
      detail::WaitNode node;
      if (!detail::wait(state_->emptied, node, deadline, "green::Group::join")) break;
    }
    return state_->members.empty();
  }

  // Kills every member (see killall).
  bool kill(std::exception_ptr e = nullptr, bool block = true,
            Duration timeout = Duration::forever()) {
    return killall(members(), e, block, timeout);
  }

  std::vector<GreenletRef> members() const {
    std::vector<GreenletRef> all;
    for (auto& [id, g] : state_->members) all.push_back(g);
    return all;
  }

  // f(item) for every item, each on a member greenlet; the results in the
  // items' order. The first failure (in that order) is rethrown once all
  // have finished.
  template <class F, class Range>
  auto map(F f, const Range& items) {
    using R = SpawnResult<F&, decltype(*std::begin(items))>;
    std::vector<Greenlet<R>> gs;
    for (const auto& item : items) gs.push_back(spawn(f, item));
    joinall(gs);
    if constexpr (std::is_void_v<R>) {
      for (auto& g : gs) g.get();
    } else {
      std::vector<R> results;
      results.reserve(gs.size());
      for (auto& g : gs) results.push_back(std::move(g.get()));
      return results;
    }
  }

  // The results of f(item) as they finish: next() returns each (rethrowing
  // a failure), then an empty optional. Items are spawned by a feeder
  // greenlet, so a Pool's bound holds while the caller consumes.
  template <class R>
  class Unordered {
   public:
    std::optional<R> next() {
      if (left_ == 0) return std::nullopt;
      left_--;
      return std::move(done_->get().get());
    }
    ~Unordered() {
      if (feeder_ && !feeder_.ready()) feeder_.kill(nullptr, false);
    }
    Unordered(Unordered&&) = default;

   private:
    friend class Group;
    Unordered() = default;
    std::shared_ptr<Queue<Greenlet<R>>> done_ = std::make_shared<Queue<Greenlet<R>>>();
    size_t left_ = 0;
    GreenletRef feeder_;
  };

  template <class F, class Range>
  auto imap_unordered(F f, const Range& items) {
    using Item = std::decay_t<decltype(*std::begin(items))>;
    using R = SpawnResult<F&, Item>;
    static_assert(!std::is_void_v<R>, "imap_unordered needs a result");
    Unordered<R> out;
    std::vector<Item> copy(std::begin(items), std::end(items));
    out.left_ = copy.size();
    out.feeder_ =
        green::spawn([state = state_, f, copy = std::move(copy), done = out.done_]() mutable {
          for (auto& item : copy) {
            Greenlet<R> g = spawn_in(state, f, std::move(item));
            g.link([done](Greenlet<R> finished) { done->put(finished); });
          }
        });
    return out;
  }

 protected:
  struct State {
    std::map<uint64_t, GreenletRef> members;
    detail::WaitList emptied;
    std::unique_ptr<Semaphore> slots;  // a Pool's
  };
  std::shared_ptr<State> state_;

 private:
  template <class F, class... Args>
  static Greenlet<SpawnResult<F, Args...>> spawn_in(const std::shared_ptr<State>& state, F&& f,
                                                    Args&&... args) {
    detail::check_callable(f, "green::Group::spawn");
    if (state->slots) state->slots->acquire();
    Greenlet<SpawnResult<F, Args...>> g;
    try {
      g = green::spawn(std::forward<F>(f), std::forward<Args>(args)...);
    } catch (...) {
      if (state->slots) state->slots->release();
      throw;
    }
    track(state, g, state->slots != nullptr);
    return g;
  }

  static void track(const std::shared_ptr<State>& state, const GreenletRef& g, bool holds_slot) {
    if (!g || g.ready()) {
      if (holds_slot) state->slots->release();
      return;
    }
    state->members[g.id()] = g;
    std::weak_ptr<State> weak = state;
    uint64_t id = g.id();
    g.link([weak, id, holds_slot](GreenletRef) {
      std::shared_ptr<State> s = weak.lock();
      if (!s) return;
      s->members.erase(id);
      if (holds_slot) s->slots->release();
      if (s->members.empty()) s->emptied.notify_all();
    });
  }
};

class Pool : public Group {
 public:
  // size 0 throws std::invalid_argument.
  explicit Pool(size_t size) : size_(size) {
    if (size == 0) throw std::invalid_argument("green::Pool: the size is 0");
    state_->slots = std::make_unique<Semaphore>(size);
  }
  size_t capacity() const { return size_; }
  size_t free_count() const { return state_->slots->value(); }
  bool full() const { return free_count() == 0; }
  // Waits until a slot is free (without taking it); false on timeout.
  bool wait_available(Duration timeout = Duration::forever()) {
    if (!state_->slots->acquire(timeout)) return false;
    state_->slots->release();
    return true;
  }

 private:
  size_t size_;
};

}  // namespace green
