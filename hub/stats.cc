#include "hub/stats.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "hub/hub.h"
#include "hub/preempt.h"
#include "hub/tcb.h"

namespace green {

Stats g_stats;
bool g_stats_enabled = false;

void stats_blocking_call(const char* name) {
  for (int i = 0; i < Stats::kBlockingNames; i++) {
    if (g_stats.blocking_name[i] == name || !g_stats.blocking_name[i]) {
      g_stats.blocking_name[i] = name;
      g_stats.blocking_count[i]++;
      return;
    }
  }
}

namespace {

const char* const kParkReasons[] = {"none",   "ready",    "timeout", "closed",
                                    "signal", "explicit", "cancel",  "other"};

// The resident pages of one mapped range (mincore: one call per 16 MiB,
// so one for a default 8 MiB stack). The vector is static: only the hub
// samples, and its own stack stays small.
uint64_t resident_bytes(const void* bottom, size_t size) {
  static const size_t page = size_t(sysconf(_SC_PAGESIZE));
  static unsigned char vec[4096];
  auto* base = static_cast<char*>(const_cast<void*>(bottom));
  uint64_t total = 0;
  for (size_t off = 0; off < size; off += sizeof vec * page) {
    size_t len = std::min(sizeof vec * page, size - off);
    if (mincore(base + off, len, vec) != 0) break;
    for (size_t i = 0; i < (len + page - 1) / page; i++) total += (vec[i] & 1) * page;
  }
  return total;
}

// Stack pages in memory now, summed over the threads that hold a stack:
// the live ones and the finished ones not yet joined (the adopted thread's
// is the OS thread's own).
uint64_t stack_resident_bytes(Hub* h) {
  uint64_t total = 0;
  for (auto& [id, t] : h->threads)
    if (!t->adopted && t->stack.bottom) total += resident_bytes(t->stack.bottom, t->stack.size);
  return total;
}

// When the last sum was taken: the threads holding stacks then, and the
// ends and the most threads seen since.
struct Sampling {
  size_t holders_at_sum = 0;
  size_t ends_since = 0;
  size_t most_since = 0;
};
Sampling g_sampling;

}  // namespace

void stats_sample_stacks(Hub* h) {
  if (!h) return;
  uint64_t now = stack_resident_bytes(h);
  if (now > g_stats.stack_peak_bytes) g_stats.stack_peak_bytes = now;
  g_sampling = Sampling{h->threads.size(), 0, h->threads.size()};
}

void stats_thread_finished(Hub* h, GreenThread*) {
  Sampling& s = g_sampling;
  size_t holders = h->threads.size();  // the finished thread among them
  s.ends_since++;
  if (holders > s.most_since) s.most_since = holders;
  if (s.most_since > s.holders_at_sum + s.holders_at_sum / 8 || s.ends_since * 8 >= holders)
    stats_sample_stacks(h);
}

namespace {

struct Row {
  const char* name;
  uint64_t value;
};

}  // namespace

void stats_report(const char* target) {
  RuntimeScope runtime;
  Hub* h = current_hub();
  stats_sample_stacks(h);
  const Row rows[] = {
      {"threads_created", g_stats.threads_created},
      {"threads_peak_alive", g_stats.threads_peak_alive},
      {"context_switches", h ? h->switches.load() : 0},
      {"hub_loops", g_stats.hub_loops},
      {"pool_jobs", g_stats.pool_jobs},
      {"pool_wait_us", g_stats.pool_wait_ns / 1000},
      {"io_bytes_read", g_stats.io_bytes_read},
      {"io_bytes_written", g_stats.io_bytes_written},
      {"preemptions", g_preempt_stats.preempted.load()},
      {"preemptions_deferred", g_preempt_stats.deferred.load()},
      {"stack_peak_bytes", g_stats.stack_peak_bytes},
  };
  std::string out;
  char buf[256];
  bool json = std::string(target) != "-";
  if (json) {
    out += "{\n";
    for (const Row& r : rows) {
      snprintf(buf, sizeof buf, "  \"%s\": %llu,\n", r.name, (unsigned long long)r.value);
      out += buf;
    }
    out += "  \"parks\": {";
    for (int i = 1; i < 7; i++) {
      snprintf(buf, sizeof buf, "%s\"%s\": %llu", i > 1 ? ", " : "", kParkReasons[i],
               (unsigned long long)g_stats.parks[i]);
      out += buf;
    }
    out += "},\n  \"os_thread_blocking_calls\": {";
    for (int i = 0; i < Stats::kBlockingNames && g_stats.blocking_name[i]; i++) {
      snprintf(buf, sizeof buf, "%s\"%s\": %llu", i ? ", " : "", g_stats.blocking_name[i],
               (unsigned long long)g_stats.blocking_count[i]);
      out += buf;
    }
    out += "}\n}\n";
    if (FILE* f = fopen(target, "we")) {
      fwrite(out.data(), 1, out.size(), f);
      fclose(f);
    } else {
      fprintf(stderr, "libgreen: GREEN_STATS: cannot write %s\n", target);
    }
    return;
  }
  out += "libgreen: statistics at exit\n";
  for (const Row& r : rows) {
    snprintf(buf, sizeof buf, "libgreen:   %-30s %llu\n", r.name, (unsigned long long)r.value);
    out += buf;
  }
  for (int i = 1; i < 7; i++) {
    snprintf(buf, sizeof buf, "libgreen:   parks woken by %-18s %llu\n", kParkReasons[i],
             (unsigned long long)g_stats.parks[i]);
    out += buf;
  }
  for (int i = 0; i < Stats::kBlockingNames && g_stats.blocking_name[i]; i++) {
    snprintf(buf, sizeof buf, "libgreen:   blocked the OS thread in %-10s %llu\n",
             g_stats.blocking_name[i], (unsigned long long)g_stats.blocking_count[i]);
    out += buf;
  }
  ssize_t ignored = write(STDERR_FILENO, out.data(), out.size());
  (void)ignored;
}

}  // namespace green
