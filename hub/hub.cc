#include "hub/hub.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <new>

#include "hub/monitor.h"
#include "hub/own_fds.h"
#include "hub/parking_lot.h"
#include "hub/preempt.h"
#include "hub/signal.h"
#include "hub/stack.h"
#include "hub/stats.h"
#include "hub/switch.h"
#include "hub/tcb.h"

namespace green {

constinit thread_local ThreadState tls;
bool g_adopt_main_thread = false;
void (*g_thread_exit_hook)(GreenThread* t) = nullptr;
bool g_deadlock_abort = false;
void (*g_exit_unwinder)(GreenThread* t) = nullptr;

namespace {

constexpr size_t kHubStackSize = 256 * 1024;

void enqueue(Hub* h, GreenThread* t) {
  t->next_ready = nullptr;
  if (h->ready_tail)
    h->ready_tail->next_ready = t;
  else
    h->ready_head = t;
  h->ready_tail = t;
  h->ready_count++;
}

GreenThread* dequeue(Hub* h) {
  GreenThread* t = h->ready_head;
  if (!t) return nullptr;
  h->ready_head = t->next_ready;
  if (!h->ready_head) h->ready_tail = nullptr;
  h->ready_count--;
  return t;
}

// Timers, I/O readiness and wake-ups from other threads. With nothing ready
// the hub sleeps in epoll; while green threads are ready it still looks, but
// at most every kBusyPollNs, so threads that hand work to each other (locks,
// yields) do not pay a system call per switch.
constexpr uint64_t kBusyPollNs = 200000;
// A green thread that leaves looks at the clock every kHandOffCheck direct
// hand-offs: reading it costs about as much as the hand-off itself.
constexpr uint32_t kHandOffCheck = 16;

// Every switch on a hub goes through here, whichever way it goes. A fiber
// learns who resumed it only as the return value of its own resume, so the
// side that leaves names the slot for its own context (h->switch_slot) and
// the side that arrives stores there the context it came from. That lets a
// green thread resume the next one directly, with the hub's fiber still
// suspended wherever it was.
//
// The switch itself is switch_to (hub/switch.h): Boost's jump_fcontext,
// entered so that the CPU's return stack stays balanced.
void transfer(Hub* h, boost::context::fiber* mine, boost::context::fiber& to) {
  h->switch_slot = mine;
  void* from = switch_to(to);
  // The slot is empty: its context was taken when its thread was resumed.
  fiber_context(*h->switch_slot) = from;
}

// What the watchdog, the monitor and the statistics see of a thread that
// starts to run, from the hub or from a hand-off.
[[gnu::always_inline]] inline void begin_run(Hub* h, GreenThread* t) {
  t->state = RunState::kRunning;
  // Plain stores (one writer): the watchdog only reads them.
  h->switches.store(h->switches.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  h->green_running.store(true, std::memory_order_relaxed);
  h->running.store(t, std::memory_order_relaxed);
  if (g_track_states) t->state_since = uv_hrtime();
}

// The thread a leaving green thread hands the OS thread to, or null when
// the hub must run first: nothing (else) is ready; the hub runs threads from inside
// libuv's poll (a readiness callback, fd_table.cc); or it has not looked at
// timers and I/O for kBusyPollNs. The order is the ready queue's either way:
// a hand-off only leaves out the hub's fiber in between (two context
// switches instead of four, and no clock read on most of them).
GreenThread* hand_off_target(Hub* h, GreenThread* self) {
  // (self first in the queue: it yielded with nobody else ready)
  if (!h->ready_head || h->ready_head == self || h->in_uv_run || !h->started) return nullptr;
  if (++h->hand_offs % kHandOffCheck == 0 && uv_hrtime() - h->last_poll >= kBusyPollNs)
    return nullptr;
  return dequeue(h);
}

// Leaves the current green thread: for the next ready one when it may hand
// off, else for the hub fiber. errno and the runtime depth belong to the
// green thread, so they travel with it.
void switch_away(GreenThread* self, bool may_hand_off) {
  Hub* h = self->hub;
  tls.preempt_pending = false;  // it gives the hub up anyway
  int* errno_at = tls.errno_at;
  if (__builtin_expect(!errno_at, 0)) errno_at = tls.errno_at = &errno;
  int saved_errno = *errno_at;
  int saved_depth = tls.in_runtime;
  tls.current = nullptr;
  tls.in_runtime = 1;
  if (GreenThread* next = may_hand_off ? hand_off_target(h, self) : nullptr) {
    begin_run(h, next);
    asan_leaving(&self->asan_fake_stack, next->stack);
    if (next->tp) set_thread_pointer(next->tp);  // its own TLS from its first instruction on
    transfer(h, &self->ctx, next->ctx);
  } else {
    h->came_back = self;
    asan_leaving(&self->asan_fake_stack, h->hub_stack);
    if (h->hub_tp) set_thread_pointer(h->hub_tp);
    transfer(h, &self->ctx, h->hub_ctx);
  }
  asan_arrived(self->asan_fake_stack, nullptr);
  tls.current = self;  // with private TLS whoever resumed it set its own block's
  tls.in_runtime = saved_depth;
  *errno_at = saved_errno;  // the same block's errno: the thread pointer is this thread's again
}

void free_thread(Hub* h, GreenThread* t) {
  h->threads.erase(t->id);
  if (t->timer) {
    uv_close(reinterpret_cast<uv_handle_t*>(t->timer),
             [](uv_handle_t* handle) { delete reinterpret_cast<uv_timer_t*>(handle); });
    t->timer = nullptr;
  }
  free(t->host_buffer);
  t->host_buffer = nullptr;
  // The adopted thread's context is the OS thread's own stack: destroying it
  // would unwind main(). It is never freed.
  if (!t->adopted) delete t;
}

// Runs on the hub fiber once a green thread has finished.
void reap(Hub* h, GreenThread* t) {
  note_signal_mask(t);                               // a finished thread blocks nothing any more
  if (g_stats_enabled) stats_thread_finished(h, t);  // its stack is still there
  if (t->timer) uv_timer_stop(t->timer);
  if (t->joiner) unpark(t->joiner, WakeReason::kExplicit);
  if (t->detached) free_thread(h, t);
  // As natively: once the last thread is gone, the process exits with 0
  // (only reachable after pthread_exit in main).
  if (--h->live == 0) exit(0);
  apply_signal_masks(h);  // its mask no longer holds signals back
}

void run_thread(Hub* h, GreenThread* t) {
  tls.current = t;
  begin_run(h, t);
  asan_leaving(&h->asan_fake_stack, t->stack);
  if (t->tp) set_thread_pointer(t->tp);  // the thread's own TLS from its first instruction on
  transfer(h, &h->hub_ctx, t->ctx);
  // Back from whichever thread left for the hub: t, or one that t (or a
  // thread after it) handed the OS thread to.
  h->green_running.store(false, std::memory_order_relaxed);
  asan_arrived(h->asan_fake_stack, nullptr);
  tls.current = nullptr;
  tls.in_runtime = 1;
  if (h->came_back->state == RunState::kFinished) reap(h, h->came_back);
}

// Every green thread is parked on a lock or a join with no deadline, and no
// thread is ready: natively the process would hang here. Say so once, with
// what each thread waits on; hang as natively, or abort (GREEN_DEADLOCK).
void check_deadlock(Hub* h) {
  if (h->ready_head || h->blocked < h->live || h->live == 0 || h->deadlock_reported) return;
  h->deadlock_reported = true;
  char line[256];
  int n = snprintf(line, sizeof line,
                   "libgreen: deadlock: all %zu green threads wait and nothing can wake them\n",
                   h->live);
  write(STDERR_FILENO, line, size_t(n));
  for (auto& [id, t] : h->threads) {
    if (t->state != RunState::kParked) continue;
    n = snprintf(line, sizeof line, "libgreen:   thread %#lx%s%s%s waits on %s %p\n",
                 static_cast<unsigned long>(id), t->name[0] ? " \"" : "", t->name,
                 t->name[0] ? "\"" : (t->adopted ? " (main)" : ""),
                 t->waiting_on ? t->waiting_on : "?", t->waiting_addr);
    write(STDERR_FILENO, line, size_t(n));
  }
  if (g_deadlock_abort) abort();
}

// A round of ready threads looks at timers and I/O again after this long
// (run_ready): the kernel's wake-up granularity.
constexpr uint64_t kRoundNs = 1000000;
constexpr size_t kRoundCheck = 16;

void poll_loop(Hub* h) {
  uint64_t now = uv_hrtime();
  if (h->ready_head && now - h->last_poll < kBusyPollNs) return;
  h->last_poll = now;
  h->in_uv_run = true;
  uv_run(&h->loop, h->ready_head || h->preempted_head ? UV_RUN_NOWAIT : UV_RUN_ONCE);
  h->in_uv_run = false;
  int timeout_ms = uv_backend_timeout(&h->loop);
  h->next_deadline.store(
      timeout_ms < 0 ? INT64_MAX : monotonic_ns() + int64_t(timeout_ms) * 1000000,
      std::memory_order_relaxed);
  // Preempted threads queue up behind what the poll made ready.
  while (GreenThread* t = h->preempted_head) {
    h->preempted_head = t->next_ready;
    enqueue(h, t);
  }
  h->preempted_tail = nullptr;
}

// The hub's first run begins when the adopted thread first leaves its own
// stack: that is its first return, as from run_thread.
boost::context::fiber hub_main(Hub* h, boost::context::fiber&& adopted) {
  asan_arrived(nullptr, &h->adopted->stack);  // the OS thread's own stack
  tls.hub = h;                                // with private TLS these are the hub block's own
  tls.mode = ThreadMode::kHubThread;
  tls.current = nullptr;
  tls.in_runtime = 1;
  h->green_running.store(false, std::memory_order_relaxed);  // the monitor: the hub, not main, runs
  *h->switch_slot = std::move(adopted);                      // the adopted thread's context
  h->started = true;
  if (h->adopted->state == RunState::kFinished) reap(h, h->adopted);
  for (;;) {
    g_stats.hub_loops++;
    run_ready(h);
    check_deadlock(h);
    poll_loop(h);
  }
}

void on_timer(uv_timer_t* timer) {
  auto* t = static_cast<GreenThread*>(timer->data);
  if (t->state != RunState::kParked) return;
  // libuv's clock is coarse: never wake before the deadline.
  int64_t left = t->deadline - monotonic_ns();
  if (left > 0) {
    uv_timer_start(timer, on_timer, uint64_t((left + 999999) / 1000000), 0);
    return;
  }
  unpark(t, WakeReason::kTimeout);
}

void start_timer(GreenThread* t, Deadline deadline) {
  Hub* h = t->hub;
  if (!t->timer) {
    t->timer = new uv_timer_t;
    uv_timer_init(&h->loop, t->timer);
    t->timer->data = t;
  }
  t->deadline = deadline;
  if (deadline < h->next_deadline.load(std::memory_order_relaxed))
    h->next_deadline.store(deadline, std::memory_order_relaxed);
  uv_update_time(&h->loop);
  int64_t left = deadline - monotonic_ns();
  uint64_t ms = left <= 0 ? 0 : uint64_t((left + 999999) / 1000000);
  uv_timer_start(t->timer, on_timer, ms, 0);
}

void on_async(uv_async_t* async) {
  auto* h = static_cast<Hub*>(async->data);
  deliver_remote_wakes(h);
  deliver_signals(h);
  if (h->dump_requested.exchange(false)) dump_threads(h);
}

std::atomic<Hub*> g_first_hub{nullptr};

}  // namespace

void run_ready(Hub* h) {
  // Threads readied meanwhile wait for the next round, so I/O is never starved.
  // A round also ends after kRoundNs, the rest staying at the head of the
  // queue: with hundreds of busy threads a round took 26 ms (p50) to 220 ms
  // (p99), and an accept loop woken by the poll waited that long (privoxy at
  // 200 clients overflowed its listen queue). The clock is read every
  // kRoundCheck threads, not at every switch. Inside the poll (a readiness
  // callback runs the threads it woke at once: fd_table.cc) the round is
  // the poll's own.
  // (A thread that forks empties the queue in the child: stop there.)
  uint64_t start = uv_hrtime();
  size_t ran = 0;
  for (size_t n = h->ready_count; n > 0; --n) {
    GreenThread* t = dequeue(h);
    if (!t) break;
    run_thread(h, t);
    if (++ran % kRoundCheck == 0 && !h->in_uv_run && uv_hrtime() - start >= kRoundNs) break;
  }
}

Hub* current_hub() {
  return tls.hub;
}

Hub* first_hub() {
  return g_first_hub.load();
}

GreenThread* adopt_current_thread() {
  RuntimeScope runtime;
  auto* h = new Hub;
  own_loop_init(&h->loop);  // its descriptors high and hidden (own_fds.h)
  uv_async_init(&h->loop, &h->async, on_async);
  h->async.data = h;
  auto* t = new GreenThread;
  t->hub = h;
  t->id = pthread_self();
  t->adopted = true;
  if (g_private_tls) {
    t->tp = thread_pointer();  // the main thread keeps its own block
    t->tid = kernel_tid();
  }
  t->state = RunState::kRunning;
  pthread_sigmask(SIG_BLOCK, nullptr, &t->sigmask);
  h->adopted = t;
  h->kernel_tid = kernel_tid();
  h->green_running.store(true);  // the adopted thread runs now, on the OS thread's stack
  h->running.store(t);
  Hub* none = nullptr;
  g_first_hub.compare_exchange_strong(none, h);
  h->live = 1;
  h->threads[t->id] = t;
  note_signal_mask(t);
  // With private TLS the hub runs on a block of its own, with the OS
  // thread's real id: libuv and glibc on the hub never touch a program
  // thread's TLS.
  h->hub_ctx = boost::context::fiber(
      std::allocator_arg,
      StackAllocator{kHubStackSize, &h->hub_stack, g_private_tls ? &h->hub_tp : nullptr,
                     kernel_tid()},
      [h](boost::context::fiber&& from) { return hub_main(h, std::move(from)); });
  tls.hub = h;
  tls.mode = ThreadMode::kHubThread;
  tls.current = t;
  signal_attach_hub(h);
  preempt_adopted(h);
  if (g_monitor_ns || g_dump_signal) preempt_watch(h);  // a lone main thread can stall too
  return t;
}

GreenThread* adopt_slow() {
  if (!g_adopt_main_thread) return nullptr;  // start-up not complete: decide later
  if (kernel_tid() != getpid()) {
    tls.mode = ThreadMode::kNative;
    return nullptr;
  }
  return adopt_current_thread();
}

GreenThread* spawn_thread(std::function<void*()> body, size_t stack_size, bool detached) {
  RuntimeScope runtime;
  Hub* h = tls.hub;
  auto* t = new (std::nothrow) GreenThread;
  if (!t) {
    errno = EAGAIN;
    return nullptr;
  }
  t->hub = h;
  t->body = std::move(body);
  t->detached = detached;
  if (tls.current) t->sigmask = tls.current->sigmask;  // inherited, as pthread_create does
  if (g_private_tls) t->tid = next_green_tid();
  if ((g_timeslice_ns || g_monitor_ns) && !h->watched) preempt_watch(h);
  try {
    t->ctx = boost::context::fiber(
        std::allocator_arg,
        StackAllocator{stack_size_for(stack_size), &t->stack, g_private_tls ? &t->tp : nullptr,
                       t->tid},
        [t](boost::context::fiber&& from) {
          asan_arrived(nullptr, nullptr);
          *t->hub->switch_slot = std::move(from);  // the hub's, or a thread's that handed off
          tls.hub = t->hub;  // with private TLS, a fresh block: the runtime's state
          tls.mode = ThreadMode::kHubThread;
          tls.current = t;
          if (t->tp) tcb_thread_start();
          tls.in_runtime = 0;
          try {
            t->retval = t->body();
          } catch (const ThreadExit& e) {
            t->retval = e.retval;
          }
          if (t->tp) tcb_thread_exit();  // thread_local destructors, then keys, as glibc
          if (g_thread_exit_hook) g_thread_exit_hook(t);
          t->body = nullptr;
          if (t->tp) tcb_thread_end();
          tls.in_runtime = 1;
          t->state = RunState::kFinished;
          asan_leaving(nullptr, t->hub->hub_stack);  // this stack never runs again
          if (t->hub->hub_tp) set_thread_pointer(t->hub->hub_tp);
          t->hub->came_back = t;  // the hub reaps it
          t->hub->switch_slot = &t->ctx;
          return std::move(t->hub->hub_ctx);
        });
  } catch (const std::bad_alloc&) {
    delete t;
    errno = EAGAIN;
    return nullptr;
  }
  // As natively, a thread's pthread_t is its thread pointer when it has one.
  t->id = t->tp ? reinterpret_cast<pthread_t>(t->tp) : reinterpret_cast<pthread_t>(t);
  h->threads[t->id] = t;
  note_signal_mask(t);
  h->live++;
  g_stats.threads_created++;
  if (h->live > g_stats.threads_peak_alive) g_stats.threads_peak_alive = h->live;
  enqueue(h, t);
  return t;
}

BlockingCall::BlockingCall(GreenThread* self) : t_(self) {
  if (t_ && t_->call_depth++ == 0) {
    t_->call_signal_seq = signal_seq();
    t_->call_own_signals = t_->own_signals;
  }
}

BlockingCall::~BlockingCall() {
  if (t_) t_->call_depth--;
}

namespace {

// The signals a park counts from: those since its call began (or since now,
// outside a call), less the ones that already interrupted the call.
void set_signal_baseline(GreenThread* self) {
  bool in_call = self->call_depth > 0;
  self->park_signal_seq = in_call ? self->call_signal_seq : signal_seq();
  self->park_own_signals = in_call ? self->call_own_signals : self->own_signals;
}

// A call interrupted (EINTR, or restarted under SA_RESTART) has used up the
// signals so far: a restarted call waits for new ones.
WakeReason interrupted(GreenThread* self) {
  if (self->call_depth > 0) {
    self->call_signal_seq = signal_seq();
    self->call_own_signals = self->own_signals;
  }
  return WakeReason::kSignal;
}

}  // namespace

WakeReason park(Deadline deadline, bool interruptible) {
  GreenThread* self = tls.current;
  // From here to the switch a signal is held for the hub (hub/signal.h): a
  // handler run here would not wake the park it should interrupt.
  ++tls.in_runtime;
  if (interruptible) {
    // A signal that came while the thread was between two parks of the call
    // (woken by a timeout or readiness, about to wait again) interrupts it
    // now, as the kernel would have interrupted its one wait.
    set_signal_baseline(self);
    if (signal_since_park(self) || signal_due(self)) {
      --tls.in_runtime;
      self->wake = WakeReason::kSignal;
      return interrupted(self);
    }
  }
  self->state = RunState::kParked;
  if (g_track_states) self->state_since = uv_hrtime();
  self->wake = WakeReason::kNone;
  self->interruptible = interruptible;
  bool timed = deadline != kNoDeadline;
  if (timed) start_timer(self, deadline);
  bool blocked = !timed && self->waiting_on != nullptr;
  if (blocked) self->hub->blocked++;
  if (!interruptible && signal_due(self)) unpark(self, WakeReason::kSignal);
  switch_away(self, true);
  --tls.in_runtime;
  if (blocked) {
    self->hub->blocked--;
    self->hub->deadlock_reported = false;
  }
  g_stats.parks[int(self->wake) & 7]++;
  if (timed && self->wake != WakeReason::kTimeout) {
    RuntimeScope runtime;
    uv_timer_stop(self->timer);
  }
  signal_after_park(self, interruptible);  // runs the handlers of a lock or join wait
  if (self->wake == WakeReason::kSignal) return interrupted(self);
  return self->wake;
}

void unpark(GreenThread* t, WakeReason why) {
  if (t->state != RunState::kParked) return;
  t->state = RunState::kReady;
  if (g_track_states) t->state_since = uv_hrtime();
  t->wake = why;
  enqueue(t->hub, t);
  // libuv 1.44 runs timers before it polls in the same uv_run: without this
  // a thread readied by a timer would wait for the next I/O event. A stopped
  // loop polls with a zero timeout and returns.
  if (t->hub->in_uv_run) uv_stop(&t->hub->loop);
}

void yield_thread() {
  GreenThread* self = tls.current;
  self->state = RunState::kReady;
  enqueue(self->hub, self);
  switch_away(self, true);
  // As natively, a signal for a thread that is not waiting is handled as soon
  // as it runs again.
  if (signal_due(self)) signal_run_due(self);
}

void preempt_yield() {
  GreenThread* self = tls.current;
  Hub* h = self->hub;
  self->state = RunState::kReady;
  self->next_ready = nullptr;
  if (h->preempted_tail)
    h->preempted_tail->next_ready = self;
  else
    h->preempted_head = self;
  h->preempted_tail = self;
  h->last_poll = 0;  // the hub looks at timers and I/O before it runs this thread again
  switch_away(self, false);
  if (signal_due(self)) signal_run_due(self);
}

WakeReason sleep_until(Deadline deadline, bool interruptible) {
  for (;;) {
    WakeReason why = park(deadline, interruptible);
    if (why == WakeReason::kSignal) why = signal_interrupted_wait(tls.current);
    if (why == WakeReason::kTimeout || why == WakeReason::kSignal || why == WakeReason::kCancel)
      return why;
    if (deadline != kNoDeadline && monotonic_ns() >= deadline) return WakeReason::kTimeout;
  }
}

void thread_exit(void* retval) {
  GreenThread* self = tls.current;
  if (!self->adopted) {
    self->retval = retval;
    if (g_exit_unwinder) g_exit_unwinder(self);  // returns once no C cleanup handler is left
    throw ThreadExit{retval};
  }
  // The adopted thread's stack is the OS thread's own: it cannot unwind past
  // main(), so it simply never runs again.
  self->retval = retval;
  self->state = RunState::kFinished;
  switch_away(self, false);  // the hub reaps it
  abort();                   // unreachable: a finished thread is never resumed
}

void forked_child() {
  GreenThread* self = tls.current;
  Hub* h = self->hub;
  RuntimeScope runtime;
  own_loop_fork(&h->loop);
  if (self->tp) {
    // glibc's fork gave the calling block the child's real id; the hub's
    // block keeps the kernel's id of this (only) OS thread too.
    self->tid = kernel_tid();
    tcb_set_tid(h->hub_tp, self->tid);
  }
  h->ready_head = h->ready_tail = nullptr;
  h->preempted_head = h->preempted_tail = nullptr;
  h->ready_count = 0;
  for (auto& [id, t] : h->threads) {
    if (t != self && t->state != RunState::kFinished) t->state = RunState::kGone;
  }
  h->live = 1;
  h->blocked = 0;
  recount_signal_masks(h);  // the gone threads block nothing
  h->kernel_tid = kernel_tid();
  preempt_forked_child(h);
  new (&h->remote_lock) SpinLock();  // another OS thread may have held it
  h->remote_wakes = nullptr;
}

void cancellation_point() {
  GreenThread* self = tls.current;
  if (self && self->cancel_pending && !self->cancel_disabled && !self->adopted) {
    self->cancel_pending = false;
    thread_exit(PTHREAD_CANCELED);
  }
}

void async_cancellation_point() {
  GreenThread* self = tls.current;
  if (self && self->cancel_async) cancellation_point();
}

GreenThread* find_thread_by_tid(pid_t tid) {
  Hub* h = tls.hub;
  if (!h || !g_private_tls) return nullptr;
  for (auto& [id, t] : h->threads)
    if (t->tid == tid && !finished(t)) return t;
  return nullptr;
}

GreenThread* find_thread(pthread_t id) {
  Hub* h = tls.hub;
  if (!h) return nullptr;
  auto it = h->threads.find(id);
  return it == h->threads.end() ? nullptr : it->second;
}

int join_thread(GreenThread* t, void** retval, Deadline deadline) {
  GreenThread* self = tls.current;
  if (t == self) return EDEADLK;
  if (t->detached || (t->joiner && t->joiner != self)) return EINVAL;
  while (t->state != RunState::kFinished) {
    if (deadline != kNoDeadline && monotonic_ns() >= deadline) {
      t->joiner = nullptr;
      return ETIMEDOUT;
    }
    t->joiner = self;
    self->waiting_on = "pthread_join of";
    self->waiting_addr = t;
    WakeReason why = park(deadline, false);
    self->waiting_on = nullptr;
    if (why == WakeReason::kCancel) {
      t->joiner = nullptr;
      return ECANCELED;
    }
  }
  if (retval) *retval = t->retval;
  RuntimeScope runtime;
  free_thread(t->hub, t);
  return 0;
}

int detach_thread(GreenThread* t) {
  if (t->detached) return EINVAL;
  t->detached = true;
  if (t->state == RunState::kFinished) {
    RuntimeScope runtime;
    free_thread(t->hub, t);
  }
  return 0;
}

}  // namespace green
