// The process's allocator: tcmalloc really is malloc and operator new (the
// link order), its free pages go back to the system on release.

#include "server/ops/allocator.h"

#include <cstdlib>
#include <cstring>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace banditd::ops {
namespace {

#ifdef BANDITD_TCMALLOC

constexpr int64_t kBlock = int64_t{64} << 20;

// Keeps the compiler from eliding an allocation that is never read.
void Escape(void* p) { asm volatile("" : : "g"(p) : "memory"); }

TEST(AllocatorTest, MallocAndNewAreTcmalloc) {
  EXPECT_EQ(AllocatorName(), "tcmalloc");
  const int64_t before = AllocatorAllocatedBytes();
  ASSERT_GE(before, 0);
  // glibc's malloc ahead of tcmalloc's in the link would leave its count
  // where it was.
  void* p = std::malloc(kBlock);
  Escape(p);
  EXPECT_GE(AllocatorAllocatedBytes() - before, kBlock);
  std::free(p);
  EXPECT_LT(AllocatorAllocatedBytes() - before, kBlock);
  char* q = new char[kBlock];
  Escape(q);
  EXPECT_GE(AllocatorAllocatedBytes() - before, kBlock);
  delete[] q;
}

TEST(AllocatorTest, ReleaseGivesFreePagesBack) {
  char* p = static_cast<char*>(std::malloc(kBlock));
  std::memset(p, 1, kBlock);
  Escape(p);
  std::free(p);
  // A big block freed stays with tcmalloc, resident, until released.
  EXPECT_GE(AllocatorFreeBytes(), kBlock);
  EXPECT_FALSE(ReleaseFreeMemoryOver(4 * kBlock));
  EXPECT_GE(AllocatorFreeBytes(), kBlock);
  EXPECT_TRUE(ReleaseFreeMemoryOver(kReleaseMinFreeBytes));
  EXPECT_LT(AllocatorFreeBytes(), kReleaseMinFreeBytes);
}

TEST(AllocatorTest, ReleaserReleasesOnItsThread) {
  FreeMemoryReleaser releaser(absl::Milliseconds(10), kReleaseMinFreeBytes);
  char* p = static_cast<char*>(std::malloc(kBlock));
  std::memset(p, 1, kBlock);
  Escape(p);
  std::free(p);
  // Not a timing test: the deadline only ends a wait that would never end.
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (AllocatorFreeBytes() >= kReleaseMinFreeBytes &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_LT(AllocatorFreeBytes(), kReleaseMinFreeBytes);
}

TEST(AllocatorTest, ReleaseThreadCacheEmptiesThisThreadsCache) {
  // Small objects freed stay in this thread's cache...
  std::vector<void*> objects;
  for (int i = 0; i < 20000; ++i) objects.push_back(std::malloc(32));
  for (void* p : objects) std::free(p);
  const int64_t cached = AllocatorThreadCacheBytes();
  EXPECT_GE(cached, 64 << 10);
  // ...until it hands them back to the shared lists.
  ReleaseThreadCache();
  EXPECT_LE(AllocatorThreadCacheBytes(), cached - (64 << 10));
}

TEST(AllocatorTest, CollectorReportsTheAllocatorsBytes) {
  char* p = static_cast<char*>(std::malloc(kBlock));
  std::memset(p, 1, kBlock);
  Escape(p);
  const std::vector<prometheus::MetricFamily> families =
      AllocatorCollector().Collect();
  std::free(p);
  ASSERT_EQ(families.size(), 3u);
  EXPECT_EQ(families[0].name, "banditd_allocator_allocated_bytes");
  ASSERT_EQ(families[0].metric.size(), 1u);
  EXPECT_GE(families[0].metric[0].gauge.value, kBlock);
  ASSERT_EQ(families[0].metric[0].label.size(), 1u);
  EXPECT_EQ(families[0].metric[0].label[0].value, "tcmalloc");
  EXPECT_EQ(families[1].name, "banditd_allocator_free_bytes");
  EXPECT_EQ(families[2].name, "banditd_allocator_thread_cache_bytes");
  EXPECT_GE(families[2].metric[0].gauge.value, 0);
}

#else  // glibc's malloc (-DBANDITD_TCMALLOC=OFF)

TEST(AllocatorTest, GlibcHasNothingToRelease) {
  EXPECT_EQ(AllocatorName(), "glibc");
  EXPECT_EQ(AllocatorFreeBytes(), 0);
  EXPECT_EQ(AllocatorAllocatedBytes(), -1);
  EXPECT_FALSE(ReleaseFreeMemoryOver(1));
  EXPECT_EQ(AllocatorThreadCacheBytes(), -1);
  ReleaseThreadCache();  // a no-op
  EXPECT_TRUE(AllocatorCollector().Collect().empty());
}

#endif

}  // namespace
}  // namespace banditd::ops
