// Sample allocates a fixed number of times per call, whatever the number of
// arms: the global operator new of this test binary counts calls.

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/core/engine.h"
#include "tests/testing/counting_allocator.h"

using ::banditd::testing::AllocationCount;

namespace banditd::core {
namespace {

// Allocations of one Sample call in a room of `arms` arms under `kind`
// (epsilon-greedy with `epsilon`: 0 always exploits, 1 always explores; the
// two branches allocate differently, so a random mix made the test flaky).
long AllocationsPerSample(int arms, PolicyKind kind, int context_items,
                          double epsilon = 0.1) {
  Engine engine;
  CreateRoom create;
  create.room_id = "r";
  for (int i = 0; i < arms; ++i) create.arm_ids.push_back(absl::StrCat("a", i));
  EXPECT_TRUE(engine.Apply(create).ok());
  SampleQuery q;
  q.room_id = "r";
  q.k = 10;
  q.policy.kind = kind;
  if (kind == PolicyKind::kEpsilonGreedy) q.policy.epsilon = epsilon;
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
  const long before = AllocationCount();
  EXPECT_TRUE(engine.Sample(q).ok());
  return AllocationCount() - before;
}

TEST(SampleAllocTest, AllocationsDoNotGrowWithArms) {
  for (PolicyKind kind :
       {PolicyKind::kCtr, PolicyKind::kUcb1, PolicyKind::kBucb,
        PolicyKind::kThompson, PolicyKind::kEpsilonGreedy}) {
    for (int items : {0, 5}) {
      for (double epsilon : {0.0, 1.0}) {
        if (kind != PolicyKind::kEpsilonGreedy && epsilon > 0) continue;
        const long small = AllocationsPerSample(20, kind, items, epsilon);
        const long large = AllocationsPerSample(5000, kind, items, epsilon);
        EXPECT_EQ(small, large) << PolicyKindName(kind) << " items " << items
                                << " epsilon " << epsilon;
        EXPECT_LE(large, 20) << PolicyKindName(kind) << " items " << items;
      }
    }
  }
}

}  // namespace
}  // namespace banditd::core
