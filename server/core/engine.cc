// Engine: rooms, admission (Validate: limits and the memory budget) and the
// state rules every logged mutation is applied under (CheckState, Apply).
// Over 500 lines because admission and apply share one Check pass and its
// file-local helpers, so that a rule cannot be enforced on admission but
// forgotten on replay.
// Its other parts live beside it: engine_edit.cc (UpdateRoom, ResetArm),
// engine_event_ids.cc (the event-id window), engine_queue.cc (writes queued
// behind a big room's read), engine_read.cc (GetRoom, ListRooms, GetStats),
// engine_winner.cc, sample*.cc.

#include "server/core/engine.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/core/ids.h"
#include "server/core/scoring.h"

namespace banditd::core {
namespace {

// Counts above this lose integer precision in a double after a few adds.
constexpr int64_t kMaxEventCount = int64_t{1} << 40;
constexpr double kMaxAbsReward = 1e15;

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

absl::Status ArmNotFound(const std::string& field, const std::string& arm_id,
                         const std::string& room_id) {
  return absl::NotFoundError(absl::StrCat(
      field, ": arm \"", arm_id, "\" not found in room \"", room_id, "\""));
}

}  // namespace

absl::Status ValidateFeatures(const std::vector<double>& features,
                              const LinUcbConfig& linucb,
                              const std::string& room_id,
                              const std::string& field) {
  if (linucb.dimension == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(field, ": room \"", room_id,
                     "\" has no LinUCB models (create it with "
                     "linucb.dimension > 0)"));
  }
  if (features.size() != static_cast<size_t>(linucb.dimension)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": room \"", room_id, "\" expects ",
                     linucb.dimension, " features, got ", features.size()));
  }
  for (size_t j = 0; j < features.size(); ++j) {
    if (!std::isfinite(features[j]) || std::abs(features[j]) > 1e6) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, "[", j, "]: ", features[j],
                       " must be finite with magnitude at most 1e6"));
    }
  }
  return absl::OkStatus();
}

namespace {

// Checks a list of new arm ids: well formed, unique in the list, and not
// already in `room` (when given).
absl::Status ValidateNewArms(
    const std::vector<std::string>& arm_ids, const Room* room, size_t existing,
    size_t max_arms) ABSL_NO_THREAD_SAFETY_ANALYSIS {  // Caller holds room->mu.
  if (existing + arm_ids.size() > max_arms) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "arm_ids: a room holds at most ", max_arms, " arms (", existing, " + ",
        arm_ids.size(), " requested; --max_arms_per_room)"));
  }
  absl::flat_hash_set<absl::string_view> seen;
  seen.reserve(arm_ids.size());
  for (size_t i = 0; i < arm_ids.size(); ++i) {
    const std::string field = absl::StrCat("arm_ids[", i, "]");
    if (absl::Status s = ValidateId(arm_ids[i], field); !s.ok()) return s;
    if (!seen.insert(arm_ids[i]).second) {
      return absl::AlreadyExistsError(absl::StrCat(
          field, ": arm \"", arm_ids[i], "\" is listed more than once"));
    }
    if (room != nullptr && room->arm_ids.contains(arm_ids[i])) {
      return absl::AlreadyExistsError(
          absl::StrCat(field, ": arm \"", arm_ids[i],
                       "\" already exists in room \"", room->id, "\""));
    }
  }
  return absl::OkStatus();
}

// The event's context items, sorted and distinct (an item listed twice in
// one event counts once), as pointers: no copy of the strings.
absl::InlinedVector<const std::string*, 8> DistinctItems(
    const std::vector<std::string>& items) {
  absl::InlinedVector<const std::string*, 8> out;
  out.reserve(items.size());
  for (const std::string& item : items) out.push_back(&item);
  if (out.size() > 1) {
    std::sort(
        out.begin(), out.end(),
        [](const std::string* a, const std::string* b) { return *a < *b; });
    out.erase(std::unique(out.begin(), out.end(),
                          [](const std::string* a, const std::string* b) {
                            return *a == *b;
                          }),
              out.end());
  }
  return out;
}

