#include "hub/signal.h"

#include <atomic>
#include <cerrno>

#include "hub/hub.h"

namespace green {
namespace {

std::atomic<uint64_t> g_seq{0};             // handled signals so far
std::atomic<uint64_t> g_no_restart_seq{0};  // the last one without SA_RESTART
std::atomic<Hub*> g_signal_hub{nullptr};

}  // namespace

void signal_note(bool restart) {
  uint64_t seq = g_seq.fetch_add(1, std::memory_order_acq_rel) + 1;
  if (!restart) g_no_restart_seq.store(seq, std::memory_order_release);
  Hub* h = g_signal_hub.load(std::memory_order_acquire);
  if (!h) return;
  int saved = errno;
  // async-signal-safe (libuv documents it); its write() must reach libc
  // straight: the hook's fd table may allocate, and the handler may have
  // interrupted malloc.
  ++tls.in_runtime;
  uv_async_send(&h->async);
  --tls.in_runtime;
  errno = saved;
}

uint64_t signal_seq() {
  return g_seq.load(std::memory_order_acquire);
}

void signal_attach_hub(Hub* hub) {
  Hub* none = nullptr;
  g_signal_hub.compare_exchange_strong(none, hub, std::memory_order_acq_rel);
}

bool signal_since_park(GreenThread* t) {
  bool process = t->adopted && g_signal_hub.load(std::memory_order_acquire) == t->hub &&
                 signal_seq() > t->park_signal_seq;
  bool own = t->own_signals > t->park_own_signals;
  if (!process && !own) return false;
  t->signal_restart =
      (!process || g_no_restart_seq.load(std::memory_order_acquire) <= t->park_signal_seq) &&
      (!own || t->own_no_restart <= t->park_own_signals);
  return true;
}

void deliver_signals(Hub* h) {
  if (g_signal_hub.load(std::memory_order_acquire) != h) return;
  GreenThread* t = h->adopted;
  if (t->state != RunState::kParked || !t->interruptible) return;
  if (!signal_since_park(t)) return;  // the signal came before the call
  unpark(t, WakeReason::kSignal);
}

}  // namespace green
