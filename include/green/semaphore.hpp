// green::Semaphore, BoundedSemaphore and RLock. Waiters are served strictly
// first come, first served: a release hands the permit to the oldest waiter,
// so a newcomer never takes it first. Each has lock()/unlock()/try_lock() for
// std::lock_guard and std::unique_lock. Waits are blocking points (kill,
// green::Timeout).
#pragma once
#include <cstddef>
#include <stdexcept>

#include "green/core.hpp"

namespace green {

class Semaphore {
 public:
  explicit Semaphore(size_t value = 1) : value_(value) {}
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;

  size_t value() const { return value_; }  // permits free now
  bool locked() const { return value_ == 0; }
  size_t waiting() const { return waiters_.size(); }

  // Takes a permit, waiting up to timeout; returns whether it got one.
  bool acquire(Duration timeout = Duration::forever()) {
    int64_t deadline = detail::deadline_for(timeout, "green::Semaphore::acquire");
    detail::checkpoint("green::Semaphore::acquire");  // before a permit is taken
    if (value_ > 0 && waiters_.empty()) {
      value_--;
      return true;
    }
    detail::WaitNode node;
    return detail::wait(waiters_, node, deadline, "green::Semaphore::acquire");
  }
  bool try_acquire() {
    if (value_ == 0 || !waiters_.empty()) return false;
    value_--;
    return true;
  }
  // Gives a permit back: to the oldest waiter if there is one.
  void release() {
    if (!waiters_.notify_one()) value_++;
  }
  void lock() { acquire(); }
  void unlock() { release(); }
  bool try_lock() { return try_acquire(); }

 protected:
  size_t value_;
  detail::WaitList waiters_;
};

// A Semaphore that refuses (std::logic_error) more releases than acquires.
class BoundedSemaphore : public Semaphore {
 public:
  explicit BoundedSemaphore(size_t value = 1) : Semaphore(value), initial_(value) {}
  void release() {
    if (waiters_.empty() && value_ >= initial_)
      throw std::logic_error("green::BoundedSemaphore::release: released too many times");
    Semaphore::release();
  }
  void unlock() { release(); }

 private:
  size_t initial_;
};

// A lock its holder may take again; released as many times as taken. A
// release by another green thread throws std::logic_error.
class RLock {
 public:
  RLock() = default;
  RLock(const RLock&) = delete;
  RLock& operator=(const RLock&) = delete;

  bool acquire(Duration timeout = Duration::forever()) {
    void* me = detail::self("green::RLock::acquire");
    if (owner_ == me) {
      count_++;
      return true;
    }
    if (!sem_.acquire(timeout)) return false;
    owner_ = me;
    count_ = 1;
    return true;
  }
  bool try_acquire() {
    void* me = detail::self("green::RLock::try_acquire");
    if (owner_ == me) {
      count_++;
      return true;
    }
    if (!sem_.try_acquire()) return false;
    owner_ = me;
    count_ = 1;
    return true;
  }
  void release() {
    if (owner_ != detail::self("green::RLock::release"))
      throw std::logic_error("green::RLock::release: not held by this green thread");
    if (--count_ == 0) {
      owner_ = nullptr;
      sem_.release();
    }
  }
  bool locked() const { return sem_.locked(); }  // also while handed to a waiter
  void lock() { acquire(); }
  void unlock() { release(); }
  bool try_lock() { return try_acquire(); }

 private:
  Semaphore sem_{1};
  void* owner_ = nullptr;
  size_t count_ = 0;
};

}  // namespace green
