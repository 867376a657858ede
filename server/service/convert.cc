#include "server/service/convert.h"

#include <algorithm>
#include <optional>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

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
    case v1::POLICY_TYPE_HOT_COLD:
      return core::PolicyKind::kHotCold;
    case v1::POLICY_TYPE_REWARD_UCB:
      return core::PolicyKind::kRewardUcb;
    case v1::POLICY_TYPE_REWARD_THOMPSON:
      return core::PolicyKind::kRewardThompson;
    case v1::POLICY_TYPE_LINUCB:
      return core::PolicyKind::kLinUcb;
    case v1::POLICY_TYPE_KL_UCB:
      return core::PolicyKind::kKlUcb;
    case v1::POLICY_TYPE_LIN_TS:
      return core::PolicyKind::kLinTs;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("policy.type: unknown policy type ", type));
  }
}

v1::PolicyType KindToProto(core::PolicyKind kind) {
  return static_cast<v1::PolicyType>(static_cast<int>(kind));
}

}  // namespace

namespace {

// True for "name", "name[3]", "a.b[0][1].c": identifiers with optional
// indexes, joined by dots.
bool IsFieldPath(absl::string_view path) {
  if (path.empty()) return false;
  size_t i = 0;
  while (true) {
    if (i >= path.size() || !(absl::ascii_isalpha(path[i]) || path[i] == '_')) {
      return false;
    }
    while (i < path.size() &&
           (absl::ascii_isalnum(path[i]) || path[i] == '_')) {
      ++i;
    }
    while (i < path.size() && path[i] == '[') {
      const size_t digits = ++i;
      while (i < path.size() && absl::ascii_isdigit(path[i])) ++i;
      if (i == digits || i >= path.size() || path[i] != ']') return false;
      ++i;
    }
    if (i == path.size()) return true;
    if (path[i++] != '.') return false;
  }
}

bool IsFieldFixable(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kResourceExhausted:
      return true;
    default:
      return false;
  }
}

}  // namespace

