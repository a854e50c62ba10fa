// Signals and green threads, as the kernel keeps them for threads: each green
// thread has its own mask and its own pending set, and the process has one
// pending set. A signal is delivered to a green thread that does not block
// it (the main thread first, as the kernel prefers it), and its handler runs
// on that thread's stack, never on the hub's or inside the runtime.
//
// The preload's sigaction wrapper asks signal_safe_thread() whether the
// handler may run where the signal arrived: on a green thread that runs the
// program's code and does not block it, it runs there at once, as natively.
// Otherwise (the hub or runtime code is running, or the running thread
// blocks it) the signal is held (signal_hold), and the hub gives it to a
// green thread that does not block it (deliver_signals): that thread's
// interruptible call is interrupted (EINTR, or a restart under SA_RESTART),
// and the handler runs once the call's waits are undone, so that it may
// longjmp, call pthread_exit or block. A thread parked in a call that a
// signal does not interrupt (a lock, a join) runs the handler inside the
// wait and waits on, as natively.
#pragma once
#include <signal.h>

#include <atomic>
#include <cstdint>

#include "hub/thread.h"

namespace green {

// Held by the wrapper (signal context), until the hub or a green thread of
// the signal hub collects them. The info is written before the bit is set.
extern std::atomic<uint64_t> g_held;
// The process's pending set: only the signal hub's OS thread touches it,
// outside signal context.
extern uint64_t g_process_pending;

struct Hub;

// Signal sig is bit sig - 1 of a 64-bit set (signals 1 to 64). These never
// touch errno: glibc's sigismember sets EINVAL for its own two signals.
constexpr uint64_t sig_bit(int sig) {
  return uint64_t(1) << (sig - 1);
}
uint64_t sigset_bits(const sigset_t& set);
void bits_sigset(uint64_t bits, sigset_t* set);  // set becomes exactly bits
// What a thread may block: not SIGKILL, SIGSTOP, nor glibc's own 32 and 33.
uint64_t blockable(uint64_t bits);

// The one question for running program code from a signal handler (the
// program's handler, or a preemption switch): the green thread whose code
// the signal interrupted, or null when it interrupted the hub or runtime
// code (the runtime is running, or this is no hub's thread: see
// signal_on_hub_thread). Async-signal-safe.
GreenThread* signal_safe_thread();
bool signal_on_hub_thread();
// The green thread the kernel would give a signal for the process to: the
// main thread unless it blocks sig (or has ended), else the running one, t.
// Async-signal-safe.
GreenThread* signal_process_target(GreenThread* t, int sig);

// Async-signal-safe, from the wrapper. A signal that cannot run now: kept
// for a green thread (for `target` alone, or for the process when null),
// and the hub is woken.
void signal_hold(int sig, const siginfo_t* info, GreenThread* target);
// A handler ran at once on t (with or without SA_RESTART): the blocking
// call t is in counts it as interrupting it.
void signal_count(GreenThread* t, bool restart);

// pthread_kill/raise for t: pending for t, delivered once it does not block
// it (at once when t is the caller).
void signal_for_thread(GreenThread* t, int sig);
// sigpending: t's own pending signals and the process's.
uint64_t signal_pending(GreenThread* t);
// Whether t has a pending signal it does not block.
bool signal_due_slow(GreenThread* t);
inline bool signal_due(GreenThread* t) {
  // The common case, on every switch: nothing pending anywhere.
  if (!t->pending_signals && !g_process_pending && !g_held.load(std::memory_order_relaxed))
    return false;
  return signal_due_slow(t);
}
// Runs the handlers of t's due signals on t's stack (the caller is t).
void signal_run_due(GreenThread* t);
// Takes a pending signal of `set` for sigwait (0 when none), with its info.
int signal_take(GreenThread* t, uint64_t set, siginfo_t* info);
// t's mask changed: signals it now takes run at once; others may now have
// a thread to go to.
void signal_mask_changed(GreenThread* t);
// sig's action became to ignore it: its pending instances are discarded.
void signal_discard(int sig);
// In a forked child: pending signals are not inherited.
void signal_forked_child(GreenThread* t);

// Around a handler running on t (null: not a green thread, nothing to do):
// the blocking call t is in is set aside, so that the handler's own calls
// count their signals from their own start, and sig's handler mask (block)
// joins t's mask. Both come back when the handler returns or unwinds
// (pthread_exit); after a longjmp out of it, t is where the jump lands, out
// of any call (see the longjmp hooks, which restore the mask).
class HandlerScope {
 public:
  HandlerScope(GreenThread* t, uint64_t block);
  ~HandlerScope();
  HandlerScope(const HandlerScope&) = delete;
  HandlerScope& operator=(const HandlerScope&) = delete;

 private:
  GreenThread* t_;
  sigset_t mask_;
  int call_depth_, in_cancel_point_;
  uint64_t call_signal_seq_, call_own_signals_, park_signal_seq_, park_own_signals_;
  bool signal_restart_;
};

// Runs the program's action for sig on t: 0 when nothing ran (ignored, or
// the default action, which the runner takes), 1 for a handler with
// SA_RESTART, 2 for one without. Set by the preload's signal hooks.
extern int (*g_handler_runner)(GreenThread* t, int sig, const siginfo_t* info);

// In park(), once t runs again: a due signal interrupts an interruptible
// park (its wake becomes kSignal; the caller runs the handler after undoing
// its waits: signal_interrupted_wait); a park that is not interruptible runs
// the handlers here and returns as a spurious wake (kExplicit), so that its
// caller looks at what it waits for again.
void signal_after_park(GreenThread* t, bool interruptible);
// An interruptible wait returned kSignal and has undone its waits: runs the
// handlers of the signals that interrupted it, then says whether a handled
// signal really interrupted the call (kSignal, with t->signal_restart) or
// the wake was spurious (kExplicit).
WakeReason signal_interrupted_wait(GreenThread* t);

uint64_t signal_seq();             // handled signals so far, for every thread
void signal_attach_hub(Hub* hub);  // the hub that takes the process's signals
void deliver_signals(Hub* hub);    // on the hub: held signals to their threads

// Whether a handled signal came for t since its current park counts from.
// Sets t->signal_restart to whether every such handler had SA_RESTART.
bool signal_since_park(GreenThread* t);

}  // namespace green
