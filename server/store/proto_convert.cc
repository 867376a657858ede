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
  // Written only when set, so records of rooms without it stay as before.
  if (policy.exploration_floor != 0) {
    out->set_exploration_floor(policy.exploration_floor);
  }
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
  if (policy.has_exploration_floor()) {
    out.exploration_floor = policy.exploration_floor();
  }
  return out;
}

namespace {

// Every optional double of PolicyOverride and PolicyPatch, side by side.
template <typename Visit>
void ForEachPatchParam(Visit visit) {
  visit(&core::PolicyOverride::ucb_alpha, &pb::PolicyPatch::has_ucb_alpha,
        &pb::PolicyPatch::ucb_alpha, &pb::PolicyPatch::set_ucb_alpha);
  visit(&core::PolicyOverride::bucb_z, &pb::PolicyPatch::has_bucb_z,
        &pb::PolicyPatch::bucb_z, &pb::PolicyPatch::set_bucb_z);
  visit(&core::PolicyOverride::beta_prior_a, &pb::PolicyPatch::has_beta_prior_a,
        &pb::PolicyPatch::beta_prior_a, &pb::PolicyPatch::set_beta_prior_a);
  visit(&core::PolicyOverride::beta_prior_b, &pb::PolicyPatch::has_beta_prior_b,
        &pb::PolicyPatch::beta_prior_b, &pb::PolicyPatch::set_beta_prior_b);
  visit(&core::PolicyOverride::epsilon, &pb::PolicyPatch::has_epsilon,
        &pb::PolicyPatch::epsilon, &pb::PolicyPatch::set_epsilon);
  visit(&core::PolicyOverride::cold_max, &pb::PolicyPatch::has_cold_max,
        &pb::PolicyPatch::cold_max, &pb::PolicyPatch::set_cold_max);
  visit(&core::PolicyOverride::cold_steepness,
        &pb::PolicyPatch::has_cold_steepness, &pb::PolicyPatch::cold_steepness,
        &pb::PolicyPatch::set_cold_steepness);
  visit(&core::PolicyOverride::cold_threshold,
        &pb::PolicyPatch::has_cold_threshold, &pb::PolicyPatch::cold_threshold,
        &pb::PolicyPatch::set_cold_threshold);
  visit(&core::PolicyOverride::hot_max, &pb::PolicyPatch::has_hot_max,
        &pb::PolicyPatch::hot_max, &pb::PolicyPatch::set_hot_max);
  visit(&core::PolicyOverride::hot_steepness,
        &pb::PolicyPatch::has_hot_steepness, &pb::PolicyPatch::hot_steepness,
        &pb::PolicyPatch::set_hot_steepness);
  visit(&core::PolicyOverride::hot_threshold,
        &pb::PolicyPatch::has_hot_threshold, &pb::PolicyPatch::hot_threshold,
        &pb::PolicyPatch::set_hot_threshold);
  visit(&core::PolicyOverride::linucb_alpha, &pb::PolicyPatch::has_linucb_alpha,
        &pb::PolicyPatch::linucb_alpha, &pb::PolicyPatch::set_linucb_alpha);
  visit(&core::PolicyOverride::prior_pseudo_views,
        &pb::PolicyPatch::has_prior_pseudo_views,
        &pb::PolicyPatch::prior_pseudo_views,
        &pb::PolicyPatch::set_prior_pseudo_views);
  visit(&core::PolicyOverride::exploration_floor,
        &pb::PolicyPatch::has_exploration_floor,
        &pb::PolicyPatch::exploration_floor,
        &pb::PolicyPatch::set_exploration_floor);
}

}  // namespace

void PolicyPatchToProto(const core::PolicyOverride& patch,
                        pb::PolicyPatch* out) {
  if (patch.kind) {
    out->set_kind(static_cast<pb::PolicyKind>(static_cast<int>(*patch.kind)));
  }
  ForEachPatchParam([&](auto member, auto, auto, auto set) {
    if (patch.*member) (out->*set)(*(patch.*member));
  });
}

absl::StatusOr<core::PolicyOverride> PolicyPatchFromProto(
    const pb::PolicyPatch& in) {
  core::PolicyOverride out;
  if (in.has_kind()) {
    pb::Policy policy;
    policy.set_kind(in.kind());
    absl::StatusOr<core::PolicyParams> params = PolicyFromProto(policy);
    if (!params.ok()) return params.status();
    out.kind = params->kind;
  }
  ForEachPatchParam([&](auto member, auto has, auto get, auto) {
    if ((in.*has)()) out.*member = (in.*get)();
  });
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
