// The green stream registry: which FILEs are ours, their fds and their locks.
#include "hooks/stdio_stream.h"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "hooks/hook.h"
#include "hub/pointer_map.h"
#include "hub/spin_lock.h"
#include "hub/sync.h"

namespace green {
namespace {

SpinLock g_lock;             // guards streams(): streams may be used from any thread
std::atomic<size_t> g_open;  // streams().size(), read without the lock
PointerMap<FILE, Stream>& streams() {
  static auto* m = new PointerMap<FILE, Stream>();
  return *m;
}

void unref(Stream* s) {
  if (s->refs.fetch_sub(1) == 1) {
    free(s->buffer);
    delete s;
  }
}

// Takes the registry's reference out of the map; the caller drops it.
Stream* take_locked(FILE* fp) {
  Stream* s = streams().find(fp);
  if (!s) return nullptr;
  streams().erase(fp);
  g_open--;
  stream_detail::g_generation++;
  return s;
}

// glibc lays out every stream as its FILE followed by a pointer to the jump
// table its kind shares. A stream whose table is not fopencookie's cannot be
// green, which one load and compare tells. Null until the first green stream
// shows the table, and for good if one ever shows another.
std::atomic<const void*> g_cookie_jumps;
bool g_cookie_jumps_known;  // under g_lock
const void* jumps_of(const FILE* fp) {
  return *reinterpret_cast<const void* const*>(fp + 1);
}

void learn_jumps(const FILE* fp) {
  if (!g_cookie_jumps_known) {
    g_cookie_jumps = jumps_of(fp);
    g_cookie_jumps_known = true;
  } else if (g_cookie_jumps.load() != jumps_of(fp)) {
    g_cookie_jumps = nullptr;
  }
}

}  // namespace

namespace stream_detail {

thread_local LookupCache t_last[2];
thread_local unsigned t_next;  // the entry a miss replaces
std::atomic<uint64_t> g_generation;

Stream* lookup_slow(FILE* fp) {
  if (!fp || g_open.load(std::memory_order_relaxed) == 0) return nullptr;
  const void* jumps = g_cookie_jumps.load(std::memory_order_relaxed);
  if (jumps && jumps_of(fp) != jumps) return nullptr;
  uint64_t generation = g_generation.load(std::memory_order_acquire);
  g_lock.lock();
  Stream* s = streams().find(fp);
  g_lock.unlock();
  t_last[t_next] = {fp, s, generation};
  t_next ^= 1;
  return s;
}

}  // namespace stream_detail

namespace {

ssize_t cookie_read(void* cookie, char* buf, size_t size) {
  return read(static_cast<Stream*>(cookie)->fd, buf, size);
}

ssize_t cookie_write(void* cookie, const char* buf, size_t size) {
  ssize_t r = write(static_cast<Stream*>(cookie)->fd, buf, size);
  return r < 0 ? -1 : r;  // glibc: less than size is an error, as a short write natively
}

// The fd's own lseek, as glibc's file streams do: ESPIPE on a socket or a
// pipe, and a real position once freopen or dup2 has put a file there.
int cookie_seek(void* cookie, off64_t* offset, int whence) {
  off64_t r = lseek64(static_cast<Stream*>(cookie)->fd, *offset, whence);
  if (r < 0) return -1;
  *offset = r;
  return 0;
}

// The stream is gone from glibc's list: forget it here too, so its address
// is never taken for a green stream again (fclose has done so already).
int cookie_close(void* cookie) {
  auto* s = static_cast<Stream*>(cookie);
  int r = s->keep_fd ? 0 : close(s->fd);
  g_lock.lock();
  Stream* taken = streams().find(s->fp) == s ? take_locked(s->fp) : nullptr;
  g_lock.unlock();
  if (taken) unref(taken);
  return r;
}

// Whether fopen's mode fits the fd's access mode, as glibc's fdopen checks.
bool mode_fits(int fd, const char* mode) {
  int flags = REAL(fcntl)(fd, F_GETFL);
  if (flags < 0) return false;  // EBADF, from fcntl
  int access = flags & O_ACCMODE;
  bool plus = strchr(mode, '+') != nullptr;
  bool ok = plus ? access == O_RDWR : mode[0] == 'r' ? access != O_WRONLY : access != O_RDONLY;
  if (!ok) errno = EINVAL;
  return ok;
}

// glibc's _IO_file_doallocate: BUFSIZ, or st_blksize when that is smaller.
size_t buffer_size(int fd) {
  struct stat st;
  if (fstat(fd, &st) == 0 && st.st_blksize > 0 && st.st_blksize < BUFSIZ) return st.st_blksize;
  return BUFSIZ;
}

}  // namespace

FILE* stream_open(int fd, const char* mode) {
  if (!mode_fits(fd, mode)) return nullptr;
  auto* s = new Stream{nullptr, fd};
  FILE* fp = fopencookie(s, mode, {cookie_read, cookie_write, cookie_seek, cookie_close});
  if (!fp) {
    delete s;
    return nullptr;
  }
  size_t size = buffer_size(fd);
  s->buffer = static_cast<char*>(malloc(size));
  if (s->buffer) setvbuf(fp, s->buffer, _IOFBF, size);
  s->fp = fp;
  g_lock.lock();
  learn_jumps(fp);
  streams().insert(fp, s);
  g_open++;
  stream_detail::g_generation++;  // fp's address may have been a stream that was not green
  g_lock.unlock();
  return fp;
}

Stream* stream_find(FILE* fp) {
  return stream_detail::lookup(fp);
}

void stream_forget(FILE* fp) {
  g_lock.lock();
  Stream* taken = take_locked(fp);
  g_lock.unlock();
  if (taken) unref(taken);
}

void stream_lock(Stream* s) {
  mutex_lock(stream_mutex(s), kNoDeadline, false);
}

bool stream_trylock(Stream* s) {
  return mutex_lock(stream_mutex(s), kNoDeadline, true) == 0;
}

void stream_unlock(Stream* s) {
  mutex_unlock(stream_mutex(s));
}

void StreamGuard::enter() {
  if (stream_trylock(s_)) return;
  hold();  // a wait: a close meanwhile must not free the stream under it
  stream_lock(s_);
}

void StreamGuard::hold() {
  if (s_ && !held_) {
    s_->refs++;
    held_ = true;
  }
}

void StreamGuard::leave() {
  stream_unlock(s_);
  if (held_) unref(s_);
}

AllStreamsGuard::AllStreamsGuard(bool wait) {
  std::vector<Stream*> all;
  g_lock.lock();
  streams().for_each([&all](const FILE*, Stream* s) {
    s->refs++;
    all.push_back(s);
  });
  g_lock.unlock();
  std::sort(all.begin(), all.end());  // one order for every taker: no lock cycle
  for (Stream* s : all) {
    if (wait)
      stream_lock(s);
    else if (!stream_trylock(s)) {
      unref(s);
      continue;
    }
    held_.push_back(s);
  }
}

AllStreamsGuard::~AllStreamsGuard() {
  for (auto it = held_.rbegin(); it != held_.rend(); ++it) {
    stream_unlock(*it);
    unref(*it);
  }
}

// Registered before the program's own handlers, so it runs after them, just
// before glibc flushes every stream without any lock. A green stream that no
// green thread is inside stays locked from here on, so a thread that writes
// to it while the flush waits for a pipe waits too, instead of tearing the
// flush's buffer. One that a green thread is inside is left as it is: glibc
// flushes it as it would natively, racing that thread.
// With the heap exhausted it holds what it could lock before an allocation
// failed: exit must go on, as natively, not end in std::terminate.
void hold_streams_at_exit() {
  try {
    new AllStreamsGuard(false);  // never released: the process is ending
  } catch (const std::bad_alloc&) {
  }
}

void streams_after_fork() {
  new (&g_lock) SpinLock();  // another OS thread may have held it
  streams().for_each(
      [](const FILE*, Stream* s) { s->lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP; });
}

}  // namespace green
