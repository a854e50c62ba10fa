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
  uint64_t stack_peak_bytes = 0;  // the most stack memory the live threads held at once (sampled)
};

extern Stats g_stats;
extern bool g_stats_enabled;  // GREEN_STATS is set: the samples below are taken

struct Hub;
struct GreenThread;

// On the hub, when t has finished and before its stack goes back to the
// pool (GREEN_STATS only). A thread's stack only grows while it lives, so
// the sum over live stacks peaks just before some thread ends: here the
// resident pages of every live stack are summed, though not at every end:
// after a rise of an eighth in live threads or after live/8 ends since the
// last sum, which keeps the cost near eight mincore calls per thread.
void stats_thread_finished(Hub* h, GreenThread* t);

// A sum now (the dump and the report at exit take one).
void stats_sample_stacks(Hub* h);

// A green thread made a call that blocks its OS thread (a regular file or
// a tty read, say): counted by name (a string literal).
void stats_blocking_call(const char* name);

// Writes the counters: target "-" is a table on stderr, else a JSON file.
void stats_report(const char* target);

}  // namespace green
