#include "server/service/convert.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace banditd::service {
namespace {

absl::StatusOr<core::PolicyKind> KindFromProto(v1::PolicyType type) {
  switch (type) {
    case v1::POLICY_TYPE_CTR:
      return core::PolicyKind::kCtr;
    case v1::POLICY_TYPE_UCB1:
      return core::PolicyKind::kUcb1;
    case v1::POLICY_TYPE_BUCB:
      return core::PolicyKind::kBucb;
    case v1::POLICY_TYPE_THOMPSON:
      return core::PolicyKind::kThompson;
    case v1::POLICY_TYPE_EPSILON_GREEDY:
      return core::PolicyKind::kEpsilonGreedy;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("policy.type: unknown policy type ", type));
  }
}

v1::PolicyType KindToProto(core::PolicyKind kind) {
  return static_cast<v1::PolicyType>(static_cast<int>(kind));
}

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

absl::StatusOr<core::PolicyOverride> OverrideFromProto(
    const v1::Policy& policy) {
  core::PolicyOverride out;
  if (policy.type() != v1::POLICY_TYPE_UNSPECIFIED) {
    absl::StatusOr<core::PolicyKind> kind = KindFromProto(policy.type());
    if (!kind.ok()) return kind.status();
    out.kind = *kind;
  }
  if (policy.has_ucb_alpha()) out.ucb_alpha = policy.ucb_alpha();
  if (policy.has_bucb_z()) out.bucb_z = policy.bucb_z();
  if (policy.has_beta_prior_a()) out.beta_prior_a = policy.beta_prior_a();
  if (policy.has_beta_prior_b()) out.beta_prior_b = policy.beta_prior_b();
  if (policy.has_epsilon()) out.epsilon = policy.epsilon();
  return out;
}

absl::StatusOr<core::PolicyParams> PolicyFromProto(const v1::Policy& policy) {
  absl::StatusOr<core::PolicyOverride> fields = OverrideFromProto(policy);
  if (!fields.ok()) return fields.status();
  return fields->ApplyTo(core::PolicyParams{});
}

void PolicyToProto(const core::PolicyParams& params, v1::Policy* out) {
  out->set_type(KindToProto(params.kind));
  out->set_ucb_alpha(params.ucb_alpha);
  out->set_bucb_z(params.bucb_z);
  out->set_beta_prior_a(params.beta_prior_a);
  out->set_beta_prior_b(params.beta_prior_b);
  out->set_epsilon(params.epsilon);
}

void RoomToProto(const core::RoomInfo& room, v1::Room* out) {
  out->set_room_id(room.room_id);
  out->mutable_arms()->Reserve(static_cast<int>(room.arms.size()));
  for (const core::ArmInfo& arm : room.arms) {
    v1::Arm* a = out->add_arms();
    a->set_arm_id(arm.arm_id);
    a->set_enabled(arm.enabled);
  }
  PolicyToProto(room.policy, out->mutable_policy());
}

void CountsToProto(const core::Counts& counts, v1::Counts* out) {
  out->set_views(counts.views);
  out->set_clicks(counts.clicks);
  out->set_reward_sum(counts.reward_sum);
}

core::FeedbackBatch FeedbackFromProto(const v1::FeedbackRequest& request) {
  core::FeedbackBatch batch;
  batch.events.reserve(request.events_size());
  for (const v1::FeedbackEvent& e : request.events()) {
    core::FeedbackEvent event;
    event.room_id = e.room_id();
    event.segment = e.segment();
    event.context_items.assign(e.context_items().begin(),
                               e.context_items().end());
    event.arm_id = e.arm_id();
    event.views = e.views();
    event.clicks = e.clicks();
    if (e.has_reward()) event.reward = e.reward();
    event.event_id = e.event_id();
    batch.events.push_back(std::move(event));
  }
  return batch;
}

core::SampleQuery SampleFromProto(const v1::SampleRequest& request,
                                  core::PolicyOverride policy) {
  core::SampleQuery query;
  query.room_id = request.room_id();
  query.segment = request.segment();
  query.context_items.assign(request.context_items().begin(),
                             request.context_items().end());
  query.k = request.k();
  query.policy = policy;
  query.candidate_arm_ids.assign(request.candidate_arm_ids().begin(),
                                 request.candidate_arm_ids().end());
  query.excluded_arm_ids.assign(request.excluded_arm_ids().begin(),
                                request.excluded_arm_ids().end());
  if (request.has_seed()) query.seed = request.seed();
  return query;
}

void StatsToProto(const core::Stats& stats, v1::GetStatsResponse* out) {
  out->set_room_id(stats.room_id);
  out->set_segment(stats.segment);
  out->set_total_views(stats.total_views);
  out->mutable_arms()->Reserve(static_cast<int>(stats.arms.size()));
  for (const core::ArmStat& arm : stats.arms) {
    v1::ArmStats* a = out->add_arms();
    a->set_arm_id(arm.arm_id);
    a->set_enabled(arm.enabled);
    CountsToProto(arm.counts, a->mutable_counts());
    a->set_ctr(arm.scores.ctr);
    a->set_ucb1(arm.scores.ucb1);
    a->set_bucb(arm.scores.bucb);
    for (const core::ContextStat& item : arm.context) {
      v1::ContextStats* c = a->add_context();
      c->set_context_item(item.context_item);
      CountsToProto(item.counts, c->mutable_counts());
      c->set_ctr(item.scores.ctr);
      c->set_ucb1(item.scores.ucb1);
      c->set_bucb(item.scores.bucb);
    }
  }
}

std::string EncodePageToken(const std::string& after) {
  return after.empty() ? "" : absl::WebSafeBase64Escape(after);
}

absl::StatusOr<std::string> DecodePageToken(const std::string& token) {
  std::string after;
  if (!absl::WebSafeBase64Unescape(token, &after)) {
    return absl::InvalidArgumentError(
        "page_token: not a token returned by ListRooms");
  }
  return after;
}

}  // namespace banditd::service
