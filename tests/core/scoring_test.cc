#include "server/core/scoring.h"

#include <cmath>
#include <limits>

#include "gtest/gtest.h"

namespace banditd::core {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

TEST(ScoringTest, CtrIsClicksOverViews) {
  EXPECT_DOUBLE_EQ(Ctr(100, 5), 0.05);
  EXPECT_DOUBLE_EQ(Ctr(0, 0), 0.0);
  EXPECT_DOUBLE_EQ(CtrScore(200, 30), 0.15);
  EXPECT_EQ(CtrScore(0, 0), kInf);
}

TEST(ScoringTest, Ucb1MatchesHandComputedValue) {
  // 0.05 + 1.0 * sqrt(2 ln(1000) / 100) = 0.05 + 0.3716922...
  EXPECT_NEAR(Ucb1Score(100, 5, std::log(1000.0), 1.0), 0.4216922188849838,
              1e-12);
  // alpha scales only the bonus: 0.05 + 0.5 * 0.3716922...
  EXPECT_NEAR(Ucb1Score(100, 5, std::log(1000.0), 0.5), 0.2358461094424919,
              1e-12);
  // alpha 0 is greedy.
  EXPECT_DOUBLE_EQ(Ucb1Score(100, 5, std::log(1000.0), 0.0), 0.05);
  EXPECT_EQ(Ucb1Score(0, 0, std::log(1000.0), 1.0), kInf);
}

TEST(ScoringTest, SafeLogIsZeroForOneOrFewerViews) {
  EXPECT_EQ(SafeLog(0), 0.0);
  EXPECT_EQ(SafeLog(1), 0.0);
  EXPECT_NEAR(SafeLog(std::exp(2.0)), 2.0, 1e-12);
}

TEST(ScoringTest, BucbMatchesHandComputedValue) {
  // p = (5 + 1) / (100 + 2); 0.05 + 1.96 * sqrt(p (1 - p) / 100).
  EXPECT_NEAR(BucbScore(100, 5, 1.96, 1, 1), 0.09611764705882353, 1e-12);
  // An arm with views but no click keeps a bonus: p = 1/12.
  EXPECT_NEAR(BucbScore(10, 0, 1.96, 1, 1), 0.17130544520112473, 1e-12);
  EXPECT_EQ(BucbScore(0, 0, 1.96, 1, 1), kInf);
  // z = 0 is greedy.
  EXPECT_DOUBLE_EQ(BucbScore(100, 5, 0.0, 1, 1), 0.05);
}

TEST(ScoringTest, BucbStaysFiniteWhenClicksRunAheadOfViews) {
  // Clicks may be reported before their views arrive.
  const double score = BucbScore(2, 5, 1.96, 1, 1);
  EXPECT_TRUE(std::isfinite(score));
  EXPECT_DOUBLE_EQ(score, 2.5);  // p clamps to 1: no variance term.
}

TEST(ScoringTest, BetaPosteriorParameters) {
  EXPECT_DOUBLE_EQ(BetaAlpha(7, 1), 8);
  EXPECT_DOUBLE_EQ(BetaBeta(10, 7, 1), 4);
  EXPECT_DOUBLE_EQ(BetaBeta(3, 7, 2), 2);  // never below the prior
}

}  // namespace
}  // namespace banditd::core
