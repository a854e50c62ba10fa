// A fixture for the green API's tests: every test must leave no green thread
// and no file descriptor behind (as many as before it began).
#pragma once
#include <dirent.h>
#include <green/green.h>
#include <gtest/gtest.h>

class GreenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    live_before_ = green::live_threads();  // the first call makes the hub: its fds count as before
    fds_before_ = open_fds();
  }
  void TearDown() override {
    EXPECT_EQ(green::live_threads(), live_before_) << "leaked green threads";
    EXPECT_EQ(open_fds(), fds_before_) << "leaked file descriptors";
  }

 private:
  static size_t open_fds() {
    size_t n = 0;
    if (DIR* d = opendir("/proc/self/fd")) {
      while (readdir(d)) n++;
      closedir(d);
    }
    return n;
  }
  size_t live_before_ = 0;
  size_t fds_before_ = 0;
};
