#include "server/store/proto_convert.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace banditd::store {

namespace pb = ::banditd::internal::v1;

void PolicyToProto(const core::PolicyParams& policy, pb::Policy* out) {
  out->set_kind(static_cast<pb::PolicyKind>(static_cast<int>(policy.kind)));
  out->set_ucb_alpha(policy.ucb_alpha);
  out->set_bucb_z(policy.bucb_z);
  out->set_beta_prior_a(policy.beta_prior_a);
  out->set_beta_prior_b(policy.beta_prior_b);
  out->set_epsilon(policy.epsilon);
  out->set_cold_max(policy.cold_max);
  out->set_cold_steepness(policy.cold_steepness);
  out->set_cold_threshold(policy.cold_threshold);
  out->set_hot_max(policy.hot_max);
  out->set_hot_steepness(policy.hot_steepness);
  out->set_hot_threshold(policy.hot_threshold);
  out->set_linucb_alpha(policy.linucb_alpha);
  out->set_prior_pseudo_views(policy.prior_pseudo_views);
}

absl::StatusOr<core::PolicyParams> PolicyFromProto(const pb::Policy& policy) {
  core::PolicyParams out;
  switch (policy.kind()) {
    case pb::POLICY_KIND_CTR:
    case pb::POLICY_KIND_UCB1:
    case pb::POLICY_KIND_BUCB:
    case pb::POLICY_KIND_THOMPSON:
    case pb::POLICY_KIND_EPSILON_GREEDY:
    case pb::POLICY_KIND_HOT_COLD:
    case pb::POLICY_KIND_REWARD_UCB:
    case pb::POLICY_KIND_REWARD_THOMPSON:
    case pb::POLICY_KIND_LINUCB:
    case pb::POLICY_KIND_KL_UCB:
    case pb::POLICY_KIND_LIN_TS:
      out.kind = static_cast<core::PolicyKind>(static_cast<int>(policy.kind()));
      break;
    default:
      return absl::DataLossError(
          absl::StrCat("stored policy has unknown kind ", policy.kind()));
  }
  out.ucb_alpha = policy.ucb_alpha();
  out.bucb_z = policy.bucb_z();
  out.beta_prior_a = policy.beta_prior_a();
  out.beta_prior_b = policy.beta_prior_b();
  out.epsilon = policy.epsilon();
  if (policy.has_cold_max()) out.cold_max = policy.cold_max();
  if (policy.has_cold_steepness()) out.cold_steepness = policy.cold_steepness();
  if (policy.has_cold_threshold()) out.cold_threshold = policy.cold_threshold();
  if (policy.has_hot_max()) out.hot_max = policy.hot_max();
  if (policy.has_hot_steepness()) out.hot_steepness = policy.hot_steepness();
  if (policy.has_hot_threshold()) out.hot_threshold = policy.hot_threshold();
  if (policy.has_linucb_alpha()) out.linucb_alpha = policy.linucb_alpha();
  if (policy.has_prior_pseudo_views()) {
    out.prior_pseudo_views = policy.prior_pseudo_views();
  }
  return out;
}

void DecayToProto(const core::DecayConfig& decay, pb::DecayConfig* out) {
  out->set_half_life_events(decay.half_life_events);
  out->set_half_life_seconds(decay.half_life_seconds);
}

core::DecayConfig DecayFromProto(const pb::DecayConfig& in) {
  core::DecayConfig out;
  out.half_life_events = in.half_life_events();
  out.half_life_seconds = in.half_life_seconds();
  return out;
}

void LinUcbToProto(const core::LinUcbConfig& linucb, pb::LinUcbConfig* out) {
  out->set_dimension(linucb.dimension);
  out->set_lambda(linucb.lambda);
}

core::LinUcbConfig LinUcbFromProto(const pb::LinUcbConfig& in) {
  core::LinUcbConfig out;
  out.dimension = in.dimension();
  out.lambda = in.lambda();
  return out;
}

}  // namespace banditd::store