// Bytes that adding `arm_ids` to a room with `dense_tables` dense tables and
// LinUCB models of `dimension` adds.
int64_t NewArmBytes(const std::vector<std::string>& arm_ids, int dense_tables,
                    int dimension) {
  const int64_t d = dimension;
  int64_t bytes = 0;
  for (const std::string& arm : arm_ids) {
    bytes += kArmBytes + static_cast<int64_t>(arm.size()) +
             dense_tables * kDenseSlotBytes +
             (d * d + d) * static_cast<int64_t>(sizeof(double));
  }
  return bytes;
}

// What a Feedback batch would add, for the admission limits: segments and
// context tables it creates, keyed "room\0segment" and
// "room\0segment\0item" (filled only for tables that do not exist yet), and
// an upper bound of the bytes it adds.
struct FeedbackGrowth {
  absl::flat_hash_set<std::string> new_segments;
  absl::flat_hash_map<std::string, int> new_items_per_segment;
  absl::flat_hash_set<std::string> new_items;
  // Sparse tables this batch may turn dense, each counted once.
  absl::flat_hash_set<const CounterTable*> densifying;
  int64_t bytes = 0;
};

// Bytes that counting arm `arm` in `table` (null: a table the batch
// creates) may add, with `events` events in the batch.
int64_t EntryBytes(const CounterTable* table, uint32_t arm, size_t events,
                   FeedbackGrowth* growth) {
  if (table == nullptr) return kSparseEntryBytes;
  if (!table->sparse() || table->Slot(arm) >= 0) return 0;
  int64_t bytes = kSparseEntryBytes;
  if ((table->entries() + events) * CounterTable::kDenseRatio >=
          table->size() &&
      growth->densifying.insert(table).second) {
    bytes += static_cast<int64_t>(table->size()) * kDenseSlotBytes;
  }
  return bytes;
}

// Adds event `index` of a batch of `events` to `growth`; RESOURCE_EXHAUSTED
// (and the limit in `hit`) when a per-room limit would be exceeded.
absl::Status AddGrowth(const Room& room, const FeedbackEvent& e, uint32_t arm,
                       size_t index, size_t events,
                       const EngineOptions& options, FeedbackGrowth* growth,
                       Limit* hit) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  // Caller holds room.mu (shared).
  const absl::string_view kSep("\0", 1);
  auto field = [index](absl::string_view name) {
    return absl::StrCat("events[", index, "]", name);
  };
  // The event counts in its segment and in the whole room.
  absl::InlinedVector<const std::string*, 2> segment_names = {&kWholeRoom};
  if (!e.segment.empty()) segment_names.push_back(&e.segment);
  for (const std::string* seg_name : segment_names) {
    const Segment* seg = room.FindSegment(*seg_name);
    // Built only for tables that do not exist yet, which is rare.
    auto seg_key = [&] { return absl::StrCat(e.room_id, kSep, *seg_name); };
    if (seg == nullptr && growth->new_segments.insert(seg_key()).second) {
      const size_t count = room.segments.size() + growth->new_segments.size();
      if (count > static_cast<size_t>(options.max_segments_per_room) + 1) {
        *hit = Limit::kSegmentsPerRoom;
        return absl::ResourceExhaustedError(absl::StrCat(
            field(".segment: room \""), e.room_id,
            "\" already holds the limit of ", options.max_segments_per_room,
            " segments (--max_segments_per_room)"));
      }
      growth->bytes += kTableBytes + static_cast<int64_t>(seg_name->size());
    }
    growth->bytes +=
        EntryBytes(seg == nullptr ? nullptr : &seg->arms, arm, events, growth);
    for (const std::string& item : e.context_items) {
      const CounterTable* table = nullptr;
      if (seg != nullptr) {
        auto it = seg->context.find(item);
        if (it != seg->context.end()) table = &it->second;
      }
      if (table == nullptr &&
          growth->new_items.insert(absl::StrCat(seg_key(), kSep, item))
              .second) {
        const size_t existing = seg == nullptr ? 0 : seg->context.size();
        if (existing + ++growth->new_items_per_segment[seg_key()] >
            static_cast<size_t>(options.max_context_items_per_segment)) {
          *hit = Limit::kItemsPerSegment;
          return absl::ResourceExhaustedError(absl::StrCat(
              field(".context_items: segment \""), *seg_name, "\" of room \"",
              e.room_id, "\" already holds the limit of ",
              options.max_context_items_per_segment,
              " context items (--max_context_items_per_segment)"));
        }
        growth->bytes += kTableBytes + static_cast<int64_t>(item.size());
      }
      growth->bytes += EntryBytes(table, arm, events, growth);
    }
  }
  return absl::OkStatus();
}

}  // namespace

