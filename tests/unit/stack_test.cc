// Green thread stacks: sizes, the pool, the guard page.
#include <gtest/gtest.h>
#include <unistd.h>

#include "hub/stack.h"

TEST(Stack, SizesRoundUpToPagesAndAMinimum) {
  size_t page = size_t(sysconf(_SC_PAGESIZE));
  EXPECT_EQ(green::stack_size_for(1), green::kMinStackSize);
  EXPECT_EQ(green::stack_size_for(green::kMinStackSize + 1), green::kMinStackSize + page);
  EXPECT_EQ(green::stack_size_for(256 * 1024), size_t(256 * 1024));
}

TEST(Stack, ReleasedStacksAreReused) {
  green::stack_pool_clear();  // earlier tests may have filled the pool to its limit
  boost::context::stack_context a, b;
  ASSERT_TRUE(green::stack_allocate(64 * 1024, &a));
  size_t pooled = green::stack_pool_size();
  green::stack_release(a);
  EXPECT_EQ(green::stack_pool_size(), pooled + 1);
  ASSERT_TRUE(green::stack_allocate(64 * 1024, &b));
  EXPECT_EQ(b.sp, a.sp);
  EXPECT_EQ(green::stack_pool_size(), pooled);
  green::stack_release(b);
}

TEST(Stack, UsableBytesAreWritable) {
  boost::context::stack_context s;
  ASSERT_TRUE(green::stack_allocate(32 * 1024, &s));
  char* top = static_cast<char*>(s.sp);
  top[-1] = 1;
  top[-long(s.size)] = 1;  // lowest usable byte
  green::stack_release(s);
}

TEST(StackDeathTest, GuardPageBelowTheStackFaults) {
  boost::context::stack_context s;
  ASSERT_TRUE(green::stack_allocate(32 * 1024, &s));
  char* lowest = static_cast<char*>(s.sp) - s.size;
  EXPECT_DEATH({ *(volatile char*)(lowest - 1) = 1; }, "");
  green::stack_release(s);
}
