// Sample's full scan filters arms by a single-precision bound before scoring
// them exactly; these tests check it returns exactly what scoring every arm
// would, over rooms large enough to span many blocks.

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/core/engine.h"
#include "server/core/scoring.h"

namespace banditd::core {
namespace {

constexpr int kArms = 3000;
const std::vector<std::string> kItems = {"i1", "i2", "i3"};

// Creates room `room_id` with arms a0 .. a{count - 1}; returns their ids.
std::vector<std::string> CreateNumberedRoom(Engine& engine,
                                            const std::string& room_id,
                                            int count) {
  CreateRoom create{room_id, {}, {}, {}, {}};
  for (int i = 0; i < count; ++i) {
    create.arm_ids.push_back(absl::StrCat("a", i));
  }
  EXPECT_TRUE(engine.Apply(create).ok());
  return create.arm_ids;
}

class SampleScanTest : public ::testing::TestWithParam<PolicyKind> {
 protected:
  void SetUp() override {
    CreateNumberedRoom(engine_, "r", kArms);
    std::mt19937_64 rng(7);
    FeedbackBatch batch;
    for (int i = 0; i < kArms; ++i) {
      // A few unseen arms; many small, tied counts; some large ones.
      if (i % 97 == 5) continue;
      FeedbackEvent e;
      e.room_id = "r";
      e.arm_id = absl::StrCat("a", i);
      e.views = i % 3 == 0 ? 1 + rng() % 4 : 1 + rng() % 100000;
      e.clicks = static_cast<int64_t>(rng() % (e.views + 1)) / (1 + rng() % 20);
      // Clicks may arrive before their views.
      if (i % 89 == 3) e.clicks = e.views + 1 + static_cast<int64_t>(rng() % 3);
      if (i % 5 != 0) e.context_items = {kItems[i % 3]};
      if (i % 7 == 0) e.context_items.push_back(kItems[(i + 1) % 3]);
      batch.events.push_back(e);
    }
    ASSERT_TRUE(engine_.Apply(batch).ok());
    for (int i = 11; i < kArms; i += 37) {
      ASSERT_TRUE(
          engine_.Apply(SetArmEnabled{"r", absl::StrCat("a", i), false}).ok());
    }
  }

  // Exact score of arm `index` as Sample defines it, from GetStats.
  std::vector<double> ExpectedScores(const SampleQuery& q) {
    absl::StatusOr<Stats> stats = engine_.GetStats("r", "", true);
    EXPECT_TRUE(stats.ok());
    PolicyParams policy;
    policy.kind = *q.policy.kind;
    double total = 0;
    for (const ArmStat& a : stats->arms)
      total += a.enabled ? a.counts.views : 0;
    // Per-item enabled view totals, for UCB1's N.
    std::vector<double> item_totals(kItems.size());
    for (const ArmStat& a : stats->arms) {
      for (const ContextStat& c : a.context) {
        for (size_t j = 0; j < kItems.size(); ++j) {
          if (c.context_item == kItems[j] && a.enabled) {
            item_totals[j] += c.counts.views;
          }
        }
      }
    }
    auto score = [&](const Counts& c, double log_n) {
      switch (policy.kind) {
        case PolicyKind::kUcb1:
          return Ucb1Score(c.views, c.clicks, log_n, policy.ucb_alpha);
        case PolicyKind::kBucb:
          return BucbScore(c.views, c.clicks, policy.bucb_z,
                           policy.beta_prior_a, policy.beta_prior_b);
        default:
          return CtrScore(c.views, c.clicks);
      }
    };
    std::vector<double> scores;
    for (int i = 0; i < kArms; ++i) {
      const ArmStat& a = stats->arms[i];
      if (!a.enabled || std::count(q.excluded_arm_ids.begin(),
                                   q.excluded_arm_ids.end(), a.arm_id)) {
        continue;
      }
      if (q.context_items.empty()) {
        scores.push_back(score(a.counts, SafeLog(total)));
        continue;
      }
      double sum = 0;
      for (size_t j = 0; j < kItems.size(); ++j) {
        const ContextStat* found = nullptr;
        for (const ContextStat& c : a.context) {
          if (c.context_item == kItems[j]) found = &c;
        }
        sum += found != nullptr && found->counts.views > 0
                   ? score(found->counts, SafeLog(item_totals[j]))
                   : score(a.counts, SafeLog(total));
      }
      scores.push_back(sum / kItems.size());
    }
    std::sort(scores.begin(), scores.end(), std::greater<>());
    return scores;
  }

