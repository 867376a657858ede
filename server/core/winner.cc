#include "server/core/winner.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "server/core/beta.h"

namespace banditd::core {

WinnerAnalysis AnalyzeWinner(const std::vector<ArmPosterior>& arms,
                             const WinnerOptions& options) {
  WinnerAnalysis out;
  const size_t n = arms.size();
  out.draws = std::max(options.draws, 1);
  out.arms.resize(n);
  if (n == 0) return out;
  std::vector<double> wins(n, 0), loss(n, 0), loss_sq(n, 0), value(n);
  // Seeded, so that the same counters and seed give the same answer.
  std::mt19937_64 rng(options.seed);
  for (int d = 0; d < out.draws; ++d) {
    size_t best = 0;
    for (size_t i = 0; i < n; ++i) {
      const ArmPosterior& p = arms[i];
      // Exact Beta draws (two gammas), not Thompson's normal approximation:
      // the tails decide which arm wins among close ones.
      const double x = SampleGamma(rng, p.a);
      const double y = SampleGamma(rng, p.b);
      value[i] = x + y > 0 ? x / (x + y) : p.a / (p.a + p.b);
      if (p.kind == ArmPosterior::Kind::kRevenue) {
        value[i] *= DrawMeanValue(rng, p.value);
      }
      if (value[i] > value[best]) best = i;
    }
    wins[best] += 1;
    const double top = value[best];
    for (size_t i = 0; i < n; ++i) {
      const double l = top - value[i];
      loss[i] += l;
      loss_sq[i] += l * l;
    }
  }
  const double draws = out.draws;
  for (size_t i = 0; i < n; ++i) {
    ArmWinner& w = out.arms[i];
    w.prob_best = wins[i] / draws;
    w.prob_best_se = std::sqrt(w.prob_best * (1 - w.prob_best) / draws);
    w.expected_loss = loss[i] / draws;
    const double var =
        std::max(0.0, loss_sq[i] / draws - w.expected_loss * w.expected_loss);
    // Sample variance (n - 1) of the per-draw loss.
    w.expected_loss_se =
        draws > 1 ? std::sqrt(var * draws / (draws - 1) / draws) : 0;
    if (out.best < 0 ||
        w.expected_loss <
            out.arms[static_cast<size_t>(out.best)].expected_loss) {
      out.best = static_cast<int>(i);
    }
  }
  out.can_stop = out.arms[static_cast<size_t>(out.best)].expected_loss <
                 options.loss_threshold;
  return out;
}

}  // namespace banditd::core
