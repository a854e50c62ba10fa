// What every hook shares: the green-thread check and the fd lookup.
#pragma once
#include <cerrno>

#include "hub/fd_table.h"
#include "hub/hub.h"
#include "hub/runtime.h"
#include "preload/real.h"

namespace green {

// The entry for fd when the caller is a green thread and fd is a socket or
// a pipe; null when the call should go straight to libc.
inline FdEntry* green_fd(int fd) {
  if (!hook_self()) return nullptr;
  FdEntry* e = fd_entry(fd);
  return e && e->kind != FdKind::kOther ? e : nullptr;
}

inline FdEntry* green_socket(int fd) {
  FdEntry* e = green_fd(fd);
  return e && e->kind == FdKind::kSocket ? e : nullptr;
}

// Would a call on fd in this direction return without blocking? A zero
// timeout poll, for calls that have no per-call non-blocking flag (pipes,
// accept, connect). POLLERR/POLLHUP/POLLNVAL count as ready: the call
// then reports them.
inline bool poll_ready(int fd, short events) {
  pollfd p{fd, events, 0};
  return REAL(poll)(&p, 1, 0) > 0;
}

inline ssize_t would_block() {
  errno = EAGAIN;
  return -1;
}

}  // namespace green
