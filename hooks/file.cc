// Regular files and file locks. File I/O stays direct by default (the page
// cache answers at once); GREEN_FILE_IO=threadpool hands open, read, write,
// pread, pwrite, fsync and fdatasync of regular files to the thread pool. A
// flock or fcntl(F_SETLKW, F_OFD_SETLKW) that would block parks and tries
// again after growing sleeps, so the hub keeps running and a signal can
// interrupt it as natively. (The lock belongs to the process, or to the open
// file description, exactly as natively; the kernel's deadlock check for
// F_SETLKW is not made.)
#include <fcntl.h>
#include <sys/file.h>

#include <cstdarg>

#include "hooks/hook.h"

using namespace green;

bool green::g_file_io_pool = false;

bool green::file_on_pool(int fd) {
  if (!g_file_io_pool || !hook_self()) return false;
  FdEntry* e = fd_entry(fd);
  return e && e->kind == FdKind::kFile;
}

namespace {

bool creates(int flags) {
  return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
}

// A new fd from a call the runtime does not otherwise see: forget whatever
// the number meant before, it is classified on first use.
int opened(int fd) {
  if (fd >= 0 && hook_self()) fd_closing(fd);
  return fd;
}

template <class Open>
int green_open(Open&& real_open) {
  if (g_file_io_pool && hook_self()) return opened(on_pool(real_open));
  return opened(real_open());
}

}  // namespace

#define GREEN_OPEN_MODE(flags)      \
  mode_t mode = 0;                  \
  if (creates(flags)) {             \
    va_list ap;                     \
    va_start(ap, flags);            \
    mode = mode_t(va_arg(ap, int)); \
    va_end(ap);                     \
  }

extern "C" int open(const char* path, int flags, ...) {
  GREEN_OPEN_MODE(flags)
  return green_open([&] { return REAL(open)(path, flags, mode); });
}

extern "C" int open64(const char* path, int flags, ...) {
  GREEN_OPEN_MODE(flags)
  return green_open([&] { return REAL(open64)(path, flags, mode); });
}

extern "C" int openat(int dir, const char* path, int flags, ...) {
  GREEN_OPEN_MODE(flags)
  return green_open([&] { return REAL(openat)(dir, path, flags, mode); });
}

extern "C" int openat64(int dir, const char* path, int flags, ...) {
  GREEN_OPEN_MODE(flags)
  return green_open([&] { return REAL(openat64)(dir, path, flags, mode); });
}
#undef GREEN_OPEN_MODE

extern "C" int creat(const char* path, mode_t mode) {
  return green_open([&] { return REAL(creat)(path, mode); });
}

#define GREEN_FILE_CALL(ret, name, params, args)                           \
  extern "C" ret name params {                                             \
    if (file_on_pool(fd)) return on_pool([&] { return REAL(name) args; }); \
    return REAL(name) args;                                                \
  }

GREEN_FILE_CALL(ssize_t, pread, (int fd, void* buf, size_t n, off_t off), (fd, buf, n, off))
GREEN_FILE_CALL(ssize_t, pread64, (int fd, void* buf, size_t n, off64_t off), (fd, buf, n, off))
GREEN_FILE_CALL(ssize_t, pwrite, (int fd, const void* buf, size_t n, off_t off), (fd, buf, n, off))
GREEN_FILE_CALL(ssize_t, pwrite64, (int fd, const void* buf, size_t n, off64_t off),
                (fd, buf, n, off))
GREEN_FILE_CALL(int, fsync, (int fd), (fd))
GREEN_FILE_CALL(int, fdatasync, (int fd), (fd))
#undef GREEN_FILE_CALL

extern "C" int flock(int fd, int operation) noexcept {
  if ((operation & LOCK_NB) || (operation & LOCK_UN) || !hook_self())
    return REAL(flock)(fd, operation);
  return lock_retry([&] { return REAL(flock)(fd, operation | LOCK_NB); },
                    [](int err) { return err == EWOULDBLOCK; });
}
