// Sample's scorers: the bounds of each policy (sample_scorer.h).

#include "server/core/sample_scorer.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace banditd::core::scan {

// Bounds under CTR, UCB1, BUCB, Thompson or epsilon-greedy (not exploring).
// These bounds must stay above the formulas ScoreIn applies (scoring.h):
// change both together; the differential test checks.
void Scorer::BoundBlock(const TableView& t, size_t begin, size_t n,
                        float* out) const {
  const PolicyParams& p = in_.policy;
  const double* v = t.views + begin;
  const double* c = t.clicks + begin;
  switch (p.kind) {
    case PolicyKind::kUcb1:
      kernels::Ucb1Bound(v, c, n, t.log_total_views, p.ucb_alpha, out);
      return;
    case PolicyKind::kBucb:
      kernels::BucbBound(v, c, n, p.bucb_z, p.beta_prior_a, p.beta_prior_b,
                         out);
      return;
    case PolicyKind::kThompson:
      kernels::ThompsonBound(v, c, n, p.beta_prior_a, p.beta_prior_b, out);
      return;
    case PolicyKind::kCtr:
    case PolicyKind::kEpsilonGreedy:
      kernels::CtrBound(v, c, n, out);
      return;
    default:  // no bound: every arm gets scored exactly
      std::fill_n(out, n, std::numeric_limits<float>::infinity());
      return;
  }
}

Scorer::Reach Scorer::ReachTests() const {
  const PolicyParams& p = in_.policy;
  Reach r{kernels::MarkCtr, kernels::FlagCtr, kernels::CtrReaches, {}};
  r.params.t = -std::numeric_limits<double>::infinity();
  r.params.ucb_bonus =
      2 * p.ucb_alpha * p.ucb_alpha * std::max(in_.base.log_total_views, 0.0);
  r.params.z_squared = p.bucb_z * p.bucb_z;
  r.params.prior_a = p.beta_prior_a;
  r.params.prior_b = p.beta_prior_b;
  if (p.kind == PolicyKind::kUcb1) {
    r.mark = kernels::MarkUcb1;
    r.flag = kernels::FlagUcb1;
    r.reaches = kernels::Ucb1Reaches;
  } else if (p.kind == PolicyKind::kBucb) {
    r.mark = kernels::MarkBucb;
    r.flag = kernels::FlagBucb;
    r.reaches = kernels::BucbReaches;
  }
  return r;
}

double Scorer::ThompsonMeanIfReaching(uint32_t i, double threshold) {
  const PolicyParams& p = in_.policy;
  auto table_for = [&](const TableView& t) -> const TableView& {
    return ViewsAt(t, i) > 0 ? t : in_.base;
  };
  auto bound_in = [&](const TableView& t) {
    const RawCounters raw = RawAt(t, i);
    const double a = BetaAlpha(raw.clicks, p.beta_prior_a);
    const double b = BetaBeta(raw.views, raw.clicks, p.beta_prior_b);
    return kernels::ThompsonDrawBound(a, b, a / (a + b));
  };
  const double target = threshold * static_cast<double>(in_.items.size());
  double remaining = 0;
  for (const TableView& t : in_.items) remaining += bound_in(table_for(t));
  double sum = 0;
  for (const TableView& t : in_.items) {
    const TableView& u = table_for(t);
    remaining -= bound_in(u);
    const RawCounters raw = RawAt(u, i);
    sum += SampleBeta(rng_, BetaAlpha(raw.clicks, p.beta_prior_a),
                      BetaBeta(raw.views, raw.clicks, p.beta_prior_b));
    if (sum + std::max(remaining, 0.0) < target) {
      return -std::numeric_limits<double>::infinity();
    }
  }
  return sum / static_cast<double>(in_.items.size());
}

ValuePrior PooledValuePrior(const Scorer& scorer, const uint8_t* enabled,
                            size_t arm_count) {
  double conversions = 0, value_sum = 0, value_sq_sum = 0;
  for (uint32_t i = 0; i < arm_count; ++i) {
    if (!enabled[i]) continue;
    const ArmCounters a = scorer.CountersIn(scorer.inputs().base, i);
    conversions += a.clicks;
    value_sum += a.reward;
    value_sq_sum += a.reward_sq;
  }
  return RoomValuePrior(conversions, value_sum, value_sq_sum);
}

}  // namespace banditd::core::scan
