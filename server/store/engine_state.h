#ifndef BANDITD_SERVER_STORE_ENGINE_STATE_H_
#define BANDITD_SERVER_STORE_ENGINE_STATE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/core/engine.h"
#include "server/core/policy.h"
#include "server/core/room.h"

namespace banditd::store {

// RoomState is a plain, copyable copy of a core::Room.
struct RoomState {
  std::string room_id;
  core::PolicyParams policy;
  std::vector<std::string> arm_ids;
  std::vector<uint8_t> enabled;
  absl::flat_hash_map<std::string, core::Segment> segments;

  friend bool operator==(const RoomState&, const RoomState&) = default;
};

// EngineState is everything a snapshot holds: the rooms in room_id order and
// the de-duplication window, oldest first.
struct EngineState {
  std::vector<RoomState> rooms;
  std::vector<std::string> event_ids;

  friend bool operator==(const EngineState&, const EngineState&) = default;
};

// CaptureState copies the engine's state. It takes each room's reader lock in
// turn, so it is consistent only when no Apply runs meanwhile: call it from
// the engine's single writer. Readers (Sample, GetStats) are not blocked.
EngineState CaptureState(const core::Engine& engine);

// RestoreState replaces the engine's state with `state`. Single writer only.
void RestoreState(EngineState state, core::Engine* engine);

// EncodeSnapshot serializes `state` as banditd.internal.v1.SnapshotChunk
// messages of about `chunk_bytes` each (large rooms and tables are split).
std::vector<std::string> EncodeSnapshot(const EngineState& state,
                                        size_t chunk_bytes = 1 << 20);

// DecodeSnapshot reverses EncodeSnapshot. DATA_LOSS when a chunk does not
// parse or the chunks do not describe a consistent state.
absl::StatusOr<EngineState> DecodeSnapshot(
    const std::vector<std::string>& chunks);

}  // namespace banditd::store

#endif  // BANDITD_SERVER_STORE_ENGINE_STATE_H_
