#include "server/ingest/partition_batches.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace banditd::ingest {
namespace {

std::vector<core::FeedbackEvent> Events(int n, const std::string& arm) {
  std::vector<core::FeedbackEvent> events(n);
  for (core::FeedbackEvent& e : events) {
    e.room_id = "r";
    e.arm_id = arm;
    e.views = 1;
  }
  return events;
}

PartitionState StartingAt(int64_t offset) {
  PartitionState part;
  part.next_from = offset;
  return part;
}

TEST(PartitionBatchesTest, RecordsShareAnOpenBatchUntilItHoldsTheCap) {
  PartitionState part = StartingAt(10);
  GatherRecord(/*batch_cap=*/4, 10, Events(2, "a"), false, false, &part);
  GatherRecord(4, 11, Events(1, "b"), false, false, &part);
  ASSERT_EQ(part.gathered.size(), 1u);
  EXPECT_FALSE(part.gathered.front().sealed);
  GatherRecord(4, 12, Events(1, "c"), false, false, &part);
  ASSERT_EQ(part.gathered.size(), 1u);
  const GatheredBatch& g = part.gathered.front();
  EXPECT_TRUE(g.sealed);  // 4 events: the cap.
  EXPECT_EQ(g.from, 10);
  EXPECT_EQ(g.next, 13);
  EXPECT_EQ(g.records, 3);
  EXPECT_EQ(g.weight, 4);
  ASSERT_EQ(g.batch.events.size(), 4u);
  EXPECT_EQ(g.batch.events[2].arm_id, "b");
  EXPECT_EQ(g.batch.events[3].arm_id, "c");
  EXPECT_EQ(part.gathered_events, 4);
  EXPECT_EQ(part.next_from, 13);
}

TEST(PartitionBatchesTest, ARecordThatWouldExceedTheCapStartsTheNextBatch) {
  PartitionState part = StartingAt(0);
  GatherRecord(4, 0, Events(3, "a"), false, false, &part);
  GatherRecord(4, 1, Events(2, "b"), false, false, &part);
  ASSERT_EQ(part.gathered.size(), 2u);
  EXPECT_TRUE(part.gathered[0].sealed);
  EXPECT_EQ(part.gathered[0].next, 1);
  EXPECT_EQ(part.gathered[0].batch.events.size(), 3u);
  // The next range starts where the sealed one ended: no offset is lost.
  EXPECT_EQ(part.gathered[1].from, 1);
  EXPECT_EQ(part.gathered[1].next, 2);
  EXPECT_EQ(part.gathered[1].batch.events.size(), 2u);
  EXPECT_EQ(part.gathered_events, 5);
}

TEST(PartitionBatchesTest, ARefusedRecordMovesThePositionAndWeighsOne) {
  PartitionState part = StartingAt(5);
  GatherRecord(4, 5, Events(1, "a"), false, false, &part);
  GatherRecord(4, 6, {}, /*refused=*/true, /*dead_letter=*/true, &part);
  ASSERT_EQ(part.gathered.size(), 1u);
  const GatheredBatch& g = part.gathered.front();
  EXPECT_EQ(g.records, 2);
  EXPECT_EQ(g.refused, 1);
  EXPECT_TRUE(g.dead_letters);
  EXPECT_EQ(g.batch.events.size(), 1u);
  EXPECT_EQ(g.weight, 2);
  EXPECT_EQ(g.next, 7);
  EXPECT_EQ(part.gathered_events, 2);
}

TEST(PartitionBatchesTest, BelowSingleUntilEachRecordIsABatchOfItsOwn) {
  PartitionState part = StartingAt(20);
  part.single_until = 22;
  GatherRecord(100, 20, Events(1, "a"), false, false, &part);
  GatherRecord(100, 21, Events(1, "b"), false, false, &part);
  GatherRecord(100, 22, Events(1, "c"), false, false, &part);
  GatherRecord(100, 23, Events(1, "d"), false, false, &part);
  ASSERT_EQ(part.gathered.size(), 3u);
  EXPECT_TRUE(part.gathered[0].sealed);
  EXPECT_EQ(part.gathered[0].from, 20);
  EXPECT_EQ(part.gathered[0].next, 21);
  EXPECT_TRUE(part.gathered[1].sealed);
  EXPECT_EQ(part.gathered[1].from, 21);
  // From single_until on, records share a batch again.
  EXPECT_FALSE(part.gathered[2].sealed);
  EXPECT_EQ(part.gathered[2].from, 22);
  EXPECT_EQ(part.gathered[2].records, 2);
}

TEST(PartitionBatchesTest, ASealedBatchTakesNoMoreRecords) {
  PartitionState part = StartingAt(0);
  GatherRecord(4, 0, Events(1, "a"), false, false, &part);
  part.gathered.back().sealed = true;  // As a hold on a missing room does.
  GatherRecord(4, 1, Events(1, "b"), false, false, &part);
  ASSERT_EQ(part.gathered.size(), 2u);
  EXPECT_EQ(part.gathered[1].from, 1);
  EXPECT_EQ(part.gathered[1].records, 1);
}

}  // namespace
}  // namespace banditd::ingest
