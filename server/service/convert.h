#ifndef BANDITD_SERVER_SERVICE_CONVERT_H_
#define BANDITD_SERVER_SERVICE_CONVERT_H_

// Translation between the public proto API and core types; the only place
// that knows both.

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "banditd/v1/banditd.pb.h"
#include "grpcpp/support/status.h"
#include "server/core/engine.h"
#include "server/core/mutation.h"
#include "server/service/decision_cache.h"

namespace banditd::service {

// The one conversion of absl::Status to grpc::Status (codes map 1:1).
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

// ListRooms page tokens are opaque to clients: web-safe base64 of the last
// room id of the previous page.
std::string EncodePageToken(const std::string& after);
absl::StatusOr<std::string> DecodePageToken(const std::string& token);

}  // namespace banditd::service

#endif  // BANDITD_SERVER_SERVICE_CONVERT_H_
