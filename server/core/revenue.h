#ifndef BANDITD_SERVER_CORE_REVENUE_H_
#define BANDITD_SERVER_CORE_REVENUE_H_

// Revenue per view = conversion rate x mean value per conversion, each with
// its own posterior (REWARD_THOMPSON, REWARD_UCB):
//
//   - the rate: Beta(clicks + a, views - clicks + b), as for THOMPSON;
//   - the mean value per conversion: a Normal-Inverse-Gamma posterior over
//     the values of the arm's conversions (count m = clicks, sum S =
//     reward_sum, sum of squares Q = the reward_sq counter), whose prior is
//     one conversion's worth of the room: the pooled mean mu0 and variance
//     s0^2 of the values of every enabled arm's conversions in the table.
//
// Why Normal-Inverse-Gamma: it is conjugate to exactly the counters a room
// already keeps (count, sum, sum of squares), so decayed (fractional)
// counters work unchanged; it accepts any real value (refunds are
// negative, which a Gamma on log-value cannot take); and the mean's
// marginal is a Student t whose heavy tails, with few conversions, keep a
// rarely converting arm plausible. The prior, kappa0 = 1, alpha0 = 3/2,
// beta0 = s0^2 / 2, makes E[sigma^2] = s0^2 and the prior sd of the mean
// value equal to s0: an arm with no conversion yet is assumed worth what a
// typical conversion in the room is worth, give or take one conversion's
// spread. A room whose conversions all carry the same value (clicks with no
// reward: value 1) has s0 = 0, and the value is then certain: REWARD_*
// rank exactly as their click policies do.

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/random/gaussian_distribution.h"
#include "server/core/beta.h"
#include "server/core/klucb.h"

namespace banditd::core {

// The room's prior on an arm's mean value per conversion.
struct ValuePrior {
  double mean = 1;      // mu0
  double variance = 0;  // s0^2
};

// Pooled over the enabled arms of a table: `conversions` = sum of clicks,
// `value_sum` = sum of reward_sum, `value_sq_sum` = sum of reward_sq. With
// no conversion anywhere each click is worth 1 (the reward default).
inline ValuePrior RoomValuePrior(double conversions, double value_sum,
                                 double value_sq_sum) {
  if (!(conversions > 0)) return {};
  const double mean = value_sum / conversions;
  return {mean, std::max(value_sq_sum / conversions - mean * mean, 0.0)};
}

// Normal-Inverse-Gamma posterior: sigma^2 ~ InvGamma(alpha, beta),
// mu | sigma^2 ~ Normal(mean, sigma^2 / kappa).
struct ValuePosterior {
  double mean;
  double kappa;
  double alpha;
  double beta;
};

inline constexpr double kValuePriorKappa = 1;
inline constexpr double kValuePriorAlpha = 1.5;

// The posterior after `conversions` conversions whose values sum to
// `value_sum`, with squares summing to `value_sq_sum`.
inline ValuePosterior PosteriorValue(const ValuePrior& prior,
                                     double conversions, double value_sum,
                                     double value_sq_sum) {
  const double m = std::max(conversions, 0.0);
  const double kappa0 = kValuePriorKappa;
  const double beta0 = prior.variance * (kValuePriorAlpha - 1);
  if (!(m > 0)) return {prior.mean, kappa0, kValuePriorAlpha, beta0};
  const double sample_mean = value_sum / m;
  const double squares = std::max(value_sq_sum - value_sum * sample_mean, 0.0);
  const double kappa = kappa0 + m;
  const double shift = sample_mean - prior.mean;
  return {(kappa0 * prior.mean + value_sum) / kappa, kappa,
          kValuePriorAlpha + m / 2,
          beta0 + squares / 2 + kappa0 * m * shift * shift / (2 * kappa)};
}

// The squared scale of the mean's Student-t marginal (2 alpha degrees of
// freedom): beta / (alpha kappa).
inline double MeanValueScale2(const ValuePosterior& post) {
  return post.beta / (post.alpha * post.kappa);
}

// One draw of the mean value: sigma^2 = beta / Gamma(alpha), then
// Normal(mean, sigma^2 / kappa). Exactly the mean when beta is 0.
template <typename URBG>
double DrawMeanValue(URBG& rng, const ValuePosterior& post) {
  if (!(post.beta > 0)) return post.mean;
  const double gamma = SampleGamma(rng, post.alpha);
  absl::gaussian_distribution<double> normal;
  return post.mean +
         std::sqrt(post.beta / (std::max(gamma, 1e-300) * post.kappa)) *
             normal(rng);
}

// REWARD_THOMPSON: a rate drawn from its Beta posterior times a mean value
// drawn from its posterior.
template <typename URBG>
double RewardThompsonDraw(URBG& rng, double views, double clicks,
                          double value_sum, double value_sq_sum,
                          const ValuePrior& prior, double prior_a,
                          double prior_b) {
  const double c = std::max(clicks, 0.0);
  const double rate =
      SampleBeta(rng, c + prior_a, std::max(views - c, 0.0) + prior_b);
  return rate *
         DrawMeanValue(rng, PosteriorValue(prior, c, value_sum, value_sq_sum));
}

// An upper bound on the mean value at the same exploration budget as the
// rate's: mean + sqrt(2 budget scale^2).
inline double MeanValueUpper(const ValuePosterior& post, double budget) {
  return post.mean +
         std::sqrt(2 * std::max(budget, 0.0) * MeanValueScale2(post));
}

// REWARD_UCB: KL-UCB on the rate times the value's upper bound, both at the
// level ln(N / n) (times 0 when the value bound is negative: p v <= 0 for
// every p in [0, 1]). Unseen arms score +infinity. An arm with views but no
// conversion keeps the rate bound 1 - (n / N)^(1 / n) and the prior's value
// bound, both positive, so it is tried again as N grows.
inline double RewardUcbScore(double views, double clicks, double value_sum,
                             double value_sq_sum, double log_total_views,
                             const ValuePrior& prior) {
  if (!(views > 0)) return std::numeric_limits<double>::infinity();
  const double budget = KlUcbBudget(views, log_total_views);
  const double rate = KlUcbUpper(views, clicks, budget);
  const ValuePosterior post =
      PosteriorValue(prior, clicks, value_sum, value_sq_sum);
  return rate * std::max(MeanValueUpper(post, budget), 0.0);
}

}  // namespace banditd::core

#endif  // BANDITD_SERVER_CORE_REVENUE_H_
