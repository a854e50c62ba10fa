// GREEN_* parsing: accepted forms and the one-line errors.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "preload/config.h"

namespace {

std::map<std::string, std::string> g_env;

const char* fake_getenv(const char* name) {
  auto it = g_env.find(name);
  return it == g_env.end() ? nullptr : it->second.c_str();
}

}  // namespace

TEST(Config, ParsesSizesWithSuffixes) {
  size_t v = 0;
  EXPECT_TRUE(green::parse_size("262144", &v));
  EXPECT_EQ(v, 262144u);
  EXPECT_TRUE(green::parse_size("256K", &v));
  EXPECT_EQ(v, 256u * 1024);
  EXPECT_TRUE(green::parse_size("1m", &v));
  EXPECT_EQ(v, 1u << 20);
  EXPECT_TRUE(green::parse_size("1G", &v));
  EXPECT_EQ(v, size_t(1) << 30);
}

TEST(Config, RejectsWhatIsNotASize) {
  size_t v = 0;
  for (const char* bad :
       {"", "bogus", "12abc", "-1", "K", "1KK", " 1", "1 ", "99999999999999999999"})
    EXPECT_FALSE(green::parse_size(bad, &v)) << bad;
}

TEST(Config, DefaultStackIsGlibcsAndTlsPrivate) {
  g_env.clear();
  green::Config c{};
  std::string error;
  ASSERT_TRUE(green::load_config(fake_getenv, &c, &error));
  EXPECT_EQ(c.stack_size, 0u);  // 0: what glibc gives a new thread
  EXPECT_FALSE(c.shared_tls);
}

TEST(Config, TlsTakesPrivateOrShared) {
  green::Config c{};
  std::string error;
  g_env = {{"GREEN_TLS", "shared"}};
  ASSERT_TRUE(green::load_config(fake_getenv, &c, &error));
  EXPECT_TRUE(c.shared_tls);
  for (const char* bad : {"", "Private", "on", "1"}) {
    g_env = {{"GREEN_TLS", bad}};
    EXPECT_FALSE(green::load_config(fake_getenv, &c, &error)) << bad;
    EXPECT_NE(error.find("GREEN_TLS"), std::string::npos) << error;
    EXPECT_NE(error.find("private"), std::string::npos) << error;
  }
}

TEST(Config, BadStackSizeGivesOneLineNamingTheVariable) {
  for (const char* bad : {"bogus", "0", "12abc", "1K", "2G"}) {
    g_env = {{"GREEN_STACK_SIZE", bad}};
    green::Config c{};
    std::string error;
    EXPECT_FALSE(green::load_config(fake_getenv, &c, &error)) << bad;
    EXPECT_NE(error.find("GREEN_STACK_SIZE"), std::string::npos);
    EXPECT_NE(error.find("16K to 1G"), std::string::npos);
    EXPECT_EQ(error.find('\n'), std::string::npos);
  }
}

TEST(Config, GoodStackSizeIsTaken) {
  g_env = {{"GREEN_STACK_SIZE", "512K"}};
  green::Config c{};
  std::string error;
  ASSERT_TRUE(green::load_config(fake_getenv, &c, &error));
  EXPECT_EQ(c.stack_size, 512u * 1024);
}

TEST(Config, DeadlockTakesReportOrAbort) {
  for (const char* good : {"report", "abort"}) {
    g_env = {{"GREEN_DEADLOCK", good}};
    green::Config c{};
    std::string error;
    ASSERT_TRUE(green::load_config(fake_getenv, &c, &error)) << good;
    EXPECT_EQ(c.deadlock_abort, std::string(good) == "abort");
  }
  for (const char* bad : {"", "Abort", "yes", "1"}) {
    g_env = {{"GREEN_DEADLOCK", bad}};
    green::Config c{};
    std::string error;
    EXPECT_FALSE(green::load_config(fake_getenv, &c, &error)) << bad;
    EXPECT_NE(error.find("GREEN_DEADLOCK"), std::string::npos);
    EXPECT_NE(error.find("report"), std::string::npos);
    EXPECT_NE(error.find("abort"), std::string::npos);
  }
}

TEST(Config, ThreadPoolTakesACount) {
  g_env = {{"GREEN_THREADPOOL", "32"}};
  green::Config c{};
  std::string error;
  ASSERT_TRUE(green::load_config(fake_getenv, &c, &error));
  EXPECT_EQ(c.pool_size, 32u);
  for (const char* bad : {"0", "1025", "8K", "x", ""}) {
    g_env = {{"GREEN_THREADPOOL", bad}};
    EXPECT_FALSE(green::load_config(fake_getenv, &c, &error)) << bad;
    EXPECT_NE(error.find("GREEN_THREADPOOL"), std::string::npos);
  }
}

// A misspelt GREEN_ name stops the program instead of leaving its setting
// silently at the default; names far from every variable are left alone.
TEST(Config, MisspeltNamesAreRefusedOthersLeftAlone) {
  std::string error;
  for (const char* typo :
       {"GREEN_MONTIOR_MS=100", "GREEN_STACKSIZE=1M", "GREEN_TSL=shared", "green_tls=shared",
        "GREEN_TIMESLICES=5", "GREEN_STAT=1", "GREEN_STACK=1M"}) {
    const char* env[] = {"HOME=/root", typo, nullptr};
    error.clear();
    EXPECT_FALSE(green::check_config_names(env, &error)) << typo;
    EXPECT_EQ(error.find("libgreen: "), 0u) << error;
    EXPECT_NE(error.find("did you mean GREEN_"), std::string::npos) << error;
    EXPECT_EQ(error.find('\n'), std::string::npos) << error;
  }
  const char* fine[] = {"GREEN_TLS=shared",
                        "GREEN_MONITOR_MS=100",
                        "GREEN_BUILD_DIR=/b",
                        "GREEN_TEST_TIMEOUT=5",
                        "GREEN_RUN=1",
                        "GREEN_=x",
                        "GREENHOUSE=1",
                        "GREEN_SYNC_PENDING=1",
                        "GREEN_MAX_THREADS=2",
                        "GREEN_PY_MAX_THREADS=2",
                        "GREEN_FAIR_NETNS=1",
                        "GREEN_SANITIZE=ON",
                        "GREEN_CPYTHON_NATIVE=1",
                        nullptr};
  EXPECT_TRUE(green::check_config_names(fine, &error)) << error;
  EXPECT_TRUE(green::check_config_names(nullptr, &error));
}

TEST(Config, AMisspeltNameNamesTheClosestVariable) {
  std::string error;
  const char* env[] = {"GREEN_STACK_SIZ=1M", nullptr};
  ASSERT_FALSE(green::check_config_names(env, &error));
  EXPECT_NE(error.find("did you mean GREEN_STACK_SIZE?"), std::string::npos) << error;
  const char* exact[] = {"GREEN_STATS=1", "GREEN_LOG=info", "GREEN_TLS=shared", nullptr};
  EXPECT_TRUE(green::check_config_names(exact, &error)) << error;
}
