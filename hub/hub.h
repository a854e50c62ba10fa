// The hub: one libuv loop per OS thread, running on a fiber of its own, with
// a FIFO ready queue of green threads. Its surface is small on purpose:
// adopt, spawn, park, unpark, yield, exit, join.
#pragma once
#include <uv.h>

#include <atomic>
#include <unordered_map>

#include "hub/runtime.h"
#include "hub/spin_lock.h"
#include "hub/thread.h"

namespace green {

struct Hub {
  uv_loop_t loop;
  uv_async_t async;               // wakes the loop from signal handlers and other OS threads
  boost::context::fiber hub_ctx;  // the hub's suspended context while a green thread runs
  // The switch protocol (hub.cc, transfer): the side that resumes another
  // leaves here the slot for its own context; the side that arrives stores
  // there the context it came from. came_back: the thread that last left
  // for the hub itself (the others hand the OS thread on directly).
  boost::context::fiber* switch_slot = nullptr;
  GreenThread* came_back = nullptr;
  bool started = false;    // the hub's fiber has run: hand-offs may begin
  uint32_t hand_offs = 0;  // direct hand-offs so far (the clock is read every few)
  StackBounds hub_stack;
  void* hub_tp = nullptr;  // GREEN_TLS=private: the hub fiber's own thread pointer
  // For the time-slice watchdog (hub/preempt.h), read from its OS thread.
  std::atomic<uint64_t> switches{0};           // green threads run so far
  std::atomic<bool> green_running{false};      // a green thread (not the hub) runs now
  std::atomic<uint64_t> preempt_at{~0ull};     // the switch a preemption request is for
  pid_t kernel_tid = 0;                        // the hub's OS thread, for tgkill
  bool watched = false;                        // the watchdog knows this hub
  std::atomic<GreenThread*> running{nullptr};  // the green thread that runs now, if any
  // The monitor's stack capture (hub/monitor.h): 1 asked, 2 done.
  static constexpr int kStackFrames = 128;
  std::atomic<int> stack_request{0};
  void* stack_frames[kStackFrames];
  int stack_depth = 0;
  std::atomic<bool> dump_requested{false};  // GREEN_DUMP_SIGNAL came
  // The earliest park deadline the hub knows of (monotonic ns): the watchdog
  // ends a long run early when it is due (hub/preempt.h).
  std::atomic<int64_t> next_deadline{INT64_MAX};
  void* asan_fake_stack = nullptr;
  GreenThread* adopted = nullptr;
  GreenThread* ready_head = nullptr;
  GreenThread* ready_tail = nullptr;
  size_t ready_count = 0;
  GreenThread* preempted_head = nullptr;  // time slice over: run again after the next poll
  GreenThread* preempted_tail = nullptr;
  size_t live = 0;  // green threads that have not finished
  bool in_uv_run = false;
  uint64_t last_poll = 0;  // uv_hrtime() of the last look at timers and I/O
  std::unordered_map<pthread_t, GreenThread*> threads;  // finished ones stay until joined
  // Live green threads, and how many of them block each signal (bit sig - 1):
  // the OS thread's mask is what all of them block (hub/signal_mask.cc).
  uint32_t mask_members = 0;
  uint32_t mask_blockers[64] = {};
  uint64_t mask_blocked = 0;  // the signals whose count is not 0
  size_t blocked =
      0;  // parked on a lock or a join, with no deadline: only another thread wakes them
  bool deadlock_reported = false;
  SpinLock remote_lock;          // guards remote_wakes
  void* remote_wakes = nullptr;  // parking-lot waiters unparked from other OS threads
};

// Called on a green thread's own stack when its body has returned (or it
// called pthread_exit): thread-specific data destructors run here.
extern void (*g_thread_exit_hook)(GreenThread* t);

// Acts on a pending pthread_cancel at a cancellation point: the thread exits
// with PTHREAD_CANCELED (its stack unwinds). Returns when nothing is pending.
void cancellation_point();

// With asynchronous cancellation enabled, a pending cancel acts wherever the
// thread is: called when a time slice interrupted it (hub/preempt.cc).
void async_cancellation_point();

// Called by thread_exit before the stack unwinds: runs C cleanup handlers
// (pthread_cleanup_push), which need a longjmp rather than an exception.
extern void (*g_exit_unwinder)(GreenThread* t);

// GREEN_DEADLOCK=abort: abort after the deadlock report instead of hanging.
extern bool g_deadlock_abort;

// Turns the calling OS thread into a green thread with a hub of its own.
GreenThread* adopt_current_thread();
Hub* current_hub();
Hub* first_hub();  // the first hub made in this process (the preload's only one)

// Creates a green thread on the current hub, ready to run after the caller
// next parks or yields. Returns null with errno EAGAIN when no stack can be had.
GreenThread* spawn_thread(std::function<void*()> body, size_t stack_size, bool detached);

// Parks the current green thread until unpark(), the deadline, or (when
// interruptible) a handled signal. Returns why it woke.
WakeReason park(Deadline deadline, bool interruptible);

// A blocking call of the program (a hook), from its start to its return. A
// signal handled at any moment of it interrupts it, even one that came while
// the thread was between two of the call's parks.
class BlockingCall {
 public:
  explicit BlockingCall(GreenThread* self);
  ~BlockingCall();
  BlockingCall(const BlockingCall&) = delete;
  BlockingCall& operator=(const BlockingCall&) = delete;

 private:
  GreenThread* t_;
};
void unpark(GreenThread* t, WakeReason why);
void yield_thread();

// The end of a time slice: the thread runs again after the hub has looked at
// timers and I/O and run the threads ready by then (hub/preempt.h).
void preempt_yield();

// On the hub fiber: runs the threads ready now. The hub's loop does it
// between polls; a readiness callback does it at once (see fd_table.cc).
void run_ready(Hub* h);

// Parks until the deadline; returns kTimeout, or kSignal when interrupted.
WakeReason sleep_until(Deadline deadline, bool interruptible = true);

// Ends the current green thread. On the adopted thread the process then ends
// with status 0 once every other green thread has finished, as after
// pthread_exit() in main.
[[noreturn]] void thread_exit(void* retval);

// Sets the OS thread's signal mask to what every live green thread blocks:
// a signal is held back only while no green thread would take it.
// hub/signal_mask.cc.
void apply_signal_masks(Hub* h);
// Every change of a green thread's sigmask (or of whether it is live) is
// noted here before the next apply_signal_masks: the hub counts, per
// signal, the live threads that block it.
void note_signal_mask(GreenThread* t);
void recount_signal_masks(Hub* h);  // from scratch (a forked child)

// In a forked child, on the thread that called fork: only it lives on, as
// natively; libuv gets a fresh epoll instance.
void forked_child();

GreenThread* find_thread(pthread_t id);      // null when id is not a green thread of this hub
GreenThread* find_thread_by_tid(pid_t tid);  // a live one whose gettid() is tid, or null
int join_thread(GreenThread* t, void** retval,
                Deadline deadline);  // 0, EDEADLK, EINVAL, ETIMEDOUT, EBUSY
int detach_thread(GreenThread* t);

}  // namespace green
