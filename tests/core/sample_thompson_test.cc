// ThompsonScan's exact skip, one arm at a time (ThompsonDrawAbove): the
// proposal by the arm's Chernoff bound and the acceptance on the tilted law
// must return a draw at or above the threshold with exactly the probability
// SampleBeta's draw has, and distributed as SampleBeta's draw above it.
// Values computed by hand from the Beta's (or the normal's) tail. Catches an
// acceptance ratio off (too many or too few tail draws), a tilt of the wrong
// rate (the law above t shifted), a proposal bound below the tail.

#include <cmath>
#include <limits>

#include "gtest/gtest.h"
#include "server/core/sample_scan.h"

namespace banditd::core::scan {
namespace {

constexpr int kDraws = 200000;

struct Tally {
  int reached = 0;  // draws at or above the threshold
  double reached_sum = 0;
};

Tally DrawMany(double a, double b, double threshold, uint64_t seed) {
  SplitMix64 rng(seed);
  Tally t;
  for (int i = 0; i < kDraws; ++i) {
    const double x = ThompsonDrawAbove(rng, a, b, threshold);
    if (x == -std::numeric_limits<double>::infinity()) continue;
    EXPECT_GE(x, threshold);
    EXPECT_LE(x, 1);
    ++t.reached;
    t.reached_sum += x;
  }
  return t;
}

// P(Beta(a, b) >= t) for integers a, b: P(Binomial(a + b - 1, t) < a).
double BetaTail(int a, int b, double t) {
  const int n = a + b - 1;
  double p = 0;
  for (int j = 0; j < a; ++j) {
    p += std::exp(std::lgamma(n + 1) - std::lgamma(j + 1) -
                  std::lgamma(n - j + 1) + j * std::log(t) +
                  (n - j) * std::log1p(-t));
  }
  return p;
}

// 4.5 standard errors of a share p over kDraws.
double Margin(double p) { return 4.5 * std::sqrt(p * (1 - p) / kDraws); }

TEST(ThompsonDrawAboveTest, OneSuccessKeepsItsTailAndItsLawAboveIt) {
  // Beta(1, 3): P(X >= 0.3) = 0.7^3 = 0.343, and 1 - X given X >= t is
  // (1 - t) Beta(3, 1), so E[X | X >= 0.3] = 1 - 0.7 * 3/4 = 0.475 (sd of
  // the mean of 68,600 draws: 0.0006).
  const Tally t = DrawMany(1, 3, 0.3, 2);
  EXPECT_NEAR(t.reached / double{kDraws}, 0.343, Margin(0.343));
  EXPECT_NEAR(t.reached_sum / t.reached, 0.475, 0.003);
}

TEST(ThompsonDrawAboveTest, SkewedBetaKeepsItsTail) {
  // Beta(2, 15): P(X >= 0.3) = 0.7^16 + 16 * 0.3 * 0.7^15 = 0.02611, and
  // Beta(10, 52) (mean 0.16) at 0.3: the tilted gamma draws do the work.
  EXPECT_NEAR(BetaTail(2, 15, 0.3), 0.02611, 1e-5);
  const Tally skewed = DrawMany(2, 15, 0.3, 3);
  EXPECT_NEAR(skewed.reached / double{kDraws}, 0.02611, Margin(0.02611));
  const double p = BetaTail(10, 52, 0.3);  // 0.00477
  const Tally weak = DrawMany(10, 52, 0.3, 4);
  EXPECT_NEAR(weak.reached / double{kDraws}, p, Margin(p));
  // E[X [X >= t]] = mean P(Beta(a + 1, b) >= t) (sd of the mean of about
  // 950 draws: 0.0007).
  EXPECT_NEAR(weak.reached_sum / weak.reached,
              10.0 / 62 * BetaTail(11, 52, 0.3) / p, 0.003);
}

TEST(ThompsonDrawAboveTest, NormalApproximationKeepsItsTailAndItsLaw) {
  // Beta(100, 100) is drawn as N(0.5, 0.25 / 201): P(X >= 0.55) is the
  // normal tail at z = 0.05 / 0.035267 = 1.4177 sd, 0.07813, and
  // E[X | X >= 0.55] = 0.5 + 0.035267 phi(z) / 0.07813 = 0.56591 (sd of the
  // mean of 15,600 draws: 0.00013).
  const Tally t = DrawMany(100, 100, 0.55, 8);
  EXPECT_NEAR(t.reached / double{kDraws}, 0.07813, Margin(0.07813));
  EXPECT_NEAR(t.reached_sum / t.reached, 0.56591, 0.0008);
}

TEST(ThompsonDrawAboveTest, FarTailsAreNeverReached) {
  // Beta(2, 15) at 0.95: P < 1e-18; Beta(100, 100) at 0.8: 8.5 sd.
  EXPECT_EQ(DrawMany(2, 15, 0.95, 5).reached, 0);
  EXPECT_EQ(DrawMany(100, 100, 0.8, 6).reached, 0);
}

}  // namespace
}  // namespace banditd::core::scan