Engine::Engine(EngineOptions options) : options_(std::move(options)) {
  const int windows = std::max(1, options_.event_id_streams);
  absl::MutexLock lock(&dedup_mu_);
  event_ids_.reserve(static_cast<size_t>(windows));
  for (int i = 0; i < windows; ++i) {
    event_ids_.emplace_back(options_.event_id_window,
                            options_.event_id_window_age);
  }
}

const char* LimitName(Limit limit) {
  switch (limit) {
    case Limit::kRooms:
      return "max_rooms";
    case Limit::kArmsPerRoom:
      return "max_arms_per_room";
    case Limit::kSegmentsPerRoom:
      return "max_segments_per_room";
    case Limit::kItemsPerSegment:
      return "max_context_items_per_segment";
    case Limit::kMemoryBudget:
      return "memory_budget_bytes";
  }
  return "";
}

absl::Status Engine::Exhausted(Limit limit, std::string message) const {
  rejections_[static_cast<int>(limit)].fetch_add(1, std::memory_order_relaxed);
  return absl::ResourceExhaustedError(std::move(message));
}

absl::Status Engine::CheckBudget(int64_t estimate, absl::string_view what,
                                 int64_t* reserved) const {
  int64_t used = bytes_used();
  if (reserved == nullptr) {
    if (used + estimate <= options_.memory_budget_bytes) {
      return absl::OkStatus();
    }
  } else {
    // Check and reserve in one step, so two admissions cannot both take
    // the last bytes.
    int64_t others = reserved_bytes_.load(std::memory_order_relaxed);
    while (used + others + estimate <= options_.memory_budget_bytes) {
      if (reserved_bytes_.compare_exchange_weak(others, others + estimate,
                                                std::memory_order_relaxed)) {
        *reserved = estimate;
        return absl::OkStatus();
      }
    }
    used += others;
  }
  std::string message = absl::StrCat(
      what, ": the request needs up to ", estimate,
      " more bytes and the server holds ", used, " of its memory budget of ",
      options_.memory_budget_bytes, " bytes (--memory_budget_bytes)");
  // Say so when the event-id window holds much of it: its ids stay for
  // --event_id_window_age whatever the traffic.
  const int64_t ids = event_id_bytes_.load(std::memory_order_relaxed);
  if (ids > used / 4) {
    absl::StrAppend(
        &message, ", of which the event-id window holds ", ids,
        " bytes of ids kept for --event_id_window_age=",
        absl::FormatDuration(options_.event_id_window_age),
        " (and at least --event_id_window=", options_.event_id_window, " ids)");
  }
  return Exhausted(Limit::kMemoryBudget, std::move(message));
}

std::shared_ptr<Room> Engine::FindRoom(const std::string& room_id) const {
  absl::ReaderMutexLock lock(&rooms_mu_);
  auto it = rooms_.find(room_id);
  return it == rooms_.end() ? nullptr : it->second;
}

int64_t Engine::ArmCount(const std::string& room_id) const {
  std::shared_ptr<Room> room = FindRoom(room_id);
  return room == nullptr ? 0 : room->arm_count.load(std::memory_order_relaxed);
}

absl::StatusOr<std::shared_ptr<Room>> Engine::FindRoomOr(
    const std::string& room_id, const std::string& field) const {
  if (absl::Status s = ValidateId(room_id, field); !s.ok()) return s;
  std::shared_ptr<Room> room = FindRoom(room_id);
  if (room == nullptr) {
    return absl::NotFoundError(
        absl::StrCat(field, ": room \"", room_id, "\" not found"));
  }
  return room;
}

