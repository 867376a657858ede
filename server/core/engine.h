#ifndef BANDITD_SERVER_CORE_ENGINE_H_
#define BANDITD_SERVER_CORE_ENGINE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/core/mutation.h"
#include "server/core/policy.h"
#include "server/core/room.h"

namespace banditd::core {

// Limits that protect the process from requests that would exhaust it.
struct EngineOptions {
  int max_batch_events = 10000;
  int max_context_items = 32;
  int max_k = 10000;
  int max_arms_per_room = 10'000'000;
  int max_segments_per_room = 10000;
  int max_context_items_per_segment = 10000;
  // How many recent Feedback event_ids are remembered for de-duplication.
  int64_t event_id_window = 1'000'000;
  // Largest LinUCB feature vector a room may declare.
  int max_linucb_dimension = 64;
};

struct SampleQuery {
  std::string room_id;
  std::string segment;
  std::vector<std::string> context_items;
  int k = 0;
  PolicyOverride policy;
  std::vector<std::string> candidate_arm_ids;
  std::vector<std::string> excluded_arm_ids;
  std::optional<uint64_t> seed;
  // LinUCB features.
  std::vector<double> features;
};

struct ScoredArm {
  std::string arm_id;
  double score = 0;
  Counts counts;
};

struct SampleResult {
  std::vector<ScoredArm> arms;
  PolicyParams policy;
};

struct ArmInfo {
  std::string arm_id;
  bool enabled = true;
};

struct RoomInfo {
  std::string room_id;
  std::vector<ArmInfo> arms;
  PolicyParams policy;
  DecayConfig decay;
  LinUcbConfig linucb;
};

struct RoomPage {
  std::vector<RoomInfo> rooms;
  // Empty on the last page, else the room_id to continue after.
  std::string next_after;
};

struct ContextStat {
  std::string context_item;
  Counts counts;
  Scores scores;
};

struct ArmStat {
  std::string arm_id;
  bool enabled = true;
  Counts counts;
  Scores scores;
  std::vector<ContextStat> context;
};

struct Stats {
  std::string room_id;
  std::string segment;
  std::vector<ArmStat> arms;
  double total_views = 0;
};

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

  // Checks `mutation` against the current state without changing anything.
  // Errors name the offending request field, e.g. "events[2].arm_id".
  absl::Status Validate(const Mutation& mutation) const;

  // Applies `mutation` entirely or, when it is invalid against the current
  // state, not at all. Deterministic: the same sequence of mutations always
  // gives the same state, which is what log replay relies on.
  absl::StatusOr<ApplyResult> Apply(const Mutation& mutation);

  absl::StatusOr<SampleResult> Sample(const SampleQuery& query) const;
  absl::StatusOr<Stats> GetStats(const std::string& room_id,
                                 const std::string& segment,
                                 bool include_context) const;
  absl::StatusOr<RoomInfo> GetRoom(const std::string& room_id) const;
  // Rooms ordered by id, starting after `after` (empty: from the start).
  RoomPage ListRooms(int page_size, const std::string& after) const;

  // Visits every room under its reader lock, in id order (snapshots).
  void ForEachRoom(const std::function<void(const Room&)>& visit) const;
  // Replaces all state with `rooms` (snapshot load). Single writer only.
  void ReplaceRooms(std::vector<std::unique_ptr<Room>> rooms,
                    std::vector<std::string> recent_event_ids);
  // The remembered event ids, oldest first (snapshots). With `added`, also
  // how many ids were ever remembered, for EventIdsAddedSince.
  std::vector<std::string> RecentEventIds(uint64_t* added = nullptr) const;
  // The ids remembered after the first `since` ever remembered, oldest first
  // (at most the window), and in `added_now` how many were ever remembered.
  // Lets a snapshot copy the window before its pause and only the ids added
  // since during it.
  std::vector<std::string> EventIdsAddedSince(uint64_t since,
                                              uint64_t* added_now) const;

 private:
  std::shared_ptr<Room> FindRoom(const std::string& room_id) const;
  absl::StatusOr<std::shared_ptr<Room>> FindRoomOr(
      const std::string& room_id, const std::string& field) const;
  // Holds one room's reader lock across consecutive events of that room.
  absl::Status ValidateFeedback(const FeedbackBatch& batch) const
      ABSL_NO_THREAD_SAFETY_ANALYSIS;
  // OK when the room exists and holds the arm (RemoveArm, SetArmEnabled).
  absl::Status ValidateExistingArm(const std::string& room_id,
                                   const std::string& arm_id) const;
  ApplyResult ApplyFeedback(const FeedbackBatch& batch);
  // True when `event_id` was seen; otherwise remembers it.
  bool SeenEvent(const std::string& event_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(dedup_mu_);

  const EngineOptions options_;
  mutable absl::Mutex rooms_mu_;
  absl::btree_map<std::string, std::shared_ptr<Room>> rooms_
      ABSL_GUARDED_BY(rooms_mu_);

  mutable absl::Mutex dedup_mu_;
  absl::flat_hash_set<std::string> seen_event_ids_ ABSL_GUARDED_BY(dedup_mu_);
  std::vector<std::string> event_id_ring_ ABSL_GUARDED_BY(dedup_mu_);
  size_t event_id_ring_next_ ABSL_GUARDED_BY(dedup_mu_) = 0;
  // Ids ever remembered; id number g sits at ring slot g % window.
  uint64_t event_ids_added_ ABSL_GUARDED_BY(dedup_mu_) = 0;
};

}  // namespace banditd::core

#endif  // BANDITD_SERVER_CORE_ENGINE_H_
