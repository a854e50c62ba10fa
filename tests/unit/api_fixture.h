// A fixture for the green API's tests: every test must leave no green thread
// behind (live_threads() as before it began).
#pragma once
#include <green/green.h>
#include <gtest/gtest.h>

class GreenTest : public ::testing::Test {
 protected:
  void SetUp() override { live_before_ = green::live_threads(); }
  void TearDown() override {
    EXPECT_EQ(green::live_threads(), live_before_) << "leaked green threads";
  }

 private:
  size_t live_before_ = 0;
};
