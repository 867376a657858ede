#include "server/core/policy.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace banditd::core {

PolicyParams PolicyOverride::ApplyTo(const PolicyParams& base) const {
  PolicyParams out = base;
  if (kind) out.kind = *kind;
  if (ucb_alpha) out.ucb_alpha = *ucb_alpha;
  if (bucb_z) out.bucb_z = *bucb_z;
  if (beta_prior_a) out.beta_prior_a = *beta_prior_a;
  if (beta_prior_b) out.beta_prior_b = *beta_prior_b;
  if (epsilon) out.epsilon = *epsilon;
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
  }
  return absl::StrCat("policy_", static_cast<int>(kind));
}

}  // namespace banditd::core
