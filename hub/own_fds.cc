#include "hub/own_fds.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <initializer_list>
#include <new>

#include "hub/fd_table.h"
#include "hub/runtime.h"
#include "hub/spin_lock.h"

namespace green {
namespace {

enum class Kind : uint8_t {
  kLoop,      // a field of a loop (ref points at it once bind_loop has run)
  kLockPipe,  // libuv's global signal lock pipe (a static of libuv's: ref found on demand)
  kTemp,      // one call's pidfd or signalfd (ref is the caller's variable)
};

struct Slot {
  int fd = -1;
  Kind kind = Kind::kTemp;
  int* ref = nullptr;
  int* alias = nullptr;       // kLoop: a second field with the same fd (an io watcher's)
  bool watched = false;       // kLoop: in libuv's epoll set and watcher array
  uv_loop_t* loop = nullptr;  // kLoop
};

// One pidfd per green thread in waitpid, one signalfd per sigwait, and a few
// per loop. Past that a descriptor is moved high but not hidden.
constexpr int kMaxSlots = 512;
constexpr int kMaxTop = 1 << 16;  // libuv sizes its watcher array by the highest fd
constexpr int kArea = 16;         // the first own fds go to [top - kArea, top)

Slot g_slots[kMaxSlots];
int g_count = 0;
SpinLock g_lock;
std::atomic<int> g_floor{INT_MAX};  // no own fd is below: the program's fds cost one compare

thread_local int t_creating = 0;     // inside own_loop_init/own_loop_fork
thread_local bool t_forked = false;  // in a child, until libuv's handler made its lock pipe

struct Creating {
  Creating() { ++t_creating; }
  ~Creating() { --t_creating; }
};

Slot* find(int fd) {
  for (int i = 0; i < g_count; i++)
    if (g_slots[i].fd == fd) return &g_slots[i];
  return nullptr;
}

void add(int fd, Kind kind, int* ref) {
  g_lock.lock();
  if (g_count < kMaxSlots) {
    g_slots[g_count++] = Slot{fd, kind, ref, nullptr, false, nullptr};
    if (fd < g_floor.load(std::memory_order_relaxed)) g_floor.store(fd, std::memory_order_relaxed);
  }
  g_lock.unlock();
}

void erase(Slot* s) {
  *s = g_slots[--g_count];
}

void release_if(int fd) {
  if (fd < 0) return;
  g_lock.lock();
  if (Slot* s = find(fd)) erase(s);
  g_lock.unlock();
}

int area_top() {
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur > rlim_t(kMaxTop)) return kMaxTop;
  return int(rl.rlim_cur);
}

// A copy of fd at base or the first free number above it, below `below`;
// -1 with errno EMFILE when there is none.
int dup_from(int fd, int base, int below) {
  int moved = fcntl(fd, F_DUPFD_CLOEXEC, base);
  if (moved < 0 || moved < below) return moved;
  close(moved);
  errno = EMFILE;
  return -1;
}

// A copy of fd, close-on-exec, as high as there is room, and below `below`
// (libuv's watcher array, for a watched fd); -1 when there is none. When the
// top area is full (a RLIMIT_NOFILE lowered below fds the program holds), the
// highest free number below it, so the program's low numbers stay free.
int dup_high(int fd, int below) {
  int top = std::min(area_top(), below);
  int base = std::max(top - kArea, 3);
  int moved = dup_from(fd, base, below);
  if (moved >= 0 || errno != EMFILE) return moved;
  constexpr int kWalk = 4096;  // number by number down: each is one fcntl
  for (int n = base - 1; n >= 3 && n >= base - kWalk; n--) {
    moved = dup_from(fd, n, below);
    if (moved >= 0 || errno != EMFILE) return moved;
  }
  return base - kWalk > 3 ? dup_from(fd, 3, below) : -1;
}

// Moves a newly created fd high; keeps it in place (close-on-exec) when
// there is no room there.
int relocate(int fd) {
  RuntimeScope runtime;
  int saved = errno;
  int moved = dup_high(fd, INT_MAX);
  if (moved >= 0 && moved != fd) {
    close(fd);
    fd = moved;
  } else {
    fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  errno = saved;
  return fd;
}

// libuv's mapped segments, [begin, end): found once.
struct Range {
  uintptr_t begin = UINTPTR_MAX;
  uintptr_t end = 0;
};

int find_range(dl_phdr_info* info, size_t, void* data) {
  auto* r = static_cast<Range*>(data);
  Dl_info dl{};
  if (!dladdr(reinterpret_cast<void*>(&uv_loop_init), &dl)) return 1;
  if (reinterpret_cast<const void*>(info->dlpi_addr) != dl.dli_fbase) return 0;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD) continue;
    r->begin = std::min<uintptr_t>(r->begin, info->dlpi_addr + ph.p_vaddr);
    r->end = std::max<uintptr_t>(r->end, info->dlpi_addr + ph.p_vaddr + ph.p_memsz);
  }
  return 1;
}

