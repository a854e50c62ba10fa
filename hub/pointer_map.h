// A map from pointers to pointers for lookups on every call (the stdio hooks
// ask it on each printf): open addressing with linear probing, Fibonacci
// hashing and backward-shift deletion, so a lookup is one multiply and
// usually one cache line, where std::unordered_map costs a division and a
// node per lookup. Keys are never null. Not thread-safe: callers lock.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace green {

template <class K, class V>
class PointerMap {
 public:
  V* find(const K* key) const {
    if (slots_.empty()) return nullptr;
    for (size_t i = home(key);; i = next(i)) {
      if (slots_[i].key == key) return slots_[i].value;
      if (!slots_[i].key) return nullptr;
    }
  }

  // Adds key, or replaces its value.
  void insert(const K* key, V* value) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    size_t i = home(key);
    while (slots_[i].key && slots_[i].key != key) i = next(i);
    if (!slots_[i].key) size_++;
    slots_[i] = {key, value};
  }

  // Removes key; true when it was there.
  bool erase(const K* key) {
    if (slots_.empty()) return false;
    size_t i = home(key);
    while (slots_[i].key != key) {
      if (!slots_[i].key) return false;
      i = next(i);
    }
    // Backward shift: pull later entries of the run into the hole unless
    // their home lies cyclically in (hole, entry], so none is cut off.
    for (size_t j = next(i); slots_[j].key; j = next(j)) {
      size_t h = home(slots_[j].key);
      bool stays = i <= j ? (i < h && h <= j) : (i < h || h <= j);
      if (!stays) {
        slots_[i] = slots_[j];
        i = j;
      }
    }
    slots_[i] = {};
    size_--;
    return true;
  }

  template <class F>
  void for_each(F&& f) const {
    for (const Slot& s : slots_)
      if (s.key) f(s.key, s.value);
  }

  size_t size() const { return size_; }

 private:
  struct Slot {
    const K* key = nullptr;
    V* value = nullptr;
  };

  size_t home(const K* key) const {
    return size_t((uint64_t(uintptr_t(key)) * 0x9E3779B97F4A7C15ull) >> shift_);
  }
  size_t next(size_t i) const { return (i + 1) & (slots_.size() - 1); }

  void grow() {
    std::vector<Slot> old = std::move(slots_);
    size_t capacity = old.empty() ? 16 : old.size() * 2;
    slots_.assign(capacity, Slot{});
    shift_ = 64 - __builtin_ctzll(capacity);
    size_ = 0;
    for (const Slot& s : old)
      if (s.key) insert(s.key, s.value);
  }

  std::vector<Slot> slots_;  // a power of two in size, at most half full
  size_t size_ = 0;
  unsigned shift_ = 64;
};

}  // namespace green
