#include "hub/stats.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "hub/hub.h"
#include "hub/preempt.h"
#include "hub/tcb.h"

namespace green {

Stats g_stats;

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

// Stack pages of the live green threads that are in memory now.
uint64_t stack_resident_bytes(Hub* h) {
  if (!h) return 0;
  size_t page = size_t(sysconf(_SC_PAGESIZE));
  uint64_t total = 0;
  unsigned char vec[256];
  for (auto& [id, t] : h->threads) {
    if (t->adopted || t->state == RunState::kFinished || !t->stack.bottom) continue;
    char* base = static_cast<char*>(const_cast<void*>(t->stack.bottom));
    for (size_t off = 0; off < t->stack.size; off += sizeof vec * page) {
      size_t len = std::min(sizeof vec * page, t->stack.size - off);
      if (mincore(base + off, len, vec) != 0) break;
      for (size_t i = 0; i < (len + page - 1) / page; i++) total += (vec[i] & 1) * page;
    }
  }
  return total;
}

struct Row {
  const char* name;
  uint64_t value;
};

}  // namespace

void stats_report(const char* target) {
  RuntimeScope runtime;
  Hub* h = current_hub();
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
      {"stack_resident_bytes_at_exit", stack_resident_bytes(h)},
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
