// fork, vfork, the wait family and system(). A forked child keeps only the
// calling thread, as natively: the hub forgets every other green thread and
// gives libuv a fresh epoll instance (uv_loop_fork). wait* park while the
// child runs: on a pidfd for one pid, else by looking again after short,
// growing sleeps. system() is rebuilt on posix_spawn and the green waitpid.
#include <spawn.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "hooks/hook.h"
#include "hooks/stdio_stream.h"
#include "hub/own_fds.h"
#include "hub/signal.h"

extern char** environ;

using namespace green;

namespace {

// Waits for the child to change state, looking again after growing sleeps
// (1 ms to 16 ms). For one pid a pidfd also wakes the wait at the child's
// exit; it says nothing of stops and continues, which the program may have
// asked for (WUNTRACED, WCONTINUED) or gets unasked as a tracer (a ptrace
// stop), so the sleeps go on beside it, growing to 64 ms. Returns -1 with
// EINTR when a handled signal interrupted the wait (or retries under
// SA_RESTART, as the kernel does).
template <class Check>
long wait_child(pid_t pid, bool exits_only, Check&& check) {
  const int entry_errno = errno;
  int pidfd = pid > 0 && exits_only ? int(syscall(SYS_pidfd_open, pid, 0)) : -1;
  own_fd_temp(&pidfd);  // the runtime's, not the program's
  const int64_t max_backoff = pidfd >= 0 ? 64000000 : 16000000;
  long r;
  for (int64_t backoff = 1000000;; backoff = std::min(backoff * 2, max_backoff)) {
    r = check();
    if (r != 0) break;
    WakeReason why;
    FdEntry* e = pidfd >= 0 ? fd_entry(pidfd) : nullptr;
    if (e)
      why = wait_fd(e, kWantRead, deadline_after(backoff), true);
    else
      why = sleep_until(deadline_after(backoff));
    if (why == WakeReason::kSignal && !tls.current->signal_restart) {
      errno = EINTR;
      r = -1;
      break;
    }
    if (why == WakeReason::kCancel) {
      errno = ECANCELED;
      r = -1;
      break;
    }
  }
  if (pidfd >= 0) {
    own_fd_release(pidfd);
    close(pidfd);
  }
  if (r >= 0) errno = entry_errno;
  return r;
}

pid_t green_wait4(pid_t pid, int* status, int options, rusage* usage) {
  if ((options & WNOHANG) || !hook_self()) return REAL(wait4)(pid, status, options, usage);
  CancelPoint cp(tls.current);
  return pid_t(cp.done(wait_child(pid, !(options & (WUNTRACED | WCONTINUED)), [&] {
    return long(REAL(wait4)(pid, status, options | WNOHANG, usage));
  })));
}

}  // namespace

extern "C" pid_t fork() noexcept {
  GreenThread* self = hook_self();
  pid_t pid = REAL(fork)();
  if (pid == 0 && self) {
    forked_child();
    signal_forked_child(self);
  }
  if (pid == 0) streams_after_fork();
  return pid;
}

// A vfork child shares the parent's memory, where every hook would change
// the parent's runtime: give it a copy instead (POSIX allows vfork to be fork).
extern "C" pid_t vfork() noexcept {
  return fork();
}

extern "C" pid_t wait4(pid_t pid, int* status, int options, rusage* usage) noexcept {
  return green_wait4(pid, status, options, usage);
}

extern "C" pid_t wait3(int* status, int options, rusage* usage) noexcept {
  return green_wait4(-1, status, options, usage);
}

extern "C" pid_t waitpid(pid_t pid, int* status, int options) {
  return green_wait4(pid, status, options, nullptr);
}

extern "C" pid_t wait(int* status) {
  return green_wait4(-1, status, 0, nullptr);
}

extern "C" int waitid(idtype_t type, id_t id, siginfo_t* info, int options) {
  if ((options & WNOHANG) || !hook_self()) return REAL(waitid)(type, id, info, options);
  CancelPoint cp(tls.current);
  pid_t pid = type == P_PID ? pid_t(id) : -1;
  return int(cp.done(wait_child(pid, !(options & (WSTOPPED | WCONTINUED)),
                                [&]() -> long {
                                  info->si_pid = 0;
                                  int r = REAL(waitid)(type, id, info, options | WNOHANG);
                                  if (r < 0) return -1;
                                  return info->si_pid != 0 ? 1 : 0;
                                })) > 0
                 ? 0
                 : -1);
}

// glibc's system(), with the wait made green: SIGINT and SIGQUIT ignored and
// SIGCHLD blocked in the caller while the shell runs.
extern "C" int system(const char* command) {
  if (!command || !hook_self()) return REAL(system)(command);
  struct sigaction ignore {
  }, old_int, old_quit;
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  sigaction(SIGINT, &ignore, &old_int);
  sigaction(SIGQUIT, &ignore, &old_quit);
  sigset_t child, old_mask;
  sigemptyset(&child);
  sigaddset(&child, SIGCHLD);
  sigprocmask(SIG_BLOCK, &child, &old_mask);

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t defaults;
  sigemptyset(&defaults);
  if (old_int.sa_handler != SIG_IGN) sigaddset(&defaults, SIGINT);
  if (old_quit.sa_handler != SIG_IGN) sigaddset(&defaults, SIGQUIT);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setsigmask(&attr, &old_mask);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  const char* argv[] = {"sh", "-c", command, nullptr};
  pid_t pid;
  int status = -1;
  int err = posix_spawn(&pid, "/bin/sh", nullptr, &attr, const_cast<char**>(argv), environ);
  posix_spawnattr_destroy(&attr);
  if (err == 0) {
    try {
      while (green_wait4(pid, &status, 0, nullptr) < 0 && errno == EINTR) {
      }
    } catch (...) {        // cancelled, or a kill or Timeout of the C++ API: as glibc's
      kill(pid, SIGKILL);  // cancellation handler, the shell goes and is reaped
      REAL(waitpid)(pid, &status, 0);
      sigaction(SIGINT, &old_int, nullptr);
      sigaction(SIGQUIT, &old_quit, nullptr);
      sigprocmask(SIG_SETMASK, &old_mask, nullptr);
      throw;
    }
  } else {
    status = 127 << 8;  // as glibc: the shell could not be run
  }
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGQUIT, &old_quit, nullptr);
  sigprocmask(SIG_SETMASK, &old_mask, nullptr);
  return status;
}
