// release_free_memory (lib/common/memory.hpp): what a burst freed goes back to the kernel.
#include "common/memory.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace lj {
namespace {

long anonymous_kib() {
  std::ifstream in("/proc/self/smaps_rollup");
  for (std::string key; in >> key;) {
    long v = 0;
    if (key == "Anonymous:" && in >> v) return v;
  }
  return -1;
}

TEST(ReleaseFreeMemory, GivesBackWhatAThreadFreed) {
#if !defined(__GLIBC__)
  GTEST_SKIP() << "the allocator returns memory by itself here";
#endif
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "malloc is AddressSanitizer's here (freed blocks wait in its quarantine); "
                  "malloc_trim trims glibc's heap, which this build does not use";
#endif
  if (anonymous_kib() < 0) GTEST_SKIP() << "no /proc/self/smaps_rollup";
  // Small blocks from another thread's arena, freed, under one block still in use at the top of
  // the heap: glibc keeps the freed pages (it trims a heap only from its top by itself).
  char* pin = nullptr;
  std::thread t([&] {
    std::vector<char*> blocks;
    for (int i = 0; i < 200000; ++i) {
      blocks.push_back(static_cast<char*>(std::malloc(200)));
      blocks.back()[0] = 1;
    }
    pin = static_cast<char*>(std::malloc(200));
    for (char* b : blocks) std::free(b);
  });
  t.join();
  const long before = anonymous_kib();
  release_free_memory();
  const long after = anonymous_kib();
  std::free(pin);
  EXPECT_LT(after, before - 10 * 1024) << "Anonymous " << before << " -> " << after << " KiB";
}

}  // namespace
}  // namespace lj
