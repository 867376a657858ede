// Winner analysis (server/core/winner.cc, engine_winner.cc) against closed
// forms. Monte Carlo estimates must fall within 5 standard errors of the
// exact value (a seeded run, so the outcome is fixed; a 5-sigma miss would
// mean a biased estimator, not bad luck).

#include "server/core/winner.h"

#include <algorithm>
#include <cmath>
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
using ::testing::HasSubstr;

double LogBeta(double a, double b) {
  return std::lgamma(a) + std::lgamma(b) - std::lgamma(a + b);
}

// P(X_b > X_a) for X_a ~ Beta(a1, b1), X_b ~ Beta(a2, b2), integer a2
// (Miller's closed form).
double ProbSecondBeats(double a1, double b1, double a2, double b2) {
  double p = 0;
  for (int i = 0; i < static_cast<int>(a2); ++i) {
    p += std::exp(LogBeta(a1 + i, b1 + b2) - std::log(b2 + i) -
                  LogBeta(1 + i, b2) - LogBeta(a1, b1));
  }
  return p;
}

// E[max(X_a, X_b)] = integral over [0, 1] of 1 - F_a(x) F_b(x), with the
// CDFs integrated from the densities on a fine grid (a, b >= 1).
double ExpectedMax(double a1, double b1, double a2, double b2) {
  constexpr int kSteps = 400000;
  const double h = 1.0 / kSteps;
  auto density = [](double x, double a, double b) {
    if (x <= 0 || x >= 1) {
      return (x <= 0 && a == 1)   ? std::exp(-LogBeta(a, b))
             : (x >= 1 && b == 1) ? std::exp(-LogBeta(a, b))
                                  : 0.0;
    }
    return std::exp((a - 1) * std::log(x) + (b - 1) * std::log1p(-x) -
                    LogBeta(a, b));
  };
  double fa = 0, fb = 0, integral = 0;
  double prev_a = density(0, a1, b1), prev_b = density(0, a2, b2);
  double prev_g = 1.0;  // 1 - F_a F_b at 0
  for (int s = 1; s <= kSteps; ++s) {
    const double x = s * h;
    const double da = density(x, a1, b1), db = density(x, a2, b2);
    fa += 0.5 * h * (prev_a + da);
    fb += 0.5 * h * (prev_b + db);
    const double g = 1.0 - std::min(fa, 1.0) * std::min(fb, 1.0);
    integral += 0.5 * h * (prev_g + g);
    prev_a = da, prev_b = db, prev_g = g;
  }
  return integral;
}

TEST(WinnerTest, TwoBetaArmsMatchTheExactProbabilityAndLoss) {
  struct Case {
    double a1, b1, a2, b2;
  };
  for (const Case& c :
       {Case{3, 10, 5, 12}, Case{1, 1, 1, 1}, Case{20, 80, 25, 75},
        Case{2, 50, 30, 5}, Case{11, 300, 14, 290}}) {
    WinnerOptions options;
    options.draws = 200000;
    options.seed = 7;
    const WinnerAnalysis w =
        AnalyzeWinner({{ArmPosterior::Kind::kBeta, c.a1, c.b1},
                       {ArmPosterior::Kind::kBeta, c.a2, c.b2}},
                      options);
    ASSERT_EQ(w.arms.size(), 2u);
    EXPECT_EQ(w.draws, 200000);
    // Clamped: the sum may round a hair past 1.
    const double p2 =
        std::clamp(ProbSecondBeats(c.a1, c.b1, c.a2, c.b2), 0.0, 1.0);
    const double se = std::sqrt(p2 * (1 - p2) / options.draws);
    EXPECT_NEAR(w.arms[1].prob_best, p2, 5 * se + 1e-12) << c.a1 << "," << c.b1;
    EXPECT_DOUBLE_EQ(w.arms[0].prob_best + w.arms[1].prob_best, 1.0);
    // The reported standard error is the binomial one.
    EXPECT_NEAR(w.arms[1].prob_best_se, se, 0.1 * se + 1e-9);

    const double emax = ExpectedMax(c.a1, c.b1, c.a2, c.b2);
    const double loss1 = emax - c.a1 / (c.a1 + c.b1);
    const double loss2 = emax - c.a2 / (c.a2 + c.b2);
    EXPECT_NEAR(w.arms[0].expected_loss, loss1,
                5 * w.arms[0].expected_loss_se + 1e-6);
    EXPECT_NEAR(w.arms[1].expected_loss, loss2,
                5 * w.arms[1].expected_loss_se + 1e-6);
    EXPECT_EQ(w.best, loss1 < loss2 ? 0 : 1);
  }
}

