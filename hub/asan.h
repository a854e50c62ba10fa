// AddressSanitizer must be told when execution moves to another stack, or it
// mistakes a fiber switch for stack corruption. No-ops in a normal build.
#pragma once
#include <cstddef>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#endif

namespace green {

struct StackBounds {
  const void* bottom = nullptr;
  size_t size = 0;
};

// Before switching to a stack; fake_stack is null when the current context
// will never run again.
inline void asan_leaving(void** fake_stack, const StackBounds& to) {
#if defined(__SANITIZE_ADDRESS__)
  __sanitizer_start_switch_fiber(fake_stack, to.bottom, to.size);
#else
  (void)fake_stack;
  (void)to;
#endif
}

// First thing after arriving; `from` receives the bounds of the stack left.
inline void asan_arrived(void* fake_stack, StackBounds* from) {
#if defined(__SANITIZE_ADDRESS__)
  const void* bottom = nullptr;
  size_t size = 0;
  __sanitizer_finish_switch_fiber(fake_stack, &bottom, &size);
  if (from) *from = StackBounds{bottom, size};
#else
  (void)fake_stack;
  (void)from;
#endif
}

}  // namespace green
