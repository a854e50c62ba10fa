#include "preload/config.h"

#include <cerrno>
#include <cstdlib>

namespace green {
namespace {

constexpr size_t kMinStack = 16 * 1024;
constexpr size_t kMaxStack = size_t(1) << 30;

Config g_config{0, false, 16, false, false, false, 10};

std::string invalid(const ConfigVar& var, const char* text) {
  return std::string("libgreen: ") + var.name + "='" + text + "' is not valid: expected " +
         var.accepts;
}

}  // namespace

const ConfigVar kConfigVars[] = {
    {"GREEN_STACK_SIZE",
     "a stack size in bytes from 16K to 1G, with an optional K, M or G suffix (e.g. 256K), for "
     "threads whose attributes ask for none",
     "glibc's (RLIMIT_STACK: 8M here)"},
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
    {"GREEN_STDIO",
     "green (stdin and stdout, when a pipe or socket, become green streams) or native (they stay "
     "glibc's own, whose reads and writes block every green thread)",
     "green"},
    {"GREEN_TLS",
     "private (each green thread has its own __thread/thread_local variables, thread control "
     "block and thread id, as a native thread) or shared (the green threads of one OS thread share "
     "them)",
     "private"},
    {"GREEN_TIMESLICE",
     "off, or a time slice in milliseconds from 1 to 1000: a green thread that runs that long "
     "without parking is preempted and the others run",
     "10"},
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

namespace {

// Each parser takes the variable's text and sets its field; false when the
// text is not one of the values the variable accepts.
bool parse_stack(const char* text, Config* c) {
  size_t size = 0;
  if (!parse_size(text, &size) || size < kMinStack || size > kMaxStack) return false;
  c->stack_size = size;
  return true;
}

// One of two words: sets *second to whether it was the second.
bool parse_choice(const char* text, const char* first, const char* second_word, bool* second) {
  std::string word(text);
  if (word != first && word != second_word) return false;
  *second = word == second_word;
  return true;
}

bool parse_pool(const char* text, Config* c) {
  size_t n = 0;
  if (std::string(text).find_first_not_of("0123456789") != std::string::npos) return false;
  if (!parse_size(text, &n) || n < 1 || n > 1024) return false;
  c->pool_size = n;
  return true;
}

bool parse_timeslice(const char* text, Config* c) {
  if (std::string(text) == "off") {
    c->timeslice_ms = 0;
    return true;
  }
  size_t ms = 0;
  if (std::string(text).find_first_not_of("0123456789") != std::string::npos) return false;
  if (!parse_size(text, &ms) || ms < 1 || ms > 1000) return false;
  c->timeslice_ms = int(ms);
  return true;
}

using Parser = bool (*)(const char*, Config*);
const Parser kParsers[] = {
    parse_stack,
    [](const char* text, Config* c) {
      return parse_choice(text, "report", "abort", &c->deadlock_abort);
    },
    parse_pool,
    [](const char* text, Config* c) {
      return parse_choice(text, "direct", "threadpool", &c->file_io_pool);
    },
    [](const char* text, Config* c) {
      return parse_choice(text, "green", "native", &c->native_stdio);
    },
    [](const char* text, Config* c) {
      return parse_choice(text, "private", "shared", &c->shared_tls);
    },
    parse_timeslice,
};
static_assert(sizeof kParsers / sizeof kParsers[0] == sizeof kConfigVars / sizeof kConfigVars[0]);

}  // namespace

bool load_config(const char* (*getenv_fn)(const char*), Config* out, std::string* error) {
  Config c = g_config;
  for (size_t i = 0; i < kConfigVarCount; i++) {
    const char* text = getenv_fn(kConfigVars[i].name);
    if (text && !kParsers[i](text, &c)) {
      *error = invalid(kConfigVars[i], text);
      return false;
    }
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
