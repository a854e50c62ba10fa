// A green thread: a Boost.Context fiber on its own mmap'd stack, plus what the
// scheduler and pthread_join need to know about it.
#pragma once
#include <pthread.h>
#include <signal.h>
#include <uv.h>

#include <boost/context/fiber.hpp>
#include <cstddef>
#include <functional>
#include <vector>

#include "hub/asan.h"
#include "hub/clock.h"

namespace green {

struct Hub;

// kGone: a thread of the parent in a forked child; it never runs again.
enum class RunState : uint8_t { kReady, kRunning, kParked, kFinished, kGone };

// Why a parked green thread was woken.
enum class WakeReason : uint8_t {
  kNone,
  kReady,     // the fd it waits on is ready (or may be: the caller retries)
  kTimeout,   // its deadline passed
  kClosed,    // another green thread closed the fd it waits on
  kSignal,    // a handled signal interrupted the call
  kExplicit,  // unpark() by the runtime (a joined thread finished, ...)
  kCancel,    // pthread_cancel while parked in a cancellation point
};

// The fields a wait and a wake-up touch (park, unpark, the ready queue, the
// switch, the hooks' cancellation and signal checks) come first, within
// 128 bytes: a server with thousands of connections finds each thread cold
// when its fd becomes ready, and every further line of it is one more cache
// miss per message. (Aligning the struct to 128 cost more in the aligned
// operator new than it saved.)
struct GreenThread {
  boost::context::fiber ctx;  // its suspended context while it is not running
  Hub* hub = nullptr;
  void* tp = nullptr;  // GREEN_TLS=private: its thread pointer (hub/tcb.h)
  GreenThread* next_ready = nullptr;
  uint64_t pending_signals = 0;      // its own pending set (bit sig - 1: hub/signal.h)
  const char* waiting_on = nullptr;  // what it is parked on, for the deadlock report
  const void* waiting_addr = nullptr;
  uv_timer_t* timer = nullptr;  // made on the first timed park
  Deadline deadline = kNoDeadline;
  uint64_t state_since = 0;    // uv_hrtime() when it last parked, became ready or ran
  void* api_record = nullptr;  // the native API's record of it (hub/greenlet.cc), or null
  void* asan_fake_stack = nullptr;
  int waiting_fd = -1;      // parked on this fd (-2: on several), for the thread dump
  int waiting_events = 0;   // kWantRead / kWantWrite
  int call_depth = 0;       // nested BlockingCall scopes
  int in_cancel_point = 0;  // inside a call that is a cancellation point
  RunState state = RunState::kReady;
  WakeReason wake = WakeReason::kNone;
  bool interruptible = false;    // parked in a call that a signal interrupts
  bool signal_restart = false;   // with kSignal: every handler that ran asked for SA_RESTART
  bool cancel_pending = false;   // pthread_cancel: acted on at the next cancellation point
  bool cancel_disabled = false;  // pthread_setcancelstate(PTHREAD_CANCEL_DISABLE)
  bool cancel_async = false;     // pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS)
  bool api_waiting = false;      // parked in a native-API wait (ApiBlock): a kill wakes it
  // (end of the first 128 bytes)

  pthread_t id = 0;  // what pthread_self() returns on it
  pid_t tid = 0;     // GREEN_TLS=private: what gettid() returns on it
  std::function<void*()> body;
  void* retval = nullptr;
  bool detached = false;
  bool preempted_once = false;  // GREEN_LOG=debug names a thread at its first preemption
  bool adopted = false;         // the OS thread's own stack (the program's main thread)
  void* cleanup_top = nullptr;  // C cleanup handlers (pthread_cleanup_push), newest first
  sigset_t sigmask{};           // its own signal mask (the OS thread's is their intersection)
  uint64_t counted_mask = 0;    // the bits of it the hub counts (hub/signal_mask.cc)
  bool mask_counted = false;    // whether the hub counts it
  // Signals and the blocking call it is in (BlockingCall): a signal handled
  // on this thread since the call began interrupts it (own_signals counts
  // them).
  uint64_t park_signal_seq = 0;   // signal_seq() the current park counts from
  uint64_t park_own_signals = 0;  // own_signals the current park counts from
  uint64_t own_signals = 0;       // handlers run on this thread
  uint64_t own_no_restart = 0;    // own_signals at the last one without SA_RESTART
  uint64_t call_signal_seq = 0;   // signal_seq() when the outermost call began
  uint64_t call_own_signals = 0;  // own_signals then

  int handler_depth = 0;             // handlers running on it (hub/signal.h HandlerScope)
  uint64_t handler_mask_before = 0;  // its mask before the outermost of them

  GreenThread* joiner = nullptr;  // parked in pthread_join on this thread
  std::vector<void*> specific;    // pthread_setspecific values, by key
  char name[16] = {};             // pthread_setname_np
  void* host_buffer = nullptr;    // gethostbyname's result (malloc'd on first use)
  StackBounds stack;              // its usable stack (AddressSanitizer, pthread_getattr_np)
};
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winvalid-offsetof"
static_assert(offsetof(GreenThread, id) <= 128, "the switch path's fields fill 128 bytes at most");
#pragma GCC diagnostic pop

// Finished, or a thread of the parent in a forked child: it never runs
// again, holds no signal back and takes none.
inline bool finished(const GreenThread* t) {
  return t->state == RunState::kFinished || t->state == RunState::kGone;
}

// Thrown by thread_exit() on a green thread's own stack and caught where the
// thread began: the stack unwinds (running C++ destructors) as glibc's
// pthread_exit does with its forced unwind.
struct ThreadExit {
  void* retval;
};

}  // namespace green
