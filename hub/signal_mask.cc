// The OS thread's signal mask: what every live green thread blocks. A
// signal is held back only while no green thread would take it.
//
// The hub keeps, per signal, how many live green threads block it, so the
// intersection looks only at the signals some thread blocks (usually none),
// whatever the number of threads. Scanning the
// threads instead made every thread exit (and every mask change) cost one
// cache miss per live thread: a server holding 5,000 connections paid 5,000
// misses for each one that closed.
#include <cassert>

#include "hub/hub.h"
#include "hub/signal.h"

namespace green {
namespace {

void count(Hub* h, uint64_t bits, int delta) {
  for (; bits; bits &= bits - 1) {
    int i = __builtin_ctzll(bits);
    h->mask_blockers[i] += uint32_t(delta);
    if (h->mask_blockers[i])
      h->mask_blocked |= uint64_t(1) << i;
    else
      h->mask_blocked &= ~(uint64_t(1) << i);
  }
}

// The intersection as the counts give it: the signals every member blocks,
// looked for among those some member blocks (usually none).
uint64_t common_mask(const Hub* h) {
  if (h->mask_members == 0) return ~uint64_t(0);
  uint64_t common = 0;
  for (uint64_t bits = h->mask_blocked; bits; bits &= bits - 1) {
    int i = __builtin_ctzll(bits);
    if (h->mask_blockers[i] == h->mask_members) common |= uint64_t(1) << i;
  }
  return common;
}

#ifndef NDEBUG
// The same intersection by a scan of every thread, to check the counts.
uint64_t scanned_mask(const Hub* h) {
  uint64_t bits = ~uint64_t(0);
  for (const auto& [id, t] : h->threads)
    if (!finished(t)) bits &= sigset_bits(t->sigmask);
  return bits;
}
#endif

}  // namespace

void note_signal_mask(GreenThread* t) {
  Hub* h = t->hub;
  if (!h) return;
  // A handler that arrives now is held, not run (hub/signal.h): no other
  // note can interleave with this one's read-modify-writes.
  RuntimeScope runtime;
  if (t->mask_counted) {
    count(h, t->counted_mask, -1);
    h->mask_members--;
  }
  t->mask_counted = !finished(t);
  t->counted_mask = t->mask_counted ? sigset_bits(t->sigmask) : 0;
  if (t->mask_counted) {
    count(h, t->counted_mask, +1);
    h->mask_members++;
  }
}

void recount_signal_masks(Hub* h) {
  h->mask_members = 0;
  h->mask_blocked = 0;
  for (uint32_t& n : h->mask_blockers) n = 0;
  for (auto& [id, t] : h->threads) {
    t->mask_counted = false;
    note_signal_mask(t);
  }
}

void apply_signal_masks(Hub* h) {
  uint64_t bits = common_mask(h);
  assert(bits == scanned_mask(h) && "a green thread's sigmask changed without note_signal_mask");
  sigset_t common;
  bits_sigset(blockable(bits), &common);
  RuntimeScope runtime;
  pthread_sigmask(SIG_SETMASK, &common, nullptr);
}

}  // namespace green
