// The formulas of klucb.h and revenue.h against hand-computed values, and the
// revenue policies through Engine::Sample on the reproduction.

#include "server/core/revenue.h"

#include <cmath>
#include <random>
#include <string>

#include "gtest/gtest.h"
#include "server/core/engine.h"
#include "server/core/klucb.h"
#include "tests/testing/core_builders.h"

namespace banditd::core {
namespace {

using ::banditd::testing::Batch;
using ::banditd::testing::Event;
using ::banditd::testing::NewRoom;

TEST(KlUcbTest, NoClickHasTheClosedForm) {
  // kl(0, q) = -ln(1 - q): q = 1 - 220^(-1/20).
  EXPECT_NEAR(KlUcbUpper(20, 0, std::log(220.0)), 0.23637723688756906, 1e-15);
}

TEST(KlUcbTest, MatchesBisectionReference) {
  // References: 200 steps of bisection of n kl(p, q) = budget in Python.
  EXPECT_NEAR(KlUcbUpper(200, 20, std::log(220.0)), 0.18357447978819558, 1e-11);
  EXPECT_NEAR(KlUcbUpper(10, 5, std::log(100.0)), 0.8879087616458613, 1e-11);
  EXPECT_NEAR(KlUcbUpper(1000, 30, std::log(5000.0)), 0.05777018548908358,
              1e-11);
  // Never below the exact root (Newton from above).
  EXPECT_GE(KlUcbUpper(1000, 30, std::log(5000.0)),
            0.05777018548908358 - 1e-16);
}

TEST(KlUcbTest, EdgeCases) {
  EXPECT_EQ(KlUcbUpper(10, 3, 0), 0.3);   // N <= 1: no exploration
  EXPECT_EQ(KlUcbUpper(10, 10, 5), 1.0);  // p = 1
  EXPECT_EQ(KlUcbUpper(10, 12, 5), 1.0);  // clicks > views: clamped
  EXPECT_TRUE(std::isinf(KlUcbScore(0, 0, 5)));
  // A huge budget on few views: just below 1, not NaN.
  const double q = KlUcbUpper(2, 1, 100);
  EXPECT_GT(q, 0.999);
  EXPECT_LE(q, 1.0);
  EXPECT_DOUBLE_EQ(BernoulliKl(0.5, 0.5), 0);
  EXPECT_NEAR(BernoulliKl(0.1, 0.2),
              0.1 * std::log(0.5) + 0.9 * std::log(0.9 / 0.8), 1e-15);
}

TEST(ValuePosteriorTest, RoomPriorPoolsConversions) {
  // Values 5, 5, 15, 15: mean 10, variance 25.
  const ValuePrior prior = RoomValuePrior(4, 40, 500);
  EXPECT_DOUBLE_EQ(prior.mean, 10);
  EXPECT_DOUBLE_EQ(prior.variance, 25);
  // No conversion anywhere: each click worth 1, known.
  const ValuePrior none = RoomValuePrior(0, 0, 0);
  EXPECT_EQ(none.mean, 1);
  EXPECT_EQ(none.variance, 0);
}

TEST(ValuePosteriorTest, NormalInverseGammaUpdate) {
  const ValuePrior prior{10, 25};
  // No conversion: the prior, kappa0 1, alpha0 3/2, beta0 = 25 / 2.
  ValuePosterior p = PosteriorValue(prior, 0, 0, 0);
  EXPECT_DOUBLE_EQ(p.mean, 10);
  EXPECT_DOUBLE_EQ(p.kappa, 1);
  EXPECT_DOUBLE_EQ(p.alpha, 1.5);
  EXPECT_DOUBLE_EQ(p.beta, 12.5);
  // Prior sd of the mean value = s0: t3 variance = scale^2 * 3 = 25.
  EXPECT_DOUBLE_EQ(MeanValueScale2(p) * 3, 25);
  // Conversions worth 10 and 20: mean 15, squares about the mean 50.
  // kappa 3, mean (10 + 30) / 3, alpha 5/2,
  // beta = 12.5 + 50 / 2 + 1 * 2 * (15 - 10)^2 / (2 * 3) = 45.8333...
  p = PosteriorValue(prior, 2, 30, 500);
  EXPECT_DOUBLE_EQ(p.kappa, 3);
  EXPECT_DOUBLE_EQ(p.mean, 40.0 / 3);
  EXPECT_DOUBLE_EQ(p.alpha, 2.5);
  EXPECT_NEAR(p.beta, 12.5 + 25 + 50.0 / 6, 1e-12);
  EXPECT_NEAR(MeanValueScale2(p), (12.5 + 25 + 50.0 / 6) / 7.5, 1e-12);
}

TEST(ValuePosteriorTest, DrawsFollowTheStudentT) {
  const ValuePosterior p = PosteriorValue({10, 25}, 2, 30, 500);
  std::mt19937_64 rng(7);
  constexpr int kDraws = 400000;
  double sum = 0, sq = 0;
  for (int i = 0; i < kDraws; ++i) {
    const double x = DrawMeanValue(rng, p) - p.mean;
    sum += x;
    sq += x * x;
  }
  // t with 2 alpha = 5 degrees of freedom: variance scale^2 * 5 / 3 = 10.19.
  const double variance = MeanValueScale2(p) * 5 / 3;
  EXPECT_NEAR(sum / kDraws, 0, 4 * std::sqrt(variance / kDraws));
  // The t5 fourth moment is infinite-ish in small samples: 5 % is generous
  // but still catches a wrong scale (alpha instead of alpha kappa: 3x).
  EXPECT_NEAR(sq / kDraws / variance, 1, 0.05);
  // A known value (beta 0) is drawn exactly.
  EXPECT_EQ(DrawMeanValue(rng, PosteriorValue({1, 0}, 3, 3, 3)), 1);
}

TEST(RewardUcbTest, KlRateTimesValueBound) {
  const ValuePrior prior{10, 25};
  // 100 views, conversions worth 10 and 20, N = 1000: level ln(1000 / 100),
  // rate 0.06571786018684438 (bisection reference),
  // value 40/3 + sqrt(2 ln 10 * 45.8333 / 7.5) = 18.638303332508585.
  EXPECT_NEAR(RewardUcbScore(100, 2, 30, 500, std::log(1000.0), prior),
              0.06571786018684438 * 18.638303332508585, 1e-9);
  EXPECT_TRUE(std::isinf(RewardUcbScore(0, 0, 0, 0, 1, prior)));
  // A negative value bound scores 0 (p v <= 0 for every rate).
  EXPECT_EQ(RewardUcbScore(10, 5, -50, 500, 0.0, {-10, 0}), 0);
}

// The reproduction: A 20 views 0 clicks, B 200 views 20 clicks,
// each click worth 1. THOMPSON's Beta posterior gives
// P(A > B) = E[(1 - X)^21], X ~ Beta(21, 181) = 0.11163.
TEST(RewardPoliciesTest, EmptyArmKeepsItsPosteriorShare) {
  Engine engine;
  ASSERT_TRUE(engine.Apply(NewRoom("r", {"A", "B"})).ok());
  ASSERT_TRUE(engine
                  .Apply(Batch({Event("r", "A", 20, 0, "", {}, 0.0),
                                Event("r", "B", 200, 20, "", {}, 20.0)}))
                  .ok());
  constexpr int kCalls = 20000;
  int a_wins = 0;
  for (int s = 0; s < kCalls; ++s) {
    SampleQuery q;
    q.room_id = "r";
    q.policy.kind = PolicyKind::kRewardThompson;
    q.seed = s;
    a_wins += engine.Sample(q)->arms[0].arm_id == "A";
  }
  // sd of the share: sqrt(0.11 * 0.89 / 20000) = 0.0022.
  EXPECT_NEAR(a_wins / double{kCalls}, 0.11163, 0.009);
  // REWARD_UCB: A's rate bound at level ln(220 / 20), 1 - 11^(-1/20) =
  // 0.1130, beats B's 0.1095 at level ln(220 / 200).
  SampleQuery q;
  q.room_id = "r";
  q.policy.kind = PolicyKind::kRewardUcb;
  absl::StatusOr<SampleResult> ucb = engine.Sample(q);
  ASSERT_TRUE(ucb.ok());
  EXPECT_EQ(ucb->arms[0].arm_id, "A");
  EXPECT_NEAR(ucb->arms[0].score, 0.1129862220930431, 1e-12);
}

// Sparse revenue: an arm whose 300 views converted nothing, in a room whose
// conversions are worth about 30, still wins a share of REWARD_THOMPSON
// draws and the top of REWARD_UCB once N is large enough.
TEST(RewardPoliciesTest, ArmWithoutConversionIsNotStarved) {
  Engine engine;
  ASSERT_TRUE(engine.Apply(NewRoom("r", {"empty", "seller"})).ok());
  ASSERT_TRUE(engine
                  .Apply(Batch({Event("r", "empty", 300, 0, "", {}, 0.0),
                                Event("r", "seller", 2000, 10, "", {}, 200.0),
                                Event("r", "seller", 0, 10, "", {}, 400.0)}))
                  .ok());
  int empty_wins = 0;
  for (int s = 0; s < 4000; ++s) {
    SampleQuery q;
    q.room_id = "r";
    q.policy.kind = PolicyKind::kRewardThompson;
    q.seed = s;
    empty_wins += engine.Sample(q)->arms[0].arm_id == "empty";
  }
  EXPECT_GT(empty_wins, 40);  // over 1 %: the old model gave 0.03 %
  EXPECT_LT(empty_wins, 2000);
}

TEST(RewardPoliciesTest, RanksByRateTimesValueWhenKnown) {
  Engine engine;
  ASSERT_TRUE(engine.Apply(NewRoom("shop", {"cheap", "premium"})).ok());
  // cheap: CTR 0.2 at 2 = 0.4 per view; premium: CTR 0.1 at 10 = 1.0.
  ASSERT_TRUE(
      engine
          .Apply(Batch({Event("shop", "cheap", 5000, 1000, "", {}, 2000.0),
                        Event("shop", "premium", 5000, 500, "", {}, 5000.0)}))
          .ok());
  for (PolicyKind kind :
       {PolicyKind::kRewardUcb, PolicyKind::kRewardThompson}) {
    for (uint64_t seed = 0; seed < 20; ++seed) {
      SampleQuery q;
      q.room_id = "shop";
      q.policy.kind = kind;
      q.seed = seed;
      q.k = 2;
      absl::StatusOr<SampleResult> r = engine.Sample(q);
      ASSERT_TRUE(r.ok());
      EXPECT_EQ(r->arms[0].arm_id, "premium") << PolicyKindName(kind);
    }
  }
}

TEST(KlUcbPolicyTest, ScoreOverTheEngineIsTheIndex) {
  Engine engine;
  ASSERT_TRUE(engine.Apply(NewRoom("k", {"a", "b"})).ok());
  ASSERT_TRUE(
      engine.Apply(Batch({Event("k", "a", 20, 0), Event("k", "b", 200, 20)}))
          .ok());
  SampleQuery q;
  q.room_id = "k";
  q.k = 2;
  q.policy.kind = PolicyKind::kKlUcb;
  absl::StatusOr<SampleResult> r = engine.Sample(q);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->arms.size(), 2u);
  // Levels ln(220 / 20) and ln(220 / 200).
  EXPECT_EQ(r->arms[0].arm_id, "a");
  EXPECT_NEAR(r->arms[0].score, 0.1129862220930431, 1e-12);
  EXPECT_NEAR(r->arms[1].score, 0.10951530985584272, 1e-11);
  EXPECT_DOUBLE_EQ(KlUcbBudget(20, std::log(220.0)), std::log(11.0));
  EXPECT_EQ(KlUcbBudget(300, std::log(220.0)), 0);  // never negative
}

}  // namespace
}  // namespace banditd::core
