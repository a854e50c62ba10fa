// What the runtime knows about each file descriptor of the process, and the
// waits on fd readiness. Only the hub's OS thread reads or changes it.
//
// The runtime never changes a descriptor's O_NONBLOCK for good: the flag is
// shared by every dup and every process holding the open file description, so
// forcing it on breaks stdio and children. `nonblock` caches the program's own
// setting (which is also the real flag); green I/O avoids blocking per call
// (MSG_DONTWAIT on sockets, a zero-timeout poll before pipe calls).
#pragma once
#include <cstdint>

#include "hub/clock.h"
#include "hub/thread.h"

namespace green {

enum class FdKind : uint8_t {
  kSocket,  // green: MSG_DONTWAIT calls, parks on readiness
  kPipe,    // green: pipes, FIFOs, and eventfd/timerfd/signalfd/epoll fds (which
            // have no per-call flag either): a zero-timeout poll before each call
  kFile,    // regular files: direct, or on the thread pool with GREEN_FILE_IO=threadpool
  kOther,   // ttys, devices, directories...: calls go straight to libc
};

enum Direction { kRead = 0, kWrite = 1 };

// Readiness a wait asks for.
constexpr int kWantRead = 1;
constexpr int kWantWrite = 2;
constexpr int kWantPriority = 4;

struct FdEntry;

// What belongs to the open file description rather than to one fd number:
// the program's O_NONBLOCK and the socket timeouts are shared by every dup.
struct OpenFile {
  int refs = 1;
  bool nonblock = false;           // the program's O_NONBLOCK
  int64_t timeout_ns[2] = {0, 0};  // SO_RCVTIMEO, SO_SNDTIMEO; 0 = none
};

// One green thread waiting on one fd. It lives on the waiting thread's stack
// and is linked into the entry's list only while that thread is parked.
struct FdWait {
  FdEntry* entry = nullptr;
  int events = 0;
  GreenThread* thread = nullptr;
  FdWait* prev = nullptr;
  FdWait* next = nullptr;
  bool linked = false;
  bool woken = false;  // by this fd's readiness
  uint32_t generation = 0;
};

// Entries are never freed: a closed fd's entry is reset in place and its
// generation bumped, so a thread woken after a close (or holding the entry
// across a park) can tell that its fd is gone, even if the number is reused.
// An entry fills one cache line: a readiness callback reads it for every
// event, and with thousands of fds it is rarely in the cache.
struct alignas(64) FdEntry {
  int fd = -1;
  uint32_t generation = 0;
  OpenFile* file = nullptr;   // shared with the fd's dups; set while known
  uv_poll_t* poll = nullptr;  // one handle per fd, shared by all waiters
  FdWait* waiters = nullptr;
  // The thread of the wait linked last, possibly gone since: only a hint of
  // what a readiness callback will touch, for prefetching (on_poll).
  const GreenThread* last_waiter = nullptr;
  int wanted[3] = {0, 0, 0};  // waiters wanting read, write, priority
  int in_flight = 0;          // threads woken by readiness that have not run yet
  uint8_t poll_events = 0;    // UV_* events the handle watches now
  bool known = false;         // classified since the fd was last closed
  FdKind kind = FdKind::kOther;
  bool stream = false;  // SOCK_STREAM or a pipe: a short read means "drained"
  // False once a call found the direction drained; set again by the poll.
  // While false a blocking call parks before trying, which saves the
  // syscall that would only say EAGAIN (epoll is level-triggered, so a
  // direction that became ready meanwhile wakes the waiter at once).
  bool maybe_ready[2] = {true, true};

  bool nonblock() const { return file->nonblock; }
  int64_t timeout_ns(Direction dir) const { return file->timeout_ns[dir]; }
};
static_assert(sizeof(FdEntry) == 64, "an entry is one cache line");

// The entry for fd, classified on first use; null when fd is not open.
FdEntry* fd_entry(int fd);
// Records a descriptor the program just created through a hooked call.
FdEntry* fd_created(int fd, FdKind kind, bool stream, bool nonblock);
// fd `to` now refers to the same open file description as `from`.
void fd_duplicated(int from, int to);
// fd is about to be closed: wake its waiters with kClosed, stop watching it.
void fd_closing(int fd);
void fd_closing_range(unsigned first, unsigned last);  // close_range, closefrom
void fd_set_nonblock(int fd, bool nonblock);
void fd_set_timeout(int fd, Direction dir, int64_t ns);
// Forget what is known (the fd may now be something else) and classify again.
FdEntry* fd_reclassify(int fd);

// Parks the current green thread until one of the waits' fds is ready, the
// deadline passes, one is closed, or (interruptible) a signal arrives. The
// caller fills entry and events of each wait. A wake-up is a hint: the
// caller retries its call and parks again if it would still block.
WakeReason wait_fds(FdWait* waits, int count, Deadline deadline, bool interruptible);
WakeReason wait_fd(FdEntry* e, int events, Deadline deadline, bool interruptible);

}  // namespace green
