#include "preload/config.h"

#include <cerrno>
#include <cstdlib>

namespace green {
namespace {

constexpr size_t kMinStack = 16 * 1024;
constexpr size_t kMaxStack = size_t(1) << 30;

Config g_config{256 * 1024, false, 16, false};

std::string invalid(const ConfigVar& var, const char* text) {
  return std::string("libgreen: ") + var.name + "='" + text + "' is not valid: expected " +
         var.accepts;
}

}  // namespace

const ConfigVar kConfigVars[] = {
    {"GREEN_STACK_SIZE",
     "a stack size in bytes from 16K to 1G, with an optional K, M or G suffix (e.g. 256K)", "256K"},
    {"GREEN_DEADLOCK",
     "report (print which green threads wait on what, then hang as natively) or abort (print it, "
     "then abort)",
     "report"},
    {"GREEN_THREADPOOL",
     "a number of thread-pool threads from 1 to 1024, for DNS and other work that must block "
     "(libuv's UV_THREADPOOL_SIZE wins when the program's environment sets it)",
     "16"},
    {"GREEN_FILE_IO",
     "direct (regular-file reads and writes run on the calling thread) or threadpool (open, read, "
     "write, pread, pwrite, fsync of regular files run on the thread pool)",
     "direct"},
};
const size_t kConfigVarCount = sizeof kConfigVars / sizeof kConfigVars[0];

bool parse_size(const char* text, size_t* out) {
  if (!text || *text < '0' || *text > '9') return false;
  errno = 0;
  char* end = nullptr;
  unsigned long long value = strtoull(text, &end, 10);
  if (errno != 0) return false;
  unsigned shift = 0;
  switch (*end) {
    case 'k':
    case 'K':
      shift = 10;
      end++;
      break;
    case 'm':
    case 'M':
      shift = 20;
      end++;
      break;
    case 'g':
    case 'G':
      shift = 30;
      end++;
      break;
    default:
      break;
  }
  if (*end != '\0') return false;
  if (value > (~0ULL >> shift)) return false;
  *out = size_t(value << shift);
  return true;
}

bool load_config(const char* (*getenv_fn)(const char*), Config* out, std::string* error) {
  Config c = g_config;
  const ConfigVar& stack = kConfigVars[0];
  if (const char* text = getenv_fn(stack.name)) {
    size_t size = 0;
    if (!parse_size(text, &size) || size < kMinStack || size > kMaxStack) {
      *error = invalid(stack, text);
      return false;
    }
    c.stack_size = size;
  }
  const ConfigVar& deadlock = kConfigVars[1];
  if (const char* text = getenv_fn(deadlock.name)) {
    if (std::string(text) != "report" && std::string(text) != "abort") {
      *error = invalid(deadlock, text);
      return false;
    }
    c.deadlock_abort = std::string(text) == "abort";
  }
  const ConfigVar& pool = kConfigVars[2];
  if (const char* text = getenv_fn(pool.name)) {
    size_t n = 0;
    if (!parse_size(text, &n) || n < 1 || n > 1024 ||
        std::string(text).find_first_not_of("0123456789") != std::string::npos) {
      *error = invalid(pool, text);
      return false;
    }
    c.pool_size = n;
  }
  const ConfigVar& file_io = kConfigVars[3];
  if (const char* text = getenv_fn(file_io.name)) {
    if (std::string(text) != "direct" && std::string(text) != "threadpool") {
      *error = invalid(file_io, text);
      return false;
    }
    c.file_io_pool = std::string(text) == "threadpool";
  }
  *out = c;
  return true;
}

const Config& config() {
  return g_config;
}
void set_config(const Config& c) {
  g_config = c;
}

}  // namespace green