TEST(WinnerTest, RevenueWithACertainValueScalesTheBetaAnswer) {
  // Every conversion worth 3 (posterior beta 0: the value is certain), so
  // revenue per view is 3 x the rate: the same winner probabilities as the
  // rates', and three times their expected losses.
  ArmPosterior a{ArmPosterior::Kind::kRevenue, 3, 10, {3, 5, 4, 0}};
  ArmPosterior b{ArmPosterior::Kind::kRevenue, 5, 12, {3, 7, 5, 0}};
  WinnerOptions options;
  options.draws = 100000;
  const WinnerAnalysis w = AnalyzeWinner({a, b}, options);
  const double p2 = ProbSecondBeats(3, 10, 5, 12);
  EXPECT_NEAR(w.arms[1].prob_best, p2, 5 * std::sqrt(p2 * (1 - p2) / 1e5));
  const double emax = ExpectedMax(3, 10, 5, 12);
  EXPECT_NEAR(w.arms[0].expected_loss, 3 * (emax - 3.0 / 13),
              5 * w.arms[0].expected_loss_se + 1e-6);
  EXPECT_NEAR(w.arms[1].expected_loss, 3 * (emax - 5.0 / 17),
              5 * w.arms[1].expected_loss_se + 1e-6);
}

TEST(WinnerTest, CanStopWhenTheLeaderLossIsBelowTheThreshold) {
  // A clear winner: Beta(500, 500) against Beta(100, 900).
  const std::vector<ArmPosterior> arms = {
      {ArmPosterior::Kind::kBeta, 100, 900},
      {ArmPosterior::Kind::kBeta, 500, 500}};
  WinnerOptions options;
  options.loss_threshold = 0.001;
  WinnerAnalysis w = AnalyzeWinner(arms, options);
  EXPECT_EQ(w.best, 1);
  EXPECT_TRUE(w.can_stop);
  EXPECT_EQ(w.arms[1].prob_best, 1.0);
  EXPECT_NEAR(w.arms[0].expected_loss, 0.4, 0.01);
  // Two equal arms: each loses about as much as the other; no stop at a
  // threshold well below that loss (E|X - Y| / 2 for two Beta(10, 10)).
  w = AnalyzeWinner({{ArmPosterior::Kind::kBeta, 10, 10},
                     {ArmPosterior::Kind::kBeta, 10, 10}},
                    options);
  EXPECT_FALSE(w.can_stop);
  EXPECT_NEAR(w.arms[0].prob_best, 0.5, 5 * 0.005);
  EXPECT_GT(w.arms[0].expected_loss, 0.02);
}

TEST(WinnerTest, SeededAndDeterministic) {
  const std::vector<ArmPosterior> arms = {{ArmPosterior::Kind::kBeta, 3, 7},
                                          {ArmPosterior::Kind::kBeta, 4, 6},
                                          {ArmPosterior::Kind::kBeta, 2, 2}};
  WinnerOptions options;
  options.draws = 1000;
  options.seed = 42;
  const WinnerAnalysis a = AnalyzeWinner(arms, options);
  const WinnerAnalysis b = AnalyzeWinner(arms, options);
  options.seed = 43;
  const WinnerAnalysis c = AnalyzeWinner(arms, options);
  for (size_t i = 0; i < arms.size(); ++i) {
    EXPECT_EQ(a.arms[i].prob_best, b.arms[i].prob_best);
    EXPECT_EQ(a.arms[i].expected_loss, b.arms[i].expected_loss);
  }
  EXPECT_NE(a.arms[2].expected_loss, c.arms[2].expected_loss);
  EXPECT_TRUE(AnalyzeWinner({}, options).arms.empty());
}

TEST(EngineWinnerTest, EnabledArmsOfTheSegmentWithTheRoomPrior) {
  Engine engine;
  PolicyParams policy;
  policy.beta_prior_a = 2;
  policy.beta_prior_b = 3;
  ASSERT_TRUE(engine.Apply(NewRoom("r", {"a", "b", "off"}, policy)).ok());
  ASSERT_TRUE(engine.Apply(SetArmEnabled{"r", "off", false}).ok());
  ASSERT_TRUE(engine
                  .Apply(Batch({Event("r", "a", 10, 2, "s"),
                                Event("r", "b", 10, 5, "s"),
                                Event("r", "off", 100, 90, "s")}))
                  .ok());
  WinnerQuery query{"r", "s", 200000, 1, 0.0};
  absl::StatusOr<WinnerResult> w = engine.Winner(query);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_THAT(w->arm_ids, ElementsAre("a", "b"));
  EXPECT_EQ(w->posterior, ArmPosterior::Kind::kBeta);
  // a ~ Beta(2 + 2, 8 + 3), b ~ Beta(5 + 2, 5 + 3).
  const double p = ProbSecondBeats(4, 11, 7, 8);
  EXPECT_NEAR(w->analysis.arms[1].prob_best, p,
              5 * std::sqrt(p * (1 - p) / 200000));
  EXPECT_EQ(w->analysis.best, 1);
}

