#ifndef BANDITD_SERVER_SERVICE_ROOM_UPDATE_H_
#define BANDITD_SERVER_SERVICE_ROOM_UPDATE_H_

#include "absl/status/statusor.h"
#include "banditd/v1/banditd.pb.h"
#include "server/core/mutation.h"

namespace banditd::service {

// Translates UpdateRoom's field mask (AIP-134) into the fields to change.
// INVALID_ARGUMENT naming "update_mask.paths[i]" for an unknown or
// immutable path, or for a mask (explicit or implied) that changes nothing.
// Whether the resulting room is valid is the engine's check.
absl::StatusOr<core::UpdateRoom> UpdateRoomFromProto(
    const v1::UpdateRoomRequest& request);

core::ResetArm ResetArmFromProto(const v1::ResetArmRequest& request);

}  // namespace banditd::service

#endif  // BANDITD_SERVER_SERVICE_ROOM_UPDATE_H_