absl::Status Engine::ValidateExistingArm(const std::string& room_id,
                                         const std::string& arm_id) const {
  absl::StatusOr<std::shared_ptr<Room>> room = FindRoomOr(room_id, "room_id");
  if (!room.ok()) return room.status();
  if (absl::Status s = ValidateId(arm_id, "arm_id"); !s.ok()) return s;
  absl::ReaderMutexLock lock(&(*room)->mu);
  if ((*room)->FindArm(arm_id) < 0) {
    return ArmNotFound("arm_id", arm_id, room_id);
  }
  return absl::OkStatus();
}

absl::Status Engine::Validate(const Mutation& mutation,
                              int64_t* reserved) const {
  if (reserved != nullptr) *reserved = 0;
  return Check(mutation, /*enforce_limits=*/true, reserved);
}

absl::Status Engine::CheckState(const Mutation& mutation) const {
  return Check(mutation, /*enforce_limits=*/false);
}

absl::Status Engine::Check(const Mutation& mutation, bool enforce_limits,
                           int64_t* reserved) const {
  // Without limits, a request-shape cap that a flag sets never rejects:
  // these are facts of the log, admitted under whatever flags were in force.
  const size_t max_arms = enforce_limits
                              ? static_cast<size_t>(options_.max_arms_per_room)
                              : std::numeric_limits<size_t>::max();
  auto CountedArms = [this](absl::Status s) {
    if (s.code() == absl::StatusCode::kResourceExhausted) {
      rejections_[static_cast<int>(Limit::kArmsPerRoom)].fetch_add(
          1, std::memory_order_relaxed);
    }
    return s;
  };
  return std::visit(
      Overloaded{
          [&](const CreateRoom& m) -> absl::Status {
            if (absl::Status s = ValidateId(m.room_id, "room_id"); !s.ok()) {
              return s;
            }
            if (FindRoom(m.room_id) != nullptr) {
              return absl::AlreadyExistsError(absl::StrCat(
                  "room_id: room \"", m.room_id, "\" already exists"));
            }
            if (enforce_limits) {
              absl::ReaderMutexLock lock(&rooms_mu_);
              if (rooms_.size() >= static_cast<size_t>(options_.max_rooms)) {
                return Exhausted(
                    Limit::kRooms,
                    absl::StrCat(
                        "room_id: the server already holds the limit of ",
                        options_.max_rooms, " rooms (--max_rooms)"));
              }
            }
            if (absl::Status s =
                    ValidateNewArms(m.arm_ids, nullptr, 0, max_arms);
                !s.ok()) {
              return CountedArms(s);
            }
            if (absl::Status s = ValidateDecay(m.decay); !s.ok()) return s;
            if (absl::Status s = ValidateLinUcb(
                    m.linucb, enforce_limits ? options_.max_linucb_dimension
                                             : std::numeric_limits<int>::max());
                !s.ok()) {
              return s;
            }
            if (absl::Status s = ValidatePolicy(m.policy, "policy"); !s.ok()) {
              return s;
            }
            if (!enforce_limits) return absl::OkStatus();
            // The whole room's dense table, and the arms.
            return CheckBudget(
                kTableBytes + NewArmBytes(m.arm_ids, 1, m.linucb.dimension),
                "arm_ids", reserved);
          },
          [&](const DeleteRoom& m) -> absl::Status {
            return FindRoomOr(m.room_id, "room_id").status();
          },
          [&](const ResetRoom& m) -> absl::Status {
            return FindRoomOr(m.room_id, "room_id").status();
          },
          [&](const AddArms& m) -> absl::Status {
            absl::StatusOr<std::shared_ptr<Room>> room =
                FindRoomOr(m.room_id, "room_id");
            if (!room.ok()) return room.status();
            if (m.arm_ids.empty()) {
              return absl::InvalidArgumentError(
                  "arm_ids: must name at least one arm");
            }
            int64_t estimate = 0;
            {
              absl::ReaderMutexLock lock(&(*room)->mu);
              if (absl::Status s =
                      ValidateNewArms(m.arm_ids, room->get(),
                                      (*room)->arm_ids.size(), max_arms);
                  !s.ok()) {
                return CountedArms(s);
              }
              if (!enforce_limits) return absl::OkStatus();
              // Every dense table grows by a slot per new arm.
              int dense_tables = 0;
              for (const auto& [name, segment] : (*room)->segments) {
                dense_tables += segment.arms.sparse() ? 0 : 1;
                for (const auto& [item, table] : segment.context) {
                  dense_tables += table.sparse() ? 0 : 1;
                }
              }
              estimate = NewArmBytes(m.arm_ids, dense_tables,
                                     (*room)->linucb.dimension);
            }
            return CheckBudget(estimate, "arm_ids", reserved);
          },
          [&](const RemoveArm& m) -> absl::Status {
            return ValidateExistingArm(m.room_id, m.arm_id);
          },
          [&](const SetArmEnabled& m) -> absl::Status {
            return ValidateExistingArm(m.room_id, m.arm_id);
          },
          [&](const FeedbackBatch& m) -> absl::Status {
            return ValidateFeedback(m, enforce_limits, reserved);
          },
          [&](const UpdateRoom& m) { return ValidateUpdateRoom(m); },
          [&](const ResetArm& m) { return ValidateResetArm(m); },
      },
      mutation);
}

