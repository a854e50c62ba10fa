// Queues between green threads, as gevent's gevent.queue:
//   Queue<T>          FIFO, unbounded (Queue<T> q;) or bounded (Queue<T> q(10);)
//   PriorityQueue<T>  the least item first (by Compare, std::less by default)
//   LifoQueue<T>      the newest item first
//   JoinableQueue<T>  a Queue with task_done() and join()
//   Channel<T>        no room at all: put waits for a get (a rendezvous)
// Fairness: getters are served in the order they began to wait, and so are
// putters; an item put while a getter waits is handed to the oldest getter,
// so a newcomer never takes it first. put/get with a timeout return false /
// an empty optional when it passes (the item given to a failed put is
// dropped). Waits are blocking points (kill, green::Timeout).
#pragma once
#include <algorithm>
#include <cstddef>
#include <deque>
#include <functional>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

#include "green/core.hpp"

namespace green {

namespace detail {

template <class T>
struct FifoOrder {
  std::deque<T> items;
  void push(T v) { items.push_back(std::move(v)); }
  T pop() {
    T v = std::move(items.front());
    items.pop_front();
    return v;
  }
  const T& peek() const { return items.front(); }
  size_t size() const { return items.size(); }
};

template <class T>
struct LifoOrder {
  std::vector<T> items;
  void push(T v) { items.push_back(std::move(v)); }
  T pop() {
    T v = std::move(items.back());
    items.pop_back();
    return v;
  }
  const T& peek() const { return items.back(); }
  size_t size() const { return items.size(); }
};

template <class T, class Compare>
struct PriorityOrder {
  std::vector<T> items;
  // A max-heap of the reversed order: the least item on top.
  static bool after(const T& a, const T& b) { return Compare()(b, a); }
  void push(T v) {
    items.push_back(std::move(v));
    std::push_heap(items.begin(), items.end(), after);
  }
  T pop() {
    std::pop_heap(items.begin(), items.end(), after);
    T v = std::move(items.back());
    items.pop_back();
    return v;
  }
  const T& peek() const { return items.front(); }
  size_t size() const { return items.size(); }
};

}  // namespace detail

template <class T, class Order = detail::FifoOrder<T>>
class BasicQueue {
 public:
  static constexpr size_t kUnbounded = SIZE_MAX;
  // capacity 0: a Channel. Use the named classes; they check the argument.
  explicit BasicQueue(size_t capacity) : capacity_(capacity) {}
  virtual ~BasicQueue() = default;
  BasicQueue(const BasicQueue&) = delete;
  BasicQueue& operator=(const BasicQueue&) = delete;

  size_t size() const { return order_.size(); }
  bool empty() const { return order_.size() == 0; }
  bool full() const { return capacity_ != kUnbounded && order_.size() >= capacity_; }
  size_t capacity() const { return capacity_; }
  size_t getters() const { return getters_.size(); }
  size_t putters() const { return putters_.size(); }

  // Waits for room (a bounded queue or a Channel), then adds item.
  void put(T item) {
    if (!put_until(item, detail::kNoDeadline, "green::Queue::put"))
      throw Error("green::Queue::put: woken without room");  // not reached
  }
  bool put(T item, Duration timeout) {
    return put_until(item, detail::deadline_for(timeout, "green::Queue::put"), "green::Queue::put");
  }
  bool put_nowait(T item) { return put_nowait_ref(item); }

  // Waits for an item and takes it.
  T get() { return *get_until(detail::kNoDeadline, "green::Queue::get"); }
  std::optional<T> get(Duration timeout) {
    return get_until(detail::deadline_for(timeout, "green::Queue::get"), "green::Queue::get");
  }
  std::optional<T> get_nowait() { return take(); }
  // The item get() would return next, without taking it (none in a Channel).
  std::optional<T> peek() const {
    if (empty()) return std::nullopt;
    return order_.peek();
  }

 protected:
  virtual void added(T item) { order_.push(std::move(item)); }

 private:
  // A getter waits only when nothing is there: then the item goes straight to it.
  bool hand_to_getter(T& item) {
    detail::WaitNode* g = getters_.front();
    if (!g) return false;
    static_cast<std::optional<T>*>(g->slot)->emplace(std::move(item));
    getters_.notify_one();
    counted();
    return true;
  }
  virtual void counted() {}  // an item entered the queue (JoinableQueue counts it)

