#include "hub/pool.h"

#include "hub/stats.h"

#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "hub/hub.h"
#include "hub/spin_lock.h"

namespace green {

size_t g_pool_size = 16;

namespace {

struct PoolWork {
  uv_work_t req;
  FunctionRef<void()> work;
  GreenThread* thread;
  int error = 0;  // the caller's errno, then the work's
  bool done = false;
};

// libuv sizes its pool from UV_THREADPOOL_SIZE when it first queues work in
// a process (a forked child starts a pool of its own). Set it for that
// moment only, so the program never sees the variable. Returns whether it
// was set here.
bool size_pool() {
  if (getenv("UV_THREADPOOL_SIZE")) return false;
  char text[32];
  snprintf(text, sizeof text, "%zu", g_pool_size);
  setenv("UV_THREADPOOL_SIZE", text, 1);
  return true;
}

void unset_pool_size() {
  char text[32];
  snprintf(text, sizeof text, "%zu", g_pool_size);
  const char* value = getenv("UV_THREADPOOL_SIZE");
  if (value && std::string_view(value) == text) unsetenv("UV_THREADPOOL_SIZE");
}

// The pool threads libuv started, and in which process. A forked child
// inherits libuv's list of them but not the threads; at exit libuv's
// destructor (uv_library_shutdown) joins every one, and glibc has already
// recycled their descriptors in the child: a join there crashes or hangs
// (design.md trap 17). libuv starts and joins them through its own exported
// uv_thread_create_ex and uv_thread_join, which the preload interposes.
struct PoolThread {
  pthread_t id;
  pid_t pid;
};
constexpr size_t kMaxPoolThreads = 1024;  // libuv's own limit
PoolThread g_threads[kMaxPoolThreads];
size_t g_thread_count = 0;
SpinLock g_threads_lock;

void note_thread(pthread_t id) {
  pid_t pid = getpid();
  g_threads_lock.lock();
  size_t i = 0;
  while (i < g_thread_count && !pthread_equal(g_threads[i].id, id)) i++;
  if (i < kMaxPoolThreads) {
    g_threads[i] = {id, pid};
    if (i == g_thread_count) g_thread_count++;
  }
  g_threads_lock.unlock();
}

// Whether id is a pool thread of an ancestor process: it does not exist here.
bool inherited_thread(pthread_t id) {
  pid_t pid = getpid();
  bool inherited = false;
  g_threads_lock.lock();
  for (size_t i = 0; i < g_thread_count; i++) {
    if (!pthread_equal(g_threads[i].id, id)) continue;
    inherited = g_threads[i].pid != pid;
    if (inherited) g_threads[i] = g_threads[--g_thread_count];
    break;
  }
  g_threads_lock.unlock();
  return inherited;
}

template <class Fn>
Fn* next_symbol(const char* name) {
  return reinterpret_cast<Fn*>(dlsym(RTLD_NEXT, name));
}

}  // namespace

void pool_after_fork() {
  new (&g_threads_lock) SpinLock();  // another OS thread may have held it
}

void run_on_pool(FunctionRef<void()> work) {
  GreenThread* self = tls.current;
  PoolWork w;
  w.work = work;
  w.thread = self;
  w.error = errno;  // work that succeeds leaves it alone
  w.req.data = &w;
  {
    RuntimeScope runtime;
    static pid_t started_in = 0;  // a forked child's first work starts its own pool
    bool sized = false, first = started_in != getpid();
    if (first) {
      started_in = getpid();
      sized = size_pool();
    }
    // The pool's threads start inside the first uv_queue_work and inherit
    // this mask: every signal blocked, so that none is delivered to them
    // (a handler must run on a thread of the program).
    sigset_t all, old;
    if (first) {
      sigfillset(&all);
      pthread_sigmask(SIG_SETMASK, &all, &old);
    }
    uv_queue_work(
        &self->hub->loop, &w.req,
        [](uv_work_t* req) {
          auto* w = static_cast<PoolWork*>(req->data);
          tls.mode = ThreadMode::kNative;  // the green API refuses to block here
          errno = w->error;
          w->work();
          w->error = errno;
        },
        [](uv_work_t* req, int) {
          auto* w = static_cast<PoolWork*>(req->data);
          w->done = true;
          unpark(w->thread, WakeReason::kExplicit);
        });
    if (first) pthread_sigmask(SIG_SETMASK, &old, nullptr);
    if (sized) unset_pool_size();
  }
  uint64_t queued = uv_hrtime();
  while (!w.done) park(kNoDeadline, false);
  g_stats.pool_jobs++;
  g_stats.pool_wait_ns += uv_hrtime() - queued;
  errno = w.error;
}

}  // namespace green

using green::next_symbol;

extern "C" int uv_thread_create_ex(uv_thread_t* tid, const uv_thread_options_t* params,
                                   void (*entry)(void* arg), void* arg) {
  static auto* real = next_symbol<decltype(uv_thread_create_ex)>("uv_thread_create_ex");
  int r = real(tid, params, entry, arg);
  if (r == 0) green::note_thread(*tid);
  return r;
}

// A thread that does not exist in this process has nothing to join: as if
// it had ended.
extern "C" int uv_thread_join(uv_thread_t* tid) {
  static auto* real = next_symbol<decltype(uv_thread_join)>("uv_thread_join");
  if (green::inherited_thread(*tid)) return 0;
  return real(tid);
}
