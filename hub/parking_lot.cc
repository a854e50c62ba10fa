#include "hub/parking_lot.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>

#include "hub/hub.h"
#include "hub/signal.h"
#include "hub/spin_lock.h"
#include "hub/tcb.h"

namespace green {
namespace {

// A waiter lives on its own thread's stack while it waits. `stage` tells how
// far its wake-up has come; the waiter does not return (and so its stack slot
// is not reused) before the waker is done with it.
enum Stage : uint32_t { kQueued = 0, kDequeued = 1, kDelivered = 2 };

struct Waiter {
  const void* addr;
  Waiter* next = nullptr;
  uint32_t tag;
  uintptr_t token = 0;
  GreenThread* green;  // null for a native thread
  Hub* hub;
  std::atomic<uint32_t> stage{kQueued};
};

struct Bucket {
  SpinLock lock;
  Waiter* head = nullptr;
  Waiter* tail = nullptr;
};

constexpr size_t kBuckets = 1024;
Bucket g_buckets[kBuckets];

Bucket& bucket_for(const void* addr) {
  uintptr_t a = reinterpret_cast<uintptr_t>(addr);
  return g_buckets[(a >> 3 ^ a >> 13) % kBuckets];
}

void append(Bucket& b, Waiter* w) {
  w->next = nullptr;
  if (b.tail)
    b.tail->next = w;
  else
    b.head = w;
  b.tail = w;
}

// Removes w; returns false when it is not queued.
bool remove(Bucket& b, Waiter* w) {
  Waiter* prev = nullptr;
  for (Waiter* it = b.head; it; prev = it, it = it->next) {
    if (it != w) continue;
    if (prev)
      prev->next = it->next;
    else
      b.head = it->next;
    if (b.tail == it) b.tail = prev;
    return true;
  }
  return false;
}

long futex(std::atomic<uint32_t>* word, int op, uint32_t value, const timespec* timeout) {
  RuntimeScope runtime;
  return ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), op | FUTEX_PRIVATE_FLAG, value,
                   timeout, nullptr, 0);
}

bool green_caller() {
  return tls.current != nullptr && tls.in_runtime == 0;
}

ParkResult wait_green(Bucket& b, Waiter& w, const ParkOptions& options) {
  bool signalled = false;
  for (;;) {
    WakeReason why = park(options.deadline, options.interruptible);
    signalled = why == WakeReason::kSignal;
    if (w.stage.load(std::memory_order_acquire) != kQueued) break;
    if (why == WakeReason::kTimeout || why == WakeReason::kSignal || why == WakeReason::kCancel) {
      b.lock.lock();
      bool still_queued = w.stage.load(std::memory_order_relaxed) == kQueued && remove(b, &w);
      b.lock.unlock();
      if (!still_queued) break;  // a waker took it meanwhile: the wake-up wins
      // Out of the queue, the handler may longjmp or exit the thread. A wake
      // that ran no handler is spurious: the caller looks again.
      if (signalled && signal_interrupted_wait(tls.current) != WakeReason::kSignal)
        return ParkResult::kWoken;
      return why == WakeReason::kTimeout ? ParkResult::kTimeout : ParkResult::kInterrupt;
    }
  }
  while (w.stage.load(std::memory_order_acquire) != kDelivered) park(kNoDeadline, false);
  if (signalled) signal_run_due(tls.current);  // woken and signalled: both happen
  return ParkResult::kWoken;
}

ParkResult wait_native(Bucket& b, Waiter& w, const ParkOptions& options) {
  while (w.stage.load(std::memory_order_acquire) == kQueued) {
    if (options.deadline == kNoDeadline) {
      futex(&w.stage, FUTEX_WAIT, kQueued, nullptr);
      continue;
    }
    int64_t left = options.deadline - monotonic_ns();
    if (left > 0) {
      timespec ts = ns_timespec(left);
      futex(&w.stage, FUTEX_WAIT, kQueued, &ts);
      continue;
    }
    b.lock.lock();
    bool still_queued = w.stage.load(std::memory_order_relaxed) == kQueued && remove(b, &w);
    b.lock.unlock();
    if (still_queued) return ParkResult::kTimeout;
  }
  while (w.stage.load(std::memory_order_acquire) != kDelivered)
    futex(&w.stage, FUTEX_WAIT, kDequeued, nullptr);
  return ParkResult::kWoken;
}

