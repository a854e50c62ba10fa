// How the C++ API's kill and green::Timeout reach a green thread parked in a
// blocking libc call made through the hooks. Such calls are cancellation
// points (hooks/hook.h CancelPoint), and a kill or a passed Timeout is one
// more reason their park ends: the thread is woken as pthread_cancel wakes
// it (WakeReason::kCancel, so io_retry and the other waits return
// ECANCELED to their CancelPoint), and CancelPoint then throws the kill's
// exception or the Timeout's TimeoutError out of the hooked call, into the
// caller's code. Only a call that parks is interrupted: one that can return
// at once (a write with room, a read with data) does, and the kill waits for
// the next blocking point. A thread that never used the API pays one relaxed load per
// such call.
#pragma once
#include <atomic>
#include <cstdint>
#include <green/core.hpp>

#include "hub/runtime.h"

namespace green {

struct GreenThread;

// Kills not delivered yet plus live Timeouts, in every hub.
extern std::atomic<int64_t> g_api_armed;
inline bool api_armed() {
  return g_api_armed.load(std::memory_order_relaxed) != 0;
}

// detail::checkpoint for the runtime's own blocking points, its common case
// inline: a green thread in the program's code, and no kill or Timeout
// anywhere.
inline void api_checkpoint(const char* what) {
  const ThreadState& s = tls;
  if (s.current && s.in_runtime == 0 && !api_armed()) return;
  detail::checkpoint(what);
}

// The outermost cancellation point of t begins: arranges for t to be woken
// (kCancel) if it parks with a kill pending, or when its earliest Timeout's
// deadline passes. A call that returns without parking throws nothing.
void api_call_begins(GreenThread* t);
// It ends (returns or throws): that wake-up is no longer wanted.
void api_call_ends(GreenThread* t);
// After a kCancel wake: throws the kill or the TimeoutError that woke t, if any.
void api_interrupt(GreenThread* t);

}  // namespace green
