// opendir, fdopendir, readdir, readdir64, closedir: a listing of the
// process's own fd directory (/proc/self/fd, /proc/PID/fd, /dev/fd) leaves
// out the runtime's descriptors (own_fds.h), as a listing made natively
// would never show them. Every other directory is listed unchanged; the
// check costs one load while no such listing is open.
#include <dirent.h>
#include <sys/stat.h>

#include <atomic>

#include "hooks/hook.h"
#include "hub/own_fds.h"
#include "hub/spin_lock.h"

using namespace green;

namespace {

// The fd listings open now. Past kMax more at once, the extra ones show all.
constexpr int kMax = 32;
DIR* g_listings[kMax];
std::atomic<int> g_open{0};
SpinLock g_lock;

// Whether dir lists this process's fd table: the same directory as
// /proc/self/fd (which /dev/fd and /proc/PID/fd are). Only a directory of
// procfs is compared with it.
bool lists_own_fds(DIR* dir) {
  static const dev_t proc_dev = [] {
    struct stat st;
    return stat("/proc", &st) == 0 ? st.st_dev : dev_t(-1);
  }();
  int saved = errno;
  struct stat st, self;
  bool own = REAL(fstat)(dirfd(dir), &st) == 0 && st.st_dev == proc_dev &&
             stat("/proc/self/fd", &self) == 0 && st.st_ino == self.st_ino;
  errno = saved;
  return own;
}

DIR* note(DIR* dir) {
  if (!dir || !lists_own_fds(dir)) return dir;
  g_lock.lock();
  for (DIR*& slot : g_listings) {
    if (slot) continue;
    slot = dir;
    g_open.fetch_add(1, std::memory_order_relaxed);
    break;
  }
  g_lock.unlock();
  return dir;
}

bool is_listing(DIR* dir) {
  if (g_open.load(std::memory_order_relaxed) == 0) return false;
  g_lock.lock();
  bool found = false;
  for (DIR* slot : g_listings) found |= slot == dir;
  g_lock.unlock();
  return found;
}

void forget(DIR* dir) {
  if (g_open.load(std::memory_order_relaxed) == 0) return;
  g_lock.lock();
  for (DIR*& slot : g_listings) {
    if (slot != dir) continue;
    slot = nullptr;
    g_open.fetch_sub(1, std::memory_order_relaxed);
  }
  g_lock.unlock();
}

// An entry naming one of the runtime's fds.
bool hidden_entry(const char* name) {
  int fd = 0;
  for (const char* p = name; *p; p++) {
    if (*p < '0' || *p > '9' || fd > 1 << 26) return false;
    fd = fd * 10 + (*p - '0');
  }
  return name[0] != 0 && own_fd_hidden(fd);
}

template <class Entry, class Real>
Entry* next_entry(DIR* dir, Real real) {
  Entry* e = real(dir);
  if (!e || !is_listing(dir)) return e;
  while (e && hidden_entry(e->d_name)) e = real(dir);
  return e;
}

}  // namespace

extern "C" DIR* opendir(const char* path) {
  return note(REAL(opendir)(path));
}

extern "C" DIR* fdopendir(int fd) {
  return note(REAL(fdopendir)(fd));
}

extern "C" int closedir(DIR* dir) {
  forget(dir);
  return REAL(closedir)(dir);
}

extern "C" dirent* readdir(DIR* dir) {
  return next_entry<dirent>(dir, REAL(readdir));
}

extern "C" dirent64* readdir64(DIR* dir) {
  return next_entry<dirent64>(dir, REAL(readdir64));
}