std::string FieldPathOf(const absl::Status& status) {
  if (absl::optional<absl::Cord> field = status.GetPayload(kFieldPathPayload)) {
    return std::string(*field);
  }
  const absl::string_view message = status.message();
  const size_t colon = message.find(": ");
  if (colon == absl::string_view::npos) return "";
  const absl::string_view path = message.substr(0, colon);
  return IsFieldPath(path) ? std::string(path) : "";
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  const auto code = static_cast<grpc::StatusCode>(status.code());
  std::string message(status.message());
  const std::string field =
      IsFieldFixable(status.code()) ? FieldPathOf(status) : "";
  if (field.empty()) return grpc::Status(code, std::move(message));
  google::rpc::BadRequest bad_request;
  google::rpc::BadRequest::FieldViolation* violation =
      bad_request.add_field_violations();
  violation->set_field(field);
  absl::string_view description = status.message();
  if (absl::StartsWith(description, field) &&
      absl::StartsWith(description.substr(field.size()), ": ")) {
    description.remove_prefix(field.size() + 2);
  }
  violation->set_description(std::string(description));
  google::rpc::Status details;
  details.set_code(static_cast<int>(code));
  details.set_message(message);
  details.add_details()->PackFrom(bad_request);
  return grpc::Status(code, std::move(message), details.SerializeAsString());
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

absl::StatusOr<core::PolicyParams> PolicyFromProto(const v1::Policy& policy) {
  absl::StatusOr<core::PolicyOverride> fields = OverrideFromProto(policy);
  if (!fields.ok()) return fields.status();
  // Unset parameters take the defaults of the policy asked for (an unset
  // type is UCB1 here; CreateRoom then applies its own default kind).
  return fields->ApplyTo(core::DefaultPolicyParams(
      fields->kind.value_or(core::PolicyKind::kUcb1)));
}

void PolicyToProto(const core::PolicyParams& params, v1::Policy* out) {
  out->set_type(KindToProto(params.kind));
  out->set_ucb_alpha(params.ucb_alpha);
  out->set_bucb_z(params.bucb_z);
  out->set_beta_prior_a(params.beta_prior_a);
  out->set_beta_prior_b(params.beta_prior_b);
  out->set_epsilon(params.epsilon);
  out->set_cold_max(params.cold_max);
  out->set_cold_steepness(params.cold_steepness);
  out->set_cold_threshold(params.cold_threshold);
  out->set_hot_max(params.hot_max);
  out->set_hot_steepness(params.hot_steepness);
  out->set_hot_threshold(params.hot_threshold);
  out->set_linucb_alpha(params.linucb_alpha);
  out->set_prior_pseudo_views(params.prior_pseudo_views);
  out->set_exploration_floor(params.exploration_floor);
}

void RoomToProto(const core::RoomInfo& room, v1::Room* out) {
  out->set_room_id(room.room_id);
  out->set_arm_count(room.arm_count);
  out->mutable_arms()->Reserve(static_cast<int>(room.arms.size()));
  for (const core::ArmInfo& arm : room.arms) {
    v1::Arm* a = out->add_arms();
    a->set_arm_id(arm.arm_id);
    a->set_enabled(arm.enabled);
  }
  if (room.more_arms && !room.arms.empty()) {
    out->set_next_arms_page_token(EncodeArmPageToken(
        room.first_index + room.arms.size(), room.arms.back().arm_id));
  }
  PolicyToProto(room.policy, out->mutable_policy());
  if (room.decay.enabled()) {
    out->mutable_decay()->set_half_life_events(room.decay.half_life_events);
    out->mutable_decay()->set_half_life_seconds(room.decay.half_life_seconds);
  }
  if (room.linucb.dimension > 0) {
    out->mutable_linucb()->set_dimension(room.linucb.dimension);
    out->mutable_linucb()->set_lambda(room.linucb.lambda);
  }
}

absl::StatusOr<core::CreateRoom> CreateRoomFromProto(
    const v1::CreateRoomRequest& request) {
  absl::StatusOr<core::PolicyParams> policy = PolicyFromProto(request.policy());
  if (!policy.ok()) return policy.status();
  // The default for new rooms (docs/SIMULATION.md, low click rates). The
  // resolved kind is what the log records, so rooms created under an older
  // default keep theirs on replay.
  if (request.policy().type() == v1::POLICY_TYPE_UNSPECIFIED) {
    policy->kind = core::PolicyKind::kKlUcb;
  }
  core::CreateRoom create;
  create.room_id = request.room_id();
  create.arm_ids.assign(request.arm_ids().begin(), request.arm_ids().end());
  create.policy = *policy;
  create.decay.half_life_events = request.decay().half_life_events();
  create.decay.half_life_seconds = request.decay().half_life_seconds();
  create.linucb.dimension = request.linucb().dimension();
  // lambda 0 means "unset" in proto3: the documented default 1.
  create.linucb.lambda =
      request.linucb().lambda() == 0 ? 1.0 : request.linucb().lambda();
  return create;
}

void CountsToProto(const core::Counts& counts, v1::Counts* out) {
  out->set_views(counts.views);
  out->set_clicks(counts.clicks);
  out->set_reward_sum(counts.reward_sum);
}

namespace {

// Completes `event` from the decision it cites. Fields the event gives must
// agree with the decision.
absl::Status ResolveDecision(const Decision& decision, const std::string& p,
                             core::FeedbackEvent& event) {
  auto conflict = [&](const char* field, const std::string& what) {
    return absl::InvalidArgumentError(
        absl::StrCat(p, ".", field, ": differs from the decision's ", what));
  };
  if (!event.room_id.empty() && event.room_id != decision.room_id) {
    return conflict("room_id", absl::StrCat("room \"", decision.room_id, "\""));
  }
  if (!event.segment.empty() && event.segment != decision.segment) {
    return conflict("segment",
                    absl::StrCat("segment \"", decision.segment, "\""));
  }
  if (!event.context_items.empty() &&
      event.context_items != decision.context_items) {
    return conflict("context_items", "context items");
  }
  if (!event.features.empty() && event.features != decision.features) {
    return conflict("features", "features");
  }
  if (event.arm_id.empty()) {
    if (decision.arm_ids.size() != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat(p, ".arm_id: required, the decision returned ",
                       decision.arm_ids.size(), " arms"));
    }
    event.arm_id = decision.arm_ids[0];
  } else if (std::find(decision.arm_ids.begin(), decision.arm_ids.end(),
                       event.arm_id) == decision.arm_ids.end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        p, ".arm_id: arm \"", event.arm_id, "\" was not in the decision"));
  }
  event.room_id = decision.room_id;
  event.segment = decision.segment;
  event.context_items = decision.context_items;
  event.features = decision.features;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<core::FeedbackBatch> FeedbackFromProto(
    const v1::FeedbackRequest& request, const DecisionCache* decisions) {
  core::FeedbackBatch batch;
  batch.events.reserve(request.events_size());
  for (int i = 0; i < request.events_size(); ++i) {
    const v1::FeedbackEvent& e = request.events(i);
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
    event.features.assign(e.features().begin(), e.features().end());
    if (!e.decision_id().empty()) {
      const std::string p = absl::StrCat("events[", i, "]");
      if (decisions == nullptr) {
        return absl::NotFoundError(
            absl::StrCat(p, ".decision_id: decision ids are off on this "
                            "server (--decision_cache_size=0 and no "
                            "--decision_id_key_file)"));
      }
      absl::StatusOr<std::shared_ptr<const Decision>> decision =
          decisions->Resolve(e.decision_id());
      if (!decision.ok()) {
        // A signed id is long: quote only its start.
        return absl::Status(
            decision.status().code(),
            absl::StrCat(p, ".decision_id: decision \"",
                         absl::string_view(e.decision_id()).substr(0, 40),
                         e.decision_id().size() > 40 ? "..." : "", "\": ",
                         decision.status().message()));
      }
      if (absl::Status s = ResolveDecision(**decision, p, event); !s.ok()) {
        return s;
      }
    }
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
  query.features.assign(request.features().begin(), request.features().end());
  return query;
}

void StatsToProto(const core::Stats& stats, v1::GetStatsResponse* out) {
  out->set_room_id(stats.room_id);
  out->set_segment(stats.segment);
  out->set_total_views(stats.total_views);
  out->set_total_size(stats.arm_count);
  out->mutable_arms()->Reserve(static_cast<int>(stats.arms.size()));
  for (const core::ArmStat& arm : stats.arms) {
    ArmStatToProto(arm, out->add_arms());
  }
  if (stats.more_arms && !stats.arms.empty()) {
    out->set_next_page_token(EncodeArmPageToken(
        stats.first_index + stats.arms.size(), stats.arms.back().arm_id));
  }
}

void ArmStatToProto(const core::ArmStat& arm, v1::ArmStats* a) {
    a->set_arm_id(arm.arm_id);
    a->set_enabled(arm.enabled);
    CountsToProto(arm.counts, a->mutable_counts());
    a->set_ctr(arm.scores.ctr);
    a->set_ucb1(arm.scores.ucb1);
    a->set_bucb(arm.scores.bucb);
    a->set_reward_mean(arm.scores.reward_mean);
    a->set_reward_variance(arm.scores.reward_variance);
    for (const core::ContextStat& item : arm.context) {
      v1::ContextStats* c = a->add_context();
      c->set_context_item(item.context_item);
      CountsToProto(item.counts, c->mutable_counts());
      c->set_ctr(item.scores.ctr);
      c->set_ucb1(item.scores.ucb1);
      c->set_bucb(item.scores.bucb);
      c->set_reward_mean(item.scores.reward_mean);
      c->set_reward_variance(item.scores.reward_variance);
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

std::string EncodeArmPageToken(size_t next_index,
                               absl::string_view last_arm_id) {
  return absl::WebSafeBase64Escape(absl::StrCat(next_index, ":", last_arm_id));
}

absl::StatusOr<core::ArmSelection> DecodeArmPageToken(
    const std::string& token) {
  core::ArmSelection selection;
  if (token.empty()) return selection;
  std::string text;
  const size_t colon = absl::WebSafeBase64Unescape(token, &text)
                           ? text.find(':')
                           : std::string::npos;
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(absl::string_view(text).substr(0, colon),
                        &selection.start_index)) {
    return absl::InvalidArgumentError(
        "page_token: not a token returned by ListArms, GetStats or GetRoom");
  }
  selection.after_arm_id = text.substr(colon + 1);
  return selection;
}

}  // namespace banditd::service
