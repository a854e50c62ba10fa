// The green C++ API's core (include/green/core.hpp, greenlet.hpp,
// timeout.hpp): the blocking primitive, greenlets and timeouts over the hub.
//
// What the API knows of a green thread (its greenlet, its Timeout scopes, a
// kill not yet delivered) lives in a side table keyed by the GreenThread:
// the hub's own structures stay as they are, and a thread that never uses
// the API costs nothing.
#include <cxxabi.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <green/greenlet.hpp>
#include <green/threadpool.hpp>
#include <green/timeout.hpp>
#include <system_error>

#include "hub/api_block.h"
#include "hub/api_interrupt.h"
#include "hub/hub.h"
#include "hub/pool.h"
#include "hub/stack.h"

namespace green {

std::atomic<int64_t> g_api_armed{0};

namespace detail {

// The API's view of one green thread.
struct ApiThread {
  GreenletCore* greenlet = nullptr;  // when the thread runs one
  Timeout* timeouts = nullptr;       // innermost first
  std::exception_ptr kill;           // not delivered yet
  // Wakes the thread out of a hooked blocking call (hub/api_interrupt.h);
  // made on first use, closed with the record.
  uv_timer_t* wake = nullptr;
};

struct TimeoutAccess {
  static Timeout*& outer(Timeout* t) { return t->outer_; }
  static int64_t deadline(const Timeout* t) { return t->deadline_; }
  static bool pending(const Timeout* t) { return t->active_ && !t->fired_; }
  static void fire(Timeout* t) { t->fired_ = true; }
};

namespace {

// Each record hangs off its green thread (GreenThread::api_record), made on
// first use and touched only by that thread's own hub's OS thread: a
// blocking point finds it without a lock or a lookup.
std::atomic<uint64_t> g_next_id{0};
// g_api_armed: pending kills plus live Timeouts, in every hub: while there
// are none, a blocking point that does not wait (yield) and a hooked call
// need not look anything up.
void arm() {
  g_api_armed.fetch_add(1, std::memory_order_relaxed);
}
void disarm() {
  g_api_armed.fetch_sub(1, std::memory_order_relaxed);
}

ApiThread* find(GreenThread* t) {
  return static_cast<ApiThread*>(t->api_record);
}

ApiThread& ensure(GreenThread* t) {
  if (!t->api_record) t->api_record = new ApiThread;
  return *static_cast<ApiThread*>(t->api_record);
}

void close_wake(uv_timer_t* timer) {
  RuntimeScope runtime;
  uv_close(reinterpret_cast<uv_handle_t*>(timer),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
}

void erase(GreenThread* t) {
  auto* rec = static_cast<ApiThread*>(t->api_record);
  if (!rec) return;
  t->api_record = nullptr;
  if (rec->kill) disarm();
  uv_timer_t* wake = rec->wake;
  delete rec;
  if (wake) close_wake(wake);
}

void drop_if_idle(GreenThread* t, ApiThread* rec) {
  if (rec && !rec->greenlet && !rec->timeouts && !rec->kill) erase(t);
}

GreenThread* self_thread(const char* what) {
  ThreadState& s = tls;
  if (s.current && s.in_runtime == 0) return s.current;
  if (!s.current && !s.hub && s.in_runtime == 0 && s.mode == ThreadMode::kUndecided) {
    // Under the preload only the main thread may still be adopted (the
    // others are green from birth or native); without it any thread may.
    if (!g_adopt_main_thread) return adopt_current_thread();
    if (GreenThread* t = adopt_slow()) return t;
  }
  throw Error(std::string(what) + ": this thread has no hub and cannot get one");
}

// The pending Timeout with the earliest deadline: the one to wake up for.
Timeout* earliest(ApiThread* rec) {
  Timeout* best = nullptr;
  for (Timeout* t = rec ? rec->timeouts : nullptr; t; t = TimeoutAccess::outer(t)) {
    if (!TimeoutAccess::pending(t)) continue;
    if (!best || TimeoutAccess::deadline(t) < TimeoutAccess::deadline(best)) best = t;
  }
  return best;
}

// Of the pending Timeouts whose deadline has passed, the innermost.
Timeout* passed(ApiThread* rec) {
  int64_t now = monotonic_ns();
  for (Timeout* t = rec ? rec->timeouts : nullptr; t; t = TimeoutAccess::outer(t))
    if (TimeoutAccess::pending(t) && TimeoutAccess::deadline(t) <= now) return t;
  return nullptr;
}

// Throws a pending kill, or the TimeoutError of a deadline already passed.
void deliver(ApiThread* rec) {
  if (!rec) return;
  if (rec->kill) {
    std::exception_ptr e = std::move(rec->kill);
    rec->kill = nullptr;
    disarm();
    std::rethrow_exception(e);
  }
  if (Timeout* t = passed(rec)) {
    TimeoutAccess::fire(t);
    throw TimeoutError(t);
  }
}

// Wakes t out of the hooked blocking call it is parked in, as pthread_cancel
// does: the call returns ECANCELED to its CancelPoint, which throws. A t that
// is ready (woken, about to look again and maybe park again) is looked at
// once more after a millisecond.
void wake_timer_fired(uv_timer_t* timer);

void start_wake(GreenThread* t, ApiThread* rec, int64_t at_ns) {
  RuntimeScope runtime;
  if (!rec->wake) {
    rec->wake = new uv_timer_t;
    uv_timer_init(&t->hub->loop, rec->wake);
    rec->wake->data = t;
  }
  int64_t left = at_ns - monotonic_ns();
  uint64_t ms = left <= 0 ? 0 : uint64_t((left + 999999) / 1000000);
  uv_timer_start(rec->wake, wake_timer_fired, ms, 0);
}

void interrupt_call(GreenThread* t, ApiThread* rec) {
  if (t->state == RunState::kParked)
    unpark(t, WakeReason::kCancel);
  else
    start_wake(t, rec, monotonic_ns() + 1000000);
}

void wake_timer_fired(uv_timer_t* timer) {
  auto* t = static_cast<GreenThread*>(timer->data);
  ApiThread* rec = find(t);
  if (!rec || t->in_cancel_point == 0) return;  // the call is over
  if (rec->kill || passed(rec))
    interrupt_call(t, rec);
  else if (Timeout* e = earliest(rec))  // libuv's clock is a little behind
    start_wake(t, rec, TimeoutAccess::deadline(e));
}

void report_exception(const std::string& prefix, std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const GreenletExit&) {
  } catch (const std::exception& x) {
    report(prefix + ": " + x.what());
  } catch (...) {
    report(prefix + ": an exception that is not a std::exception");
  }
}

void run_link(std::function<void()>& callback, uint64_t id) {
  try {
    callback();
  } catch (...) {
    report_exception("a link callback of greenlet " + std::to_string(id) + " threw",
                     std::current_exception());
  }
}

// On the greenlet's own thread once its function is over: links, then joiners.
void finish(GreenletCore* core, GreenThread* self) {
  erase(self);
  core->thread = nullptr;
  core->done = true;
  core->release();
  std::vector<std::function<void()>> links;
  links.swap(core->links);
  for (auto& l : links) run_link(l, core->id);
  core->joiners.notify_all();
}

void run_greenlet(const std::shared_ptr<GreenletCore>& core, int64_t delay_ns) {
  GreenThread* self = tls.current;
  try {
    if (delay_ns >= 0) {
      WaitList list;
      WaitNode node;
      wait(list, node, deadline_after(delay_ns), "green::spawn_later");
    }
    deliver(find(self));  // killed before it started: the function never runs
    core->started = true;
    core->run();
  } catch (const ThreadExit&) {  // pthread_exit (the preload): the stack unwinds on
    core->error = std::make_exception_ptr(GreenletExit());
    finish(core.get(), self);
    throw;
  } catch (abi::__forced_unwind&) {
    core->error = std::make_exception_ptr(GreenletExit());
    finish(core.get(), self);
    throw;
  } catch (...) {
    core->error = std::current_exception();
  }
  finish(core.get(), self);
}

GreenThread* same_hub(void* thread, GreenThread* self, const char* what) {
  auto* t = static_cast<GreenThread*>(thread);
  if (t && t->hub != self->hub) throw Error(std::string(what) + ": the greenlet is of another hub");
  return t;
}

}  // namespace

void WaitList::push(WaitNode* n) {
  n->next = nullptr;
  n->prev = tail_;
  if (tail_)
    tail_->next = n;
  else
    head_ = n;
  tail_ = n;
  n->linked = true;
  size_++;
}

void WaitList::remove(WaitNode* n) {
  if (!n->linked) return;
  (n->prev ? n->prev->next : head_) = n->next;
  (n->next ? n->next->prev : tail_) = n->prev;
  n->prev = n->next = nullptr;
  n->linked = false;
  size_--;
}

WaitNode* WaitList::notify_one() {
  WaitNode* n = head_;
  if (!n) return nullptr;
  remove(n);
  n->notified = true;
  unpark(static_cast<GreenThread*>(n->thread), WakeReason::kExplicit);
  return n;
}

size_t WaitList::notify_all() {
  size_t woken = 0;
  while (notify_one()) woken++;
  return woken;
}

int64_t now_ns() {
  return monotonic_ns();
}

int64_t deadline_for(Duration timeout, const char* what) {
  if (timeout.negative())
    throw std::invalid_argument(std::string(what) + ": the timeout is negative");
  return timeout.ns() == Duration::kForever ? kNoDeadline : deadline_after(timeout.ns());
}

bool wait(WaitList& list, WaitNode& node, int64_t deadline, const char* what) {
  ApiBlock block(what, deadline);
  GreenThread* self = block.self();
  node.thread = self;
  node.notified = false;
  list.push(&node);
  // Named for the deadlock report and the thread dump: only a waker of the
  // list can end the wait (an fd wait, by contrast, is never a deadlock).
  struct Named {
    GreenThread* t;
    Named(GreenThread* self, const char* what, const void* list) : t(self) {
      t->waiting_on = what;
      t->waiting_addr = list;
    }
    ~Named() {
      t->waiting_on = nullptr;
      t->waiting_addr = nullptr;
    }
  } named(self, what, &list);
  for (;;) {
    park(block.until(), false);
    if (node.notified) return true;
    try {
      if (block.expired()) {
        list.remove(&node);
        return false;
      }
    } catch (...) {
      list.remove(&node);
      throw;
    }
  }
}

void checkpoint(const char* what) {
  GreenThread* self = self_thread(what);
  if (api_armed()) deliver(find(self));
}

void* self(const char* what) {
  return self_thread(what);
}

void report(const std::string& text) {
  std::string line = "libgreen: " + text + "\n";
  RuntimeScope runtime;  // straight to libc: never a blocking point of the hooks
  ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
  (void)n;
}

GreenletCore::~GreenletCore() {
  if (error && !retrieved)
    report_exception("greenlet " + std::to_string(id) + " died of an exception nobody retrieved",
                     error);
}

void start(const std::shared_ptr<GreenletCore>& core, int64_t delay_ns, const char* what) {
  self_thread(what);  // the spawner needs a hub
  core->id = ++g_next_id;
  GreenThread* t = spawn_thread(
      [core, delay_ns]() -> void* {
        run_greenlet(core, delay_ns);
        return nullptr;
      },
      kDefaultStackSize, true);
  if (!t) throw std::system_error(errno, std::generic_category(), what);
  core->thread = t;
  ensure(t).greenlet = core.get();
}

bool join(GreenletCore& core, Duration timeout, const char* what) {
  int64_t deadline = deadline_for(timeout, what);
  if (core.done) return true;
  GreenThread* self = self_thread(what);
  if (same_hub(core.thread, self, what) == self)
    throw Error(std::string(what) + ": a greenlet cannot wait for itself");
  WaitNode node;
  while (!core.done)
    if (!wait(core.joiners, node, deadline, what)) break;
  return core.done;
}

bool kill(GreenletCore& core, std::exception_ptr e, bool block, Duration timeout) {
  const char* what = "green::Greenlet::kill";
  if (timeout.negative())
    throw std::invalid_argument(std::string(what) + ": the timeout is negative");
  if (core.done) return true;
  GreenThread* self = self_thread(what);
  GreenThread* victim = same_hub(core.thread, self, what);
  if (victim == self) std::rethrow_exception(e);
  ApiThread* rec = find(victim);
  if (rec && !rec->kill) {
    rec->kill = std::move(e);
    arm();
    if (victim->api_waiting)
      unpark(victim, WakeReason::kExplicit);
    else if (victim->in_cancel_point)
      interrupt_call(victim, rec);  // parked in a hooked blocking call
  }
  return block ? join(core, timeout, what) : core.done;
}

void link(GreenletCore& core, std::function<void()> callback) {
  if (core.done)
    run_link(callback, core.id);
  else
    core.links.push_back(std::move(callback));
}

std::shared_ptr<GreenletCore> current_core() {
  ApiThread* rec = find(self_thread("green::current"));
  return rec && rec->greenlet ? rec->greenlet->shared_from_this() : nullptr;
}

}  // namespace detail

void api_call_begins(GreenThread* t) {
  detail::ApiThread* rec = detail::find(t);
  if (!rec) return;
  if (rec->kill || detail::passed(rec))
    detail::start_wake(t, rec, 0);  // thrown if the call parks; a call that need not, returns
  else if (Timeout* e = detail::earliest(rec))
    detail::start_wake(t, rec, detail::TimeoutAccess::deadline(e));
}

void api_call_ends(GreenThread* t) {
  detail::ApiThread* rec = detail::find(t);
  if (rec && rec->wake) {
    RuntimeScope runtime;
    uv_timer_stop(rec->wake);
  }
}

void api_interrupt(GreenThread* t) {
  detail::deliver(detail::find(t));
}

ApiBlock::ApiBlock(const char* what, Deadline deadline) : deadline_(deadline), until_(deadline) {
  self_ = detail::self_thread(what);
  rec_ = detail::find(self_);
  // With no kill pending and no Timeout alive anywhere there is nothing to
  // deliver or to wake up for, and the record (a cold line in a server
  // with many connections) stays untouched.
  if (api_armed()) {
    detail::deliver(rec_);
    if (Timeout* t = detail::earliest(rec_))
      if (detail::TimeoutAccess::deadline(t) < until_) until_ = detail::TimeoutAccess::deadline(t);
  }
  self_->api_waiting = true;
}

ApiBlock::~ApiBlock() {
  self_->api_waiting = false;
}

bool ApiBlock::expired() {
  detail::deliver(rec_);  // a kill, or a Timeout whose deadline has passed
  return deadline_ != kNoDeadline && monotonic_ns() >= deadline_;
}

bool joinall(const std::vector<GreenletRef>& greenlets, Duration timeout) {
  int64_t deadline = detail::deadline_for(timeout, "green::joinall");
  for (const GreenletRef& g : greenlets) {
    if (g.ready()) continue;
    int64_t left = deadline == detail::kNoDeadline
                       ? Duration::kForever
                       : std::max<int64_t>(0, deadline - monotonic_ns());
    if (!g.join(left == Duration::kForever ? Duration::forever() : std::chrono::nanoseconds(left)))
      return false;
  }
  return true;
}

bool killall(const std::vector<GreenletRef>& greenlets, std::exception_ptr e, bool block,
             Duration timeout) {
  if (timeout.negative()) throw std::invalid_argument("green::killall: the timeout is negative");
  for (const GreenletRef& g : greenlets) g.kill(e, false);
  return block ? joinall(greenlets, timeout) : false;
}

void sleep(Duration duration) {
  int64_t deadline = detail::deadline_for(duration, "green::sleep");
  if (duration.ns() == 0) {
    yield();
    return;
  }
  detail::WaitList list;
  detail::WaitNode node;
  detail::wait(list, node, deadline, "green::sleep");
}

GreenletRef current() {
  return GreenletRef(detail::current_core());
}

Timeout::Timeout(Duration duration) {
  deadline_ = detail::deadline_for(duration, "green::Timeout");
  auto* self = static_cast<GreenThread*>(detail::self("green::Timeout"));
  thread_ = self;
  detail::ApiThread& rec = detail::ensure(self);
  outer_ = rec.timeouts;
  rec.timeouts = this;
  detail::arm();
}

Timeout::~Timeout() {
  cancel();
}

void Timeout::cancel() {
  if (!active_) return;
  active_ = false;
  detail::disarm();
  auto* self = static_cast<GreenThread*>(thread_);
  detail::ApiThread* rec = detail::find(self);
  if (!rec) return;
  for (Timeout** p = &rec->timeouts; *p; p = &(*p)->outer_) {
    if (*p == this) {
      *p = outer_;
      break;
    }
  }
  detail::drop_if_idle(self, rec);
}

}  // namespace green

namespace green::threadpool::detail {

void run_blocking(void (*work)(void*), void* arg) {
  green::detail::self("green::threadpool::run");
  run_on_pool([&] { work(arg); });
}

}  // namespace green::threadpool::detail
