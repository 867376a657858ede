// The engine's state as a plain copy: captured whole, or in the two-step
// draft/finish the snapshotter uses to pause writers briefly, and restored.
// Its snapshot rows: snapshot_codec.h.

#include "server/store/engine_state.h"

#include <algorithm>
#include <memory>
#include <string_view>
#include <utility>

#include "absl/synchronization/mutex.h"

namespace banditd::store {

EngineState CaptureState(const core::Engine& engine) {
  EngineState state;
  engine.ForEachRoom([&state](const core::Room& room) {
    room.mu.AssertReaderHeld();
    RoomState& out = state.rooms.emplace_back();
    out.room_id = room.id;
    out.policy = room.policy;
    out.arm_ids = room.arm_ids;
    out.enabled = room.enabled;
    out.segments = room.segments;
    out.decay = room.decay;
    out.counter_scale = room.counter_scale;
    out.last_event_micros = room.last_event_micros;
    out.linucb = room.linucb;
    out.linucb_arms = room.linucb_arms;
  });
  for (int stream = 0; stream < engine.event_id_streams(); ++stream) {
    state.event_windows.push_back(engine.CopyEventIds(stream));
  }
  state.source_offsets = engine.source_offsets().All();
  return state;
}

EngineState CaptureDraft(const core::Engine& engine) {
  // The event-id window is copied here too, with its count: the pause then
  // appends only the ids added since (copying a million ids there took
  // 20-90 ms).
  return CaptureState(engine);
}

bool FinishDraft(const core::Engine& engine, EngineState* state) {
  size_t next = 0;
  bool match = true;
  engine.ForEachRoom([&](const core::Room& room) {
    room.mu.AssertReaderHeld();
    if (!match || next >= state->rooms.size() ||
        state->rooms[next].room_id != room.id ||
        state->rooms[next].arm_ids.size() != room.arm_ids.size() ||
        state->rooms[next].segments.size() > room.segments.size()) {
      match = false;
      return;
    }
    RoomState& out = state->rooms[next++];
    // Assigning table by table reuses the draft's vectors (their capacity
    // already fits), where copying whole maps would allocate anew.
    for (const auto& [name, segment] : room.segments) {
      core::Segment& to = out.segments[name];
      to.arms = segment.arms;
      for (const auto& [item, table] : segment.context) {
        to.context[item] = table;
      }
      if (to.context.size() != segment.context.size()) match = false;
    }
    out.counter_scale = room.counter_scale;
    out.last_event_micros = room.last_event_micros;
    if (out.linucb_arms.size() != room.linucb_arms.size()) {
      match = false;
      return;
    }
    for (size_t i = 0; i < room.linucb_arms.size(); ++i) {
      out.linucb_arms[i] = room.linucb_arms[i];
    }
  });
  if (!match || next != state->rooms.size()) return false;
  for (size_t stream = 0; stream < state->event_windows.size(); ++stream) {
    engine.CopyEventIdsAddedSince(static_cast<int>(stream),
                                  &state->event_windows[stream]);
  }
  // Feedback moves them, so they are copied in the pause too.
  state->source_offsets = engine.source_offsets().All();
  return true;
}

void RestoreState(EngineState state, core::Engine* engine) {
  std::vector<std::unique_ptr<core::Room>> rooms;
  rooms.reserve(state.rooms.size());
  for (RoomState& in : state.rooms) {
    auto room = std::make_unique<core::Room>(std::move(in.room_id));
    absl::MutexLock lock(&room->mu);
    room->policy = in.policy;
    room->arm_ids = std::move(in.arm_ids);
    room->enabled = std::move(in.enabled);
    room->segments = std::move(in.segments);
    room->decay = in.decay;
    room->counter_scale = in.counter_scale;
    room->last_event_micros = in.last_event_micros;
    room->linucb = in.linucb;
    room->linucb_arms = std::move(in.linucb_arms);
    room->MutableSegment("");  // Always present.
    rooms.push_back(std::move(room));
  }
  engine->ReplaceRooms(std::move(rooms), std::move(state.event_windows));
  engine->ReplaceSourceOffsets(state.source_offsets);
}

}  // namespace banditd::store
