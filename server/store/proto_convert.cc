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
}

absl::StatusOr<core::PolicyParams> PolicyFromProto(const pb::Policy& policy) {
  core::PolicyParams out;
  switch (policy.kind()) {
    case pb::POLICY_KIND_CTR:
    case pb::POLICY_KIND_UCB1:
    case pb::POLICY_KIND_BUCB:
    case pb::POLICY_KIND_THOMPSON:
    case pb::POLICY_KIND_EPSILON_GREEDY:
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
  return out;
}

}  // namespace banditd::store
