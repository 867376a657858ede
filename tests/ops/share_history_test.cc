// ShareHistory: shares of new views between points, its window, its bounds.

#include "server/ops/share_history.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace banditd::ops {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

TEST(ShareHistoryTest, SharesOfNewViewsBetweenPoints) {
  ShareHistory history({});
  history.Record("r", "", kT0, {{"a", 10}, {"b", 10}});
  EXPECT_EQ(history.RenderJson("r", ""), "[]");  // one point: no interval
  history.Record("r", "", kT0 + absl::Seconds(10), {{"a", 40}, {"b", 20}});
  history.Record("r", "", kT0 + absl::Seconds(20), {{"a", 40}, {"b", 20}});
  history.Record("r", "", kT0 + absl::Seconds(30), {{"a", 41}, {"b", 23}});
  // 30 of 40 new views went to a, then none (skipped), then 1 of 4.
  EXPECT_EQ(history.RenderJson("r", ""),
            "[{\"t\":1700000010000,\"share\":{\"a\":0.75,\"b\":0.25}},"
            "{\"t\":1700000030000,\"share\":{\"a\":0.25,\"b\":0.75}}]");
  EXPECT_EQ(history.RenderJson("r", "other-segment"), "[]");
}

TEST(ShareHistoryTest, AResetCountsFromZero) {
  ShareHistory history({});
  history.Record("r", "", kT0, {{"a", 100}, {"b", 100}});
  history.Record("r", "", kT0 + absl::Seconds(10), {{"a", 3}, {"b", 1}});
  EXPECT_THAT(history.RenderJson("r", ""),
              HasSubstr("{\"a\":0.75,\"b\":0.25}"));
}

TEST(ShareHistoryTest, KeepsOnlyTheWindowAndSpacedPoints) {
  ShareHistory::Options options;
  options.window = absl::Minutes(1);
  options.min_spacing = absl::Seconds(5);
  ShareHistory history(options);
  history.Record("r", "", kT0, {{"a", 0}});
  history.Record("r", "", kT0 + absl::Seconds(1), {{"a", 1000}});  // too soon
  history.Record("r", "", kT0 + absl::Seconds(30), {{"a", 10}});
  history.Record("r", "", kT0 + absl::Seconds(80), {{"a", 20}});
  // The point at 0 s fell out of the 1-minute window; the one at 1 s was
  // never kept (else the 30 s point would read as a reset).
  EXPECT_EQ(history.RenderJson("r", ""),
            "[{\"t\":1700000080000,\"share\":{\"a\":1}}]");
}

TEST(ShareHistoryTest, ChangedArmsStartOver) {
  ShareHistory history({});
  history.Record("r", "", kT0, {{"a", 1}, {"b", 1}});
  history.Record("r", "", kT0 + absl::Seconds(10), {{"a", 2}, {"b", 2}});
  history.Record("r", "", kT0 + absl::Seconds(20), {{"a", 3}, {"c", 9}});
  EXPECT_EQ(history.RenderJson("r", ""), "[]");
}

TEST(ShareHistoryTest, BoundsRoomsAndArms) {
  ShareHistory::Options options;
  options.max_keys = 2;
  options.max_arms = 2;
  ShareHistory history(options);
  history.Record("old", "", kT0, {{"a", 1}});
  history.Record("mid", "", kT0 + absl::Seconds(1), {{"a", 1}});
  history.Record("new", "", kT0 + absl::Seconds(2), {{"a", 1}});
  EXPECT_EQ(history.keys(), 2u);
  history.Record("old", "", kT0 + absl::Seconds(10), {{"a", 2}});
  EXPECT_EQ(history.RenderJson("old", ""), "[]");  // it was dropped

  history.Record("wide", "", kT0, {{"a", 0}, {"b", 0}, {"c", 0}});
  history.Record("wide", "", kT0 + absl::Seconds(10),
                 {{"a", 1}, {"b", 3}, {"c", 100}});
  EXPECT_EQ(history.RenderJson("wide", ""),
            "[{\"t\":1700000010000,\"share\":{\"a\":0.25,\"b\":0.75}}]");
  EXPECT_THAT(history.RenderJson("wide", ""), Not(HasSubstr("\"c\"")));
}

}  // namespace
}  // namespace banditd::ops
