#ifndef BANDITD_SERVER_CORE_BETA_H_
#define BANDITD_SERVER_CORE_BETA_H_

// Fast Beta draws for Thompson sampling, generic over the random generator
// (any uniform random bit generator of 64-bit results).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "absl/random/gaussian_distribution.h"

namespace banditd::core {

// Below this value of both Beta parameters draws are exact (two gamma draws);
// at or above it the Beta is drawn from its normal approximation, whose
// skewness is then under 0.35 (and 0.05 once both exceed 1,000).
inline constexpr double kBetaNormalMin = 32;

// A uniform double in (0, 1), never 0, so that its logarithm is finite.
template <typename URBG>
double OpenUniform(URBG& rng) {
  return (static_cast<double>(rng() >> 11) + 0.5) * 0x1.0p-53;
}

// SampleGamma draws Gamma(a, 1) for a > 0 (Marsaglia and Tsang, 2000: one
// normal and one uniform per draw, the logarithm only on the rare slow path).
template <typename URBG>
double SampleGamma(URBG& rng, double a) {
  if (a < 1) {
    // Gamma(a) = Gamma(a + 1) * U^(1/a).
    const double u = OpenUniform(rng);
    return SampleGamma(rng, a + 1.0) * std::pow(u, 1.0 / a);
  }
  absl::gaussian_distribution<double> normal;
  const double d = a - 1.0 / 3.0;
  const double c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    double x;
    double v;
    do {
      x = normal(rng);
      v = 1.0 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const double u = OpenUniform(rng);
    const double x2 = x * x;
    if (u < 1.0 - 0.0331 * x2 * x2) return d * v;
    if (std::log(u) < 0.5 * x2 + d * (1.0 - v + std::log(v))) return d * v;
  }
}

// SampleBeta draws Beta(a, b) for a, b > 0: exactly as X / (X + Y) from two
// gamma draws when either parameter is small, else from N(mean, variance) of
// the Beta, clamped to [0, 1], which costs one normal draw.
template <typename URBG>
double SampleBeta(URBG& rng, double a, double b) {
  if (a >= kBetaNormalMin && b >= kBetaNormalMin) {
    absl::gaussian_distribution<double> normal;
    const double n = a + b;
    const double mean = a / n;
    const double sd = std::sqrt(mean * (b / n) / (n + 1.0));
    return std::clamp(mean + sd * normal(rng), 0.0, 1.0);
  }
  const double x = SampleGamma(rng, a);
  const double y = SampleGamma(rng, b);
  const double sum = x + y;
  return sum > 0 ? x / sum : a / (a + b);
}

// A draw that cannot reach the threshold is skipped when the probability
// that it would is below exp(-kBetaSkipLogProbability) = 9e-14.
inline constexpr double kBetaSkipLogProbability = 30;

// BetaReachingDraw draws Beta(a, b) as SampleBeta does, but only where the
// draw can reach a threshold (the k-th best Thompson draw so far): the draws
// of a top-k scan that cannot enter the top k are mostly never made.
//   - a == 1 (an arm with no click under the default prior): the draw is
//     1 - U^(1/b) by inversion, and compared with the threshold as log U
//     before the power is taken, so the result is exact: -infinity exactly
//     when the draw falls below the threshold.
//   - otherwise the draw is skipped when a Chernoff bound puts the chance of
//     reaching the threshold below exp(-30): exp(-(a + b) KL(mean || t)) for
//     the exact Beta (the optimum of E exp(s ((1 - t) X_a - t X_b)) over s
//     for the gamma draws X_a, X_b), and the Gaussian tail for the normal
//     approximation used at a, b >= kBetaNormalMin.
class BetaReachingDraw {
 public:
  // The threshold: the draws returned are those that can reach it.
  void SetThreshold(double threshold) {
    threshold_ = threshold;
    if (threshold > 0 && threshold < 1) {
      log_threshold_ = std::log(threshold);
      log1m_threshold_ = std::log1p(-threshold);
    }
  }
  double threshold() const { return threshold_; }

  // A draw of Beta(a, b) (a, b > 0), or -infinity where it would have fallen
  // below the threshold (exactly for a == 1, else but for odds of 9e-14).
  template <typename URBG>
  double Draw(URBG& rng, double a, double b) const {
    constexpr double kNone = -std::numeric_limits<double>::infinity();
    if (!(threshold_ > 0)) return SampleBeta(rng, a, b);  // every draw reaches
    if (threshold_ > 1) return kNone;
    if (a == 1) {
      const double log_u = std::log(OpenUniform(rng));
      // 1 - U^(1/b) >= t  <=>  log U <= b log(1 - t); the slack makes the
      // test pass on a rounding tie, and the returned draw is exact.
      if (threshold_ < 1 && log_u > b * log1m_threshold_ * (1 - 1e-9)) {
        return kNone;
      }
      return -std::expm1(log_u / b);
    }
    const double n = a + b;
    const double mean = a / n;
    if (threshold_ > mean) {
      if (a >= kBetaNormalMin && b >= kBetaNormalMin) {
        const double variance = mean * (b / n) / (n + 1.0);
        const double gap = threshold_ - mean;
        if (gap * gap > 2 * kBetaSkipLogProbability * variance) return kNone;
      } else if (threshold_ < 1) {
        const double kl = mean * (std::log(mean) - log_threshold_) +
                          (1 - mean) * (std::log1p(-mean) - log1m_threshold_);
        if (n * kl > kBetaSkipLogProbability) return kNone;
      }
    }
    return SampleBeta(rng, a, b);
  }

 private:
  double threshold_ = -std::numeric_limits<double>::infinity();
  double log_threshold_ = 0;
  double log1m_threshold_ = 0;
};

}  // namespace banditd::core

#endif  // BANDITD_SERVER_CORE_BETA_H_
