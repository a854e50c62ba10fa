#include "hub/fd_table.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <cerrno>
#include <vector>

#include "hub/hub.h"
#include "hub/signal.h"
#include "hub/runtime.h"

namespace green {
namespace {

void on_poll(uv_poll_t* handle, int status, int events);

std::vector<FdEntry*>& table() {
  static auto* t = new std::vector<FdEntry*>();  // never destroyed: used until exit
  return *t;
}

FdEntry* slot(int fd) {
  auto& t = table();
  if (size_t(fd) >= t.size()) t.resize(size_t(fd) + 64, nullptr);
  FdEntry*& e = t[size_t(fd)];
  if (!e) {
    e = new FdEntry;
    e->fd = fd;
  }
  return e;
}

int64_t sockopt_timeout_ns(int fd, int optname) {
  timeval tv{};
  socklen_t len = sizeof tv;
  if (getsockopt(fd, SOL_SOCKET, optname, &tv, &len) != 0) return 0;
  return int64_t(tv.tv_sec) * 1000000000 + int64_t(tv.tv_usec) * 1000;
}

// Marks e known, with a description of its own or (file != null) a dup's.
void reset(FdEntry* e, FdKind kind, bool stream, bool nonblock, OpenFile* file = nullptr) {
  e->known = true;
  e->kind = kind;
  e->stream = stream;
  if (file) {
    file->refs++;
  } else {
    file = new OpenFile;
    file->nonblock = nonblock;
  }
  e->file = file;
  e->maybe_ready[kRead] = e->maybe_ready[kWrite] = true;
}

// Looks at an fd the runtime has not seen created: inherited ones, ones from
// before start-up, from calls that are not hooked.
bool classify(FdEntry* e) {
  RuntimeScope runtime;
  int fd = e->fd;
  struct stat st;
  if (fstat(fd, &st) != 0) return false;
  int flags = fcntl(fd, F_GETFL);
  bool nonblock = flags >= 0 && (flags & O_NONBLOCK);
  if (S_ISSOCK(st.st_mode)) {
    int type = 0;
    socklen_t len = sizeof type;
    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len);
    reset(e, FdKind::kSocket, type == SOCK_STREAM, nonblock);
    e->file->timeout_ns[kRead] = sockopt_timeout_ns(fd, SO_RCVTIMEO);
    e->file->timeout_ns[kWrite] = sockopt_timeout_ns(fd, SO_SNDTIMEO);
  } else if (S_ISFIFO(st.st_mode)) {
    reset(e, FdKind::kPipe, true, nonblock);
  } else if ((st.st_mode & S_IFMT) == 0) {
    // An anonymous inode: eventfd, timerfd, signalfd, epoll, inotify...
    reset(e, FdKind::kPipe, false, nonblock);
  } else if (S_ISREG(st.st_mode)) {
    reset(e, FdKind::kFile, false, nonblock);
  } else {
    reset(e, FdKind::kOther, false, nonblock);
  }
  return true;
}

int uv_events(int want) {
  return ((want & kWantRead) ? UV_READABLE : 0) | ((want & kWantWrite) ? UV_WRITABLE : 0) |
         ((want & kWantPriority) ? UV_PRIORITIZED : 0);
}

int wanted_events(const FdEntry* e) {
  return (e->wanted[0] ? kWantRead : 0) | (e->wanted[1] ? kWantWrite : 0) |
         (e->wanted[2] ? kWantPriority : 0);
}

void link(FdWait* w) {
  FdEntry* e = w->entry;
  w->generation = e->generation;
  w->woken = false;
  w->prev = nullptr;
  w->next = e->waiters;
  if (e->waiters) e->waiters->prev = w;
  e->waiters = w;
  e->last_waiter = w->thread;
  w->linked = true;
  for (int bit = 0; bit < 3; bit++)
    if (w->events & (1 << bit)) e->wanted[bit]++;
}

void unlink(FdWait* w) {
  if (!w->linked) return;
  FdEntry* e = w->entry;
  if (w->prev)
    w->prev->next = w->next;
  else
    e->waiters = w->next;
  if (w->next) w->next->prev = w->prev;
  w->linked = false;
  for (int bit = 0; bit < 3; bit++)
    if (w->events & (1 << bit)) e->wanted[bit]--;
}

void set_poll_events(FdEntry* e, int events) {
  if (events == e->poll_events) return;
  e->poll_events = uint8_t(events);
  if (events == 0) {
    uv_poll_stop(e->poll);
    return;
  }
  uv_poll_start(e->poll, events, on_poll);
}

// uv_poll_init switches the fd to O_NONBLOCK; the program must not see that.
bool ensure_poll(FdEntry* e) {
  if (e->poll) return true;
  auto* handle = new uv_poll_t;
  if (uv_poll_init(&tls.hub->loop, handle, e->fd) != 0) {
    delete handle;
    return false;
  }
  if (!e->nonblock()) {
    int off = 0;
    ioctl(e->fd, FIONBIO, &off);
  }
  handle->data = e;
  e->poll = handle;
  e->poll_events = 0;
  return true;
}

void close_poll(FdEntry* e) {
  if (!e->poll) return;
  uv_poll_stop(e->poll);
  uv_close(reinterpret_cast<uv_handle_t*>(e->poll),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
  e->poll = nullptr;
  e->poll_events = 0;
}

void wake_all(FdEntry* e, WakeReason why) {
  while (FdWait* w = e->waiters) {
    unlink(w);
    unpark(w->thread, why);
  }
}

void forget(FdEntry* e) {
  if (!e->known && !e->waiters && !e->poll) return;
  wake_all(e, WakeReason::kClosed);
  close_poll(e);
  e->in_flight = 0;
  if (e->file && --e->file->refs == 0) delete e->file;
  e->file = nullptr;
  e->known = false;
  e->generation++;
}

// A server with a thousand connections wakes a thousand threads in turn, and
// by the time one is woken again its stack and its GreenThread have left the
// caches. Waking it and running it touches both: the wait (on its stack), the
// thread, and every frame between its switch and its blocking call, each
// return loading the next frame, one miss after another. Asked for here all
// at once, those misses overlap. The wait sits a few frames above the switch
// (wait_fds, park, switch_away) and a few below the program's call; the range
// covers both ways. A prefetch never faults, so a stale hint or a line past
// the stack's top costs nothing. (Measured: README, issue 12's echo figures.)
constexpr int kFramesBelowWait = 8;   // lines: wait_fds, park, switch_away, the saved context
constexpr int kFramesAboveWait = 10;  // lines: the rest of the hooked or API call that waits

// Inlined early on purpose: GCC finds a function that only prefetches free
// of effects (ipa-pure-const) and deletes the call.
[[gnu::always_inline]] inline void prefetch_first_waiter(const FdEntry* e) {
  const char* w = reinterpret_cast<const char*>(e->waiters);
  if (!w) return;
  __builtin_prefetch(e->last_waiter, 1, 3);
  for (int i = -kFramesBelowWait; i < kFramesAboveWait; i++) __builtin_prefetch(w + i * 64, 0, 3);
}

void on_poll(uv_poll_t* handle, int status, int events) {
  auto* e = static_cast<FdEntry*>(handle->data);
  if (status < 0) {
    // libuv stopped the handle (e.g. the fd went bad): every waiter retries
    // its call, which reports the error.
    e->poll_events = 0;
    uv_poll_stop(handle);
    wake_all(e, WakeReason::kReady);
    return;
  }
  int fired = ((events & UV_READABLE) ? kWantRead : 0) | ((events & UV_WRITABLE) ? kWantWrite : 0) |
              ((events & UV_PRIORITIZED) ? kWantPriority : 0);
  if (fired & (kWantRead | kWantPriority)) e->maybe_ready[kRead] = true;
  if (fired & kWantWrite) e->maybe_ready[kWrite] = true;
  int waited = wanted_events(e);
  prefetch_first_waiter(e);
  for (FdWait* w = e->waiters; w;) {
    FdWait* next = w->next;
    if (w->events & fired) {
      unlink(w);
      w->woken = true;
      e->in_flight++;
      unpark(w->thread, WakeReason::kReady);
    }
    w = next;
  }
  // Interest stays registered after a wake-up (the thread will most likely
  // wait again); it is dropped when readiness arrives that nobody waits for
  // and no woken thread is still on its way (libuv polls again before the
  // woken threads run when a poll fills its event array).
  int unwanted = fired & ~waited;
  if (unwanted && e->in_flight == 0) set_poll_events(e, e->poll_events & ~uv_events(unwanted));
  // Run the woken threads now, inside the callback. epoll is level-triggered
  // and libuv polls again at once when a poll fills its event array: a fd
  // whose thread has not yet read its data would be reported over and over.
  if (e->in_flight) run_ready(tls.hub);
}

}  // namespace

FdEntry* fd_entry(int fd) {
  if (fd < 0) return nullptr;
  FdEntry* e = slot(fd);
  if (!e->known && !classify(e)) return nullptr;
  return e;
}

FdEntry* fd_created(int fd, FdKind kind, bool stream, bool nonblock) {
  FdEntry* e = slot(fd);
  {
    RuntimeScope runtime;
    forget(e);
  }
  reset(e, kind, stream, nonblock);
  return e;
}

void fd_duplicated(int from, int to) {
  if (from == to) return;
  FdEntry* src = fd_entry(from);
  if (!src) {
    fd_closing(to);
    return;
  }
  FdEntry* e = slot(to);
  {
    RuntimeScope runtime;
    forget(e);
  }
  reset(e, src->kind, src->stream, false, src->file);
}

void fd_closing(int fd) {
  if (fd < 0 || size_t(fd) >= table().size() || !table()[size_t(fd)]) return;
  RuntimeScope runtime;
  forget(table()[size_t(fd)]);
}

void fd_closing_range(unsigned first, unsigned last) {
  RuntimeScope runtime;
  auto& t = table();
  for (size_t fd = first; fd < t.size() && fd <= last; fd++)
    if (t[fd]) forget(t[fd]);
}

void fd_set_nonblock(int fd, bool nonblock) {
  if (FdEntry* e = fd_entry(fd)) e->file->nonblock = nonblock;
}

void fd_set_timeout(int fd, Direction dir, int64_t ns) {
  if (FdEntry* e = fd_entry(fd)) e->file->timeout_ns[dir] = ns;
}

FdEntry* fd_reclassify(int fd) {
  fd_closing(fd);
  return fd_entry(fd);
}

WakeReason wait_fds(FdWait* waits, int count, Deadline deadline, bool interruptible) {
  GreenThread* self = tls.current;
  const int entry_errno = errno;  // libuv's calls below may set their own
  {
    RuntimeScope runtime;
    for (int i = 0; i < count; i++) {
      FdWait* w = &waits[i];
      w->thread = self;
      if (w->events == 0) continue;
      if (!ensure_poll(w->entry)) {
        // Not pollable (a regular file, say): look again soon rather than
        // park forever or spin.
        Deadline soon = deadline_after(1000000);
        if (soon < deadline) deadline = soon;
        continue;
      }
      link(w);
      FdEntry* e = w->entry;
      set_poll_events(e, e->poll_events | uv_events(w->events));
    }
  }
  errno = entry_errno;
  self->waiting_fd = count == 1 ? waits[0].entry->fd : -2;
  self->waiting_events = count == 1 ? waits[0].events : 0;
  WakeReason why = park(deadline, interruptible);
  self->waiting_fd = -1;
  {
    RuntimeScope runtime;  // no handler in here: it may wait on these fds too
    for (int i = 0; i < count; i++) {
      FdWait* w = &waits[i];
      unlink(w);
      if (w->woken && w->entry->generation == w->generation) w->entry->in_flight--;
    }
  }
  // No longer waiting: the handler may longjmp or exit the thread.
  if (why == WakeReason::kSignal) why = signal_interrupted_wait(self);
  return why;
}

WakeReason wait_fd(FdEntry* e, int events, Deadline deadline, bool interruptible) {
  FdWait w;
  w.entry = e;
  w.events = events;
  return wait_fds(&w, 1, deadline, interruptible);
}

}  // namespace green
