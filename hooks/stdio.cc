// FILE streams over sockets and pipes. glibc's stdio reads and writes through
// its internal __read/__write, out of the hooks' reach, so fdopen on a
// socket or pipe (and popen, built on it) returns a fopencookie stream whose
// reads and writes are the green read and write: buffering, EOF and error
// flags are glibc's own, the waiting parks. fileno answers the fd as
// natively. (stdin, stdout and stderr themselves stay glibc's streams.)
#include <spawn.h>
#include <stdio.h>
#include <sys/wait.h>

#include <cstring>
#include <unordered_map>

#include "hooks/hook.h"
#include "hub/spin_lock.h"

extern char** environ;

using namespace green;

namespace {

struct Cookie {
  int fd;
  pid_t child = -1;  // popen's child, for pclose
};

SpinLock g_lock;  // guards g_streams: streams may be used from any thread
std::unordered_map<FILE*, Cookie*>& streams() {
  static auto* m = new std::unordered_map<FILE*, Cookie*>();
  return *m;
}

Cookie* find(FILE* fp) {
  g_lock.lock();
  auto it = streams().find(fp);
  Cookie* c = it == streams().end() ? nullptr : it->second;
  g_lock.unlock();
  return c;
}

void forget(FILE* fp) {
  g_lock.lock();
  streams().erase(fp);
  g_lock.unlock();
}

ssize_t cookie_read(void* cookie, char* buf, size_t size) {
  return read(static_cast<Cookie*>(cookie)->fd, buf, size);
}

ssize_t cookie_write(void* cookie, const char* buf, size_t size) {
  ssize_t r = write(static_cast<Cookie*>(cookie)->fd, buf, size);
  return r < 0 ? -1 : r;  // glibc: less than size is an error, as a short write natively
}

int cookie_seek(void*, off64_t*, int) {
  errno = ESPIPE;  // sockets and pipes do not seek
  return -1;
}

int cookie_close(void* cookie) {
  auto* c = static_cast<Cookie*>(cookie);
  int r = close(c->fd);
  delete c;
  return r;
}

// Whether fdopen's mode fits the fd's access mode, as glibc checks.
bool mode_fits(int fd, const char* mode) {
  int flags = REAL(fcntl)(fd, F_GETFL);
  if (flags < 0) return false;  // EBADF, from fcntl
  int access = flags & O_ACCMODE;
  bool plus = strchr(mode, '+') != nullptr;
  bool ok = plus ? access == O_RDWR : mode[0] == 'r' ? access != O_WRONLY : access != O_RDONLY;
  if (!ok) errno = EINVAL;
  return ok;
}

FILE* green_stream(int fd, const char* mode) {
  if (!mode_fits(fd, mode)) return nullptr;
  auto* c = new Cookie{fd};
  FILE* fp = fopencookie(c, mode, {cookie_read, cookie_write, cookie_seek, cookie_close});
  if (!fp) {
    delete c;
    return nullptr;
  }
  g_lock.lock();
  streams()[fp] = c;
  g_lock.unlock();
  return fp;
}

}  // namespace

extern "C" FILE* fdopen(int fd, const char* mode) noexcept {
  if (!green_fd(fd) || !mode || !*mode) return REAL(fdopen)(fd, mode);
  return green_stream(fd, mode);
}

extern "C" int fileno(FILE* fp) noexcept {
  if (Cookie* c = find(fp)) return c->fd;
  return REAL(fileno)(fp);
}

extern "C" int fileno_unlocked(FILE* fp) noexcept {
  if (Cookie* c = find(fp)) return c->fd;
  return REAL(fileno_unlocked)(fp);
}

extern "C" int fclose(FILE* fp) {
  if (find(fp)) forget(fp);
  return REAL(fclose)(fp);
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
  FILE* fp = green_stream(parent_end, reading ? "r" : "w");
  if (!fp) {
    close(parent_end);
    waitpid(pid, nullptr, 0);
    return nullptr;
  }
  find(fp)->child = pid;
  return fp;
}

extern "C" int pclose(FILE* fp) {
  Cookie* c = find(fp);
  if (!c || c->child < 0) return REAL(pclose)(fp);
  pid_t pid = c->child;
  forget(fp);
  REAL(fclose)(fp);
  int status;
  pid_t r;
  while ((r = waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
  }
  return r < 0 ? -1 : status;
}
