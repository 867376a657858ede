#ifndef BANDITD_SERVER_STORE_ENGINE_STATE_H_
#define BANDITD_SERVER_STORE_ENGINE_STATE_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/core/engine.h"
#include "server/core/linucb.h"
#include "server/core/policy.h"
#include "server/core/room.h"

namespace banditd::store {

// RoomState is a plain, copyable copy of a core::Room.
struct RoomState {
  std::string room_id;
  core::PolicyParams policy;
  core::ArmIds arm_ids;
  std::vector<uint8_t> enabled;
  absl::flat_hash_map<std::string, core::Segment> segments;
  core::DecayConfig decay;
  double counter_scale = 1.0;
  int64_t last_event_micros = 0;
  core::LinUcbConfig linucb;
  std::vector<core::LinUcbArm> linucb_arms;

  friend bool operator==(const RoomState&, const RoomState&) = default;
};

// EngineState is everything a snapshot holds: the rooms in room_id order and
// the de-duplication windows, one per log stream.
struct EngineState {
  std::vector<RoomState> rooms;
  // event_windows[s]: stream s's window (core::Engine::CopyEventIds), keys
  // oldest first with the log time each was remembered at. Single-node
  // mode has one stream.
  std::vector<core::EventIdsCopy> event_windows;
  // Consumed positions of source partitions (core::SourceOffsets).
  std::vector<core::SourceOffset> source_offsets;

  // Ids held over every window.
  size_t event_id_count() const {
    size_t n = 0;
    for (const core::EventIdsCopy& w : event_windows) n += w.keys.size();
    return n;
  }

  // Equal rooms, offsets and windows' keys and times (a window missing on
  // one side equals an empty one: a decoded snapshot has none beyond the
  // last stream holding ids).
  friend bool operator==(const EngineState& a, const EngineState& b) {
    const core::EventIdsCopy none;
    for (size_t s = 0;
         s < std::max(a.event_windows.size(), b.event_windows.size()); ++s) {
      const core::EventIdsCopy& x =
          s < a.event_windows.size() ? a.event_windows[s] : none;
      const core::EventIdsCopy& y =
          s < b.event_windows.size() ? b.event_windows[s] : none;
      if (x.keys != y.keys || x.micros != y.micros) return false;
    }
    return a.rooms == b.rooms && a.source_offsets == b.source_offsets;
  }
};

// CaptureState copies the engine's state. It takes each room's reader lock in
// turn, so it is consistent only when no Apply runs meanwhile: call it from
// the engine's single writer. Readers (Sample, GetStats) are not blocked.
EngineState CaptureState(const core::Engine& engine);

// A snapshot copy in two steps, so that the step that must exclude Apply
// is short and touches no fresh memory. CaptureDraft copies everything while
// Feedback may still be applied (so counters may be mid-change, but the
// expensive part is done: arm ids, and allocating and faulting in every
// table). FinishDraft, from the single writer, then copies the parts that
// Feedback changes (counters, decay state, LinUCB models, event ids) into the
// draft's existing memory. The result equals CaptureState provided no
// mutation other than Feedback was applied between the two steps.
EngineState CaptureDraft(const core::Engine& engine);
// Returns false, leaving `state` unusable, if the rooms no longer match the
// draft (a structural change came in between).
bool FinishDraft(const core::Engine& engine, EngineState* state);

// RestoreState replaces the engine's state with `state`. Single writer only.
void RestoreState(EngineState state, core::Engine* engine);

}  // namespace banditd::store

#endif  // BANDITD_SERVER_STORE_ENGINE_STATE_H_