TEST(EngineWinnerTest, RewardPoliciesUseTheRevenuePosteriorAndBudgetCapsDraws) {
  EngineOptions options;
  options.max_winner_samples = 3000;
  Engine engine(options);
  PolicyParams policy;
  policy.kind = PolicyKind::kRewardThompson;
  ASSERT_TRUE(engine.Apply(NewRoom("r", {"a", "b", "c"}, policy)).ok());
  ASSERT_TRUE(engine
                  .Apply(Batch({Event("r", "a", 100, 10, "", {}, 50.0),
                                Event("r", "b", 100, 10, "", {}, 20.0)}))
                  .ok());
  absl::StatusOr<WinnerResult> w = engine.Winner({"r", "", 0, 0, 0.0});
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->posterior, ArmPosterior::Kind::kRevenue);
  EXPECT_EQ(w->analysis.draws, 1000);  // 3000 samples over 3 arms
  EXPECT_GT(w->analysis.arms[0].prob_best, w->analysis.arms[1].prob_best);
}

// Catches: reading a segment's sparse table by arm index (its slots are
// entries: another arm's counts, or past the end), seen as a different
// analysis than the whole room's dense table with the same counts.
TEST(EngineWinnerTest, SparseSegmentReadsEachArmsOwnCounts) {
  Engine engine;
  std::vector<std::string> arms;
  for (int i = 0; i < 12; ++i) arms.push_back(absl::StrCat("a", i));
  ASSERT_TRUE(engine.Apply(NewRoom("r", arms)).ok());
  // Two arms of twelve have counters in "s": its table stays sparse. The
  // whole room counts the same events in its dense table.
  ASSERT_TRUE(engine
                  .Apply(Batch({Event("r", "a9", 60, 45, "s"),
                                Event("r", "a4", 60, 6, "s")}))
                  .ok());
  WinnerQuery whole{"r", "", 20000, 7, 0.0};
  WinnerQuery segment{"r", "s", 20000, 7, 0.0};
  absl::StatusOr<WinnerResult> a = engine.Winner(whole);
  absl::StatusOr<WinnerResult> b = engine.Winner(segment);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->analysis.arms.size(), 12u);
  ASSERT_EQ(b->analysis.arms.size(), 12u);
  for (size_t i = 0; i < 12; ++i) {
    EXPECT_EQ(a->analysis.arms[i].prob_best, b->analysis.arms[i].prob_best)
        << arms[i];
    EXPECT_EQ(a->analysis.arms[i].expected_loss,
              b->analysis.arms[i].expected_loss)
        << arms[i];
  }
  // a4's 6 clicks in 60 views: far behind every unseen arm's Beta(1, 1).
  EXPECT_LT(b->analysis.arms[4].prob_best, 0.01);
}

// Catches: an analysis of more arms than asked (every arm of a big room),
// of a disabled arm, or an unknown arm passing silently.
TEST(EngineWinnerTest, AnalysesTheSelectedEnabledArms) {
  Engine engine;
  ASSERT_TRUE(engine.Apply(NewRoom("r", {"a", "b", "c", "off"})).ok());
  ASSERT_TRUE(engine.Apply(SetArmEnabled{"r", "off", false}).ok());
  ASSERT_TRUE(
      engine
          .Apply(Batch({Event("r", "a", 100, 10), Event("r", "c", 100, 30),
                        Event("r", "off", 100, 90)}))
          .ok());
  WinnerQuery query{"r", "", 20000, 1, 0.0};
  query.arms.arm_ids = {"c", "off", "a"};
  absl::StatusOr<WinnerResult> w = engine.Winner(query);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_THAT(w->arm_ids, ElementsAre("c", "a"));
  EXPECT_EQ(w->analysis.best, 0);
  EXPECT_GT(w->analysis.arms[0].prob_best, 0.99);
  query.arms.arm_ids = {"a", "nope"};
  absl::Status s = engine.Winner(query).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr("arm_ids[1]"));
}

TEST(EngineWinnerTest, ErrorsNameTheField) {
  Engine engine;
  ASSERT_TRUE(engine.Apply(NewRoom("r", {"a"})).ok());
  absl::Status s = engine.Winner({"r", "", -1, 0, 0.0}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("winner_analysis.draws"));
  s = engine.Winner({"r", "", 0, 0, -0.5}).status();
  EXPECT_THAT(s.message(), HasSubstr("winner_analysis.loss_threshold"));
  EXPECT_EQ(engine.Winner({"x", "", 0, 0, 0.0}).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace banditd::core
