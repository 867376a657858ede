// Sample allocates a fixed number of times per call, whatever the number of
// arms: the global operator new of this test binary counts calls.

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/core/engine.h"

namespace {
std::atomic<long> g_allocations{0};
}  // namespace

void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return ::operator new(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace banditd::core {
namespace {

// Allocations of one Sample call in a room of `arms` arms under `kind`.
long AllocationsPerSample(int arms, PolicyKind kind, int context_items) {
  Engine engine;
  CreateRoom create{"r", {}, {}};
  for (int i = 0; i < arms; ++i) create.arm_ids.push_back(absl::StrCat("a", i));
  EXPECT_TRUE(engine.Apply(create).ok());
  SampleQuery q;
  q.room_id = "r";
  q.k = 10;
  q.policy.kind = kind;
  FeedbackBatch batch;
  for (int i = 0; i < arms; ++i) {
    FeedbackEvent e;
    e.room_id = "r";
    e.arm_id = absl::StrCat("a", i);
    e.views = 10 + i % 50;
    e.clicks = i % 7;
    for (int j = 0; j < context_items; ++j) {
      e.context_items.push_back(absl::StrCat("item", j));
    }
    batch.events.push_back(e);
  }
  EXPECT_TRUE(engine.Apply(batch).ok());
  q.context_items = batch.events[0].context_items;
  EXPECT_TRUE(engine.Sample(q).ok());  // warm thread-local state
  const long before = g_allocations.load();
  EXPECT_TRUE(engine.Sample(q).ok());
  return g_allocations.load() - before;
}

TEST(SampleAllocTest, AllocationsDoNotGrowWithArms) {
  for (PolicyKind kind : {PolicyKind::kCtr, PolicyKind::kUcb1, PolicyKind::kBucb,
                          PolicyKind::kThompson, PolicyKind::kEpsilonGreedy}) {
    for (int items : {0, 5}) {
      const long small = AllocationsPerSample(20, kind, items);
      const long large = AllocationsPerSample(5000, kind, items);
      EXPECT_EQ(small, large) << PolicyKindName(kind) << " items " << items;
      EXPECT_LE(large, 20) << PolicyKindName(kind) << " items " << items;
    }
  }
}

}  // namespace
}  // namespace banditd::core
