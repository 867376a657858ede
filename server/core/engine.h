#ifndef BANDITD_SERVER_CORE_ENGINE_H_
#define BANDITD_SERVER_CORE_ENGINE_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/core/engine_queries.h"
#include "server/core/event_window.h"
#include "server/core/mutation.h"
#include "server/core/policy.h"
#include "server/core/room.h"
#include "server/core/source_offsets.h"
#include "server/core/winner.h"

namespace banditd::core {

// Limits that protect the process from requests that would exhaust it.
// Enforced at admission (Validate), never by Apply: main.cc sets them from
// flags, which may differ between the run that logged a mutation and the one
// that replays it.
struct EngineOptions {
  int max_batch_events = 10000;
  int max_context_items = 32;
  int max_k = 10000;
  int max_rooms = 10000;
  int max_arms_per_room = 10'000'000;
  // Segments besides the whole room.
  int max_segments_per_room = 1000;
  int max_context_items_per_segment = 10000;
  // Memory the engine may hold, as it accounts it (Engine::bytes_used).
  int64_t memory_budget_bytes = int64_t{8} << 30;
  // How many recent Feedback event_ids are remembered for de-duplication
  // (0: none)...
  int64_t event_id_window = 1'000'000;
  // ...and for how long at least, in log time, whatever their count
  // (EventIdWindow). Both change what Apply computes: in cluster mode they
  // are stream-wide settings.
  absl::Duration event_id_window_age = absl::Minutes(10);
  // One window of that count and age per log stream (FeedbackBatch::stream):
  // a window's evictions then depend only on its own stream's records, so
  // replicas that interleave several streams differently agree.
  int event_id_streams = 1;
  // Largest LinUCB feature vector a room may declare.
  int max_linucb_dimension = 64;
  // Thompson propensities: at most this many arm scorings (draws x eligible
  // arms) per Sample; fewer draws are made in rooms with many arms.
  int64_t max_propensity_samples = 1'000'000;
  // Winner analysis: at most this many posterior draws (draws x arms) per
  // call; fewer draws are made in rooms with many arms.
  int64_t max_winner_samples = 10'000'000;
  // ApplyOrQueue: a Feedback event to a room of at least this many arms
  // whose lock a reader holds (a scan of a big room) is queued to the room
  // rather than waited for (0: never; every write waits for the lock).
  // Changes when an event is applied, never what is applied.
  int64_t queue_writes_min_arms = 50'000;
};

// A copy of one stream's event-id window (snapshots): keys oldest first, as
// EventKey(room_id, event_id) (an empty key is a slot DeleteRoom freed, kept
// so that the window evicts in the same order after a restart; a key with an
// empty room, from a snapshot of before ids were scoped to rooms, matches the
// event id in any room of the stream), and the log time of each.
struct EventIdsCopy {
  std::vector<std::string> keys;
  std::vector<int64_t> micros;
  // How many ids the window had ever remembered when copied (not stored):
  // lets CopyEventIdsAddedSince bring the copy up to date.
  uint64_t added = 0;
};

// The limits whose rejections Engine counts (RESOURCE_EXHAUSTED).
enum class Limit {
  kRooms,
  kArmsPerRoom,
  kSegmentsPerRoom,
  kItemsPerSegment,
  kMemoryBudget,
};
inline constexpr int kLimitCount = 5;
// The flag that sets the limit, e.g. "max_rooms".
const char* LimitName(Limit limit);

// The de-duplication key of a Feedback event id: ids are scoped to their
// room, so two rooms may use the same event ids.
std::string EventKey(absl::string_view room_id, absl::string_view event_id);

// INVALID_ARGUMENT (or FAILED_PRECONDITION for a room without LinUCB)
// unless `features` fits the room's LinUCB models.
absl::Status ValidateFeatures(const std::vector<double>& features,
                              const LinUcbConfig& linucb,
                              const std::string& room_id,
                              const std::string& field);

// Engine holds every room in memory.
//
// Threading: reads (Validate, Sample, GetStats, GetRoom, ListRooms) may run
// on any thread at any time. Apply must be called by one thread at a time,
// in log order: it is the single writer. Rooms lock independently, so work on
// one room never waits for another.
class Engine {
 public:
  explicit Engine(EngineOptions options = {});
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const EngineOptions& options() const { return options_; }

