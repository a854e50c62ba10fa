// The system calls that syscall() (hooks/syscall.cc) hands to a file of
// their own: each takes the six raw arguments and returns as syscall() does
// (-1 with errno on failure).
#pragma once

namespace green {

long futex_syscall(const long a[6]);           // hooks/futex.cc
long io_uring_enter_syscall(const long a[6]);  // hooks/io_uring.cc

}  // namespace green
