// A tiny lock for the runtime's own shared state, usable from any OS thread
// and never interposed (pthread mutexes are hooked, so the runtime cannot use
// them for itself). Critical sections under it are a few instructions long.
#pragma once
#include <atomic>

namespace green {

class SpinLock {
 public:
  void lock() {
    while (flag_.test_and_set(std::memory_order_acquire)) {
      while (flag_.test(std::memory_order_relaxed)) __builtin_ia32_pause();
    }
  }
  void unlock() { flag_.clear(std::memory_order_release); }

 private:
  std::atomic_flag flag_ = ATOMIC_FLAG_INIT;
};

}  // namespace green
