// fstat and its kin: the runtime's own fds (own_fds.h) are ones the program
// never opened, so asking about one gives EBADF, as it would natively. A
// program that counts its open fds with fstat (CPython's fd_status.py, a
// daemon's leak check) then counts only its own. Every other call reaches
// the kernel unchanged.
#include <sys/stat.h>

#include "hooks/hook.h"
#include "hub/own_fds.h"

using namespace green;

namespace {

int bad_fd() {
  errno = EBADF;
  return -1;
}

// The *at calls use dirfd unless the path is absolute; an empty path
// (AT_EMPTY_PATH, or none at all as newer kernels allow) means dirfd itself.
bool hidden_dir(int dirfd, const char* path) {
  return (!path || path[0] != '/') && own_fd_hidden(dirfd);
}

}  // namespace

extern "C" int fstat(int fd, struct stat* st) noexcept {
  return own_fd_hidden(fd) ? bad_fd() : REAL(fstat)(fd, st);
}

extern "C" int fstat64(int fd, struct stat64* st) noexcept {
  return own_fd_hidden(fd) ? bad_fd() : REAL(fstat64)(fd, st);
}

extern "C" int fstatat(int dirfd, const char* path, struct stat* st, int flags) noexcept {
  return hidden_dir(dirfd, path) ? bad_fd() : REAL(fstatat)(dirfd, path, st, flags);
}

extern "C" int fstatat64(int dirfd, const char* path, struct stat64* st, int flags) noexcept {
  return hidden_dir(dirfd, path) ? bad_fd() : REAL(fstatat64)(dirfd, path, st, flags);
}

extern "C" int statx(int dirfd, const char* path, int flags, unsigned mask,
                     struct statx* st) noexcept {
  return hidden_dir(dirfd, path) ? bad_fd() : REAL(statx)(dirfd, path, flags, mask, st);
}

// The names binaries built against glibc before 2.33 call.
extern "C" int __fxstat(int ver, int fd, struct stat* st) {
  return own_fd_hidden(fd) ? bad_fd() : REAL(__fxstat)(ver, fd, st);
}

extern "C" int __fxstat64(int ver, int fd, struct stat64* st) {
  return own_fd_hidden(fd) ? bad_fd() : REAL(__fxstat64)(ver, fd, st);
}

extern "C" int __fxstatat(int ver, int dirfd, const char* path, struct stat* st, int flags) {
  return hidden_dir(dirfd, path) ? bad_fd() : REAL(__fxstatat)(ver, dirfd, path, st, flags);
}

extern "C" int __fxstatat64(int ver, int dirfd, const char* path, struct stat64* st, int flags) {
  return hidden_dir(dirfd, path) ? bad_fd() : REAL(__fxstatat64)(ver, dirfd, path, st, flags);
}
