// Sample and GetStats read sparse tables exactly as dense ones: the same
// counters give the same ranking, scores and stats whichever the layout.

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

constexpr int kArms = 3000;

// A copy of every room of `from` with every table dense.
std::vector<std::unique_ptr<Room>> DenseCopy(const Engine& from) {
  std::vector<std::unique_ptr<Room>> rooms;
  from.ForEachRoom([&](const Room& room) {
    room.mu.AssertReaderHeld();
    auto copy = std::make_unique<Room>(room.id);
    absl::MutexLock lock(&copy->mu);
    copy->policy = room.policy;
    copy->arm_ids = room.arm_ids;
    copy->enabled = room.enabled;
    copy->decay = room.decay;
    copy->counter_scale = room.counter_scale;
    copy->last_event_micros = room.last_event_micros;
    copy->linucb = room.linucb;
    copy->linucb_arms = room.linucb_arms;
    for (const auto& [name, segment] : room.segments) {
      Segment& to = copy->segments[name];
      to.arms = segment.arms.Dense();
      for (const auto& [item, table] : segment.context) {
        to.context[item] = table.Dense();
      }
    }
    rooms.push_back(std::move(copy));
  });
  return rooms;
}

class SampleSparseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<std::string> arms;
    for (int i = 0; i < kArms; ++i) arms.push_back(absl::StrCat("a", i));
    ASSERT_TRUE(sparse_.Apply(NewRoom("r", arms)).ok());
    // Every arm has whole-room counts; "rare" items and segment "s" only a
    // few arms (sparse), "common" most of them (dense).
    std::vector<FeedbackEvent> events;
    for (int i = 0; i < kArms; ++i) {
      const int64_t views = 20 + (i * 7919) % 300;
      const int64_t clicks = (i * 104729) % (views / 4 + 1);
      std::vector<std::string> items;
      if (i % 2 == 0) items.push_back("common");
      if (i % 97 == 0) items.push_back("rare1");
      if (i % 211 == 5) items.push_back("rare2");
      events.push_back(Event("r", arms[i], views, clicks,
                             i % 53 == 0 ? "s" : "", items,
                             static_cast<double>(clicks) * 1.5));
    }
    // Arms with high rates in the rare tables, so they matter.
    events.push_back(Event("r", "a97", 50, 40, "s", {"rare1"}, 60.0));
    events.push_back(Event("r", "a5", 30, 25, "s", {"rare2"}, 40.0));
    ASSERT_TRUE(sparse_.Apply(Batch(events)).ok());
    dense_.ReplaceRooms(DenseCopy(sparse_), {});
    // The layouts differ as intended.
    sparse_.ForEachRoom([](const Room& room) {
      room.mu.AssertReaderHeld();
      EXPECT_TRUE(room.segments.at("").context.at("rare1").sparse());
      EXPECT_FALSE(room.segments.at("").context.at("common").sparse());
      EXPECT_TRUE(room.segments.at("s").arms.sparse());
    });
  }

  Engine sparse_;
  Engine dense_;
};

TEST_F(SampleSparseTest, SameResultsAsDenseTables) {
  const PolicyKind kinds[] = {
      PolicyKind::kCtr,       PolicyKind::kUcb1,          PolicyKind::kBucb,
      PolicyKind::kThompson,  PolicyKind::kEpsilonGreedy, PolicyKind::kHotCold,
      PolicyKind::kRewardUcb, PolicyKind::kRewardThompson};
  const std::vector<std::vector<std::string>> item_sets = {
      {}, {"rare1"}, {"rare1", "rare2"}, {"common", "rare2", "unknown"}};
  int compared = 0;
  for (PolicyKind kind : kinds) {
    for (const std::string segment : {"", "s", "unknown"}) {
      for (const auto& items : item_sets) {
        for (int k : {1, 7, 100}) {
          SampleQuery q;
          q.room_id = "r";
          q.segment = segment;
          q.context_items = items;
          q.k = k;
          q.policy.kind = kind;
          q.seed = 1000 + k;
          absl::StatusOr<SampleResult> a = sparse_.Sample(q);
          absl::StatusOr<SampleResult> b = dense_.Sample(q);
          ASSERT_TRUE(a.ok() && b.ok()) << a.status() << b.status();
          ASSERT_EQ(a->arms.size(), b->arms.size());
          for (size_t i = 0; i < a->arms.size(); ++i) {
            EXPECT_EQ(a->arms[i].arm_id, b->arms[i].arm_id)
                << PolicyKindName(kind) << " segment " << segment << " k " << k
                << " items " << items.size() << " rank " << i;
            EXPECT_EQ(a->arms[i].score, b->arms[i].score);
            EXPECT_EQ(a->arms[i].counts, b->arms[i].counts);
          }
          ++compared;
        }
      }
    }
  }
  EXPECT_EQ(compared, 8 * 3 * 4 * 3);
}

TEST_F(SampleSparseTest, SameStatsAsDenseTables) {
  for (const std::string segment : {"", "s"}) {
    absl::StatusOr<Stats> a = sparse_.GetStats("r", segment, true);
    absl::StatusOr<Stats> b = dense_.GetStats("r", segment, true);
    ASSERT_TRUE(a.ok() && b.ok());
    ASSERT_EQ(a->arms.size(), static_cast<size_t>(kArms));
    EXPECT_EQ(a->total_views, b->total_views);
    for (size_t i = 0; i < a->arms.size(); ++i) {
      EXPECT_EQ(a->arms[i].counts, b->arms[i].counts);
      EXPECT_EQ(a->arms[i].scores.ucb1, b->arms[i].scores.ucb1);
      ASSERT_EQ(a->arms[i].context.size(), b->arms[i].context.size());
      for (size_t j = 0; j < a->arms[i].context.size(); ++j) {
        EXPECT_EQ(a->arms[i].context[j].context_item,
                  b->arms[i].context[j].context_item);
        EXPECT_EQ(a->arms[i].context[j].counts, b->arms[i].context[j].counts);
      }
    }
  }
  // Arm a97 has counters in rare1 (sparse) and common (dense).
  absl::StatusOr<Stats> stats = sparse_.GetStats("r", "", true);
  EXPECT_EQ(stats->arms[97].context.size(), 1u);  // 97 is odd: no common
  EXPECT_EQ(stats->arms[97].context[0].context_item, "rare1");
}

}  // namespace
}  // namespace banditd::core