absl::Status Engine::ValidateFeedback(const FeedbackBatch& batch,
                                      bool enforce_limits,
                                      int64_t* reserved) const {
  if (batch.source.has_value()) {
    if (absl::Status s = SourceOffsets::CheckShape(*batch.source, "source");
        !s.ok()) {
      return s;
    }
    // A range whose records were all dead-lettered moves the position only.
    if (batch.events.empty()) return absl::OkStatus();
  }
  if (batch.events.empty()) {
    return absl::InvalidArgumentError("events: must hold at least one event");
  }
  if (enforce_limits &&
      batch.events.size() > static_cast<size_t>(options_.max_batch_events)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "events: ", batch.events.size(), " events exceed the limit of ",
        options_.max_batch_events, " per batch (--max_batch_events)"));
  }
  FeedbackGrowth growth;

  std::shared_ptr<Room> room;
  // Consecutive events of one room share one reader lock.
  const Room* locked = nullptr;
  auto unlock = [&] {
    if (locked != nullptr) locked->mu.ReaderUnlock();
    locked = nullptr;
  };
  for (size_t i = 0; i < batch.events.size(); ++i) {
    const FeedbackEvent& e = batch.events[i];
    // Field names are built only for an error: this loop runs for every
    // event of every Feedback call, and again on replay.
    auto field = [i](absl::string_view name) {
      return absl::StrCat("events[", i, "]", name);
    };
    if (!IsValidId(e.room_id)) {
      unlock();
      return ValidateId(e.room_id, field(".room_id"));
    }
    if (!e.segment.empty() && !IsValidId(e.segment)) {
      unlock();
      return ValidateSegment(e.segment, field(".segment"));
    }
    if (!IsValidId(e.arm_id)) {
      unlock();
      return ValidateId(e.arm_id, field(".arm_id"));
    }
    if (enforce_limits && e.context_items.size() >
                              static_cast<size_t>(options_.max_context_items)) {
      unlock();
      return absl::InvalidArgumentError(
          absl::StrCat(field(".context_items: "), e.context_items.size(),
                       " items exceed the limit of ",
                       options_.max_context_items, " (--max_context_items)"));
    }
    for (size_t j = 0; j < e.context_items.size(); ++j) {
      if (!IsValidId(e.context_items[j])) {
        unlock();
        return ValidateId(e.context_items[j],
                          absl::StrCat(field(".context_items["), j, "]"));
      }
    }
    if (e.views < 0 || e.views > kMaxEventCount) {
      unlock();
      return absl::InvalidArgumentError(
          absl::StrCat(field(".views: must be in [0, "), kMaxEventCount,
                       "], got ", e.views));
    }
    if (e.clicks < 0 || e.clicks > kMaxEventCount) {
      unlock();
      return absl::InvalidArgumentError(
          absl::StrCat(field(".clicks: must be in [0, "), kMaxEventCount,
                       "], got ", e.clicks));
    }
    if (e.reward.has_value() &&
        !(std::isfinite(*e.reward) && std::abs(*e.reward) <= kMaxAbsReward)) {
      unlock();
      return absl::InvalidArgumentError(absl::StrCat(
          field(".reward: must be finite with magnitude at most 1e15, got "),
          *e.reward));
    }
    if (!e.event_id.empty() && !IsValidId(e.event_id)) {
      unlock();
      return ValidateId(e.event_id, field(".event_id"));
    }
    // The id window may hold the id for --event_id_window_age whatever the
    // count: it grows with traffic, within the memory budget.
    if (enforce_limits && !e.event_id.empty() && options_.event_id_window > 0) {
      growth.bytes +=
          EventIdWindow::KeyBytes(e.room_id.size() + 1 + e.event_id.size());
    }
    if (room == nullptr || room->id != e.room_id) {
      unlock();
      room = FindRoom(e.room_id);
      if (room == nullptr) {
        return absl::NotFoundError(absl::StrCat(field(".room_id: room \""),
                                                e.room_id, "\" not found"));
      }
    }
    if (locked != room.get()) {
      room->mu.ReaderLock();
      locked = room.get();
    }
    const int64_t arm = room->FindArm(e.arm_id);
    if (arm < 0) {
      unlock();
      return ArmNotFound(field(".arm_id"), e.arm_id, e.room_id);
    }
    if (!e.features.empty()) {
      if (absl::Status s = ValidateFeatures(e.features, room->linucb, e.room_id,
                                            field(".features"));
          !s.ok()) {
        unlock();
        return s;
      }
    }
    if (!enforce_limits) continue;
    Limit hit = Limit::kMemoryBudget;
    if (absl::Status s =
            AddGrowth(*room, e, static_cast<uint32_t>(arm), i,
                      batch.events.size(), options_, &growth, &hit);
        !s.ok()) {
      unlock();
      rejections_[static_cast<int>(hit)].fetch_add(1,
                                                   std::memory_order_relaxed);
      return s;
    }
  }
  unlock();
  return enforce_limits ? CheckBudget(growth.bytes, "events", reserved)
                        : absl::OkStatus();
}

