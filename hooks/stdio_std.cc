// stdin and stdout as green streams. glibc's own stdin and stdout read and
// write through internal calls the hooks never see, so a printf into a full
// pipe, or an fgets(stdin) on a socket, would stop every green thread. When
// fd 0 or 1 is a socket or a pipe (at start-up, or when dup2 puts one there),
// the stdin or stdout variable is pointed at a green stream on the same fd,
// buffered as glibc buffers it, and C++'s cin or cout follows. (stdin and
// stdout are ordinary variables that glibc itself reads on every call.)
//
// glibc's stream is replaced only when nothing is lost: it holds no unread
// input and is not wide-oriented; pending output is flushed first. A green
// stream is byte-oriented (fopencookie's are), so the first wide call on an
// unused green stdin or stdout gives it back to glibc, which would have
// made it wide natively (hooks/stdio_wide.cc). stderr stays glibc's: it is
// unbuffered, written a line at a time.
#include <stdio_ext.h>
#include <sys/stat.h>

#include <ext/stdio_sync_filebuf.h>
#include <iostream>

#include "hooks/hook.h"
#include "hooks/stdio_stream.h"
#include "preload/config.h"

namespace green {
namespace {

bool g_enabled;  // GREEN_STDIO=green, and start-up is done

// glibc's own stdin and stdout, whatever the program assigns later.
FILE* g_glibc_stream[2];

bool socket_or_pipe(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode));
}

// Unread input (pushed-back characters included) would be lost.
bool holds_input(FILE* fp) {
  return fp->_IO_read_ptr < fp->_IO_read_end || fp->_IO_save_base != nullptr;
}

// The green stream that takes over from old on fd, with old's buffering
// mode when the program has already chosen one, and old's EOF and error.
FILE* take_over(FILE* old, int fd, const char* mode) {
  if (fwide(old, 0) > 0 || holds_input(old)) return nullptr;
  if (__fpending(old) > 0 && REAL(fflush)(old) != 0) return nullptr;
  FILE* fp = stream_open(fd, mode);
  if (!fp) return nullptr;
  if (__fbufsize(old) == 1)  // glibc's unbuffered streams have a one-byte buffer
    setvbuf(fp, nullptr, _IONBF, 0);
  else if (__flbf(old))
    setvbuf(fp, nullptr, _IOLBF, 0);
  fp->_flags |= old->_flags & (_IO_EOF_SEEN | _IO_ERR_SEEN);
  return fp;
}

// A C++ stream still on glibc's FILE moves to the green one.
template <class Stream>
void follow(Stream& s, FILE* old, FILE* fp) {
  using SyncBuf = __gnu_cxx::stdio_sync_filebuf<char>;
  auto* buf = dynamic_cast<SyncBuf*>(s.rdbuf());
  if (buf && buf->file() == old) s.rdbuf(new SyncBuf(fp));
}

void take_over_std(int fd) {
  FILE*& var = fd == 0 ? stdin : stdout;
  if (var != g_glibc_stream[fd] || !socket_or_pipe(fd)) return;
  FILE* fp = take_over(var, fd, fd == 0 ? "r" : "w");
  if (!fp) return;
  FILE* old = var;
  var = fp;
  // cin and cout exist once an ios_base::Init has run; made now, they
  // are made on the green streams. Made earlier, they follow.
  static std::ios_base::Init cxx_streams;
  if (fd == 0)
    follow(std::cin, old, fp);
  else
    follow(std::cout, old, fp);
}

// Nothing read or written yet, and no EOF or error: natively the stream
// would still have no orientation.
bool unused(const FILE* fp, const Stream* s) {
  return !s->used && fp->_IO_write_ptr == fp->_IO_write_base &&
         fp->_IO_read_end == fp->_IO_read_base && !(fp->_flags & (_IO_EOF_SEEN | _IO_ERR_SEEN));
}

// glibc's stream takes fd back from the unused green one, with the
// buffering the program chose for it.
void give_back(int fd, Stream* s) {
  FILE*& var = fd == 0 ? stdin : stdout;
  FILE* fp = var;
  FILE* glibc = g_glibc_stream[fd];
  size_t size = __fbufsize(fp);
  int mode = size == 1 ? _IONBF : __flbf(fp) ? _IOLBF : _IOFBF;
  char* buffer = fp->_IO_buf_base == s->buffer ? nullptr : fp->_IO_buf_base;  // the program's own
  if (mode != _IOFBF || buffer) setvbuf(glibc, mode == _IONBF ? nullptr : buffer, mode, size);
  var = glibc;
  if (fd == 0)
    follow(std::cin, fp, glibc);
  else
    follow(std::cout, fp, glibc);
  s->keep_fd = true;
  fclose(fp);
}

}  // namespace

FILE* std_stream_for_wide(FILE* fp) {
  for (int fd = 0; fd < 2; fd++) {
    if (fp != (fd == 0 ? stdin : stdout) || fp == g_glibc_stream[fd]) continue;
    Stream* s = stream_find(fp);
    if (!s || !unused(fp, s)) continue;
    give_back(fd, s);
    return g_glibc_stream[fd];
  }
  return fp;
}

bool std_stream_unused(FILE* fp) {
  if (fp != stdin && fp != stdout) return false;
  Stream* s = stream_find(fp);
  return s && unused(fp, s);
}

void std_streams_start() {
  g_glibc_stream[0] = stdin;
  g_glibc_stream[1] = stdout;
  g_enabled = !config().native_stdio;
  if (!g_enabled) return;
  take_over_std(0);
  take_over_std(1);
}

void std_stream_replaced(int fd) {
  if (g_enabled && (fd == 0 || fd == 1)) take_over_std(fd);
}

}  // namespace green
