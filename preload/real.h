// The real libc functions behind every hook, found with dlsym(RTLD_NEXT).
// REAL(name) resolves the table on first use, so a hook called before the
// preload's constructor (from another library's constructor, say) still
// reaches libc.
#pragma once
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

// The _FORTIFY_SOURCE entry points (glibc declares them only when fortifying).
extern "C" {
ssize_t __read_chk(int fd, void* buf, size_t nbytes, size_t buflen);
ssize_t __recv_chk(int fd, void* buf, size_t n, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void* buf, size_t n, size_t buflen, int flags, sockaddr* addr,
                       socklen_t* addr_len);
int __poll_chk(pollfd* fds, nfds_t nfds, int timeout, size_t fdslen);
int __printf_chk(int flag, const char* format, ...);
int __fprintf_chk(FILE* fp, int flag, const char* format, ...);
int __vprintf_chk(int flag, const char* format, va_list ap);
int __vfprintf_chk(FILE* fp, int flag, const char* format, va_list ap);
char* __fgets_chk(char* s, size_t size, int n, FILE* fp);
size_t __fread_chk(void* p, size_t len, size_t size, size_t n, FILE* fp);
// C's scanf family, as C programs (no _GNU_SOURCE) call it, and the old names
// of getc and putc.
int __isoc99_scanf(const char* format, ...);
int __isoc99_fscanf(FILE* fp, const char* format, ...);
int __isoc99_vscanf(const char* format, va_list ap);
int __isoc99_vfscanf(FILE* fp, const char* format, va_list ap);
int __vfwprintf_chk(FILE* fp, int flag, const wchar_t* format, va_list ap);
int __vwprintf_chk(int flag, const wchar_t* format, va_list ap);
int __fwprintf_chk(FILE* fp, int flag, const wchar_t* format, ...);
int __wprintf_chk(int flag, const wchar_t* format, ...);
wchar_t* __fgetws_chk(wchar_t* s, size_t size, int n, FILE* fp);
int __isoc99_vfwscanf(FILE* fp, const wchar_t* format, va_list ap);
int __isoc99_vwscanf(const wchar_t* format, va_list ap);
int __isoc99_fwscanf(FILE* fp, const wchar_t* format, ...);
int __isoc99_wscanf(const wchar_t* format, ...);
int _IO_getc(FILE* fp);
int _IO_putc(int c, FILE* fp);
// C's pthread_cleanup_push/pop (pthread.h declares them only for C).
void __pthread_register_cancel(__pthread_unwind_buf_t* buf);
void __pthread_unregister_cancel(__pthread_unwind_buf_t* buf);
[[noreturn]] void __pthread_unwind_next(__pthread_unwind_buf_t* buf);
// longjmp as _FORTIFY_SOURCE builds call it.
[[noreturn]] void __longjmp_chk(struct __jmp_buf_tag env[1], int val);
// The stat calls binaries built against glibc before 2.33 make.
int __fxstat(int ver, int fd, struct stat* st);
int __fxstat64(int ver, int fd, struct stat64* st);
int __fxstatat(int ver, int dirfd, const char* path, struct stat* st, int flags);
int __fxstatat64(int ver, int dirfd, const char* path, struct stat64* st, int flags);
}

namespace green::real {

#define GREEN_HOOK(family, name, doc) extern decltype(&::name) name;
#include "preload/symbols.def"
#undef GREEN_HOOK

void resolve_all();

}  // namespace green::real

#define REAL(name)                                   \
  (__builtin_expect(green::real::name != nullptr, 1) \
       ? green::real::name                           \
       : (green::real::resolve_all(), green::real::name))
