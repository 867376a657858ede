#include "server/core/arm_selection.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/engine.h"
#include "tests/testing/core_builders.h"

namespace banditd::core {
namespace {

using ::banditd::testing::Batch;
using ::banditd::testing::Event;
using ::banditd::testing::NewRoom;
using ::testing::ElementsAre;

CounterTable Dense(const std::vector<double>& views) {
  CounterTable table(views.size());
  for (size_t i = 0; i < views.size(); ++i) {
    table.Add(i, views[i], 0, 0, 0, true);
  }
  return table;
}

// Catches: a selection that is not the k largest (a heap keeping the
// wrong end), ties not in arm order, or more than k arms.
TEST(TopArmsByViewsTest, MostViewedFirstTiesInArmOrder) {
  const CounterTable table = Dense({5, 9, 0, 9, 1, 7, 5});
  EXPECT_THAT(TopArmsByViews(table, 3), ElementsAre(1, 3, 5));
  EXPECT_THAT(TopArmsByViews(table, 5), ElementsAre(1, 3, 5, 0, 6));
  EXPECT_THAT(TopArmsByViews(table, 100), ElementsAre(1, 3, 5, 0, 6, 4, 2));
  EXPECT_TRUE(TopArmsByViews(table, 0).empty());
  // Increasing views: every slot displaces the smallest kept.
  std::vector<double> rising;
  for (int i = 0; i < 1000; ++i) rising.push_back(i);
  EXPECT_THAT(TopArmsByViews(Dense(rising), 3), ElementsAre(999, 998, 997));
}

// Catches: reading a sparse table's entries as arm indexes, or leaving
// the selection short when fewer than k arms have views (arms without an
// entry read as 0 views and fill up in arm order).
TEST(TopArmsByViewsTest, SparseTableFillsUpWithArmsWithoutViews) {
  CounterTable table = CounterTable::Sparse(100);
  table.Add(70, 3, 0, 0, 0, true);
  table.Add(40, 8, 0, 0, 0, true);
  table.Add(2, 0, 1, 0, 0, true);  // An entry without views.
  ASSERT_TRUE(table.sparse());
  EXPECT_THAT(TopArmsByViews(table, 2), ElementsAre(40, 70));
  EXPECT_THAT(TopArmsByViews(table, 5), ElementsAre(40, 70, 0, 1, 2));
}

// Catches: GetStats ignoring the order (the first arms), or ranking by the
// whole room's views when a segment is asked for.
TEST(TopArmsByViewsTest, GetStatsListsTheSegmentsMostViewedArms) {
  Engine engine;
  std::vector<std::string> arms;
  for (int i = 0; i < 50; ++i) arms.push_back(absl::StrCat("a", i));
  ASSERT_TRUE(engine.Apply(NewRoom("r", arms)).ok());
  ASSERT_TRUE(
      engine
          .Apply(Batch({Event("r", "a45", 100, 1), Event("r", "a7", 20, 1),
                        Event("r", "a3", 50, 1, "s"),
                        Event("r", "a12", 40, 1, "s")}))
          .ok());
  ArmSelection top;
  top.order = ArmSelection::Order::kTopViews;
  top.limit = 2;
  absl::StatusOr<Stats> whole = engine.GetStats("r", "", false, top);
  ASSERT_TRUE(whole.ok()) << whole.status();
  ASSERT_EQ(whole->arms.size(), 2u);
  EXPECT_EQ(whole->arms[0].arm_id, "a45");
  EXPECT_EQ(whole->arms[1].arm_id, "a3");  // Its 50 views in "s" count too.
  EXPECT_TRUE(whole->more_arms);
  absl::StatusOr<Stats> room = engine.GetStats("r", "s", false, top);
  ASSERT_TRUE(room.ok()) << room.status();
  EXPECT_EQ(room->arms[0].arm_id, "a3");
  EXPECT_EQ(room->arms[1].arm_id, "a12");
  // A segment without counters: the first arms.
  absl::StatusOr<Stats> none = engine.GetStats("r", "new", false, top);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(none->arms[0].arm_id, "a0");
  EXPECT_EQ(none->arms[1].arm_id, "a1");
}

}  // namespace
}  // namespace banditd::core
