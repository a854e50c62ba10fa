// FILE streams over sockets and pipes. glibc's stdio reads and writes through
// its internal __read/__write, out of the hooks' reach, so fdopen on a
// socket or pipe (and popen, built on it) returns a green stream
// (hooks/stdio_stream.h) whose reads and writes park. fileno answers the fd
// as natively; freopen, which glibc cannot do on such a stream, is done here;
// dprintf formats first, then writes with the green write.
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/wait.h>

#include <cstdlib>
#include <cstring>

#include "hooks/hook.h"
#include "hooks/stdio_stream.h"

extern char** environ;

using namespace green;

namespace {

// open(2) flags for fopen's mode, as glibc reads it.
int open_flags(const char* mode) {
  int flags = strchr(mode, '+') ? O_RDWR : mode[0] == 'r' ? O_RDONLY : O_WRONLY;
  if (mode[0] == 'w') flags |= O_CREAT | O_TRUNC;
  if (mode[0] == 'a') flags |= O_CREAT | O_APPEND;
  if (strchr(mode, 'x')) flags |= O_EXCL;
  if (strchr(mode, 'e')) flags |= O_CLOEXEC;
  return flags;
}

// freopen of a green stream, as glibc's freopen does it on a file stream:
// flush, open path (a null path reopens the fd itself), and put the new file
// on the stream's own fd number. The stream stays green, its direction
// (reading or writing) the one it was opened with. On failure the stream is
// closed, as POSIX says.
FILE* reopen(const char* path, const char* mode, FILE* fp) {
  Stream* s;
  int fd = -1;
  {
    StreamGuard guard(fp);
    s = guard.stream();
    REAL(fflush)(fp);
    char self[32];
    if (!path) {
      snprintf(self, sizeof self, "/proc/self/fd/%d", s->fd);
      path = self;
    }
    fd = open(path, open_flags(mode), 0666);
    if (fd >= 0 && fd != s->fd) {
      if (dup3(fd, s->fd, strchr(mode, 'e') ? O_CLOEXEC : 0) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        fd = -1;
      } else {
        close(fd);
        fd = s->fd;
      }
    }
    if (fd >= 0) clearerr(fp);
  }
  if (fd >= 0) return fp;
  int e = errno;
  fclose(fp);
  errno = e;
  return nullptr;
}

}  // namespace

extern "C" FILE* fdopen(int fd, const char* mode) noexcept {
  if (!green_fd(fd) || !mode || !*mode) return REAL(fdopen)(fd, mode);
  return stream_open(fd, mode);
}

extern "C" int fileno(FILE* fp) noexcept {
  if (Stream* s = stream_find(fp)) return s->fd;
  return REAL(fileno)(fp);
}

extern "C" int fileno_unlocked(FILE* fp) noexcept {
  if (Stream* s = stream_find(fp)) return s->fd;
  return REAL(fileno_unlocked)(fp);
}

extern "C" int fclose(FILE* fp) {
  StreamGuard guard(fp);
  if (guard.stream()) {
    guard.hold();       // freed once the guard lets go, after glibc's fclose
    stream_forget(fp);  // before glibc frees fp, whose address may come back
  }
  return REAL(fclose)(fp);
}

extern "C" FILE* freopen(const char* path, const char* mode, FILE* fp) {
  if (!mode || !stream_find(fp)) return REAL(freopen)(path, mode, fp);
  return reopen(path, mode, fp);
}

extern "C" int vdprintf(int fd, const char* format, va_list ap) {
  if (!green_fd(fd)) return REAL(vdprintf)(fd, format, ap);
  char* text;
  int n = vasprintf(&text, format, ap);
  if (n < 0) return n;
  ssize_t w = write(fd, text, n);  // the green write delivers every byte, or fails
  free(text);
  return w < 0 ? -1 : int(w);
}

extern "C" int dprintf(int fd, const char* format, ...) {
  va_list ap;
  va_start(ap, format);
  int r = vdprintf(fd, format, ap);
  va_end(ap);
  return r;
}

// popen: the shell's end of a pipe on its stdin or stdout, the other end a
// green stream; pclose waits with the green waitpid.
extern "C" FILE* popen(const char* command, const char* mode) {
  if (!hook_self() || !mode || (mode[0] != 'r' && mode[0] != 'w'))
    return REAL(popen)(command, mode);
  bool reading = mode[0] == 'r';
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return nullptr;
  int parent_end = reading ? fds[0] : fds[1], child_end = reading ? fds[1] : fds[0];
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, child_end, reading ? STDOUT_FILENO : STDIN_FILENO);
  const char* argv[] = {"sh", "-c", command, nullptr};
  pid_t pid;
  int err = posix_spawn(&pid, "/bin/sh", &actions, nullptr, const_cast<char**>(argv), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(child_end);
  if (err != 0) {
    close(parent_end);
    errno = err;
    return nullptr;
  }
  if (!strchr(mode, 'e'))
    REAL(fcntl)(parent_end, F_SETFD, 0);  // popen's fd is inherited unless "e"
  FILE* fp = stream_open(parent_end, reading ? "r" : "w");
  if (!fp) {
    close(parent_end);
    waitpid(pid, nullptr, 0);
    return nullptr;
  }
  stream_find(fp)->child = pid;
  return fp;
}

extern "C" int pclose(FILE* fp) {
  Stream* s = stream_find(fp);
  if (!s || s->child < 0) return REAL(pclose)(fp);
  pid_t pid = s->child;
  fclose(fp);
  int status;
  pid_t r;
  while ((r = waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
  }
  return r < 0 ? -1 : status;
}
