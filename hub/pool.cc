#include "hub/pool.h"

#include <signal.h>
#include <uv.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "hub/hub.h"

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

// libuv sizes its pool from UV_THREADPOOL_SIZE when it first queues work.
// Set it for that moment only, so the program never sees the variable.
void size_pool_once() {
  static bool sized = false;
  if (sized) return;
  sized = true;
  if (getenv("UV_THREADPOOL_SIZE")) return;
  char text[32];
  snprintf(text, sizeof text, "%zu", g_pool_size);
  setenv("UV_THREADPOOL_SIZE", text, 1);
}

void unset_pool_size() {
  static bool unset = false;
  if (unset) return;
  unset = true;
  char text[32];
  snprintf(text, sizeof text, "%zu", g_pool_size);
  const char* value = getenv("UV_THREADPOOL_SIZE");
  if (value && std::string_view(value) == text) unsetenv("UV_THREADPOOL_SIZE");
}

}  // namespace

void run_on_pool(FunctionRef<void()> work) {
  GreenThread* self = tls.current;
  PoolWork w;
  w.work = work;
  w.thread = self;
  w.error = errno;  // work that succeeds leaves it alone
  w.req.data = &w;
  {
    RuntimeScope runtime;
    bool first = false;
    static bool started = false;
    if (!started) {
      started = first = true;
      size_pool_once();
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
          errno = w->error;
          w->work();
          w->error = errno;
        },
        [](uv_work_t* req, int) {
          auto* w = static_cast<PoolWork*>(req->data);
          w->done = true;
          unpark(w->thread, WakeReason::kExplicit);
        });
    if (first) {
      pthread_sigmask(SIG_SETMASK, &old, nullptr);
      unset_pool_size();
    }
  }
  while (!w.done) park(kNoDeadline, false);
  errno = w.error;
}

}  // namespace green
