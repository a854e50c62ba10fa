// The runtime's counters (GREEN_STATS): plain counters bumped on the hub's
// OS thread, printed at exit as a table on stderr or written as JSON.
#pragma once
#include <cstddef>
#include <cstdint>

namespace green {

struct Stats {
  uint64_t threads_created = 0;
  uint64_t threads_peak_alive = 0;
  uint64_t hub_loops = 0;      // rounds of the hub: run the ready threads, then poll
  uint64_t parks[8] = {};      // by WakeReason (hub/thread.h)
  uint64_t pool_jobs = 0;      // work run on the thread pool
  uint64_t pool_wait_ns = 0;   // summed from queueing to completion
  uint64_t io_bytes_read = 0;  // through green reads of sockets and pipes
  uint64_t io_bytes_written = 0;
  static constexpr int kBlockingNames = 16;
  const char* blocking_name[kBlockingNames] = {};  // calls that had to block the OS thread
  uint64_t blocking_count[kBlockingNames] = {};
};

extern Stats g_stats;

// A green thread made a call that blocks its OS thread (a regular file or
// a tty read, say): counted by name (a string literal).
void stats_blocking_call(const char* name);

// Writes the counters: target "-" is a table on stderr, else a JSON file.
void stats_report(const char* target);

}  // namespace green
