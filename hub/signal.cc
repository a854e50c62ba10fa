#include "hub/signal.h"

#include <atomic>
#include <cerrno>
#include <cstring>

#include "hub/hub.h"

namespace green {

int (*g_handler_runner)(GreenThread* t, int sig, const siginfo_t* info) = nullptr;
std::atomic<uint64_t> g_held{0};
uint64_t g_process_pending = 0;

namespace {

std::atomic<uint64_t> g_seq{0};  // handled signals so far
std::atomic<Hub*> g_signal_hub{nullptr};

siginfo_t g_held_info[NSIG];
std::atomic<pthread_t> g_held_target[NSIG];  // 0: for the process

siginfo_t g_process_info[NSIG];

constexpr uint64_t kUnblockable = sig_bit(SIGKILL) | sig_bit(SIGSTOP) | sig_bit(32) | sig_bit(33);

bool blocks(const GreenThread* t, int sig) {
  return sigset_bits(t->sigmask) & sig_bit(sig);
}

Hub* signal_hub() {
  return g_signal_hub.load(std::memory_order_acquire);
}

// On the signal hub's OS thread only (its hub fiber or one of its threads).
bool on_signal_hub() {
  Hub* h = signal_hub();
  return h && tls.hub == h;
}

void kick(GreenThread* t) {
  if (t->state == RunState::kParked) unpark(t, WakeReason::kSignal);
}

// The thread a process signal goes to, as the kernel chooses: the main
// thread when it does not block it, else another that does not; one that
// can run the handler soon (not parked in a lock or a join) first.
GreenThread* pick_thread(Hub* h, int sig) {
  if (!finished(h->adopted) && !blocks(h->adopted, sig)) return h->adopted;
  GreenThread* fallback = nullptr;
  for (auto& [id, t] : h->threads) {
    if (finished(t) || blocks(t, sig)) continue;
    if (t->state != RunState::kParked || t->interruptible) return t;
    if (!fallback) fallback = t;
  }
  return fallback;
}

// Held signals become pending: for their thread, or for the process.
void collect_held() {
  if (!on_signal_hub() || g_held.load(std::memory_order_acquire) == 0) return;
  uint64_t bits = g_held.exchange(0, std::memory_order_acq_rel);
  while (bits) {
    int sig = __builtin_ctzll(bits) + 1;
    bits &= bits - 1;
    pthread_t target = g_held_target[sig].exchange(0, std::memory_order_acq_rel);
    GreenThread* t = target ? find_thread(target) : nullptr;
    if (t && !finished(t)) {
      t->pending_signals |= sig_bit(sig);
      if (!blocks(t, sig)) kick(t);
      continue;
    }
    g_process_pending |= sig_bit(sig);
    g_process_info[sig] = g_held_info[sig];
    if (GreenThread* to = pick_thread(signal_hub(), sig)) kick(to);
  }
}

uint64_t process_pending_for(const GreenThread* t) {
  return t->hub == signal_hub() ? g_process_pending : 0;
}

// The process's pending signals that t takes: those it is the thread for.
uint64_t process_due_for(GreenThread* t) {
  uint64_t due = 0;
  for (uint64_t bits = process_pending_for(t) & ~sigset_bits(t->sigmask); bits; bits &= bits - 1) {
    int sig = __builtin_ctzll(bits) + 1;
    if (pick_thread(t->hub, sig) == t) due |= sig_bit(sig);
  }
  return due;
}

siginfo_t thread_info(int sig) {
  siginfo_t info;
  memset(&info, 0, sizeof info);
  info.si_signo = sig;
  info.si_code = SI_TKILL;
  info.si_pid = getpid();
  info.si_uid = getuid();
  return info;
}

// Takes t's next due signal (0 when none): its own before the process's,
// the lowest number first, as the kernel dequeues them.
int take_due(GreenThread* t, siginfo_t* info) {
  collect_held();
  uint64_t unblocked = ~sigset_bits(t->sigmask);
  if (uint64_t own = t->pending_signals & unblocked) {
    int sig = __builtin_ctzll(own) + 1;
    t->pending_signals &= ~sig_bit(sig);
    *info = thread_info(sig);
    return sig;
  }
  if (uint64_t process = process_due_for(t)) {
    int sig = __builtin_ctzll(process) + 1;
    g_process_pending &= ~sig_bit(sig);
    *info = g_process_info[sig];
    return sig;
  }
  return 0;
}

}  // namespace

uint64_t sigset_bits(const sigset_t& set) {
  uint64_t bits;
  memcpy(&bits, &set, sizeof bits);
  return bits;
}

void bits_sigset(uint64_t bits, sigset_t* set) {
  memset(set, 0, sizeof *set);
  memcpy(set, &bits, sizeof bits);
}

uint64_t blockable(uint64_t bits) {
  return bits & ~kUnblockable;
}

GreenThread* signal_safe_thread() {
  ThreadState& s = tls;
  return s.in_runtime == 0 ? s.current : nullptr;
}

bool signal_on_hub_thread() {
  return tls.mode == ThreadMode::kHubThread;
}

GreenThread* signal_process_target(GreenThread* t, int sig) {
  GreenThread* main = tls.hub ? tls.hub->adopted : nullptr;
  return main && !finished(main) && !blocks(main, sig) ? main : t;
}

void signal_hold(int sig, const siginfo_t* info, GreenThread* target) {
  int saved = errno;
  if (info) {
    g_held_info[sig] = *info;
  } else {
    memset(&g_held_info[sig], 0, sizeof g_held_info[sig]);
    g_held_info[sig].si_signo = sig;
  }
  g_held_target[sig].store(target ? target->id : 0, std::memory_order_release);
  g_held.fetch_or(sig_bit(sig), std::memory_order_acq_rel);
  // async-signal-safe (libuv documents it); its write() must reach libc
  // straight: the hook's fd table may allocate, and the handler may have
  // interrupted malloc.
  if (Hub* h = signal_hub()) {
    ++tls.in_runtime;
    uv_async_send(&h->async);
    --tls.in_runtime;
  }
  errno = saved;
}

void signal_count(GreenThread* t, bool restart) {
  g_seq.fetch_add(1, std::memory_order_acq_rel);
  t->own_signals++;
  if (!restart) t->own_no_restart = t->own_signals;
}

void signal_for_thread(GreenThread* t, int sig) {
  t->pending_signals |= sig_bit(sig);
  if (blocks(t, sig)) return;
  if (t == signal_safe_thread())
    signal_run_due(t);
  else
    kick(t);
}

uint64_t signal_pending(GreenThread* t) {
  collect_held();
  return t->pending_signals | process_pending_for(t);
}

bool signal_due_slow(GreenThread* t) {
  collect_held();
  return (t->pending_signals & ~sigset_bits(t->sigmask)) || process_due_for(t);
}

void signal_run_due(GreenThread* t) {
  siginfo_t info;
  while (int sig = take_due(t, &info)) {
    int ran = g_handler_runner ? g_handler_runner(t, sig, &info) : 0;
    if (ran) signal_count(t, ran == 1);
  }
}

int signal_take(GreenThread* t, uint64_t set, siginfo_t* info) {
  collect_held();
  uint64_t own = t->pending_signals & set, process = process_pending_for(t) & set;
  if (!own && !process) return 0;
  int sig = __builtin_ctzll(own ? own : process) + 1;
  if (own) {
    t->pending_signals &= ~sig_bit(sig);
    if (info) *info = thread_info(sig);
  } else {
    g_process_pending &= ~sig_bit(sig);
    if (info) *info = g_process_info[sig];
  }
  return sig;
}

void signal_mask_changed(GreenThread* t) {
  note_signal_mask(t);
  apply_signal_masks(t->hub);
  if (signal_due(t)) signal_run_due(t);
}

void signal_discard(int sig) {
  collect_held();
  if (Hub* h = tls.hub) {
    for (auto& [id, t] : h->threads) t->pending_signals &= ~sig_bit(sig);
  }
  if (on_signal_hub()) g_process_pending &= ~sig_bit(sig);
}

void signal_forked_child(GreenThread* t) {
  apply_signal_masks(t->hub);  // the child's one thread has the caller's mask, as natively
  t->pending_signals = 0;
  g_process_pending = 0;
  g_held.store(0, std::memory_order_release);
}

HandlerScope::HandlerScope(GreenThread* t, uint64_t block) : t_(t) {
  if (!t) return;
  mask_ = t->sigmask;
  call_depth_ = t->call_depth;
  in_cancel_point_ = t->in_cancel_point;
  call_signal_seq_ = t->call_signal_seq;
  call_own_signals_ = t->call_own_signals;
  park_signal_seq_ = t->park_signal_seq;
  park_own_signals_ = t->park_own_signals;
  signal_restart_ = t->signal_restart;
  if (t->handler_depth++ == 0) t->handler_mask_before = sigset_bits(mask_);
  t->call_depth = 0;
  t->in_cancel_point = 0;
  if (block) {
    bits_sigset(sigset_bits(mask_) | blockable(block), &t->sigmask);
    note_signal_mask(t);
  }
}

HandlerScope::~HandlerScope() {
  if (!t_) return;
  t_->handler_depth--;
  t_->sigmask = mask_;
  note_signal_mask(t_);
  t_->call_depth = call_depth_;
  t_->in_cancel_point = in_cancel_point_;
  t_->call_signal_seq = call_signal_seq_;
  t_->call_own_signals = call_own_signals_;
  t_->park_signal_seq = park_signal_seq_;
  t_->park_own_signals = park_own_signals_;
  t_->signal_restart = signal_restart_;
}

void signal_after_park(GreenThread* t, bool interruptible) {
  if (!signal_due(t)) {
    // Woken for a signal that another thread took meanwhile.
    if (interruptible && t->wake == WakeReason::kSignal && t->own_signals <= t->park_own_signals)
      t->wake = WakeReason::kExplicit;
    return;
  }
  if (interruptible) {
    t->wake = WakeReason::kSignal;
    return;
  }
  WakeReason woke = t->wake;
  signal_run_due(t);
  t->wake = woke == WakeReason::kSignal || woke == WakeReason::kNone ? WakeReason::kExplicit : woke;
}

WakeReason signal_interrupted_wait(GreenThread* t) {
  signal_run_due(t);
  if (!signal_since_park(t)) return WakeReason::kExplicit;
  // The call has used these signals up: a restarted call waits for new ones.
  if (t->call_depth > 0) {
    t->call_signal_seq = signal_seq();
    t->call_own_signals = t->own_signals;
  }
  return WakeReason::kSignal;
}

uint64_t signal_seq() {
  return g_seq.load(std::memory_order_acquire);
}

void signal_attach_hub(Hub* hub) {
  Hub* none = nullptr;
  g_signal_hub.compare_exchange_strong(none, hub, std::memory_order_acq_rel);
}

bool signal_since_park(GreenThread* t) {
  if (t->own_signals <= t->park_own_signals) return false;
  t->signal_restart = t->own_no_restart <= t->park_own_signals;
  return true;
}

void deliver_signals(Hub* h) {
  if (h != signal_hub()) return;
  collect_held();
  for (uint64_t bits = g_process_pending; bits; bits &= bits - 1) {
    int sig = __builtin_ctzll(bits) + 1;
    if (GreenThread* t = pick_thread(h, sig)) kick(t);
  }
}

}  // namespace green
