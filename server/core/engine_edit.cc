// Engine's in-place edits of a room: UpdateRoom and ResetArm.

#include "absl/strings/str_cat.h"
#include "server/core/engine.h"
#include "server/core/ids.h"

namespace banditd::core {
namespace {

// The room as UpdateRoom would leave it.
DecayConfig UpdatedDecay(const DecayConfig& base, const UpdateRoom& update) {
  DecayConfig out = base;
  if (update.half_life_events) out.half_life_events = *update.half_life_events;
  if (update.half_life_seconds) {
    out.half_life_seconds = *update.half_life_seconds;
  }
  return out;
}

}  // namespace

absl::Status Engine::ValidateUpdateRoom(const UpdateRoom& update) const {
  absl::StatusOr<std::shared_ptr<Room>> room =
      FindRoomOr(update.room_id, "room.room_id");
  if (!room.ok()) return room.status();
  absl::ReaderMutexLock lock(&(*room)->mu);
  // The result, not the change, must be valid: setting half_life_seconds on
  // a room that decays by events is an error unless the same update clears
  // half_life_events.
  if (absl::Status s =
          ValidatePolicy(update.policy.ApplyTo((*room)->policy), "room.policy");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidateDecay(UpdatedDecay((*room)->decay, update));
      !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("room.", s.message()));
  }
  return absl::OkStatus();
}

absl::Status Engine::ValidateResetArm(const ResetArm& reset) const {
  if (reset.segment.has_value()) {
    if (absl::Status s = ValidateSegment(*reset.segment, "segment"); !s.ok()) {
      return s;
    }
  }
  return ValidateExistingArm(reset.room_id, reset.arm_id);
}

void Engine::ApplyUpdateRoom(const UpdateRoom& update) {
  std::shared_ptr<Room> room = FindRoom(update.room_id);
  absl::MutexLock lock(&room->mu);
  room->policy = update.policy.ApplyTo(room->policy);
  // Counters keep their stored values and counter_scale: decay changes how
  // fast they fade from now on, not what they hold.
  const DecayConfig decay = UpdatedDecay(room->decay, update);
  // Time-based decay switched on starts its clock at the next event, so the
  // time it was off does not count.
  if (room->decay.half_life_seconds == 0 && decay.half_life_seconds > 0) {
    room->last_event_micros = 0;
  }
  room->decay = decay;
}

void Engine::ApplyResetArm(const ResetArm& reset) {
  std::shared_ptr<Room> room = FindRoom(reset.room_id);
  absl::MutexLock lock(&room->mu);
  const uint32_t arm = static_cast<uint32_t>(room->FindArm(reset.arm_id));
  room->ResetArm(arm, reset.segment ? &*reset.segment : nullptr);
}

}  // namespace banditd::core
