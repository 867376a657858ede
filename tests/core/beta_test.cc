// BetaReachingDraw skips Beta draws that cannot reach a threshold: what it
// returns must be distributed as plain SampleBeta draws, cut at the
// threshold, with values computed by hand from the Beta's tail.

#include "server/core/beta.h"

#include <cmath>
#include <limits>
#include <random>

#include "gtest/gtest.h"

namespace banditd::core {
namespace {

constexpr double kNone = -std::numeric_limits<double>::infinity();
constexpr int kDraws = 200000;

struct Tally {
  int returned = 0;  // draws made (not -infinity)
  int reached = 0;   // draws at or above the threshold
  double reached_sum = 0;
  double returned_sum = 0;
};

Tally DrawMany(double a, double b, double threshold, uint64_t seed) {
  std::mt19937_64 rng(seed);
  BetaReachingDraw beta;
  beta.SetThreshold(threshold);
  Tally t;
  for (int i = 0; i < kDraws; ++i) {
    const double x = beta.Draw(rng, a, b);
    if (x == kNone) continue;
    EXPECT_GE(x, 0);
    EXPECT_LE(x, 1);
    ++t.returned;
    t.returned_sum += x;
    if (x >= threshold) {
      ++t.reached;
      t.reached_sum += x;
    }
  }
  return t;
}

TEST(BetaReachingDrawTest, NoThresholdDrawsEveryTime) {
  const Tally t = DrawMany(3, 7, kNone, 1);
  EXPECT_EQ(t.returned, kDraws);
  // Beta(3, 7) has mean 0.3 and sd 0.138: the mean of 200,000 draws is
  // within 0.0012 of it at 4 standard errors.
  EXPECT_NEAR(t.returned_sum / kDraws, 0.3, 0.0012);
}

TEST(BetaReachingDrawTest, OneSuccessDrawsExactlyTheTail) {
  // Beta(1, 3): P(X >= 0.3) = 0.7^3 = 0.343, and 1 - X given X >= t is
  // (1 - t) Beta(3, 1), so E[X | X >= 0.3] = 1 - 0.7 * 3/4 = 0.475.
  const Tally t = DrawMany(1, 3, 0.3, 2);
  // Exact in this case: every draw made reaches the threshold.
  EXPECT_EQ(t.returned, t.reached);
  EXPECT_NEAR(t.reached / double{kDraws}, 0.343, 0.0043);  // 4 sd
  EXPECT_NEAR(t.reached_sum / t.reached, 0.475, 0.002);
}

TEST(BetaReachingDrawTest, SkewedBetaKeepsItsTailProbability) {
  // Beta(2, 15): P(X >= 0.3) = P(Binomial(16, 0.3) <= 1)
  //   = 0.7^16 + 16 * 0.3 * 0.7^15 = 0.02611.
  const Tally t = DrawMany(2, 15, 0.3, 3);
  EXPECT_NEAR(t.reached / double{kDraws}, 0.02611, 0.0015);
}

TEST(BetaReachingDrawTest, SkipsDrawsThatCannotReach) {
  // Beta(2, 15) at 0.95: P = 0.05^16 + 16 * 0.95 * 0.05^15 < 1e-18, below
  // the exp(-30) budget: no draw is made.
  EXPECT_EQ(DrawMany(2, 15, 0.95, 4).returned, 0);
  // Beta(1, 40) at 0.6: P = 0.4^40 = 1.2e-16, decided by the draw's own
  // uniform: none reaches.
  EXPECT_EQ(DrawMany(1, 40, 0.6, 5).reached, 0);
  // Normal approximation, Beta(100, 100) at 0.8: 8.5 sd above the mean,
  // a Gaussian tail of exp(-36); at 0.7 (5.7 sd, exp(-16)) it must draw.
  EXPECT_EQ(DrawMany(100, 100, 0.8, 6).returned, 0);
  EXPECT_EQ(DrawMany(100, 100, 0.7, 6).returned, kDraws);
  // A threshold above 1 (an unseen arm holds the top k): nothing reaches.
  EXPECT_EQ(DrawMany(2, 2, 1.5, 7).returned, 0);
}

TEST(BetaReachingDrawTest, NormalApproximationKeepsItsTail) {
  // Beta(100, 100) is drawn as N(0.5, 0.25 / 201): P(X >= 0.55) is the
  // normal tail at 0.05 / 0.03527 = 1.4177 sd, 0.07814.
  const Tally t = DrawMany(100, 100, 0.55, 8);
  EXPECT_NEAR(t.reached / double{kDraws}, 0.07814, 0.0025);
}

}  // namespace
}  // namespace banditd::core
