// Helper OS threads for the waits that must stay glibc's.
//
// Why an OS thread per waiting green thread, rather than
// - the thread pool: its GREEN_THREADPOOL threads are shared with DNS and
//   file I/O, and a wait can last forever: the 17th waiter on a
//   process-shared condition variable deadlocked behind the first 16;
// - polling (a trywait, or a timed wait with an expired deadline, every few
//   milliseconds): a semaphore could be polled, but a condition variable
//   cannot. glibc counts a waiter only while it is inside its wait, so a
//   signal or broadcast that comes while a poller is between two polls is
//   lost, and a poll costs a wake-up per waiter per period even when idle;
// - one helper per futex word that sleeps in FUTEX_WAIT for all the green
//   waiters of that word: it would have to speak glibc's protocol of each
//   object (a condition variable's groups, a semaphore's waiter count, a
//   barrier's rounds) from outside glibc, and a wake-up the helper takes
//   could be one that a waiter in the other process needed.
// Inside glibc's own wait on an OS thread of its own, the waiter is exactly
// what a native thread would be: the other process's posts, signals and
// broadcasts reach it, pthread_cancel reaches it (glibc's cancellation
// cleanup undoes its wait), and there is no limit but the OS's. Natively each
// of those waiters is an OS thread anyway; here an idle helper is kept for the
// next wait (up to kMaxIdle of them, for kIdleNs), so a wait costs two
// switches, not a thread creation.
#include "hub/os_wait.h"

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cerrno>
#include <new>

#include "hub/hub.h"
#include "hub/parking_lot.h"
#include "hub/spin_lock.h"

namespace green {
namespace {

constexpr size_t kHelperStack = 256 * 1024;  // glibc's wait and its unwinder only
constexpr size_t kMaxIdle = 32;
constexpr int64_t kIdleNs = 5000000000;  // an idle helper leaves after 5 s

// Job::state: who decides the job's end. The helper moves it to kFinished
// when the call returns; the waiting green thread moves it to kCancelling
// before it cancels the helper. Whoever loses knows the other has acted.
enum JobState : uint32_t { kRunning, kFinished, kCancelling };

struct Job {
  FunctionRef<int()> call;
  int result = -1;
  int err = 0;
  bool cancelled = false;  // the helper unwound from a cancel inside call()
  std::atomic<uint32_t> state{kRunning};
  std::atomic<uint32_t> done{0};  // the helper no longer touches the job
};

struct Helper {
  pthread_t thread{};
  std::atomic<Job*> job{nullptr};
  Helper* next = nullptr;
};

SpinLock g_idle_lock;
Helper* g_idle = nullptr;
size_t g_idle_count = 0;

void finish(Job* j) {
  j->done.store(1, std::memory_order_release);
  unpark_on(&j->done, 1);
}

// Runs when a cancel unwinds the helper out of call(): glibc has already run
// its own cleanup (the condition variable's mutex is locked again).
struct UnwindGuard {
  Job* job;
  bool armed = true;
  ~UnwindGuard() {
    if (!armed) return;
    job->cancelled = true;
    finish(job);
  }
};

// Takes h off the idle list; false when a waiting green thread took it first
// (its job is on the way).
bool leave_idle(Helper* h) {
  g_idle_lock.lock();
  Helper** link = &g_idle;
  while (*link && *link != h) link = &(*link)->next;
  bool found = *link == h;
  if (found) {
    *link = h->next;
    g_idle_count--;
  }
  g_idle_lock.unlock();
  return found;
}

// The next job; null when the helper has been idle for kIdleNs and leaves.
Job* next_job(Helper* h) {
  ParkOptions options;
  options.what = nullptr;
  for (;;) {
    if (Job* j = h->job.load(std::memory_order_acquire)) return j;
    options.deadline = deadline_after(kIdleNs);
    ParkResult r = park_on(
        &h->job, [h] { return h->job.load() == nullptr; }, options);
    if (r == ParkResult::kTimeout && leave_idle(h)) return nullptr;
  }
}

bool make_idle(Helper* h) {
  g_idle_lock.lock();
  bool kept = g_idle_count < kMaxIdle;
  if (kept) {
    h->next = g_idle;
    g_idle = h;
    g_idle_count++;
  }
  g_idle_lock.unlock();
  return kept;
}

void* helper_main(void* arg) {
  auto* h = static_cast<Helper*>(arg);
  int old;
  // Cancellable only inside the call, so that a cancel is acted on there or
  // (sent too late) never: the helper then retires instead of being reused.
  pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
  for (;;) {
    Job* j = next_job(h);
    if (!j) {
      pthread_detach(pthread_self());
      delete h;
      return nullptr;
    }
    UnwindGuard guard{j};
    pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
    int r = j->call();
    int err = errno;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
    guard.armed = false;
    j->result = r;
    j->err = err;
    uint32_t running = kRunning;
    bool retire = !j->state.compare_exchange_strong(running, kFinished);
    h->job.store(nullptr, std::memory_order_relaxed);
    bool kept = retire || make_idle(h);
    finish(j);                   // from here on the job may be gone
    if (retire) return nullptr;  // a cancel is pending: the waiter joins this thread
    if (!kept) {
      pthread_detach(pthread_self());
      delete h;
      return nullptr;
    }
  }
}

void forget_idle_in_child() {
  // Only the forking thread lives on in a child: the helpers are gone.
  new (&g_idle_lock) SpinLock();
  g_idle = nullptr;
  g_idle_count = 0;
}

Helper* take_helper() {
  static const bool registered = pthread_atfork(nullptr, nullptr, forget_idle_in_child) == 0;
  (void)registered;
  g_idle_lock.lock();
  Helper* h = g_idle;
  if (h) {
    g_idle = h->next;
    g_idle_count--;
  }
  g_idle_lock.unlock();
  if (h) return h;
  h = new Helper;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, kHelperStack);
  // Signals are the program's: a helper never takes one (it inherits this mask).
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int r = pthread_create(&h->thread, &attr, helper_main, h);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  pthread_attr_destroy(&attr);
  if (r == 0) return h;
  delete h;
  return nullptr;
}

}  // namespace

int run_os_wait(FunctionRef<int()> call, bool interruptible, OsWaitEnd* end) {
  *end = OsWaitEnd::kReturned;
  Helper* h;
  {
    RuntimeScope runtime;
    h = take_helper();
  }
  if (!h) return call();  // no OS thread to be had: wait on this one, as natively
  Job j;
  j.call = call;
  h->job.store(&j, std::memory_order_release);
  unpark_on(&h->job, 1);
  ParkOptions options;
  options.interruptible = interruptible;
  options.what = nullptr;  // the other side may be another process: never a deadlock here
  bool cancel_sent = false;
  while (j.done.load(std::memory_order_acquire) == 0) {
    ParkResult r = park_on(
        &j.done, [&j] { return j.done.load() == 0; }, options);
    if (r != ParkResult::kInterrupt || cancel_sent) continue;
    options.interruptible = false;
    uint32_t running = kRunning;
    if (!j.state.compare_exchange_strong(running, kCancelling)) continue;  // it returned
    RuntimeScope runtime;
    pthread_cancel(h->thread);
    cancel_sent = true;
  }
  if (cancel_sent) {  // the helper has retired (or is unwinding): reap it
    RuntimeScope runtime;
    pthread_join(h->thread, nullptr);
    delete h;
  }
  if (j.cancelled) {
    *end = OsWaitEnd::kInterrupted;
    return -1;
  }
  if (j.result == -1) errno = j.err;  // a call that succeeds leaves errno alone
  return j.result;
}

}  // namespace green