  void ExpectTopK(SampleQuery q) {
    const std::vector<double> expected = ExpectedScores(q);
    for (uint64_t seed = 0; seed < 3; ++seed) {
      q.seed = seed;
      absl::StatusOr<SampleResult> result = engine_.Sample(q);
      ASSERT_TRUE(result.ok()) << result.status();
      ASSERT_EQ(result->arms.size(), static_cast<size_t>(q.k));
      for (int j = 0; j < q.k; ++j) {
        EXPECT_EQ(result->arms[j].score, expected[j]) << "rank " << j;
      }
    }
  }

  Engine engine_;
};

TEST_P(SampleScanTest, TopKMatchesScoringEveryArm) {
  SampleQuery q;
  q.room_id = "r";
  q.policy.kind = GetParam();
  for (int k : {1, 10, 200}) {
    q.k = k;
    ExpectTopK(q);
  }
}

TEST_P(SampleScanTest, TopKMatchesWithContextAndExclusions) {
  SampleQuery q;
  q.room_id = "r";
  q.policy.kind = GetParam();
  q.k = 50;
  q.context_items = kItems;
  ExpectTopK(q);
  // Exclude the current best arms; the next ones must follow exactly.
  absl::StatusOr<SampleResult> best = engine_.Sample(q);
  ASSERT_TRUE(best.ok());
  for (int j = 0; j < 20; ++j)
    q.excluded_arm_ids.push_back(best->arms[j].arm_id);
  ExpectTopK(q);
}

// Arms tied at the k-th score must all reach the exact scoring and the
// random tie-break, though their CTR rounds up (fl(4/5) * 5 > 4, so
// "t n - clicks <= 0" fails for them without the tie slack). Listing every
// arm as a candidate scores every arm with the same tie-break keys: the
// chosen arms, not only their scores, must be the same.
TEST_P(SampleScanTest, TiedArmsAreChosenAsWhenScoringEveryArm) {
  Engine engine;
  constexpr int kRoomArms = 2000;
  const std::vector<std::string> arm_ids =
      CreateNumberedRoom(engine, "t", kRoomArms);
  FeedbackBatch batch;
  for (int i = 0; i < kRoomArms; ++i) {
    FeedbackEvent e;
    e.room_id = "t";
    e.arm_id = absl::StrCat("a", i);
    if (i % 50 == 7) {
      // 40 contenders across the blocks, CTR 4/5 at 5, 10, 15, 20 views.
      e.views = 5 * (1 + (i / 50) % 4);
      e.clicks = e.views * 4 / 5;
    } else {
      e.views = 20;
      e.clicks = i % 10;
    }
    batch.events.push_back(e);
  }
  ASSERT_TRUE(engine.Apply(batch).ok());
  SampleQuery scan;
  scan.room_id = "t";
  scan.k = 5;
  scan.policy.kind = GetParam();
  SampleQuery every = scan;
  every.candidate_arm_ids = arm_ids;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    scan.seed = every.seed = seed;
    absl::StatusOr<SampleResult> a = engine.Sample(scan);
    absl::StatusOr<SampleResult> b = engine.Sample(every);
    ASSERT_TRUE(a.ok() && b.ok());
    ASSERT_EQ(a->arms.size(), b->arms.size());
    for (size_t j = 0; j < a->arms.size(); ++j) {
      EXPECT_EQ(a->arms[j].arm_id, b->arms[j].arm_id)
          << "seed " << seed << " rank " << j;
      EXPECT_EQ(a->arms[j].score, b->arms[j].score);
    }
  }
}

// Thompson's scans skip drawing for arms whose draw cannot reach the k-th
// best draw so far (exactly without context items, sample_thompson.cc; with
// them but for odds of 9e-14 per arm). Listing every arm
// as a candidate takes the path that draws for every arm: over 2,000 seeds
// the two must pick each of the contenders a0..a3 equally often. The other
// arms all have `rest_views` views and `rest_clicks` clicks.
// With `items`, every event counts under them too and Sample asks for them
// plus one item no arm has seen (which falls back to the segment's counts):
// the score is then a mean of draws.
void ExpectSameThompsonWinners(const std::vector<Counts>& contenders,
                               int64_t rest_views, int64_t rest_clicks,
                               std::vector<std::string> items = {}) {
  Engine engine;
  constexpr int kRoomArms = 2000;
  const std::vector<std::string> arm_ids =
      CreateNumberedRoom(engine, "r", kRoomArms);
  FeedbackBatch batch;
  for (int i = 0; i < kRoomArms; ++i) {
    FeedbackEvent e;
    e.room_id = "r";
    e.arm_id = absl::StrCat("a", i);
    const bool contender = i < static_cast<int>(contenders.size());
    e.views =
        contender ? static_cast<int64_t>(contenders[i].views) : rest_views;
    e.clicks =
        contender ? static_cast<int64_t>(contenders[i].clicks) : rest_clicks;
    e.context_items = items;
    batch.events.push_back(e);
  }
  ASSERT_TRUE(engine.Apply(batch).ok());
  SampleQuery scan;
  scan.room_id = "r";
  scan.k = 1;
  scan.policy.kind = PolicyKind::kThompson;
  if (!items.empty()) {
    scan.context_items = items;
    scan.context_items.push_back("unseen_item");
  }
  SampleQuery every = scan;
  every.candidate_arm_ids = arm_ids;
  constexpr int kRuns = 2000;
  std::vector<int> wins_scan(contenders.size()), wins_every(contenders.size());
  for (uint64_t seed = 0; seed < kRuns; ++seed) {
    scan.seed = every.seed = seed;
    for (auto [query, wins] :
         {std::pair{&scan, &wins_scan}, std::pair{&every, &wins_every}}) {
      absl::StatusOr<SampleResult> result = engine.Sample(*query);
      ASSERT_TRUE(result.ok());
      const std::string& id = result->arms[0].arm_id;
      for (size_t i = 0; i < contenders.size(); ++i) {
        if (id == absl::StrCat("a", i)) ++(*wins)[i];
      }
    }
  }
  for (size_t i = 0; i < contenders.size(); ++i) {
    // Binomial standard deviation at p <= 0.5 over 2000 runs is at most
    // 0.011; the difference of two runs, 0.016: allow 4 of them.
    EXPECT_NEAR(wins_scan[i] / double{kRuns}, wins_every[i] / double{kRuns},
                0.064)
        << "arm a" << i;
  }
}

TEST(SampleScanThompsonTest, SkippingDrawsKeepsTheDistribution) {
  // Four contenders (CTR 0.30 to 0.27 over 300 views); the rest 0.05.
  ExpectSameThompsonWinners({{300, 90}, {300, 87}, {300, 84}, {300, 81}}, 200,
                            10);
}

TEST(SampleScanThompsonTest, FewViewsWithoutClicksKeepTheDistribution) {
  // Arms with 1 to 4 views and no click draw Beta(1, b), which the scan
  // draws by inversion; they win often against 1,996 arms of Beta(3, 19),
  // whose draws are skipped or made according to their Chernoff bound.
  ExpectSameThompsonWinners({{1, 0}, {2, 0}, {3, 0}, {4, 0}}, 20, 2);
}

// With context items the scan stops drawing an arm's items once the draws
// so far plus the bounds of the rest fall short of the k-th best mean.
TEST(SampleScanThompsonTest, MeansOverContextItemsKeepTheDistribution) {
  ExpectSameThompsonWinners({{300, 90}, {300, 87}, {300, 84}, {300, 81}}, 200,
                            10, {"x", "y"});
  ExpectSameThompsonWinners({{1, 0}, {2, 0}, {3, 0}, {4, 0}}, 20, 2,
                            {"x", "y"});
}

INSTANTIATE_TEST_SUITE_P(Policies, SampleScanTest,
                         ::testing::Values(PolicyKind::kCtr, PolicyKind::kUcb1,
                                           PolicyKind::kBucb));

}  // namespace
}  // namespace banditd::core
