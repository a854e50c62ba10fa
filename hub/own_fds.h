// The runtime's own descriptors: libuv's epoll fd, its wake-up eventfd and
// its signal lock pipe, and the pidfds and signalfds the wait hooks open for
// a while. Natively none of them exists, so the program must not meet them:
// - they sit at the top of the RLIMIT_NOFILE range (at most 65536; below the
//   program's fds there, when it holds them), moved there with
//   F_DUPFD_CLOEXEC as they are created, so they never take fds
//   0-2 and the program's own numbers are the native ones (its first socket
//   is fd 3);
// - they are close-on-exec, so they never reach an exec'd program;
// - to the program they are fds it never opened: close, dup, fcntl, fstat...
//   give EBADF, a listing of /proc/self/fd leaves them out, close_range and
//   closefrom pass over them;
// - dup2/dup3 onto one moves it elsewhere first.
// Runtime code (RuntimeScope) and libuv see them as they are.
#pragma once
#include <uv.h>

#include "hub/function_ref.h"

namespace green {

// uv_loop_init and uv_loop_fork, with the loop's descriptors the runtime's own.
int own_loop_init(uv_loop_t* loop);
int own_loop_fork(uv_loop_t* loop);

// The hooks that create descriptors call these after the real call: when
// libuv is creating one for the runtime, it moves high and the number to
// return is the new one. caller is the hook's return address.
int own_fd_created(int fd, const void* caller);
void own_pipe_created(int fds[2], int flags, const void* caller);

// In a forked child, before libuv's child handler opens a new signal lock pipe.
void own_fds_after_fork();

// A descriptor the runtime opens for one call (a pidfd, a signalfd): moved
// high and hidden; *fd follows it if it has to move again. Release it before
// closing it.
void own_fd_temp(int* fd);
void own_fd_release(int fd);

// Whether fd is the runtime's and the caller is the program: the hook then
// fails with EBADF, as for an fd the program never opened.
bool own_fd_hidden(int fd);

// dup2/dup3 are about to replace fd: if it is the runtime's, move it away.
void own_fd_make_room(int fd);

// Calls each(first, last) for the parts of [first, last] without a
// descriptor of the runtime's, in order; stops at the first that fails
// (returns -1). Returns 0 or -1.
int own_fds_each_gap(unsigned first, unsigned last, FunctionRef<int(unsigned, unsigned)> each);

}  // namespace green
