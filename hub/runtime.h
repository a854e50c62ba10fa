// Per-OS-thread state of the runtime and the one question every hook asks
// first: "is the caller a green thread of a hub, outside the runtime?"
#pragma once
#include <cstdint>

namespace green {

struct Hub;
struct GreenThread;

enum class ThreadMode : uint8_t {
  kUndecided = 0,  // not asked yet, or asked before start-up completed
  kNative,         // a thread the runtime does not manage: hooks call libc
  kHubThread,      // an OS thread that runs a hub
};

struct ThreadState {
  Hub* hub = nullptr;              // the hub of this OS thread, if any
  GreenThread* current = nullptr;  // the green thread running now (null on the hub fiber)
  int in_runtime = 0;              // >0 while runtime code (or libuv) runs
  ThreadMode mode = ThreadMode::kUndecided;
  bool preempt_pending = false;   // its time slice ran out where it could not yield (preempt.h)
  unsigned own_signals = 0;       // the runtime's time-slice signals this OS thread took
  int no_preempt = 0;             // >0 inside a region that must not be preempted
  int in_signal_handler = 0;      // >0 while one of the program's signal handlers runs
  void* handler_frame = nullptr;  // the outermost one's frame (a longjmp may have left it)
  // &errno of this TLS block, learnt on its first switch: errno is glibc's
  // __errno_location(), a call through the PLT, and every switch saves and
  // restores it. (With GREEN_TLS=private each green thread's block has its
  // own copy of this state, so each learns its own errno.)
  int* errno_at = nullptr;
};

// constinit here too: no TLS wrapper call on every access (it has no constructor)
extern constinit thread_local ThreadState tls __attribute__((tls_model("initial-exec")));

// Set by the preload constructor when a hook may turn the main thread green.
// The native API (include/green) adopts threads without it.
extern bool g_adopt_main_thread;

GreenThread* adopt_slow();

// A time slice ran out where the thread could not yield: it yields now, at
// the start of a hooked call (hub/preempt.cc).
void preempt_safe_point();

// The green thread on whose behalf a hook should act, or null when the hook
// must call straight through to libc (native thread, hub fiber, runtime code).
inline GreenThread* hook_self() {
  ThreadState& t = tls;
  if (__builtin_expect(t.current != nullptr && t.in_runtime == 0, 1)) {
    if (__builtin_expect(t.preempt_pending, 0)) preempt_safe_point();
    return t.current;
  }
  if (t.in_runtime != 0 || t.mode != ThreadMode::kUndecided) return nullptr;
  return adopt_slow();
}

// Marks a stretch of runtime code: hooked libc calls made inside it (by us or
// by libuv) go straight to libc.
struct RuntimeScope {
  RuntimeScope() { ++tls.in_runtime; }
  ~RuntimeScope() { --tls.in_runtime; }
  RuntimeScope(const RuntimeScope&) = delete;
  RuntimeScope& operator=(const RuntimeScope&) = delete;
};

}  // namespace green
