#ifndef BANDITD_SERVER_CORE_SCORING_H_
#define BANDITD_SERVER_CORE_SCORING_H_

#include <algorithm>
#include <cmath>
#include <limits>

namespace banditd::core {

// The index formulas, written so the scoring loop can inline them. An arm
// with no views scores +infinity so that it is tried before any seen arm.

inline constexpr double kUnseenScore = std::numeric_limits<double>::infinity();

inline double Ctr(double views, double clicks) {
  return views > 0 ? clicks / views : 0.0;
}

inline double CtrScore(double views, double clicks) {
  return views > 0 ? clicks / views : kUnseenScore;
}

// UCB1 = CTR + alpha * sqrt(2 ln N / n). `log_total_views` is ln N, computed
// once per table rather than once per arm.
inline double Ucb1Score(double views, double clicks, double log_total_views,
                        double alpha) {
  if (!(views > 0)) return kUnseenScore;
  return clicks / views +
         alpha * std::sqrt(2.0 * std::max(log_total_views, 0.0) / views);
}

inline double SafeLog(double total_views) {
  return total_views > 1 ? std::log(total_views) : 0.0;
}

// BUCB = CTR + z * sqrt(p (1 - p) / n), where p is the Beta posterior mean
// (clicks + a) / (views + a + b) rather than the raw CTR: with the raw CTR an
// arm whose first views brought no click has zero variance, scores 0 and is
// never tried again, which loses the best arm in about half of seeded runs.
inline double BucbScore(double views, double clicks, double z, double prior_a,
                        double prior_b) {
  if (!(views > 0)) return kUnseenScore;
  const double p = std::clamp(
      (std::max(clicks, 0.0) + prior_a) / (views + prior_a + prior_b), 0.0,
      1.0);
  return clicks / views + z * std::sqrt(p * (1.0 - p) / views);
}

// Beta posterior parameters for Thompson sampling.
inline double BetaAlpha(double clicks, double prior_a) {
  return std::max(clicks, 0.0) + prior_a;
}
inline double BetaBeta(double views, double clicks, double prior_b) {
  return std::max(views - clicks, 0.0) + prior_b;
}

// Logistic sigmoid 1 / (1 + e^-x).
inline double Sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// Hot/cold feed score: a boost for new items that fades with views, plus a
// reward for items whose CTR rises past the threshold.
inline double HotColdScore(double views, double clicks, double cold_max,
                           double cold_steepness, double cold_threshold,
                           double hot_max, double hot_steepness,
                           double hot_threshold) {
  const double coldness =
      cold_max * (1.0 - Sigmoid(cold_steepness * (views - cold_threshold)));
  const double hotness =
      hot_max * Sigmoid(hot_steepness * (Ctr(views, clicks) - hot_threshold));
  return coldness + hotness;
}

// Reward per view: mean and (population) variance, from the sums of reward
// and of squared per-conversion reward.
inline double RewardMean(double views, double reward_sum) {
  return views > 0 ? reward_sum / views : 0.0;
}
inline double RewardVariance(double views, double reward_sum,
                             double reward_sq_sum) {
  if (!(views > 0)) return 0.0;
  const double mean = reward_sum / views;
  return std::max(reward_sq_sum / views - mean * mean, 0.0);
}

// The squared-reward increment of one event: its reward split evenly over its
// clicks (one conversion when it has none).
inline double RewardSquareIncrement(double reward, double clicks) {
  return reward * reward / std::max(clicks, 1.0);
}

}  // namespace banditd::core

#endif  // BANDITD_SERVER_CORE_SCORING_H_
