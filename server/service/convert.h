#ifndef BANDITD_SERVER_SERVICE_CONVERT_H_
#define BANDITD_SERVER_SERVICE_CONVERT_H_

// Translation between the public proto API and core types; the only place
// that knows both.

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "banditd/v1/banditd.pb.h"
#include "grpcpp/support/status.h"
#include "server/core/engine.h"
#include "server/core/mutation.h"
#include "server/service/decision_cache.h"

namespace banditd::service {

// Payload type URL under which a status may name the request field at fault
// (the payload is the field path, e.g. "events[3].arm_id") when its message
// does not start with that path.
inline constexpr char kFieldPathPayload[] = "type.banditd.dev/field_path";

// The request field an error is about: the kFieldPathPayload payload, else
// the message's prefix up to ": " when that prefix is a field path
// ("events[3].context_items[0]: ..."), the convention of every message in
// server/core; empty when neither.
std::string FieldPathOf(const absl::Status& status);

// The one conversion of absl::Status to grpc::Status (codes map 1:1). When a
// field is at fault (FieldPathOf) and the code is one a caller can fix by
// changing the request (INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS,
// FAILED_PRECONDITION, OUT_OF_RANGE, RESOURCE_EXHAUSTED), the status details
// carry a google.rpc.Status with one google.rpc.BadRequest field violation:
// the field path and the message's remaining text as its description.
grpc::Status ToGrpcStatus(const absl::Status& status);

// Resolves a CreateRoom policy: unset type means UCB1, unset parameters take
// their documented defaults.
absl::StatusOr<core::PolicyParams> PolicyFromProto(const v1::Policy& policy);
absl::StatusOr<core::PolicyOverride> OverrideFromProto(
    const v1::Policy& policy);
void PolicyToProto(const core::PolicyParams& params, v1::Policy* out);

void RoomToProto(const core::RoomInfo& room, v1::Room* out);
void CountsToProto(const core::Counts& counts, v1::Counts* out);

// Translates a Feedback request; events citing a decision_id are completed
// from `decisions` (null: decision ids are rejected), so that the logged
// mutation is self-contained.
absl::StatusOr<core::FeedbackBatch> FeedbackFromProto(
    const v1::FeedbackRequest& request, const DecisionCache* decisions);
absl::StatusOr<core::CreateRoom> CreateRoomFromProto(
    const v1::CreateRoomRequest& request);
core::SampleQuery SampleFromProto(const v1::SampleRequest& request,
                                  core::PolicyOverride policy);
void StatsToProto(const core::Stats& stats, v1::GetStatsResponse* out);
void ArmStatToProto(const core::ArmStat& arm, v1::ArmStats* out);

// ListRooms page tokens are opaque to clients: web-safe base64 of the last
// room id of the previous page.
std::string EncodePageToken(const std::string& after);
absl::StatusOr<std::string> DecodePageToken(const std::string& token);

// Arm page tokens (ListArms, GetStats, Room.next_arms_page_token): web-safe
// base64 of "<next index>:<last arm id>". The id lets a listing resume after
// that arm even when arms before it were removed meanwhile; the index is
// the fallback when that arm itself was removed.
std::string EncodeArmPageToken(size_t next_index, absl::string_view last_arm_id);
// The window after a token (empty token: from the first arm).
absl::StatusOr<core::ArmSelection> DecodeArmPageToken(const std::string& token);

}  // namespace banditd::service

#endif  // BANDITD_SERVER_SERVICE_CONVERT_H_
