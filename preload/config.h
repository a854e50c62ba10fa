// GREEN_* environment variables: parsed once at start-up. A malformed value
// stops the program with one line naming the variable and what it accepts
// (exit status 2), never a silent default.
#pragma once
#include <cstddef>
#include <string>

namespace green {

struct Config {
  size_t stack_size;    // GREEN_STACK_SIZE (0: glibc's default for new threads)
  bool deadlock_abort;  // GREEN_DEADLOCK=abort
  size_t pool_size;     // GREEN_THREADPOOL
  bool file_io_pool;    // GREEN_FILE_IO=threadpool
  bool native_stdio;    // GREEN_STDIO=native
  bool shared_tls;      // GREEN_TLS=shared
  int timeslice_ms;     // GREEN_TIMESLICE (0: off)
  int log_level;        // GREEN_LOG: 0 debug, 1 info, 2 warn, 3 error, 4 off
  int monitor_ms;       // GREEN_MONITOR_MS (0: off)
  int dump_signal;      // GREEN_DUMP_SIGNAL (0: off)
  // GREEN_STATS: "" off, "-" a table on stderr, else a JSON file. A plain
  // array: the configuration must be constant-initialised, since the
  // preload's constructor fills it before other static initialisers run,
  // and it is read by exit handlers after static destructors.
  char stats[512];
};

struct ConfigVar {
  const char* name;
  const char* accepts;  // what the error line and the README say it takes
  const char* default_value;
  const char* option;  // green-run's option for it (--OPTION=VALUE)
  const char* bare;    // the value of a bare --OPTION, or null: a value is needed
  // For the tests (green-symbols --config): one value it accepts besides the
  // default, and values it must refuse (malformed, out of range, unknown
  // words), separated by '|'. A new variable without them fails the tests.
  const char* valid;
  const char* invalid;
};

// The variables libgreen reads, for the error lines and the README.
extern const ConfigVar kConfigVars[];
extern const size_t kConfigVarCount;

// Parses a size like "262144", "256K", "1M", "1G" (K/M/G are powers of 1024).
// Returns false when the text is not such a size.
bool parse_size(const char* text, size_t* out);

// Reads every GREEN_* variable through getenv_fn. On a bad value returns
// false and sets *error to the one line to print (without a newline).
bool load_config(const char* (*getenv_fn)(const char*), Config* out, std::string* error);

// A GREEN_ name in env (a null-terminated environ) that is not one libgreen
// reads but is within two edits of one, ignoring case: a misspelling that
// would otherwise leave the setting silently at its default. Returns false
// and sets *error to the one line to print. Other GREEN_ names are left
// alone: they may belong to other software (the project's own scripts use
// GREEN_BUILD_DIR).
bool check_config_names(const char* const* env, std::string* error);

// Checks one variable's text; on a bad value sets *error as load_config does.
bool check_config_var(const ConfigVar& var, const char* text, std::string* error);

// A signal by name (SIGQUIT, QUIT) or number; 0 when it is not one.
int parse_signal(const char* text);

const Config& config();  // the configuration loaded at start-up
void set_config(const Config& c);

}  // namespace green
