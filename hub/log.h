// The runtime's own messages: one line each on stderr, prefixed
// "libgreen:", at the level GREEN_LOG asks for and above.
#pragma once

namespace green {

enum class LogLevel : int { kDebug = 0, kInfo, kWarn, kError, kOff };

extern LogLevel g_log_level;

inline bool log_enabled(LogLevel level) {
  return level >= g_log_level && g_log_level != LogLevel::kOff;
}

// Formats into a fixed buffer (no allocation: it is called from signal
// handlers and the watchdog too) and writes it with one write(2).
void log_line(LogLevel level, const char* format, ...) __attribute__((format(printf, 2, 3)));

}  // namespace green