  // Memory held, as the engine accounts it: counters (CounterTable::Bytes),
  // arm ids and indexes, LinUCB models, and the event-id window. What
  // --memory_budget_bytes limits.
  int64_t bytes_used() const {
    return room_bytes_.load(std::memory_order_relaxed) +
           event_id_bytes_.load(std::memory_order_relaxed);
  }
  // Requests refused with RESOURCE_EXHAUSTED by `limit` at admission.
  int64_t rejections(Limit limit) const {
    return rejections_[static_cast<int>(limit)].load(std::memory_order_relaxed);
  }

  // Admission: checks `mutation` against the limits of EngineOptions (batch
  // size, items per event, arms, segments and items per room, LinUCB
  // dimension) and against the current state, without changing anything.
  // Committers call it before logging. Errors name the offending request
  // field, e.g. "events[2].arm_id".
  //
  // With `reserved`, the bytes the mutation may add (its estimate) are also
  // reserved: the budget check counts every reservation not yet released,
  // so concurrent admissions whose mutations wait to be logged cannot
  // together pass the budget. `*reserved` is set to the bytes reserved (0 on
  // an error); the caller releases them (ReleaseReserved) once the mutation
  // is applied, when its bytes are accounted, or dropped.
  absl::Status Validate(const Mutation& mutation,
                        int64_t* reserved = nullptr) const;
  void ReleaseReserved(int64_t bytes) const {
    reserved_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
  }
  // Bytes reserved by admitted mutations not yet applied.
  int64_t reserved_bytes() const {
    return reserved_bytes_.load(std::memory_order_relaxed);
  }

  // The rules of the state alone (room and arms exist or not, ids well
  // formed, counts in range): none depends on EngineOptions, so a mutation
  // that passed Validate under any flags passes CheckState again on replay
  // of the same log.
  absl::Status CheckState(const Mutation& mutation) const;

  // Applies `mutation` entirely or, when CheckState fails, not at all. No
  // limit of EngineOptions is checked here: what was logged replays whatever
  // the flags at restart. Deterministic: the same sequence of mutations
  // always gives the same state, which is what log replay relies on.
  // A FeedbackBatch with a source range is first fenced (SourceOffsets):
  // stale, it is ABORTED and changes nothing; otherwise the partition's
  // position advances even if its events then fail CheckState (they were
  // consumed, and replay rejects them the same way).
  absl::StatusOr<ApplyResult> Apply(const Mutation& mutation);

  // Apply for a writer that must not wait for one room's readers (a scan of
  // a room of a million arms holds its lock for milliseconds, and every
  // room's writes are applied by the one writer): a Feedback event to a room
  // of at least queue_writes_min_arms arms whose lock is held, or that has
  // events queued already, is queued to the room instead, in log order, and
  // applied by ApplyQueued. Dedup, the state rules and the result are
  // decided now, exactly as by Apply; only when the counters change moves.
  // `applied` is called once with Apply's result when every event of the
  // mutation is applied (acknowledge then): before ApplyOrQueue returns, or
  // later from ApplyQueued. Any other mutation, and Apply, first apply the
  // queued events of the rooms they touch (waiting for their locks), so
  // each room's apply order stays its log order. Single writer only.
  using Applied = absl::AnyInvocable<void(absl::StatusOr<ApplyResult>) &&>;
  void ApplyOrQueue(const Mutation& mutation, Applied applied);
  // Applies the queued events of every room whose lock is free (with
  // `wait`, of every room, waiting for the locks: before a snapshot or at
  // shutdown), calls the `applied` of the mutations now whole, and returns
  // the events still queued. Single writer only.
  int64_t ApplyQueued(bool wait);
  // Events queued by ApplyOrQueue and not yet applied (any thread).
  int64_t queued_events() const {
    return queued_total_.load(std::memory_order_relaxed);
  }

  // Consumed positions of source partitions (Kafka), part of the state.
  const SourceOffsets& source_offsets() const { return source_offsets_; }
  // Replaces them (snapshot load). Single writer only.
  void ReplaceSourceOffsets(const std::vector<SourceOffset>& offsets) {
    source_offsets_.Replace(offsets);
  }

