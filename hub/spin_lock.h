// A tiny lock for the runtime's own shared state, usable from any OS thread
// and never interposed (pthread mutexes are hooked, so the runtime cannot use
// them for itself). Critical sections under it are a few instructions long.
// They count as runtime code: a signal arriving in one is held, so that no
// handler (which may take the same lock, say in sem_post) runs inside it.
#pragma once
#include <atomic>

#include "hub/runtime.h"

namespace green {

class SpinLock {
 public:
  void lock() {
    ++tls.in_runtime;
    while (flag_.test_and_set(std::memory_order_acquire)) {
      while (flag_.test(std::memory_order_relaxed)) __builtin_ia32_pause();
    }
  }
  void unlock() {
    flag_.clear(std::memory_order_release);
    --tls.in_runtime;
  }

 private:
  std::atomic_flag flag_ = ATOMIC_FLAG_INIT;
};

}  // namespace green
