// PointerMap against std::map as the reference, through growth and
// backward-shift deletion in a crowded table.
#include "hub/pointer_map.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

namespace {

TEST(PointerMap, AgreesWithStdMapThroughInsertsAndErases) {
  static int objects[4096];
  green::PointerMap<int, int> map;
  std::map<const int*, int*> reference;
  std::mt19937 rng(42);
  for (int step = 0; step < 200000; step++) {
    int* key = &objects[rng() % 4096];
    int* value = &objects[rng() % 4096];
    switch (rng() % 3) {
      case 0:
        map.insert(key, value);
        reference[key] = value;
        break;
      case 1:
        EXPECT_EQ(map.erase(key), reference.erase(key) == 1);
        break;
      default: {
        auto it = reference.find(key);
        EXPECT_EQ(map.find(key), it == reference.end() ? nullptr : it->second);
      }
    }
    ASSERT_EQ(map.size(), reference.size());
  }
  size_t seen = 0;
  map.for_each([&](const int* k, int* v) {
    EXPECT_EQ(reference.at(k), v);
    seen++;
  });
  EXPECT_EQ(seen, reference.size());
}

TEST(PointerMap, EmptyMapFindsNothing) {
  green::PointerMap<int, int> map;
  int x;
  EXPECT_EQ(map.find(&x), nullptr);
  EXPECT_FALSE(map.erase(&x));
}

}  // namespace