  bool put_until(T& item, int64_t deadline, const char* what) {
    detail::checkpoint(what);
    if (put_nowait_ref(item)) return true;
    detail::WaitNode node;
    node.slot = &item;
    return detail::wait(putters_, node, deadline, what);  // a getter took it
  }
  bool put_nowait_ref(T& item) {
    if (hand_to_getter(item)) return true;
    if (full()) return false;  // a Channel is always full
    added(std::move(item));
    return true;
  }

  // The next item, refilling from the oldest waiting putter.
  std::optional<T> take() {
    if (!empty()) {
      std::optional<T> v(order_.pop());
      if (detail::WaitNode* p = putters_.front()) {
        added(std::move(*static_cast<T*>(p->slot)));
        putters_.notify_one();
      }
      return v;
    }
    if (detail::WaitNode* p = putters_.front()) {  // a Channel: straight from the putter
      std::optional<T> v(std::move(*static_cast<T*>(p->slot)));
      putters_.notify_one();
      counted();
      return v;
    }
    return std::nullopt;
  }

  std::optional<T> get_until(int64_t deadline, const char* what) {
    detail::checkpoint(what);
    if (getters_.empty())
      if (std::optional<T> v = take()) return v;
    std::optional<T> slot;
    detail::WaitNode node;
    node.slot = &slot;
    if (!detail::wait(getters_, node, deadline, what)) return std::nullopt;
    return slot;
  }

  size_t capacity_;
  Order order_;
  detail::WaitList getters_;
  detail::WaitList putters_;
};

template <class T>
class Queue : public BasicQueue<T> {
 public:
  Queue() : BasicQueue<T>(BasicQueue<T>::kUnbounded) {}
  explicit Queue(size_t maxsize) : BasicQueue<T>(checked(maxsize)) {}

 private:
  static size_t checked(size_t maxsize) {
    if (maxsize == 0)
      throw std::invalid_argument("green::Queue: maxsize 0 (use Queue() or green::Channel)");
    return maxsize;
  }
};

template <class T>
class LifoQueue : public BasicQueue<T, detail::LifoOrder<T>> {
 public:
  LifoQueue() : BasicQueue<T, detail::LifoOrder<T>>(SIZE_MAX) {}
};

template <class T, class Compare = std::less<T>>
class PriorityQueue : public BasicQueue<T, detail::PriorityOrder<T, Compare>> {
 public:
  PriorityQueue() : BasicQueue<T, detail::PriorityOrder<T, Compare>>(SIZE_MAX) {}
  explicit PriorityQueue(size_t maxsize)
      : BasicQueue<T, detail::PriorityOrder<T, Compare>>(maxsize ? maxsize : SIZE_MAX) {}
};

template <class T>
class Channel : public BasicQueue<T> {
 public:
  Channel() : BasicQueue<T>(0) {}
};

template <class T>
class JoinableQueue : public BasicQueue<T> {
 public:
  JoinableQueue() : BasicQueue<T>(BasicQueue<T>::kUnbounded) {}
  explicit JoinableQueue(size_t maxsize) : BasicQueue<T>(maxsize ? maxsize : SIZE_MAX) {}

  size_t unfinished() const { return unfinished_; }
  // One item taken earlier is dealt with. More calls than items: std::logic_error.
  void task_done() {
    if (unfinished_ == 0)
      throw std::logic_error("green::JoinableQueue::task_done: called more times than items");
    if (--unfinished_ == 0) joiners_.notify_all();
  }
  // Waits until every item put has been marked task_done; false on timeout.
  bool join(Duration timeout = Duration::forever()) {
    int64_t deadline = detail::deadline_for(timeout, "green::JoinableQueue::join");
    detail::checkpoint("green::JoinableQueue::join");
    while (unfinished_ > 0) {
      detail::WaitNode node;
      if (!detail::wait(joiners_, node, deadline, "green::JoinableQueue::join")) break;
    }
    return unfinished_ == 0;
  }

 protected:
  void added(T item) override {
    BasicQueue<T>::added(std::move(item));
    unfinished_++;
  }

 private:
  void counted() override { unfinished_++; }
  size_t unfinished_ = 0;
  detail::WaitList joiners_;
};

}  // namespace green
