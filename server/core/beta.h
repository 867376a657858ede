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

// With context items, Thompson's scan skips an arm when the probability that
// its draw reaches the threshold is below exp(-kBetaSkipLogProbability) =
// 9e-14 (sample_kernels.h, ThompsonDrawBound).
inline constexpr double kBetaSkipLogProbability = 30;

}  // namespace banditd::core

#endif  // BANDITD_SERVER_CORE_BETA_H_
