// Green FILE streams: fopencookie streams over a socket or pipe whose reads
// and writes are the hooked read and write, so a stream call that must wait
// parks the green thread. Buffering, EOF and error flags stay glibc's own.
//
// glibc's FILE lock is recursive per OS thread, and every green thread of a
// hub is the same OS thread to it: the lock lets a second green thread into
// a stream while the first is parked in the middle of a read or a write, and
// the two then tear the buffer between them. So each green stream also has a
// green lock (a recursive libgreen mutex, per green thread), which every
// stdio call that can wait takes first (hooks/stdio_locked.cc).
#pragma once
#include <pthread.h>
#include <stdio.h>

#include <atomic>
#include <cstdint>
#include <vector>

#include "hub/sync.h"

namespace green {

struct Stream {
  FILE* fp;
  int fd;
  pid_t child = -1;        // popen's child, for pclose
  char* buffer = nullptr;  // ours, sized as glibc sizes a stream's buffer for fd
  bool keep_fd = false;    // closing the stream leaves fd open (it goes back to glibc)
  bool used = false;       // a byte call has been made on it (natively: it has an orientation)
  pthread_mutex_t lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
  // The registry holds one reference while glibc has the FILE; each guard
  // holds one while it waits, so a stream closed under a waiter stays
  // memory until the waiter lets go.
  std::atomic<int> refs{1};
};

// A green stream on fd with fopen's mode, buffered as glibc would buffer a
// stream on fd: fully, with st_blksize bytes (at most BUFSIZ). Null with
// errno on failure (EINVAL when mode does not fit the fd's access mode).
FILE* stream_open(int fd, const char* mode);

// The green lock: a libgreen mutex living in the stream's pthread_mutex_t.
inline Mutex* stream_mutex(Stream* s) {
  return reinterpret_cast<Mutex*>(&s->lock);
}

// What a one-character call can be served from without any I/O.
enum class Buffered { kNo, kRead, kWrite };

// The green stream behind fp, or null for any other stream. The answer stays
// right while the caller uses fp, as glibc's FILE does.
Stream* stream_find(FILE* fp);

namespace stream_detail {
// The last two streams this OS thread asked about, and the answers: a loop
// of getc from stdin and putc to stdout asks about the same two again and
// again. Every open and close bumps the generation, which invalidates every
// thread's entries at once.
struct LookupCache {
  const FILE* fp;
  Stream* s;
  uint64_t generation;
};
extern thread_local LookupCache t_last[2] __attribute__((tls_model("initial-exec")));
extern std::atomic<uint64_t> g_generation;
Stream* lookup_slow(FILE* fp);

inline Stream* lookup(FILE* fp) {
  uint64_t generation = g_generation.load(std::memory_order_acquire);
  for (const LookupCache& c : t_last)
    if (c.fp == fp && c.generation == generation && fp) return c.s;
  return lookup_slow(fp);
}

// Whether glibc can serve a one-character call on fp from its buffer, with
// no read or write: getc's unread input, putc's room before the point where
// glibc flushes (for line-buffered streams, every character goes there).
inline bool from_buffer(const FILE* fp, Buffered use) {
  if (use == Buffered::kRead) return fp->_IO_read_ptr < fp->_IO_read_end;
  if (use == Buffered::kWrite) return fp->_IO_write_ptr < fp->_IO_write_end;
  return false;
}
}  // namespace stream_detail

// Forgets fp as a green stream, as fclose must before glibc frees fp.
void stream_forget(FILE* fp);

// The green lock by hand, for flockfile and funlockfile.
void stream_lock(Stream* s);
bool stream_trylock(Stream* s);
void stream_unlock(Stream* s);

// Holds fp's green lock for a scope when fp is a green stream. A call that
// can be served from the buffer (use) while no green thread is inside the
// stream cannot wait, and runs without the lock.
class StreamGuard {
 public:
  explicit StreamGuard(FILE* fp, Buffered use = Buffered::kNo) : s_(stream_detail::lookup(fp)) {
    if (!s_) return;
    s_->used = true;
    // Nobody inside, and the call cannot wait: nothing else can enter the
    // stream on this OS thread before it returns, so it needs no lock.
    if (!mutex_locked(stream_mutex(s_)) && stream_detail::from_buffer(fp, use))
      s_ = nullptr;
    else
      enter();
  }
  ~StreamGuard() {
    if (s_) leave();
  }
  StreamGuard(const StreamGuard&) = delete;
  StreamGuard& operator=(const StreamGuard&) = delete;
  Stream* stream() const { return s_; }
  // Keeps the stream's memory until the guard ends, even if it is closed.
  void hold();

 private:
  void enter();
  void leave();

  Stream* s_;
  bool held_ = false;
};

// Holds every green stream's lock, for calls on every stream (fflush(NULL)).
// Without wait, only those no thread holds.
class AllStreamsGuard {
 public:
  explicit AllStreamsGuard(bool wait = true);
  ~AllStreamsGuard();
  AllStreamsGuard(const AllStreamsGuard&) = delete;
  AllStreamsGuard& operator=(const AllStreamsGuard&) = delete;

 private:
  std::vector<Stream*> held_;
};

// stdin and stdout (hooks/stdio_std.cc): made green at start-up when fd 0
// or 1 is a socket or a pipe, and when dup, dup2 or dup3 puts one there.
void std_streams_start();
void std_stream_replaced(int fd);

// For a wide-character call on fp: when fp is a green stdin or stdout with
// nothing read or written yet, glibc's stream, given back; otherwise fp.
FILE* std_stream_for_wide(FILE* fp);
// Whether fp is a green stdin or stdout with nothing read or written yet.
bool std_stream_unused(FILE* fp);

// An atexit handler: the green locks held for exit's flush of every stream.
void hold_streams_at_exit();

// In a fork child only the forking green thread is left: as glibc resets
// every FILE lock in the child, the green locks start free again.
void streams_after_fork();

}  // namespace green
