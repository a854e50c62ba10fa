// The runtime's context switch (hub/switch.h): Boost's jump_fcontext entered
// through green_switch_fcontext, which must behave as fiber::resume() does,
// including a fiber destroyed while it is suspended in it.
#include <gtest/gtest.h>

#include <stdexcept>

#include <boost/context/protected_fixedsize_stack.hpp>

#include "hub/switch.h"

namespace ctx = boost::context;

namespace {

ctx::protected_fixedsize_stack test_stack() {
  return ctx::protected_fixedsize_stack(64 * 1024);
}

// These fibers switch stacks without telling ASan (the hub's do, hub/asan.h,
// and run the same switch under ASan in every other test): here they run in
// the plain build only.
#if defined(__SANITIZE_ADDRESS__)
#define SKIP_UNDER_ASAN() GTEST_SKIP() << "bare fibers without ASan's stack annotations"
#else
#define SKIP_UNDER_ASAN() (void)0
#endif

// Resumes f through the shim and keeps the context it comes back with.
void resume(ctx::fiber& f) {
  green::fiber_context(f) = green::switch_to(f);
}

// Counts each time it runs and leaves through the shim again, until it is
// destroyed; `unwound` tells that its frames were unwound then.
ctx::fiber counting_fiber(int* steps, bool* unwound) {
  return ctx::fiber(std::allocator_arg, test_stack(), [steps, unwound](ctx::fiber&& caller) {
    struct Guard {
      bool* unwound;
      ~Guard() { *unwound = true; }
    } guard{unwound};
    for (;;) {
      ++*steps;
      resume(caller);
    }
    return std::move(caller);
  });
}

}  // namespace

TEST(Switch, AlternatesWithAFiberLikeResume) {
  SKIP_UNDER_ASAN();
  int steps = 0;
  bool unwound = false;
  ctx::fiber f = counting_fiber(&steps, &unwound);
  for (int i = 1; i <= 1000; i++) {
    resume(f);
    ASSERT_EQ(steps, i);
    ASSERT_NE(green::fiber_context(f), nullptr);  // suspended, not finished
  }
  EXPECT_FALSE(unwound);
}

TEST(Switch, AFiberSuspendedInTheShimUnwindsWhenDestroyed) {
  SKIP_UNDER_ASAN();
  int steps = 0;
  bool unwound = false;
  {
    ctx::fiber f = counting_fiber(&steps, &unwound);
    resume(f);
    resume(f);
  }  // ~fiber throws forced_unwind on top of the shim's saved context
  EXPECT_EQ(steps, 2);
  EXPECT_TRUE(unwound);
}

TEST(Switch, AnExceptionInsideAFiberCrossesFramesAfterASwitch) {
  SKIP_UNDER_ASAN();
  bool caught = false;
  ctx::fiber f(std::allocator_arg, test_stack(), [&caught](ctx::fiber&& caller) {
    resume(caller);
    try {
      throw std::runtime_error("inside");
    } catch (const std::runtime_error&) {
      caught = true;
    }
    return std::move(caller);
  });
  resume(f);
  EXPECT_FALSE(caught);
  resume(f);
  EXPECT_TRUE(caught);
  EXPECT_EQ(green::fiber_context(f), nullptr);  // finished
}