  // Ranks the eligible arms and returns the top k, applying the policy's
  // exploration floor and, when asked, the propensities (propensity.cc).
  absl::StatusOr<SampleResult> Sample(const SampleQuery& query) const;
  absl::StatusOr<Stats> GetStats(const std::string& room_id,
                                 const std::string& segment,
                                 bool include_context,
                                 const ArmSelection& arms = {}) const;
  absl::StatusOr<RoomInfo> GetRoom(const std::string& room_id,
                                   const ArmSelection& arms = {}) const;
  // The room's arm count (0 when there is no such room), without waiting
  // for the room's lock: a scan or the writer may hold it.
  int64_t ArmCount(const std::string& room_id) const;
  // Winner analysis of the enabled arms of one segment (engine_winner.cc):
  // posteriors are read under the room's lock, drawn after releasing it.
  absl::StatusOr<WinnerResult> Winner(const WinnerQuery& query) const;
  // Rooms ordered by id, starting after `after` (empty: from the start),
  // each with its first `arms_per_room` arms (none by default).
  RoomPage ListRooms(int page_size, const std::string& after,
                     size_t arms_per_room = 0) const;

  // Visits every room under its reader lock, in id order (snapshots).
  void ForEachRoom(const std::function<void(const Room&)>& visit) const;
  // Replaces all state with `rooms` (snapshot load). Single writer only.
  // `event_ids[s]` is stream s's window as CopyEventIds returned it (missing
  // micros: unknown, 0); a copy of a stream beyond event_id_streams goes to
  // window s mod event_id_streams.
  void ReplaceRooms(std::vector<std::unique_ptr<Room>> rooms,
                    std::vector<EventIdsCopy> event_ids);
  // The number of event-id windows (EngineOptions::event_id_streams, >= 1).
  int event_id_streams() const { return static_cast<int>(event_ids_.size()); }
  // A copy of stream `stream`'s window (snapshots), taken in chunks so that
  // Feedback with ids never waits for a whole million-id copy.
  EventIdsCopy CopyEventIds(int stream) const;
  // Brings `copy` (of the same stream's window) up to date: drops the ids
  // the window has forgotten since and appends those it remembered since.
  // Lets a snapshot copy the window before its pause and only the ids added
  // since during it.
  void CopyEventIdsAddedSince(int stream, EventIdsCopy* copy) const;