absl::StatusOr<ApplyResult> Engine::Apply(const Mutation& mutation) {
  return ApplyImpl(mutation, nullptr);
}

absl::StatusOr<ApplyResult> Engine::ApplyImpl(
    const Mutation& mutation, const std::shared_ptr<QueuedApply>* queue_into) {
  if (queued_events() > 0) {
    // Per room, the log order is the apply order: the events queued to a
    // room this mutation changes go first (a queued Feedback follows them in
    // the queue itself).
    if (const auto* batch = std::get_if<FeedbackBatch>(&mutation)) {
      if (queue_into == nullptr) {
        for (const FeedbackEvent& e : batch->events) {
          std::shared_ptr<Room> room = FindRoom(e.room_id);
          if (room != nullptr && QueueOf(room.get()) != nullptr) {
            ApplyQueuedIn(/*wait=*/true, room.get());
          }
        }
      }
    } else {
      const std::string room_id = std::visit(
          [](const auto& m) -> std::string {
            if constexpr (std::is_same_v<std::decay_t<decltype(m)>,
                                         FeedbackBatch>) {
              return "";
            } else {
              return m.room_id;
            }
          },
          mutation);
      std::shared_ptr<Room> room = FindRoom(room_id);
      if (room != nullptr && QueueOf(room.get()) != nullptr) {
        ApplyQueuedIn(/*wait=*/true, room.get());
      }
    }
  }
  if (const auto* batch = std::get_if<FeedbackBatch>(&mutation);
      batch != nullptr && batch->source.has_value()) {
    const SourceRange& range = *batch->source;
    if (absl::Status s = SourceOffsets::CheckShape(range, "source"); !s.ok()) {
      return s;
    }
    if (absl::Status s = source_offsets_.CheckNext(range); !s.ok()) return s;
    source_offsets_.Advance(range);
    if (batch->events.empty()) return ApplyResult();
  }
  // Only the rules of the state: the limits were enforced when the mutation
  // was admitted, and a logged mutation must replay whatever the flags are.
  if (absl::Status s = CheckState(mutation); !s.ok()) return s;
  ApplyResult result;
  std::visit(
      Overloaded{
          [&](const CreateRoom& m) {
            auto room = std::make_shared<Room>(m.room_id);
            {
              absl::MutexLock lock(&room->mu);
              room->policy = m.policy;
              room->decay = m.decay;
              room->linucb = m.linucb;
              room->MutableSegment(std::string(kWholeRoom));
              room->AddArms(m.arm_ids);
              room_bytes_.fetch_add(room->bytes, std::memory_order_relaxed);
            }
            absl::MutexLock lock(&rooms_mu_);
            rooms_.emplace(m.room_id, std::move(room));
          },
          [&](const DeleteRoom& m) {
            std::shared_ptr<Room> room;
            {
              absl::MutexLock lock(&rooms_mu_);
              auto it = rooms_.find(m.room_id);
              room = std::move(it->second);
              rooms_.erase(it);
            }
            {
              absl::ReaderMutexLock lock(&room->mu);
              room_bytes_.fetch_sub(room->bytes, std::memory_order_relaxed);
            }
            ForgetEventIds(m.room_id);
          },
          [&](const ResetRoom& m) {
            std::shared_ptr<Room> room = FindRoom(m.room_id);
            absl::MutexLock lock(&room->mu);
            const int64_t before = room->bytes;
            room->Reset();
            room_bytes_.fetch_add(room->bytes - before,
                                  std::memory_order_relaxed);
          },
          [&](const AddArms& m) {
            std::shared_ptr<Room> room = FindRoom(m.room_id);
            absl::MutexLock lock(&room->mu);
            const int64_t before = room->bytes;
            room->AddArms(m.arm_ids);
            room_bytes_.fetch_add(room->bytes - before,
                                  std::memory_order_relaxed);
          },
          [&](const RemoveArm& m) {
            std::shared_ptr<Room> room = FindRoom(m.room_id);
            absl::MutexLock lock(&room->mu);
            const int64_t before = room->bytes;
            room->RemoveArm(static_cast<uint32_t>(room->FindArm(m.arm_id)));
            room_bytes_.fetch_add(room->bytes - before,
                                  std::memory_order_relaxed);
          },
          [&](const SetArmEnabled& m) {
            std::shared_ptr<Room> room = FindRoom(m.room_id);
            absl::MutexLock lock(&room->mu);
            room->SetEnabled(static_cast<uint32_t>(room->FindArm(m.arm_id)),
                             m.enabled);
          },
          [&](const FeedbackBatch& m) {
            result = ApplyFeedback(m, queue_into);
          },
          [&](const UpdateRoom& m) { ApplyUpdateRoom(m); },
          [&](const ResetArm& m) { ApplyResetArm(m); },
      },
      mutation);
  return result;
}

