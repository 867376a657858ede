#ifndef BANDITD_SERVER_CORE_WINNER_H_
#define BANDITD_SERVER_CORE_WINNER_H_

// Winner analysis: from each arm's posterior, the probability that it is the
// best arm and its expected loss (how much value is given up, in expectation,
// by stopping on it instead of the true best), by seeded Monte Carlo.

#include <cstdint>
#include <vector>

#include "server/core/revenue.h"

namespace banditd::core {

// An arm's posterior over its value (click rate, or reward per view).
struct ArmPosterior {
  enum class Kind { kBeta, kRevenue };
  Kind kind = Kind::kBeta;
  // The click rate's Beta(a, b).
  double a = 1;
  double b = 1;
  // kRevenue: reward per view = rate x mean value per conversion, the value
  // drawn from this posterior (revenue.h, as REWARD_THOMPSON draws).
  ValuePosterior value{1, 1, 1.5, 0};
};

struct WinnerOptions {
  // Joint draws of every arm's value. The standard error of a probability p
  // is sqrt(p (1 - p) / draws): at most 0.005 for the default 10,000.
  int draws = 10000;
  uint64_t seed = 0;
  // can_stop is set when the smallest expected loss is below this (in the
  // posterior's unit: click rate, or reward per view).
  double loss_threshold = 0;
};

struct ArmWinner {
  double prob_best = 0;
  // Standard error of prob_best: sqrt(p (1 - p) / draws).
  double prob_best_se = 0;
  // E[max_j value_j - value_i] over the posterior.
  double expected_loss = 0;
  // Standard error of expected_loss: the sample standard deviation of the
  // per-draw loss over sqrt(draws).
  double expected_loss_se = 0;
};

struct WinnerAnalysis {
  std::vector<ArmWinner> arms;  // index-aligned with the input
  int draws = 0;
  // The arm with the smallest expected loss (-1 without arms).
  int best = -1;
  bool can_stop = false;
};

// Draws `options.draws` joint samples (at least 1) of the arms' values; ties
// in a draw go to the lowest index. Deterministic for a given seed. Costs
// draws x arms posterior draws.
WinnerAnalysis AnalyzeWinner(const std::vector<ArmPosterior>& arms,
                             const WinnerOptions& options);

}  // namespace banditd::core

#endif  // BANDITD_SERVER_CORE_WINNER_H_