void deliver(Waiter* w) {
  if (!w->green) {
    w->stage.store(kDelivered, std::memory_order_release);
    futex(&w->stage, FUTEX_WAKE, 1, nullptr);
    return;
  }
  Hub* h = w->hub;
  if (tls.hub == h) {  // on the waiter's own OS thread
    w->stage.store(kDelivered, std::memory_order_release);
    unpark(w->green, WakeReason::kExplicit);
    return;
  }
  // From another OS thread: the hub delivers it (deliver_remote_wakes), so
  // the waiter's stage and its unpark change together, on its own thread.
  h->remote_lock.lock();
  w->next = static_cast<Waiter*>(h->remote_wakes);
  h->remote_wakes = w;
  h->remote_lock.unlock();
  uv_async_send(&h->async);
}

}  // namespace

uintptr_t waiter_self() {
  if (green_caller()) return reinterpret_cast<uintptr_t>(tls.current);
  return (uintptr_t(kernel_tid()) << 1) | 1;
}

ParkResult park_on(const void* addr, FunctionRef<bool()> validate, const ParkOptions& options,
                   uintptr_t* token) {
  Bucket& b = bucket_for(addr);
  Waiter w;
  w.addr = addr;
  w.tag = options.tag;
  bool green = green_caller();
  w.green = green ? tls.current : nullptr;
  w.hub = green ? tls.hub : nullptr;
  b.lock.lock();
  if (!validate()) {
    b.lock.unlock();
    return ParkResult::kInvalid;
  }
  append(b, &w);
  b.lock.unlock();
  if (green) {
    GreenThread* self = tls.current;
    self->waiting_on = options.what;
    self->waiting_addr = addr;
  }
  ParkResult result = green ? wait_green(b, w, options) : wait_native(b, w, options);
  if (green) tls.current->waiting_on = nullptr;
  if (token) *token = w.token;
  return result;
}

size_t unpark_on(const void* addr, size_t count, uintptr_t token,
                 FunctionRef<bool(uint32_t tag)> choose,
                 FunctionRef<void(size_t woken, bool more_left)> after) {
  Bucket& b = bucket_for(addr);
  Waiter* woken_head = nullptr;
  Waiter** woken_tail = &woken_head;
  size_t woken = 0;
  bool more_left = false;
  b.lock.lock();
  Waiter* prev = nullptr;
  for (Waiter* w = b.head; w;) {
    Waiter* next = w->next;
    if (w->addr != addr) {
      prev = w;
      w = next;
      continue;
    }
    if (woken == count || (choose && !choose(w->tag))) {  // stays queued
      more_left = true;
      prev = w;
      w = next;
      continue;
    }
    if (prev)
      prev->next = next;
    else
      b.head = next;
    if (b.tail == w) b.tail = prev;
    w->token = token;
    w->stage.store(kDequeued, std::memory_order_release);
    w->next = nullptr;
    *woken_tail = w;
    woken_tail = &w->next;
    woken++;
    w = next;
  }
  if (after) after(woken, more_left);
  b.lock.unlock();
  for (Waiter* w = woken_head; w;) {
    Waiter* next = w->next;  // read before deliver: the waiter may return at once
    deliver(w);
    w = next;
  }
  return woken;
}

bool has_waiters(const void* addr) {
  Bucket& b = bucket_for(addr);
  b.lock.lock();
  bool found = false;
  for (Waiter* w = b.head; w && !found; w = w->next) found = w->addr == addr;
  b.lock.unlock();
  return found;
}

void deliver_remote_wakes(Hub* h) {
  h->remote_lock.lock();
  auto* w = static_cast<Waiter*>(h->remote_wakes);
  h->remote_wakes = nullptr;
  h->remote_lock.unlock();
  while (w) {
    Waiter* next = w->next;
    GreenThread* t = w->green;
    w->stage.store(kDelivered, std::memory_order_release);
    unpark(t, WakeReason::kExplicit);
    w = next;
  }
}

void parking_lot_after_fork() {
  for (Bucket& b : g_buckets) {
    new (&b.lock) SpinLock();  // another OS thread may have held it
    b.head = b.tail = nullptr;
  }
}

}  // namespace green
