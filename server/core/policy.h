#ifndef BANDITD_SERVER_CORE_POLICY_H_
#define BANDITD_SERVER_CORE_POLICY_H_

#include <optional>
#include <string>

#include "absl/status/status.h"

namespace banditd::core {

// PolicyKind mirrors banditd.v1.PolicyType; values are stable because they are
// written to the log.
enum class PolicyKind : int {
  kCtr = 1,
  kUcb1 = 2,
  kBucb = 3,
  kThompson = 4,
  kEpsilonGreedy = 5,
};

// PolicyParams is a fully resolved policy: every parameter has a value.
struct PolicyParams {
  PolicyKind kind = PolicyKind::kUcb1;
  double ucb_alpha = 1.0;
  double bucb_z = 1.96;
  double beta_prior_a = 1.0;
  double beta_prior_b = 1.0;
  double epsilon = 0.1;

  friend bool operator==(const PolicyParams&, const PolicyParams&) = default;
};

// PolicyOverride holds the fields a request sets; unset ones fall back to the
// room's PolicyParams.
struct PolicyOverride {
  std::optional<PolicyKind> kind;
  std::optional<double> ucb_alpha;
  std::optional<double> bucb_z;
  std::optional<double> beta_prior_a;
  std::optional<double> beta_prior_b;
  std::optional<double> epsilon;

  // Returns `base` with every set field replaced.
  PolicyParams ApplyTo(const PolicyParams& base) const;
};

// Returns INVALID_ARGUMENT naming `field_prefix`.<param> when a parameter is
// out of range (negative alpha or z, non-positive prior, epsilon outside
// [0, 1], any non-finite value).
absl::Status ValidatePolicy(const PolicyParams& params,
                            const std::string& field_prefix);

std::string PolicyKindName(PolicyKind kind);

}  // namespace banditd::core

#endif  // BANDITD_SERVER_CORE_POLICY_H_
