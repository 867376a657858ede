#include "server/core/source_offsets.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/core/engine.h"
#include "tests/testing/core_builders.h"

namespace banditd::core {
namespace {

using ::banditd::testing::Batch;
using ::banditd::testing::Event;
using ::banditd::testing::NewRoom;

FeedbackBatch Sourced(std::vector<FeedbackEvent> events, int32_t partition,
                      int64_t from, int64_t next) {
  FeedbackBatch batch = Batch(std::move(events));
  batch.source = SourceRange{"clicks", partition, from, next};
  return batch;
}

double Views(const Engine& engine, const std::string& arm) {
  absl::StatusOr<Stats> stats = engine.GetStats("r", "", false);
  for (const ArmStat& a : stats->arms) {
    if (a.arm_id == arm) return a.counts.views;
  }
  return -1;
}

class SourceOffsetsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(engine_.Apply(NewRoom("r", {"a", "b"})).ok());
  }
  Engine engine_;
};

TEST_F(SourceOffsetsTest, ConsecutiveRangesApplyAndMoveThePosition) {
  EXPECT_EQ(engine_.source_offsets().Get("clicks", 0), std::nullopt);
  // A partition never consumed accepts any start (the group's first offset).
  ASSERT_TRUE(engine_.Apply(Sourced({Event("r", "a", 2, 1)}, 0, 40, 45)).ok());
  EXPECT_EQ(engine_.source_offsets().Get("clicks", 0), 45);
  ASSERT_TRUE(engine_.Apply(Sourced({Event("r", "a", 3, 0)}, 0, 45, 50)).ok());
  EXPECT_EQ(engine_.source_offsets().Get("clicks", 0), 50);
  EXPECT_EQ(Views(engine_, "a"), 5);
  // Partitions are independent.
  EXPECT_EQ(engine_.source_offsets().Get("clicks", 1), std::nullopt);
}

TEST_F(SourceOffsetsTest, StaleRangeIsAbortedAndChangesNothing) {
  ASSERT_TRUE(engine_.Apply(Sourced({Event("r", "a", 1, 0)}, 0, 0, 10)).ok());
  // A retry of the same range, a consumer that lost the partition (starts
  // below), and one that skipped ahead (starts above) are all refused.
  for (int64_t from : {0, 5, 11}) {
    absl::StatusOr<ApplyResult> r =
        engine_.Apply(Sourced({Event("r", "a", 7, 0)}, 0, from, from + 20));
    EXPECT_EQ(r.status().code(), absl::StatusCode::kAborted) << from;
    EXPECT_NE(r.status().message().find("clicks/0 is at offset 10"),
              std::string::npos)
        << r.status();
  }
  EXPECT_EQ(engine_.source_offsets().Get("clicks", 0), 10);
  EXPECT_EQ(Views(engine_, "a"), 1);
}

TEST_F(SourceOffsetsTest, RangeOfOnlyDeadLetteredRecordsMovesThePosition) {
  const FeedbackBatch empty = Sourced({}, 3, 0, 7);
  EXPECT_TRUE(engine_.Validate(empty).ok());
  absl::StatusOr<ApplyResult> r = engine_.Apply(empty);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->applied_events, 0);
  EXPECT_EQ(engine_.source_offsets().Get("clicks", 3), 7);
  // Without a source an empty batch is still refused.
  EXPECT_FALSE(engine_.Validate(Batch({})).ok());
}

TEST_F(SourceOffsetsTest, RejectedEventsStillConsumeTheirRange) {
  // The room is gone by the time the batch applies (a race another replica
  // won): the events are rejected, the range is consumed, and replay of the
  // same log decides the same.
  ASSERT_TRUE(engine_.Apply(DeleteRoom{"r"}).ok());
  absl::StatusOr<ApplyResult> r =
      engine_.Apply(Sourced({Event("r", "a", 1, 0)}, 0, 0, 4));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(engine_.source_offsets().Get("clicks", 0), 4);
}

TEST_F(SourceOffsetsTest, MalformedRangesNameTheField) {
  struct Case {
    SourceRange range;
    std::string prefix;
  };
  for (const Case& c : std::vector<Case>{
           {{"", 0, 0, 1}, "source.topic: "},
           {{"t", -1, 0, 1}, "source.partition: "},
           {{"t", 0, 5, 5}, "source: offsets [5, 5)"},
           {{"t", 0, -2, 1}, "source: offsets [-2, 1)"},
       }) {
    FeedbackBatch batch = Batch({Event("r", "a", 1, 0)});
    batch.source = c.range;
    absl::Status s = engine_.Validate(batch);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(s.message().substr(0, c.prefix.size()), c.prefix) << s;
    EXPECT_FALSE(engine_.Apply(batch).ok());
  }
  EXPECT_TRUE(engine_.source_offsets().All().empty());
}

TEST(SourceOffsetsTableTest, AllIsOrderedAndReplaceRestores) {
  SourceOffsets offsets;
  offsets.Advance({"b", 1, 0, 9});
  offsets.Advance({"a", 2, 0, 3});
  offsets.Advance({"a", 0, 0, 4});
  const std::vector<SourceOffset> all = offsets.All();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0], (SourceOffset{"a", 0, 4}));
  EXPECT_EQ(all[1], (SourceOffset{"a", 2, 3}));
  EXPECT_EQ(all[2], (SourceOffset{"b", 1, 9}));
  SourceOffsets copy;
  copy.Advance({"stale", 0, 0, 1});
  copy.Replace(all);
  EXPECT_EQ(copy.All(), all);
  EXPECT_EQ(copy.Get("stale", 0), std::nullopt);
}

}  // namespace
}  // namespace banditd::core
