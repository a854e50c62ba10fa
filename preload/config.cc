#include "preload/config.h"

#include <strings.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <csignal>
#include <cstdio>
#include <cstring>

namespace green {
namespace {

constexpr size_t kMinStack = 16 * 1024;
constexpr size_t kMaxStack = size_t(1) << 30;

constinit Config g_config{.stack_size = 0,
                          .deadlock_abort = false,
                          .pool_size = 16,
                          .file_io_pool = false,
                          .native_stdio = false,
                          .shared_tls = false,
                          .timeslice_ms = 10,
                          .log_level = 2,
                          .monitor_ms = 0,
                          .dump_signal = 0,
                          .stats = {}};

std::string invalid(const ConfigVar& var, const char* text) {
  return std::string("libgreen: ") + var.name + "='" + text + "' is not valid: expected " +
         var.accepts;
}

}  // namespace

const ConfigVar kConfigVars[] = {
    {"GREEN_STACK_SIZE",
     "a stack size in bytes from 16K to 1G, with an optional K, M or G suffix (e.g. 256K), for "
     "threads whose attributes ask for none",
     "glibc's (RLIMIT_STACK: 8M here)", "stack-size", nullptr, "512K",
     "bogus|0|15K|16383|2G|1073741825|12abc|-1|1T|256KB| 256K|99999999999999999999"},
    {"GREEN_DEADLOCK",
     "report (print which green threads wait on what, then hang as natively) or abort (print it, "
     "then abort)",
     "report", "deadlock", nullptr, "abort", "hang|Report|1|abort "},
    {"GREEN_THREADPOOL",
     "a number of thread-pool threads from 1 to 1024, for DNS and other work that must block "
     "(libuv's UV_THREADPOOL_SIZE wins when the program's environment sets it)",
     "16", "threadpool", nullptr, "4", "0|1025|many|4K|-2|1.5|+4"},
    {"GREEN_FILE_IO",
     "direct (regular-file reads and writes run on the calling thread) or threadpool (open, read, "
     "write, pread, pwrite, fsync of regular files run on the thread pool)",
     "direct", "file-io", nullptr, "threadpool", "pool|Direct|1"},
    {"GREEN_STDIO",
     "green (stdin and stdout, when a pipe or socket, become green streams) or native (they stay "
     "glibc's own, whose reads and writes block every green thread)",
     "green", "stdio", nullptr, "native", "buffered|Green|off|0"},
    {"GREEN_TLS",
     "private (each green thread has its own __thread/thread_local variables, thread control "
     "block and thread id, as a native thread) or shared (the green threads of one OS thread share "
     "them)",
     "private", "tls", nullptr, "shared", "none|Private|1"},
    {"GREEN_TIMESLICE",
     "off, or a time slice in milliseconds from 1 to 1000: a green thread that runs that long "
     "without parking is preempted and the others run",
     "10", "timeslice", nullptr, "5", "0|1001|on|10ms|-5|5K|OFF"},
    {"GREEN_LOG",
     "debug, info, warn, error or off: the runtime's own messages on stderr (prefixed "
     "libgreen:) at that level and above",
     "warn", "log", nullptr, "error", "loud|WARN|3|warning"},
    {"GREEN_MONITOR_MS",
     "off, or milliseconds from 1 to 60000: a green thread that holds the hub that long is "
     "reported on stderr with what it does (the system call it is in, or its stack)",
     "off", "monitor", "100", "200", "0|60001|fast|100ms|-1|1e3"},
    {"GREEN_DUMP_SIGNAL",
     "off, or a signal (SIGQUIT, QUIT, SIGUSR1, 3, ...) on which every green thread is listed "
     "on stderr with its state, how long it has been in it, and its stack; the program goes on",
     "off", "dump-signal", nullptr, "SIGUSR1",
     "NOPE|SIGKILL|SIGSTOP|SIGSEGV|KILL|9|0|65|SIGURG|-3|sigquit"},
    {"GREEN_STATS",
     "off, 1 (a table of the runtime's counters on stderr at exit) or a file path ending in "
     ".json, under 512 bytes (the same counters as JSON)",
     "off", "stats", "1", "1", "yes|0|2|stats.txt|.json|stats.JSON"},
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

// "off" (0) or a whole number of milliseconds from 1 to max.
bool parse_off_or_ms(const char* text, int max, int* out) {
  if (std::string(text) == "off") {
    *out = 0;
    return true;
  }
  size_t ms = 0;
  if (std::string(text).find_first_not_of("0123456789") != std::string::npos) return false;
  if (!parse_size(text, &ms) || ms < 1 || ms > size_t(max)) return false;
  *out = int(ms);
  return true;
}

bool parse_timeslice(const char* text, Config* c) {
  return parse_off_or_ms(text, 1000, &c->timeslice_ms);
}

bool parse_log(const char* text, Config* c) {
  static const char* const kLevels[] = {"debug", "info", "warn", "error", "off"};
  for (int i = 0; i < 5; i++)
    if (std::string(text) == kLevels[i]) {
      c->log_level = i;
      return true;
    }
  return false;
}

bool parse_monitor(const char* text, Config* c) {
  return parse_off_or_ms(text, 60000, &c->monitor_ms);
}

bool parse_dump_signal(const char* text, Config* c) {
  if (std::string(text) == "off") {
    c->dump_signal = 0;
    return true;
  }
  int sig = parse_signal(text);
  // Signals the program cannot catch, or that mean a fault.
  if (sig == 0 || sig == SIGKILL || sig == SIGSTOP || sig == SIGSEGV || sig == SIGBUS ||
      sig == SIGFPE || sig == SIGILL || sig == SIGURG || sig == 32 || sig == 33)
    return false;
  c->dump_signal = sig;
  return true;
}

bool parse_stats(const char* text, Config* c) {
  std::string t(text);
  if (t == "off") {
    c->stats[0] = '\0';
    return true;
  }
  if (t == "1") {
    snprintf(c->stats, sizeof c->stats, "-");
    return true;
  }
  if (t.size() <= 5 || t.compare(t.size() - 5, 5, ".json") != 0) return false;
  if (t.size() >= sizeof c->stats) return false;
  snprintf(c->stats, sizeof c->stats, "%s", text);
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
    parse_log,
    parse_monitor,
    parse_dump_signal,
    parse_stats,
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

namespace {

// Edits (insert, delete, change, swap of neighbours) between a and b,
// ignoring case; stops counting past kNearMiss.
constexpr size_t kNearMiss = 2;
constexpr size_t kLongestName = 64;

size_t edits_between(const char* a, size_t n, const char* b, size_t m) {
  if (n > kLongestName || m > kLongestName) return kNearMiss + 1;
  if (n > m + kNearMiss || m > n + kNearMiss) return kNearMiss + 1;
  size_t d[kLongestName + 1][kLongestName + 1];
  for (size_t i = 0; i <= n; i++) d[i][0] = i;
  for (size_t j = 0; j <= m; j++) d[0][j] = j;
  for (size_t i = 1; i <= n; i++) {
    for (size_t j = 1; j <= m; j++) {
      auto up = [](char c) { return toupper(static_cast<unsigned char>(c)); };
      size_t cost = up(a[i - 1]) == up(b[j - 1]) ? 0 : 1;
      size_t best = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && up(a[i - 1]) == up(b[j - 2]) && up(a[i - 2]) == up(b[j - 1]))
        best = std::min(best, d[i - 2][j - 2] + 1);
      d[i][j] = best;
    }
  }
  return d[n][m];
}

// The variable whose name is within kNearMiss edits of name[0..n) and
// closest to it, or null (also when it is one of them exactly).
const char* meant_variable(const char* name, size_t n) {
  const char* best = nullptr;
  size_t best_edits = kNearMiss + 1;
  for (size_t i = 0; i < kConfigVarCount; i++) {
    const char* known = kConfigVars[i].name;
    size_t m = strlen(known);
    if (n == m && strncmp(name, known, n) == 0) return nullptr;  // one libgreen reads
    size_t edits = edits_between(name, n, known, m);
    if (edits < best_edits) {
      best = known;
      best_edits = edits;
    }
  }
  return best;
}

}  // namespace

bool check_config_names(const char* const* env, std::string* error) {
  for (const char* const* e = env; e && *e; e++) {
    if (strncasecmp(*e, "GREEN_", 6) != 0) continue;
    const char* eq = strchr(*e, '=');
    size_t n = eq ? size_t(eq - *e) : strlen(*e);
    if (const char* meant = meant_variable(*e, n)) {
      *error = "libgreen: " + std::string(*e, n) +
               " is not a variable libgreen reads: did you mean " + meant + "?";
      return false;
    }
  }
  return true;
}

bool check_config_var(const ConfigVar& var, const char* text, std::string* error) {
  Config c = g_config;
  size_t i = size_t(&var - kConfigVars);
  if (i < kConfigVarCount && kParsers[i](text, &c)) return true;
  *error = invalid(var, text);
  return false;
}

int parse_signal(const char* text) {
  std::string t(text);
  if (!t.empty() && t.find_first_not_of("0123456789") == std::string::npos) {
    long n = strtol(text, nullptr, 10);
    return n >= 1 && n < NSIG ? int(n) : 0;
  }
  const char* name = t.compare(0, 3, "SIG") == 0 ? text + 3 : text;
  for (int sig = 1; sig < NSIG; sig++) {
    const char* abbrev = sigabbrev_np(sig);
    if (abbrev && strcmp(name, abbrev) == 0) return sig;
  }
  return 0;
}

const Config& config() {
  return g_config;
}
void set_config(const Config& c) {
  g_config = c;
}

}  // namespace green
