#include "server/core/policy.h"

#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"

namespace banditd::core {

PolicyParams DefaultPolicyParams(PolicyKind kind) {
  PolicyParams out;
  out.kind = kind;
  if (kind == PolicyKind::kLinTs) out.linucb_alpha = kLinTsDefaultScale;
  return out;
}

PolicyParams PolicyOverride::ApplyTo(const PolicyParams& base) const {
  PolicyParams out = base;
  if (kind) out.kind = *kind;
  if (ucb_alpha) out.ucb_alpha = *ucb_alpha;
  if (bucb_z) out.bucb_z = *bucb_z;
  if (beta_prior_a) out.beta_prior_a = *beta_prior_a;
  if (beta_prior_b) out.beta_prior_b = *beta_prior_b;
  if (epsilon) out.epsilon = *epsilon;
  if (cold_max) out.cold_max = *cold_max;
  if (cold_steepness) out.cold_steepness = *cold_steepness;
  if (cold_threshold) out.cold_threshold = *cold_threshold;
  if (hot_max) out.hot_max = *hot_max;
  if (hot_steepness) out.hot_steepness = *hot_steepness;
  if (hot_threshold) out.hot_threshold = *hot_threshold;
  if (linucb_alpha) out.linucb_alpha = *linucb_alpha;
  if (prior_pseudo_views) out.prior_pseudo_views = *prior_pseudo_views;
  if (exploration_floor) out.exploration_floor = *exploration_floor;
  return out;
}

PolicyParams PolicyOverride::ForCall(const PolicyParams& room) const {
  PolicyParams out = ApplyTo(room);
  const bool was_ts = room.kind == PolicyKind::kLinTs;
  if (kind && !linucb_alpha && (*kind == PolicyKind::kLinTs) != was_ts) {
    out.linucb_alpha = DefaultPolicyParams(*kind).linucb_alpha;
  }
  return out;
}

absl::Status ValidatePolicy(const PolicyParams& params,
                            const std::string& field_prefix) {
  auto bad = [&](const char* name, double value, const char* rule) {
    return absl::InvalidArgumentError(
        absl::StrCat(field_prefix, ".", name, ": ", value, " ", rule));
  };
  switch (params.kind) {
    case PolicyKind::kCtr:
    case PolicyKind::kUcb1:
    case PolicyKind::kBucb:
    case PolicyKind::kThompson:
    case PolicyKind::kEpsilonGreedy:
    case PolicyKind::kHotCold:
    case PolicyKind::kRewardUcb:
    case PolicyKind::kRewardThompson:
    case PolicyKind::kLinUcb:
    case PolicyKind::kKlUcb:
    case PolicyKind::kLinTs:
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat(field_prefix, ".type: unknown policy type ",
                       static_cast<int>(params.kind)));
  }
  if (!std::isfinite(params.ucb_alpha) || params.ucb_alpha < 0) {
    return bad("ucb_alpha", params.ucb_alpha, "must be finite and >= 0");
  }
  if (!std::isfinite(params.bucb_z) || params.bucb_z < 0) {
    return bad("bucb_z", params.bucb_z, "must be finite and >= 0");
  }
  if (!std::isfinite(params.beta_prior_a) || params.beta_prior_a <= 0) {
    return bad("beta_prior_a", params.beta_prior_a, "must be finite and > 0");
  }
  if (!std::isfinite(params.beta_prior_b) || params.beta_prior_b <= 0) {
    return bad("beta_prior_b", params.beta_prior_b, "must be finite and > 0");
  }
  if (!(params.epsilon >= 0 && params.epsilon <= 1)) {
    return bad("epsilon", params.epsilon, "must be in [0, 1]");
  }
  if (!(params.exploration_floor >= 0 && params.exploration_floor <= 1)) {
    return bad("exploration_floor", params.exploration_floor,
               "must be in [0, 1]");
  }
  struct Bound {
    const char* name;
    double value;
    bool strictly_positive;
  };
  for (const Bound& b :
       {Bound{"cold_max", params.cold_max, false},
        Bound{"cold_steepness", params.cold_steepness, true},
        Bound{"hot_max", params.hot_max, false},
        Bound{"hot_steepness", params.hot_steepness, true},
        Bound{"linucb_alpha", params.linucb_alpha, false},
        Bound{"prior_pseudo_views", params.prior_pseudo_views, false}}) {
    if (!std::isfinite(b.value) || b.value < 0 ||
        (b.strictly_positive && b.value == 0)) {
      return bad(b.name, b.value,
                 b.strictly_positive ? "must be finite and > 0"
                                     : "must be finite and >= 0");
    }
  }
  if (!std::isfinite(params.cold_threshold)) {
    return bad("cold_threshold", params.cold_threshold, "must be finite");
  }
  if (!std::isfinite(params.hot_threshold)) {
    return bad("hot_threshold", params.hot_threshold, "must be finite");
  }
  return absl::OkStatus();
}

absl::Status ValidateDecay(const DecayConfig& decay) {
  for (auto [name, value] :
       {std::pair{"decay.half_life_events", decay.half_life_events},
        std::pair{"decay.half_life_seconds", decay.half_life_seconds}}) {
    if (!std::isfinite(value) || value < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ": ", value, " must be finite and >= 0"));
    }
  }
  if (decay.half_life_events > 0 && decay.half_life_seconds > 0) {
    return absl::InvalidArgumentError(
        "decay: set half_life_events or half_life_seconds, not both");
  }
  return absl::OkStatus();
}

absl::Status ValidateLinUcb(const LinUcbConfig& linucb, int max_dimension) {
  if (linucb.dimension < 0 || linucb.dimension > max_dimension) {
    return absl::InvalidArgumentError(
        absl::StrCat("linucb.dimension: must be in [0, ", max_dimension,
                     "], got ", linucb.dimension));
  }
  if (!std::isfinite(linucb.lambda) || linucb.lambda <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "linucb.lambda: ", linucb.lambda, " must be finite and > 0"));
  }
  return absl::OkStatus();
}

std::string PolicyKindName(PolicyKind kind) {
  switch (kind) {
    case PolicyKind::kCtr:
      return "ctr";
    case PolicyKind::kUcb1:
      return "ucb1";
    case PolicyKind::kBucb:
      return "bucb";
    case PolicyKind::kThompson:
      return "thompson";
    case PolicyKind::kEpsilonGreedy:
      return "epsilon_greedy";
    case PolicyKind::kHotCold:
      return "hot_cold";
    case PolicyKind::kRewardUcb:
      return "reward_ucb";
    case PolicyKind::kRewardThompson:
      return "reward_thompson";
    case PolicyKind::kLinUcb:
      return "linucb";
    case PolicyKind::kKlUcb:
      return "kl_ucb";
    case PolicyKind::kLinTs:
      return "lin_ts";
  }
  return absl::StrCat("policy_", static_cast<int>(kind));
}

}  // namespace banditd::core
