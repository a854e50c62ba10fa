// Work that must block (DNS, file locks, regular-file I/O on request) runs on
// libuv's thread pool while the calling green thread parks; the hub keeps
// running the others. The pool has GREEN_THREADPOOL threads unless the
// program's environment sets libuv's own UV_THREADPOOL_SIZE.
#pragma once
#include <cstddef>

#include "hub/function_ref.h"

namespace green {

// Runs work() on a pool thread (where hooks call straight through to libc)
// and returns when it is done. errno as work() left it travels back.
void run_on_pool(FunctionRef<void()> work);

// In a forked child: the parent's pool threads are not here (libuv's exit
// handler must not join them).
void pool_after_fork();

// How many pool threads to start (read once, at the first run_on_pool).
extern size_t g_pool_size;

}  // namespace green
