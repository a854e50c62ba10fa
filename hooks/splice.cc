// sendfile, splice and tee between files, sockets and pipes. None has a
// per-call non-blocking flag for a socket (SPLICE_F_NONBLOCK covers only the
// pipe side), so each attempt makes the green sockets and pipes involved
// non-blocking for that one call; when it would block, the thread parks on
// the side that was not ready (both, when it cannot tell) and tries again.
#include <sys/ioctl.h>
#include <sys/sendfile.h>

#include "hooks/io_retry.h"

using namespace green;

namespace {

// The green socket or pipe behind fd that the program left blocking, if any.
FdEntry* blocking_green(int fd) {
  FdEntry* e = green_fd(fd);
  return e && !e->nonblock() ? e : nullptr;
}

// Runs call() with the blocking green fds among `in` and `out` switched to
// non-blocking for its duration.
template <class Call>
ssize_t attempt(FdEntry* in, FdEntry* out, Call&& call) {
  int on = 1, off = 0;
  for (FdEntry* e : {in, out})
    if (e) REAL(ioctl)(e->fd, FIONBIO, &on);
  ssize_t r = call();
  int err = errno;
  for (FdEntry* e : {in, out})
    if (e) REAL(ioctl)(e->fd, FIONBIO, &off);
  errno = err;
  return r;
}

// Retries call() until it moves data, fails, or a signal interrupts it.
template <class Call>
ssize_t two_sided(int fd_in, int fd_out, Call&& call) {
  FdEntry* in = blocking_green(fd_in);
  FdEntry* out = blocking_green(fd_out);
  if (!in && !out) return call();
  const int entry_errno = errno;
  CancelPoint cp(tls.current);
  for (;;) {
    ssize_t r = attempt(in, out, call);
    if (r >= 0) {
      errno = entry_errno;
      return r;
    }
    if (errno != EAGAIN) return r;
    FdWait waits[2];
    int n = 0;
    if (in) waits[n].entry = in, waits[n++].events = kWantRead;
    if (out) waits[n].entry = out, waits[n++].events = kWantWrite;
    WakeReason why = wait_fds(waits, n, kNoDeadline, true);
    if (why == WakeReason::kSignal && !tls.current->signal_restart) {
      errno = EINTR;
      return -1;
    }
    if (why == WakeReason::kCancel) {
      errno = ECANCELED;
      return cp.done(ssize_t(-1));
    }
    if (why == WakeReason::kClosed) {
      errno = EBADF;
      return -1;
    }
  }
}

}  // namespace

// Into a blocking socket, sendfile moves all it was asked (or up to the end
// of the input), as natively.
extern "C" ssize_t sendfile(int out, int in, off_t* offset, size_t count) noexcept {
  FdEntry* e = hook_self() ? blocking_green(out) : nullptr;
  if (!e || !e->stream)
    return two_sided(in, out, [&] { return REAL(sendfile)(out, in, offset, count); });
  size_t done = 0;
  for (;;) {
    ssize_t r = two_sided(in, out, [&] { return REAL(sendfile)(out, in, offset, count - done); });
    if (r < 0) return done ? ssize_t(done) : -1;
    done += size_t(r);
    if (r == 0 || done >= count) return ssize_t(done);
  }
}

extern "C" ssize_t sendfile64(int out, int in, off64_t* offset, size_t count) noexcept {
  return sendfile(out, in, offset, count);
}

extern "C" ssize_t splice(int in, loff_t* off_in, int out, loff_t* off_out, size_t len,
                          unsigned int flags) {
  if (!hook_self() || (flags & SPLICE_F_NONBLOCK))  // the program's own non-blocking call
    return REAL(splice)(in, off_in, out, off_out, len, flags);
  return two_sided(in, out, [&] { return REAL(splice)(in, off_in, out, off_out, len, flags); });
}

extern "C" ssize_t tee(int in, int out, size_t len, unsigned int flags) {
  if (!hook_self() || (flags & SPLICE_F_NONBLOCK)) return REAL(tee)(in, out, len, flags);
  return two_sided(in, out, [&] { return REAL(tee)(in, out, len, flags); });
}