bool from_libuv(const void* caller) {
  static const Range libuv = [] {
    Range r;
    dl_iterate_phdr(find_range, &r);
    return r;
  }();
  auto at = reinterpret_cast<uintptr_t>(caller);
  return at >= libuv.begin && at < libuv.end;
}

// Tells the loop's fields to the slots that hold them.
void bind_loop(uv_loop_t* loop) {
  g_lock.lock();
  for (int i = 0; i < g_count; i++) {
    Slot& s = g_slots[i];
    if (s.kind != Kind::kLoop || s.ref) continue;
    struct Field {
      int* ref;
      int* alias;
    } fields[] = {{&loop->backend_fd, nullptr},
                  {&loop->async_io_watcher.fd, nullptr},
                  {&loop->async_wfd, nullptr},
                  {&loop->signal_pipefd[0], &loop->signal_io_watcher.fd},
                  {&loop->signal_pipefd[1], nullptr}};
    for (const Field& f : fields) {
      if (*f.ref != s.fd) continue;
      s.ref = f.ref;
      s.alias = f.alias;
      s.loop = loop;
      s.watched = f.ref == &loop->async_io_watcher.fd || f.alias;
    }
  }
  g_lock.unlock();
}

// libuv's signal lock pipe lives in a static int[2] of libuv's. To move an
// end, find that pair of ints in libuv's writable segments (once, and only
// when a program dup2s onto it: a pair of two adjacent high numbers).
struct Search {
  const void* base;
  int want[2];
  int* found;
  int matches;
};

int search_segment(dl_phdr_info* info, size_t, void* data) {
  auto* q = static_cast<Search*>(data);
  Dl_info dl{};
  if (!info->dlpi_name || !dladdr(reinterpret_cast<void*>(&uv_loop_init), &dl)) return 0;
  if (reinterpret_cast<const void*>(info->dlpi_addr) != dl.dli_fbase) return 0;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_W)) continue;
    auto* p = reinterpret_cast<int*>(info->dlpi_addr + ph.p_vaddr);
    size_t n = ph.p_memsz / sizeof(int);
    for (size_t j = 0; j + 1 < n; j++) {
      if (p[j] == q->want[0] && p[j + 1] == q->want[1]) {
        q->found = &p[j];
        q->matches++;
      }
    }
  }
  return 1;
}

// Under g_lock: the ref of a lock pipe end, looked for now if not known.
int* lock_pipe_ref(Slot* s) {
  if (s->ref) return s->ref;
  int ends[2] = {-1, -1};
  for (int i = 0; i < g_count; i++) {
    if (g_slots[i].kind != Kind::kLockPipe) continue;
    ends[ends[0] < 0 ? 0 : 1] = g_slots[i].fd;
  }
  for (int order = 0; order < 2; order++) {
    Search q{nullptr, {ends[order], ends[1 - order]}, nullptr, 0};
    dl_iterate_phdr(search_segment, &q);
    if (q.matches != 1) continue;
    for (int i = 0; i < g_count; i++) {
      Slot& t = g_slots[i];
      if (t.kind == Kind::kLockPipe) t.ref = t.fd == q.found[0] ? &q.found[0] : &q.found[1];
    }
    return s->ref;
  }
  return nullptr;
}

// Moves a watched fd (the loop's async eventfd) in libuv's epoll set and its
// watcher array, as uv__io_stop/uv__io_start would.
void move_watched(uv_loop_t* loop, int from, int to) {
  uv__io_t* w = loop->watchers[from];
  loop->watchers[to] = w;
  loop->watchers[from] = nullptr;
  epoll_ctl(loop->backend_fd, EPOLL_CTL_DEL, from, nullptr);
  if (w && w->events) {
    epoll_event e{};
    e.events = w->events;
    e.data.fd = to;
    epoll_ctl(loop->backend_fd, EPOLL_CTL_ADD, to, &e);
  }
}

}  // namespace

int own_loop_init(uv_loop_t* loop) {
  Creating creating;
  int r = uv_loop_init(loop);
  bind_loop(loop);
  return r;
}

namespace {

// uv_loop_fork (libuv 1.44) gives the child fresh wake-up fds but keeps
// each async handle's `pending` flag as the fork found it. A send in flight
// then (a signal held, a wake-up from another OS thread, a pool job done)
// left it set in the child for ever: every later uv_async_send there saw it
// set and wrote nothing, and the hub never learnt of another OS thread's
// wake-up. A PostgreSQL backend, forked from a postmaster whose hub had a
// send pending, hung with its LWLock waiter's wake-up queued (pgbench, 1
// run in 4 to 10). Nothing is in flight in the child: the senders are gone.
void clear_async_sends(uv_loop_t* loop) {
  uv_walk(
      loop,
      [](uv_handle_t* h, void*) {
        if (h->type == UV_ASYNC) reinterpret_cast<uv_async_t*>(h)->pending = 0;
      },
      nullptr);
  loop->wq_async.pending = 0;  // libuv's own, which uv_walk passes over
}

}  // namespace