ApplyResult Engine::ApplyFeedback(
    const FeedbackBatch& batch,
    const std::shared_ptr<QueuedApply>* queue_into) {
  ApplyResult result;
  std::shared_ptr<Room> room;
  for (const FeedbackEvent& e : batch.events) {
    if (!e.event_id.empty()) {
      absl::MutexLock lock(&dedup_mu_);
      if (SeenEvent(WindowOf(batch.stream), e.room_id, e.event_id,
                    batch.logged_at_micros)) {
        ++result.duplicate_events;
        continue;
      }
    }
    if (room == nullptr || room->id != e.room_id) room = FindRoom(e.room_id);
    ++result.applied_events;
    if (queue_into != nullptr) {
      RoomQueue* queue = QueueOf(room.get());
      if (queue == nullptr && options_.queue_writes_min_arms > 0 &&
          room->arm_count.load(std::memory_order_relaxed) >=
              options_.queue_writes_min_arms) {
        // Not a wait: a reader (a scan of this big room) holding the lock
        // would hold up every room's writes behind this one.
        if (room->mu.TryLock()) {
          AddEvent(*room, e, batch.logged_at_micros);
          room->mu.Unlock();
          continue;
        }
        queue = &queues_.emplace_back();
        queue->room = room;
      }
      if (queue != nullptr) {
        queue->events.push_back({e, batch.logged_at_micros, *queue_into});
        ++(*queue_into)->events_left;
        room->queued_events.fetch_add(1, std::memory_order_relaxed);
        queued_total_.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
    }
    absl::MutexLock lock(&room->mu);
    AddEvent(*room, e, batch.logged_at_micros);
  }
  return result;
}

void Engine::AddEvent(Room& room, const FeedbackEvent& e,
                      int64_t logged_at_micros) {
  const double views = static_cast<double>(e.views);
  const double clicks = static_cast<double>(e.clicks);
  const double reward = e.reward.value_or(clicks);
  const double reward_sq = RewardSquareIncrement(reward, clicks);
  const absl::InlinedVector<const std::string*, 8> items =
      DistinctItems(e.context_items);

  const int64_t bytes_before = room.bytes;
  const uint32_t arm = static_cast<uint32_t>(room.FindArm(e.arm_id));
  const bool enabled = room.enabled[arm] != 0;
  if (room.decay.enabled()) room.AdvanceDecay(logged_at_micros);
  // Counters are stored divided by the decay scale.
  const double unscale = 1.0 / room.counter_scale;
  auto add_to =
      [&](const std::string& segment_name)
          ABSL_EXCLUSIVE_LOCKS_REQUIRED(room.mu) {
            Segment& segment = room.MutableSegment(segment_name);
            room.bytes += segment.arms.Add(arm, views * unscale,
                                           clicks * unscale, reward * unscale,
                                           reward_sq * unscale, enabled);
            for (const std::string* item : items) {
              room.bytes +=
                  room.MutableContext(segment, *item)
                      .Add(arm, views * unscale, clicks * unscale,
                           reward * unscale, reward_sq * unscale, enabled);
            }
          };
  if (!e.features.empty()) {
    // A view is one impression (A += x x^T); the reward, which may come
    // with the view or in a later click-only event, goes to b.
    // Stored divided by the decay scale, as the counters are.
    LinUcbArm& model = room.linucb_arms[arm];
    model.AddImpression(e.features, views * unscale);
    model.AddReward(e.features, reward * unscale);
  }
  add_to(std::string(kWholeRoom));
  if (!e.segment.empty()) add_to(e.segment);
  room_bytes_.fetch_add(room.bytes - bytes_before, std::memory_order_relaxed);
}

void Engine::ReplaceRooms(std::vector<std::unique_ptr<Room>> rooms,
                          std::vector<EventIdsCopy> event_ids) {
  int64_t bytes = 0;
  for (std::unique_ptr<Room>& room : rooms) {
    absl::MutexLock lock(&room->mu);
    room->bytes = room->ComputeBytes();
    room->arm_count.store(static_cast<int64_t>(room->arm_ids.size()),
                          std::memory_order_relaxed);
    bytes += room->bytes;
  }
  room_bytes_.store(bytes, std::memory_order_relaxed);
  {
    absl::MutexLock lock(&rooms_mu_);
    rooms_.clear();
    for (std::unique_ptr<Room>& room : rooms) {
      std::string id = room->id;
      rooms_.emplace(std::move(id), std::shared_ptr<Room>(std::move(room)));
    }
  }
  absl::MutexLock lock(&dedup_mu_);
  for (EventIdWindow& window : event_ids_) window.Clear();
  if (event_ids_.front().enabled()) {
    for (size_t s = 0; s < event_ids.size(); ++s) {
      EventIdsCopy& copy = event_ids[s];
      EventIdWindow& window = WindowOf(static_cast<int>(s));
      for (size_t i = 0; i < copy.keys.size(); ++i) {
        window.Restore(std::move(copy.keys[i]),
                       i < copy.micros.size() ? copy.micros[i] : 0);
      }
    }
  }
  CountEventIdBytes();
}

void Engine::ForEachRoom(const std::function<void(const Room&)>& visit) const {
  std::vector<std::shared_ptr<Room>> rooms;
  {
    absl::ReaderMutexLock lock(&rooms_mu_);
    rooms.reserve(rooms_.size());
    for (const auto& [id, room] : rooms_) rooms.push_back(room);
  }
  for (const std::shared_ptr<Room>& room : rooms) {
    absl::ReaderMutexLock lock(&room->mu);
    visit(*room);
  }
}

}  // namespace banditd::core
