#include "hub/stack.h"

#include "hub/tcb.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <new>
#include <vector>

namespace green {
namespace {

// Stacks kept for reuse. Only the hub's OS thread touches the pool, and a
// stack is given back by Boost.Context after the switch away from it, so no
// lock is needed. Past kPoolLimit stacks are unmapped to give memory back.
constexpr size_t kPoolLimit = 1024;

struct FreeStack {
  void* base;  // lowest address, the guard page
  size_t size;
};

std::vector<FreeStack>& pool() {
  static auto* p = new std::vector<FreeStack>();  // never destroyed: used until exit
  return *p;
}

size_t page_size() {
  static const size_t page = size_t(sysconf(_SC_PAGESIZE));
  return page;
}

}  // namespace

size_t stack_size_for(size_t requested) {
  size_t page = page_size();
  size_t size = requested < kMinStackSize ? kMinStackSize : requested;
  return (size + page - 1) / page * page;
}

bool stack_allocate(size_t size, boost::context::stack_context* out) {
  size = stack_size_for(size);
  auto& free_stacks = pool();
  for (size_t i = free_stacks.size(); i-- > 0;) {
    if (free_stacks[i].size != size) continue;
    void* base = free_stacks[i].base;
    free_stacks[i] = free_stacks.back();
    free_stacks.pop_back();
    out->size = size;
    out->sp = static_cast<char*>(base) + page_size() + size;
    return true;
  }
  size_t total = size + page_size();
  void* base = mmap(nullptr, total, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (base == MAP_FAILED) return false;
  if (mprotect(base, page_size(), PROT_NONE) != 0) {
    int err = errno;
    munmap(base, total);
    errno = err;
    return false;
  }
  out->size = size;
  out->sp = static_cast<char*>(base) + total;
  return true;
}

void stack_release(boost::context::stack_context sctx) {
  char* base = static_cast<char*>(sctx.sp) - sctx.size - page_size();
  auto& free_stacks = pool();
  if (free_stacks.size() < kPoolLimit) {
    free_stacks.push_back(FreeStack{base, sctx.size});
    return;
  }
  munmap(base, sctx.size + page_size());
}

size_t stack_pool_size() {
  return pool().size();
}

void stack_pool_clear() {
  for (const FreeStack& s : pool()) munmap(s.base, s.size + page_size());
  pool().clear();
}

boost::context::stack_context StackAllocator::allocate() {
  boost::context::stack_context sctx;
  reserved = tp ? tcb_reserve() : 0;
  if (!stack_allocate(size + reserved, &sctx)) throw std::bad_alloc();
  if (reserved) {
    block = tcb_build(static_cast<char*>(sctx.sp), tid);
    if (!block) {
      stack_release(sctx);
      throw std::bad_alloc();
    }
    *tp = block;
    sctx.sp = static_cast<char*>(sctx.sp) - reserved;
    sctx.size -= reserved;
  }
  if (bounds) *bounds = StackBounds{static_cast<char*>(sctx.sp) - sctx.size, sctx.size};
  return sctx;
}

void StackAllocator::deallocate(boost::context::stack_context& sctx) noexcept {
  if (reserved) {
    tcb_release(block);
    sctx.sp = static_cast<char*>(sctx.sp) + reserved;
    sctx.size += reserved;
  }
  stack_release(sctx);
}

}  // namespace green