 private:
  // The policy's ranking alone (sample.cc), for k up to `max_k`.
  absl::StatusOr<SampleResult> Rank(const SampleQuery& query, int max_k) const;
  // The resolved policy and eligible-arm count of a query (propensity.cc).
  absl::StatusOr<std::pair<PolicyParams, int64_t>> PolicyAndEligible(
      const SampleQuery& query) const;
  // Each returned arm's probability under the policy without the floor.
  absl::Status AddPolicyPropensities(const SampleQuery& query,
                                     const PolicyParams& policy,
                                     int64_t eligible,
                                     SampleResult& result) const;
  // Its part for the deterministic policies (and epsilon-greedy's greedy
  // ranking): each returned arm's probability of being in the top k.
  absl::StatusOr<absl::flat_hash_map<std::string, double>>
  DeterministicPropensities(const SampleQuery& query,
                            const PolicyParams& policy, int64_t eligible,
                            const SampleResult& result) const;
  std::shared_ptr<Room> FindRoom(const std::string& room_id) const;
  absl::StatusOr<std::shared_ptr<Room>> FindRoomOr(
      const std::string& room_id, const std::string& field) const;
  absl::Status Check(const Mutation& mutation, bool enforce_limits,
                     int64_t* reserved = nullptr) const;
  // RESOURCE_EXHAUSTED with `message`, counted against `limit`.
  absl::Status Exhausted(Limit limit, std::string message) const;
  // RESOURCE_EXHAUSTED unless `estimate` more bytes fit the budget; with
  // `reserved`, counting and making reservations (Validate).
  absl::Status CheckBudget(int64_t estimate, absl::string_view what,
                           int64_t* reserved) const;
  // Holds one room's reader lock across consecutive events of that room.
  absl::Status ValidateFeedback(const FeedbackBatch& batch, bool enforce_limits,
                                int64_t* reserved) const
      ABSL_NO_THREAD_SAFETY_ANALYSIS;
  // OK when the room exists and holds the arm (RemoveArm, SetArmEnabled).
  absl::Status ValidateExistingArm(const std::string& room_id,
                                   const std::string& arm_id) const;
  // A mutation whose events wait in room queues, and its result.
  struct QueuedApply {
    int64_t events_left = 0;
    ApplyResult result;
    Applied applied;
  };
  struct QueuedEvent {
    FeedbackEvent event;
    int64_t logged_at_micros = 0;
    std::shared_ptr<QueuedApply> owner;
  };
  struct RoomQueue {
    std::shared_ptr<Room> room;
    std::deque<QueuedEvent> events;
  };
  // Apply, queueing into `queue_into` (ApplyOrQueue) when not null.
  absl::StatusOr<ApplyResult> ApplyImpl(
      const Mutation& mutation, const std::shared_ptr<QueuedApply>* queue_into);
  // With `queue_into`, queues the events of busy big rooms (ApplyOrQueue).
  ApplyResult ApplyFeedback(const FeedbackBatch& batch,
                            const std::shared_ptr<QueuedApply>* queue_into);
  // Adds one event's counts to its room (the arm exists: CheckState).
  void AddEvent(Room& room, const FeedbackEvent& e, int64_t logged_at_micros)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(room.mu);
  // The queue of `room`, or null when it has no queued event.
  RoomQueue* QueueOf(const Room* room);
  // ApplyQueued, of `only` that room when not null.
  int64_t ApplyQueuedIn(bool wait, const Room* only);
  // Before a read of the room's counters: lets the events queued to it go
  // first, so that the writer finds the lock free once the reads in
  // progress end rather than after the next one too (bounded wait).
  void AwaitQueuedWrites(const Room& room) const;
  // UpdateRoom and ResetArm (engine_edit.cc).
  absl::Status ValidateUpdateRoom(const UpdateRoom& update) const;
  absl::Status ValidateResetArm(const ResetArm& reset) const;
  void ApplyUpdateRoom(const UpdateRoom& update);
  void ApplyResetArm(const ResetArm& reset);
  // True when `event_id` was seen in the room; otherwise remembers it as
  // logged at `micros`.
  bool SeenEvent(EventIdWindow& window, const std::string& room_id,
                 const std::string& event_id, int64_t micros)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(dedup_mu_);
  // The window of `stream` (FeedbackBatch::stream).
  EventIdWindow& WindowOf(int stream) ABSL_EXCLUSIVE_LOCKS_REQUIRED(dedup_mu_);
  const EventIdWindow& WindowOf(int stream) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(dedup_mu_);
  // Sets event_id_bytes_ to the windows' total.
  void CountEventIdBytes() ABSL_EXCLUSIVE_LOCKS_REQUIRED(dedup_mu_);
  // DeleteRoom: the room's ids leave the window; their slots become holes.
  void ForgetEventIds(const std::string& room_id);

  const EngineOptions options_;
  SourceOffsets source_offsets_;
  // Sum of Room::bytes over rooms; written by the single writer.
  std::atomic<int64_t> room_bytes_{0};
  std::atomic<int64_t> event_id_bytes_{0};
  mutable std::atomic<int64_t> reserved_bytes_{0};
  mutable std::atomic<int64_t> rejections_[kLimitCount] = {};
  mutable absl::Mutex rooms_mu_;
  absl::btree_map<std::string, std::shared_ptr<Room>> rooms_
      ABSL_GUARDED_BY(rooms_mu_);

  // The rooms with queued events (ApplyOrQueue), in the order they were
  // first queued; the single writer's alone.
  std::vector<RoomQueue> queues_;
  std::atomic<int64_t> queued_total_{0};

  mutable absl::Mutex dedup_mu_;
  // One per stream (EngineOptions::event_id_streams).
  std::vector<EventIdWindow> event_ids_ ABSL_GUARDED_BY(dedup_mu_);
};

}  // namespace banditd::core

#endif  // BANDITD_SERVER_CORE_ENGINE_H_
