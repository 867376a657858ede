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
  kHotCold = 6,
  kRewardUcb = 7,
  kRewardThompson = 8,
  kLinUcb = 9,
  kKlUcb = 10,
  kLinTs = 11,
};

// PolicyParams is a fully resolved policy: every parameter has a value.
struct PolicyParams {
  PolicyKind kind = PolicyKind::kUcb1;
  double ucb_alpha = 1.0;
  double bucb_z = 1.96;
  double beta_prior_a = 1.0;
  double beta_prior_b = 1.0;
  double epsilon = 0.1;
  // Hot/cold feed score.
  double cold_max = 1.0;
  double cold_steepness = 0.05;
  double cold_threshold = 100.0;
  double hot_max = 1.0;
  double hot_steepness = 50.0;
  double hot_threshold = 0.05;
  double linucb_alpha = 1.0;
  // Cold start across segments: pseudo-views at the room-wide rates.
  double prior_pseudo_views = 0.0;
  // Sample returns each eligible arm (in its top k) with at least this
  // probability, by mixing in a uniformly random ranking (propensity.cc).
  double exploration_floor = 0.0;

  friend bool operator==(const PolicyParams&, const PolicyParams&) = default;
};

// LIN_TS reads linucb_alpha as its posterior scale v, where LINUCB's default
// weight of 1.0 explores far too much: on docs/SIMULATION.md's linear scenario
// v = 0.15 was within noise of LinUCB at its best weight (regret 110 against
// 108 over 100 seeds), v = 0.25 had 1.26x its regret and v = 1.0 2.6x.
inline constexpr double kLinTsDefaultScale = 0.15;

// The documented defaults for a policy of `kind`: PolicyParams{} with the
// kind set, except where a parameter's default depends on the kind.
PolicyParams DefaultPolicyParams(PolicyKind kind);

// PolicyOverride holds the fields a request sets; unset ones fall back to the
// room's PolicyParams.
struct PolicyOverride {
  std::optional<PolicyKind> kind;
  std::optional<double> ucb_alpha;
  std::optional<double> bucb_z;
  std::optional<double> beta_prior_a;
  std::optional<double> beta_prior_b;
  std::optional<double> epsilon;
  std::optional<double> cold_max;
  std::optional<double> cold_steepness;
  std::optional<double> cold_threshold;
  std::optional<double> hot_max;
  std::optional<double> hot_steepness;
  std::optional<double> hot_threshold;
  std::optional<double> linucb_alpha;
  std::optional<double> prior_pseudo_views;
  std::optional<double> exploration_floor;

  // Returns `base` with every set field replaced.
  PolicyParams ApplyTo(const PolicyParams& base) const;
  // The policy one Sample call runs in a room whose policy is `room`: ApplyTo,
  // except that a call switching between LIN_TS and another kind without
  // setting linucb_alpha gets the new kind's default for it (a weight and a
  // posterior scale are not interchangeable). Not for logged updates, whose
  // replay must not depend on such rules.
  PolicyParams ForCall(const PolicyParams& room) const;
  // True when no field is set.
  bool empty() const { return *this == PolicyOverride{}; }

  friend bool operator==(const PolicyOverride&,
                         const PolicyOverride&) = default;
};

// Returns INVALID_ARGUMENT naming `field_prefix`.<param> when a parameter is
// out of range (negative alpha or z, non-positive prior, epsilon outside
// [0, 1], any non-finite value).
absl::Status ValidatePolicy(const PolicyParams& params,
                            const std::string& field_prefix);

std::string PolicyKindName(PolicyKind kind);

// Exponential forgetting of a room's counters; at most one half-life is set.
struct DecayConfig {
  double half_life_events = 0;
  double half_life_seconds = 0;

  bool enabled() const { return half_life_events > 0 || half_life_seconds > 0; }
  friend bool operator==(const DecayConfig&, const DecayConfig&) = default;
};

// Shape of a room's LinUCB models; dimension 0 means none.
struct LinUcbConfig {
  int dimension = 0;
  double lambda = 1.0;

  friend bool operator==(const LinUcbConfig&, const LinUcbConfig&) = default;
};

// INVALID_ARGUMENT naming the field when a half-life is negative or not
// finite, or both are set.
absl::Status ValidateDecay(const DecayConfig& decay);
// INVALID_ARGUMENT unless 0 <= dimension <= max_dimension and lambda > 0.
absl::Status ValidateLinUcb(const LinUcbConfig& linucb, int max_dimension);

}  // namespace banditd::core

#endif  // BANDITD_SERVER_CORE_POLICY_H_
