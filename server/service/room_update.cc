#include "server/service/room_update.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/service/convert.h"

namespace banditd::service {
namespace {

// Policy parameters by mask path ("policy.<name>"): how to copy one from a
// fully resolved policy into an override.
struct PolicyField {
  const char* name;
  std::optional<double> core::PolicyOverride::*field;
  double core::PolicyParams::*value;
};

constexpr PolicyField kPolicyFields[] = {
    {"ucb_alpha", &core::PolicyOverride::ucb_alpha,
     &core::PolicyParams::ucb_alpha},
    {"bucb_z", &core::PolicyOverride::bucb_z, &core::PolicyParams::bucb_z},
    {"beta_prior_a", &core::PolicyOverride::beta_prior_a,
     &core::PolicyParams::beta_prior_a},
    {"beta_prior_b", &core::PolicyOverride::beta_prior_b,
     &core::PolicyParams::beta_prior_b},
    {"epsilon", &core::PolicyOverride::epsilon, &core::PolicyParams::epsilon},
    {"cold_max", &core::PolicyOverride::cold_max,
     &core::PolicyParams::cold_max},
    {"cold_steepness", &core::PolicyOverride::cold_steepness,
     &core::PolicyParams::cold_steepness},
    {"cold_threshold", &core::PolicyOverride::cold_threshold,
     &core::PolicyParams::cold_threshold},
    {"hot_max", &core::PolicyOverride::hot_max, &core::PolicyParams::hot_max},
    {"hot_steepness", &core::PolicyOverride::hot_steepness,
     &core::PolicyParams::hot_steepness},
    {"hot_threshold", &core::PolicyOverride::hot_threshold,
     &core::PolicyParams::hot_threshold},
    {"linucb_alpha", &core::PolicyOverride::linucb_alpha,
     &core::PolicyParams::linucb_alpha},
    {"prior_pseudo_views", &core::PolicyOverride::prior_pseudo_views,
     &core::PolicyParams::prior_pseudo_views},
    {"exploration_floor", &core::PolicyOverride::exploration_floor,
     &core::PolicyParams::exploration_floor},
};

// The whole policy as an override: every field set, unset ones at their
// defaults (what "policy" in the mask means).
core::PolicyOverride WholePolicy(const core::PolicyParams& params) {
  core::PolicyOverride out;
  out.kind = params.kind;
  for (const PolicyField& f : kPolicyFields) out.*f.field = params.*f.value;
  return out;
}

// The paths an empty mask stands for: the fields set in `room`.
std::vector<std::string> ImpliedPaths(const v1::Room& room) {
  std::vector<std::string> paths;
  const v1::Policy& policy = room.policy();
  if (policy.type() != v1::POLICY_TYPE_UNSPECIFIED) {
    paths.push_back("policy.type");
  }
  const google::protobuf::Reflection* reflection = policy.GetReflection();
  const google::protobuf::Descriptor* descriptor = policy.GetDescriptor();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* field = descriptor->field(i);
    if (field->has_presence() && reflection->HasField(policy, field)) {
      paths.push_back(absl::StrCat("policy.", field->name()));
    }
  }
  if (room.has_decay()) paths.push_back("decay");
  return paths;
}

}  // namespace

absl::StatusOr<core::UpdateRoom> UpdateRoomFromProto(
    const v1::UpdateRoomRequest& request) {
  const v1::Room& room = request.room();
  // Parameters the mask names come from the request's policy with unset
  // ones at their defaults; its type, unset, means UCB1 as in CreateRoom.
  absl::StatusOr<core::PolicyParams> given = PolicyFromProto(room.policy());
  if (!given.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("room.", given.status().message()));
  }
  core::UpdateRoom update;
  update.room_id = room.room_id();
  const bool implied = request.update_mask().paths().empty();
  const std::vector<std::string> paths =
      implied ? ImpliedPaths(room)
              : std::vector<std::string>(request.update_mask().paths().begin(),
                                         request.update_mask().paths().end());
  if (paths.empty()) {
    return absl::InvalidArgumentError(
        "update_mask: empty, and room sets no policy or decay field to "
        "change");
  }
  for (size_t i = 0; i < paths.size(); ++i) {
    const std::string& path = paths[i];
    auto unknown = [&](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat(
          implied ? "update_mask" : absl::StrCat("update_mask.paths[", i, "]"),
          ": \"", path, "\" ", why));
    };
    if (path == "*" || path == "policy") {
      update.policy = WholePolicy(*given);
    }
    if (path == "*" || path == "decay") {
      update.half_life_events = room.decay().half_life_events();
      update.half_life_seconds = room.decay().half_life_seconds();
    }
    if (path == "*" || path == "policy" || path == "decay") continue;
    if (path == "decay.half_life_events") {
      update.half_life_events = room.decay().half_life_events();
    } else if (path == "decay.half_life_seconds") {
      update.half_life_seconds = room.decay().half_life_seconds();
    } else if (path == "policy.type") {
      update.policy.kind = given->kind;
    } else if (absl::StartsWith(path, "policy.")) {
      const absl::string_view name = absl::string_view(path).substr(7);
      const PolicyField* found = nullptr;
      for (const PolicyField& f : kPolicyFields) {
        if (name == f.name) found = &f;
      }
      if (found == nullptr) return unknown("is not a field of Policy");
      update.policy.*found->field = (*given).*found->value;
    } else if (path == "room_id" || path == "arms" || path == "linucb" ||
               absl::StartsWith(path, "arms.") ||
               absl::StartsWith(path, "linucb.")) {
      return unknown(
          "cannot be changed by UpdateRoom (arms change with AddArms, "
          "RemoveArm and SetArmEnabled; room_id and linucb are fixed at "
          "creation)");
    } else {
      return unknown("is not an updatable field of Room");
    }
  }
  return update;
}

core::ResetArm ResetArmFromProto(const v1::ResetArmRequest& request) {
  core::ResetArm reset{request.room_id(), request.arm_id(), std::nullopt};
  if (request.has_segment()) reset.segment = request.segment();
  return reset;
}

}  // namespace banditd::service
