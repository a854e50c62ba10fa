// Stacks for green threads: mmap'd regions with a PROT_NONE guard page below
// the usable part, recycled through a pool so a busy server does not mmap and
// munmap on every connection. StackAllocator adapts the pool to Boost.Context.
#pragma once
#include <boost/context/stack_context.hpp>
#include <sys/types.h>

#include <cstddef>

#include "hub/asan.h"

namespace green {

constexpr size_t kDefaultStackSize = 256 * 1024;
constexpr size_t kMinStackSize = 16 * 1024;

// Rounds a requested size up to whole pages and at least kMinStackSize.
size_t stack_size_for(size_t requested);

// Returns false (errno set, usually ENOMEM) when no stack can be had.
bool stack_allocate(size_t size, boost::context::stack_context* out);
void stack_release(boost::context::stack_context sctx);
size_t stack_pool_size();  // stacks waiting in the pool, for tests
void stack_pool_clear();   // unmaps every pooled stack

// With tp set and GREEN_TLS=private, the top tcb_reserve() bytes of the
// stack hold the thread's TLS and struct pthread (hub/tcb.h), built for
// thread id tid; *tp receives its thread pointer.
struct StackAllocator {
  size_t size;
  StackBounds* bounds = nullptr;  // where to note the usable range, if anywhere
  void** tp = nullptr;
  pid_t tid = 0;
  size_t reserved = 0;                       // set by allocate: the block's bytes
  void* block = nullptr;                     // and its thread pointer
  boost::context::stack_context allocate();  // throws std::bad_alloc
  void deallocate(boost::context::stack_context& sctx) noexcept;
};

}  // namespace green
