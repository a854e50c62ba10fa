// Thread control blocks: with GREEN_TLS=private every green thread gets what
// glibc gives a new native thread, a static TLS block for every module and a
// struct pthread above it, laid out by glibc's own loader
// (_dl_allocate_tls). The hub switches the thread pointer (FS base) on every
// switch, so __thread/thread_local variables, errno, the C++ exception state,
// uselocale and the strsignal/strerror buffers are each green thread's own;
// malloc's arena and thread cache are the OS thread's (hub/tcb.cc says why).
//
// The block sits at the top of the green thread's stack mapping, as glibc
// puts a native thread's descriptor at the top of its stack: the pages it
// touches are pages the stack's first frames touch anyway.
#pragma once
#include <sys/types.h>

#include <cstddef>

namespace green {

// GREEN_TLS=private (set by the preload before the first green thread).
extern bool g_private_tls;

// Looks up glibc's TLS allocator and struct pthread layout and checks them
// against the calling thread's own block. False (with *why set) when this
// glibc is not one the blocks can be built for: the preload then refuses to
// start rather than share TLS silently.
bool tcb_init(const char** why);

// Bytes taken from the top of every stack for the block (0 when shared).
size_t tcb_reserve();

// Builds a block whose highest byte is just below top (the reserve is
// [top - tcb_reserve(), top)), for a thread with kernel-style id tid.
// Returns its thread pointer, or null with errno EAGAIN (no memory for the
// DTV), as pthread_create fails natively.
void* tcb_build(char* top, pid_t tid);

// Frees what the block's DTV points to (blocks of dlopen'ed modules). Called
// once the thread has finished and never runs again.
void tcb_release(void* tp);

// On a thread glibc made (the preload's start-up thread): learns where a
// native thread's resolver state sits in its struct pthread. Until then
// green threads share the process's __res_state.
void tcb_note_native_thread();

// On the new thread itself, before its start routine: what glibc's thread
// start does on a new block (ctype table pointers, the resolver state).
void tcb_thread_start();

// Runs the thread's thread_local destructors (__cxa_thread_atexit_impl),
// on the exiting thread itself, as glibc's thread start does after the start
// routine returns.
void tcb_thread_exit();

// The last thing on an exiting thread, after which it allocates nothing:
// frees its strsignal/strerror buffers, as glibc's thread exit does, and a
// malloc cache of its own if it made one (it normally shares its creator's).
void tcb_thread_end();

// dlopen, with what glibc's loader does for the threads it knows and cannot
// do for green ones: a module it places in static TLS (initial-exec TLS
// models, DF_STATIC_TLS) gets its initial image in every live green block.
// open(file, mode, caller) is the real dlopen, called so that glibc sees
// caller as the calling object (its RUNPATH, its namespace).
void* tcb_dlopen(void* (*open)(const char*, int, const void*), const char* file, int mode,
                 const void* caller);

// The id glibc records in the block's struct pthread (its owner checks of
// process-shared and robust mutexes compare it).
void tcb_set_tid(void* tp, pid_t tid);

// The thread pointer of the calling context, and the switch of it. Each
// fiber always runs with its own thread pointer: the switch happens just
// before the jump into the fiber, so code on a fiber never sees another's.
void* thread_pointer();
void set_thread_pointer(void* tp);

// The kernel's id of the calling OS thread (the system call itself: the
// runtime must not ask its own gettid hook).
pid_t kernel_tid();

// The next id for a green thread: above the kernel's pid_max, so it can
// never name a real task, and never reused while the process lives.
pid_t next_green_tid();

}  // namespace green
