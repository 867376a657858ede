#include "server/core/room.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/core/engine.h"
#include "tests/testing/core_builders.h"

namespace banditd::core {
namespace {

using ::banditd::testing::Batch;
using ::banditd::testing::Event;
using ::banditd::testing::NewRoom;

TEST(CounterTableTest, SparseHoldsOnlyArmsWithCounters) {
  CounterTable table = CounterTable::Sparse(100);
  EXPECT_TRUE(table.sparse());
  EXPECT_EQ(table.size(), 100u);
  EXPECT_EQ(table.entries(), 0u);
  EXPECT_EQ(table.Add(42, 3, 1, 1, 1, true), kSparseEntryBytes);
  EXPECT_EQ(table.Add(42, 2, 0, 0, 0, false), 0);  // existing entry
  EXPECT_EQ(table.Add(7, 1, 1, 2, 4, true), kSparseEntryBytes);
  EXPECT_EQ(table.entries(), 2u);
  EXPECT_EQ(table.Get(42), (Counts{5, 1, 1}));
  EXPECT_EQ(table.Get(7), (Counts{1, 1, 2}));
  EXPECT_EQ(table.RewardSq(7), 4);
  EXPECT_EQ(table.Get(8), (Counts{}));
  EXPECT_TRUE(table.Empty(8));
  EXPECT_FALSE(table.Empty(7));
  EXPECT_EQ(table.enabled_views(), 4);  // 3 + 1: the 2 were disabled
  EXPECT_EQ(table.Bytes(), kTableBytes + 2 * kSparseEntryBytes);
  // Equal to the dense table with the same counts.
  EXPECT_EQ(table, table.Dense());
  EXPECT_FALSE(table.Dense().sparse());
}

TEST(CounterTableTest, TurnsDenseAtAQuarterOfTheArms) {
  CounterTable table = CounterTable::Sparse(16);
  for (uint32_t arm : {15u, 3u, 9u}) table.Add(arm, 1, 0, 0, 0, true);
  EXPECT_TRUE(table.sparse());
  // The fourth entry reaches 16 / kDenseRatio.
  const int64_t delta = table.Add(0, 1, 0, 0, 0, true);
  EXPECT_FALSE(table.sparse());
  EXPECT_EQ(table.entries(), 16u);
  EXPECT_EQ(delta, 16 * kDenseSlotBytes - 3 * kSparseEntryBytes);
  for (uint32_t arm : {15u, 3u, 9u, 0u}) EXPECT_EQ(table.Get(arm).views, 1);
  EXPECT_EQ(table.Get(1).views, 0);
  EXPECT_EQ(table.enabled_views(), 4);
}

TEST(CounterTableTest, EraseShiftsLaterArmsOfASparseTable) {
  CounterTable table = CounterTable::Sparse(100);
  table.Add(10, 1, 0, 0, 0, true);
  table.Add(50, 2, 0, 0, 0, true);
  table.Add(70, 4, 0, 0, 0, false);
  table.Erase(50, /*was_enabled=*/true);
  EXPECT_EQ(table.size(), 99u);
  EXPECT_EQ(table.entries(), 2u);
  EXPECT_EQ(table.Get(10).views, 1);
  EXPECT_EQ(table.Get(69).views, 4);  // was arm 70
  EXPECT_EQ(table.Get(50).views, 0);
  EXPECT_EQ(table.enabled_views(), 1);
  table.Erase(20, true);  // an arm without an entry
  EXPECT_EQ(table.Get(68).views, 4);
  table.SetEnabled(68, true);
  EXPECT_EQ(table.enabled_views(), 5);
}

TEST(CounterTableTest, SparsifyIfFewKeepsCounts) {
  CounterTable dense(100);
  dense.Add(5, 2, 1, 1, 1, true);
  CounterTable copy = dense;
  copy.SparsifyIfFew();
  EXPECT_TRUE(copy.sparse());
  EXPECT_EQ(copy, dense);
  CounterTable full(4);
  for (uint32_t i = 0; i < 4; ++i) full.Add(i, 1, 0, 0, 0, true);
  full.SparsifyIfFew();
  EXPECT_FALSE(full.sparse());
}

TEST(CounterTableTest, AssignSparseRefusesBadArms) {
  CounterTable table;
  EXPECT_FALSE(
      table.AssignSparse(10, {3, 3}, {1, 1}, {0, 0}, {0, 0}, 2, {0, 0}));
  EXPECT_FALSE(table.AssignSparse(10, {10}, {1}, {0}, {0}, 1, {0}));
  EXPECT_FALSE(table.AssignSparse(10, {1}, {1, 2}, {0}, {0}, 1, {0}));
  EXPECT_TRUE(
      table.AssignSparse(10, {9, 1}, {1, 2}, {0, 0}, {0, 0}, 3, {0, 0}));
  EXPECT_EQ(table.Get(1).views, 2);
  EXPECT_EQ(table.Get(9).views, 1);
}

// A room's memory is what its arms have counters in: a context item that
// one arm of 10,000 saw costs one entry, not 10,000 slots.
TEST(RoomTest, NewContextItemCostsOnlyTheArmsThatSawIt) {
  Engine engine;
  std::vector<std::string> arms;
  for (int i = 0; i < 10000; ++i) arms.push_back(absl::StrCat("arm", i));
  ASSERT_TRUE(engine.Apply(NewRoom("r", arms)).ok());
  const int64_t created = engine.bytes_used();
  std::vector<std::string> items;
  for (int j = 0; j < 32; ++j) items.push_back(absl::StrCat("item", j));
  std::vector<FeedbackEvent> events;
  for (int i = 0; i < 100; ++i) {
    std::vector<std::string> unique;
    for (int j = 0; j < 32; ++j) unique.push_back(absl::StrCat("u", i, "_", j));
    events.push_back(Event("r", arms[i], 1, 0, "seg", unique));
  }
  ASSERT_TRUE(engine.Validate(Batch(events)).ok());
  ASSERT_TRUE(engine.Apply(Batch(events)).ok());
  // 100 events x 32 new items x 2 segments, one entry each, plus the
  // segment's own table: well under 1 MB (dense tables: 200 MB).
  const int64_t grown = engine.bytes_used() - created;
  EXPECT_GT(grown, 6400 * kSparseEntryBytes);
  EXPECT_LT(grown, 6400 * (kSparseEntryBytes + kTableBytes + 16) +
                       2 * kTableBytes + 200 * kSparseEntryBytes);
  // The accounting matches a fresh count of the room.
  engine.ForEachRoom([&](const Room& room) {
    room.mu.AssertReaderHeld();
    EXPECT_EQ(room.bytes, room.ComputeBytes());
    EXPECT_EQ(engine.bytes_used(), room.bytes);
  });
}

// AddArms and RemoveArm account their bytes incrementally (no pass over
// the room's arms): the running figure must equal a recount, with dense
// and sparse segments and context tables, and across the index growing.
TEST(RoomTest, IncrementalBytesMatchARecount) {
  Engine engine;
  ASSERT_TRUE(engine.Apply(NewRoom("r", {"a", "b", "c", "d"})).ok());
  ASSERT_TRUE(engine
                  .Apply(Batch({Event("r", "a", 2, 1, "seg", {"x", "y"}),
                                Event("r", "b", 1, 0, "", {"x"})}))
                  .ok());
  auto check = [&](const char* when) {
    engine.ForEachRoom([&](const Room& room) {
      room.mu.AssertReaderHeld();
      EXPECT_EQ(room.bytes, room.ComputeBytes()) << when;
      EXPECT_EQ(engine.bytes_used(), room.bytes) << when;
    });
  };
  check("fed");
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(engine.Apply(AddArms{"r", {absl::StrCat("new", i)}}).ok());
  }
  check("added one by one");
  ASSERT_TRUE(engine.Apply(RemoveArm{"r", "a"}).ok());
  ASSERT_TRUE(engine.Apply(RemoveArm{"r", "new7"}).ok());
  check("removed");
  absl::StatusOr<RoomInfo> room = engine.GetRoom("r");
  ASSERT_TRUE(room.ok());
  EXPECT_EQ(room->arms.size(), 42u);
  EXPECT_EQ(room->arms[0].arm_id, "b");
  EXPECT_EQ(room->arms[10].arm_id, "new8");
}

// Admission refuses what would pass the memory budget, names the flag, and
// counts the rejection; Sample and GetStats keep working.
TEST(RoomTest, MemoryBudgetRefusesGrowthAtAdmission) {
  Engine engine({.memory_budget_bytes = 400'000});
  std::vector<std::string> arms;
  for (int i = 0; i < 1000; ++i) arms.push_back(absl::StrCat("arm", i));
  ASSERT_TRUE(engine.Validate(NewRoom("r", arms)).ok());
  ASSERT_TRUE(engine.Apply(NewRoom("r", arms)).ok());
  int refused = 0;
  for (int round = 0; round < 100 && refused == 0; ++round) {
    std::vector<FeedbackEvent> events;
    for (int i = 0; i < 10; ++i) {
      std::vector<std::string> unique;
      for (int j = 0; j < 32; ++j) {
        unique.push_back(absl::StrCat("u", round, "_", i, "_", j));
      }
      events.push_back(Event("r", arms[i], 1, 0, "", unique));
    }
    absl::Status admitted = engine.Validate(Batch(events));
    if (!admitted.ok()) {
      EXPECT_EQ(admitted.code(), absl::StatusCode::kResourceExhausted);
      EXPECT_NE(admitted.message().find("--memory_budget_bytes"),
                std::string::npos)
          << admitted;
      ++refused;
      continue;
    }
    ASSERT_TRUE(engine.Apply(Batch(events)).ok());
  }
  EXPECT_EQ(refused, 1);
  EXPECT_LE(engine.bytes_used(), 400'000);
  EXPECT_EQ(engine.rejections(Limit::kMemoryBudget), 1);
  // A second room of 3,000 arms (about 190 KB) does not fit either.
  std::vector<std::string> more = arms;
  for (int i = 1000; i < 3000; ++i) more.push_back(absl::StrCat("arm", i));
  EXPECT_EQ(engine.Validate(NewRoom("r2", more)).code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(engine.rejections(Limit::kMemoryBudget), 2);
  // Counting into existing entries needs no memory: still admitted.
  EXPECT_TRUE(engine.Validate(Batch({Event("r", "arm0", 1, 1)})).ok());
  SampleQuery q;
  q.room_id = "r";
  q.k = 3;
  q.context_items = {"u0_0_0"};
  EXPECT_TRUE(engine.Sample(q).ok());
  EXPECT_TRUE(engine.GetStats("r", "", true).ok());
}

// Admissions reserve their estimate until released (after apply): a second
// request that fits the budget alone but not beside the first, still
// waiting to be logged, is refused; a plain check would admit both.
TEST(RoomTest, ReservationsCountAgainstTheBudgetUntilReleased) {
  std::vector<std::string> arms;
  for (int i = 0; i < 100; ++i) arms.push_back(absl::StrCat("arm", i));
  auto unique_items = [&](const std::string& tag) {
    std::vector<FeedbackEvent> events;
    for (int i = 0; i < 10; ++i) {
      std::vector<std::string> items;
      for (int j = 0; j < 8; ++j) items.push_back(absl::StrCat(tag, i, "_", j));
      events.push_back(Event("r", arms[i], 1, 0, "", items));
    }
    return Batch(events);
  };
  // The estimate of one batch, measured on an engine without a budget.
  int64_t used = 0;
  int64_t estimate = 0;
  {
    Engine probe;
    ASSERT_TRUE(probe.Apply(NewRoom("r", arms)).ok());
    used = probe.bytes_used();
    ASSERT_TRUE(probe.Validate(unique_items("x"), &estimate).ok());
    ASSERT_GT(estimate, 0);
    EXPECT_EQ(probe.reserved_bytes(), estimate);
  }
  Engine engine({.memory_budget_bytes = used + estimate + estimate / 2});
  ASSERT_TRUE(engine.Apply(NewRoom("r", arms)).ok());
  ASSERT_EQ(engine.bytes_used(), used);
  int64_t first = 0;
  ASSERT_TRUE(engine.Validate(unique_items("a"), &first).ok());
  EXPECT_EQ(first, estimate);
  // Without a reservation the second batch would pass: the overshoot.
  EXPECT_TRUE(engine.Validate(unique_items("b")).ok());
  int64_t second = -1;
  absl::Status refused = engine.Validate(unique_items("b"), &second);
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(refused.message().find("--memory_budget_bytes"), std::string::npos);
  EXPECT_EQ(second, 0);
  EXPECT_EQ(engine.reserved_bytes(), estimate);
  // The first is dropped (or applied): its reservation goes, the second fits.
  engine.ReleaseReserved(first);
  EXPECT_EQ(engine.reserved_bytes(), 0);
  ASSERT_TRUE(engine.Validate(unique_items("b"), &second).ok());
  EXPECT_EQ(second, estimate);
  ASSERT_TRUE(engine.Apply(unique_items("b")).ok());
  engine.ReleaseReserved(second);
  EXPECT_EQ(engine.reserved_bytes(), 0);
  EXPECT_LE(engine.bytes_used(), used + estimate);
}

}  // namespace
}  // namespace banditd::core
