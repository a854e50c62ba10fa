#include "hub/log.h"

#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>

#include "hub/runtime.h"

namespace green {

LogLevel g_log_level = LogLevel::kWarn;

void log_line(LogLevel level, const char* format, ...) {
  if (!log_enabled(level)) return;
  int saved_errno = errno;
  char line[1024];
  int n = snprintf(line, sizeof line, "libgreen: ");
  va_list ap;
  va_start(ap, format);
  int m = vsnprintf(line + n, sizeof line - size_t(n) - 1, format, ap);
  va_end(ap);
  size_t len = size_t(n) + (m < 0 ? 0 : size_t(m));
  if (len > sizeof line - 2) len = sizeof line - 2;
  line[len++] = '\n';
  RuntimeScope runtime;  // stderr may be a pipe: the write must not park
  ssize_t ignored = write(STDERR_FILENO, line, len);
  (void)ignored;
  errno = saved_errno;
}

}  // namespace green