int own_loop_fork(uv_loop_t* loop) {
  // libuv closes its old epoll fd and eventfd and opens new ones. The calls
  // other green threads were in are gone with them: so are their temps.
  for (int fd : {loop->backend_fd, loop->async_io_watcher.fd, loop->async_wfd,
                 loop->signal_pipefd[0], loop->signal_pipefd[1]})
    release_if(fd);
  int r;
  {
    Creating creating;
    r = uv_loop_fork(loop);
  }
  clear_async_sends(loop);
  bind_loop(loop);
  // Only now, in the child's own epoll set: stop watching them, then close.
  int temps[kMaxSlots];
  int n = 0;
  g_lock.lock();
  for (int i = g_count - 1; i >= 0; i--) {
    if (g_slots[i].kind != Kind::kTemp) continue;
    temps[n++] = g_slots[i].fd;
    erase(&g_slots[i]);
  }
  g_lock.unlock();
  RuntimeScope runtime;
  for (int i = 0; i < n; i++) {
    fd_closing(temps[i]);
    close(temps[i]);
  }
  return r;
}

int own_fd_created(int fd, const void* caller) {
  (void)caller;
  if (fd < 0 || t_creating == 0) return fd;
  fd = relocate(fd);
  add(fd, Kind::kLoop, nullptr);  // bound to its loop field by bind_loop
  return fd;
}

void own_pipe_created(int fds[2], int flags, const void* caller) {
  // libuv makes two pipes: a loop's signal pipe (non-blocking), and its
  // global signal lock pipe, made again by its atfork handler in each forked
  // child (the old one is closed by then), be it our fork() or glibc's own
  // (daemon()).
  bool lock_pipe = t_forked && !(flags & O_NONBLOCK) && from_libuv(caller);
  if (t_creating == 0 && !lock_pipe) return;
  if (lock_pipe) t_forked = false;
  Kind kind = (flags & O_NONBLOCK) ? Kind::kLoop : Kind::kLockPipe;
  if (kind == Kind::kLockPipe) {
    g_lock.lock();
    for (int i = g_count - 1; i >= 0; i--)
      if (g_slots[i].kind == Kind::kLockPipe) erase(&g_slots[i]);
    g_lock.unlock();
  }
  for (int i = 0; i < 2; i++) {
    fds[i] = relocate(fds[i]);
    add(fds[i], kind, nullptr);
  }
}

void own_fds_after_fork() {
  new (&g_lock) SpinLock();  // another OS thread may have held it
  t_forked = true;
}

void own_fd_temp(int* fd) {
  if (*fd < 0) return;
  *fd = relocate(*fd);
  add(*fd, Kind::kTemp, fd);
}

void own_fd_release(int fd) {
  release_if(fd);
}

bool own_fd_hidden(int fd) {
  if (fd < g_floor.load(std::memory_order_relaxed) || tls.in_runtime != 0) return false;
  g_lock.lock();
  bool own = find(fd) != nullptr;
  g_lock.unlock();
  return own;
}

void own_fd_make_room(int fd) {
  if (fd < g_floor.load(std::memory_order_relaxed) || tls.in_runtime != 0) return;
  RuntimeScope runtime;
  int saved = errno;
  g_lock.lock();
  if (Slot* s = find(fd)) {
    int* ref = s->kind == Kind::kLockPipe ? lock_pipe_ref(s) : s->ref;
    bool watched = s->kind == Kind::kLoop && s->watched;
    int moved = ref ? dup_high(fd, watched ? int(s->loop->nwatchers) : INT_MAX) : -1;
    if (moved >= 0) {
      if (watched) move_watched(s->loop, fd, moved);
      *ref = moved;
      if (s->alias) *s->alias = moved;
      s->fd = moved;
      if (moved < g_floor.load(std::memory_order_relaxed))
        g_floor.store(moved, std::memory_order_relaxed);
    } else {
      erase(s);  // nowhere to go: the program's dup2 takes the number
    }
  }
  g_lock.unlock();
  errno = saved;
}

int own_fds_each_gap(unsigned first, unsigned last, FunctionRef<int(unsigned, unsigned)> each) {
  int own[kMaxSlots];
  int n = 0;
  if (g_floor.load(std::memory_order_relaxed) <= int(std::min<unsigned>(last, INT_MAX)) &&
      tls.in_runtime == 0) {
    g_lock.lock();
    for (int i = 0; i < g_count; i++) own[n++] = g_slots[i].fd;
    g_lock.unlock();
  }
  std::sort(own, own + n);
  unsigned from = first;
  for (int i = 0; i < n; i++) {
    unsigned fd = unsigned(own[i]);
    if (fd < from || fd > last) continue;
    if (fd > from && each(from, fd - 1) != 0) return -1;
    if (fd == last) return 0;
    from = fd + 1;
  }
  return each(from, last);
}

}  // namespace green
