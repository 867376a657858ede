#ifndef BANDITD_SERVER_CORE_MUTATION_H_
#define BANDITD_SERVER_CORE_MUTATION_H_

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "server/core/policy.h"

namespace banditd::core {

// Mutations are the only way state changes. The service builds them from
// requests, the store logs them, and Engine::Apply applies them; replaying
// the same mutations in the same order always yields the same state.

struct CreateRoom {
  std::string room_id;
  std::vector<std::string> arm_ids;
  PolicyParams policy;
  DecayConfig decay;
  LinUcbConfig linucb;
};

struct DeleteRoom {
  std::string room_id;
};

struct ResetRoom {
  std::string room_id;
};

struct AddArms {
  std::string room_id;
  std::vector<std::string> arm_ids;
};

struct RemoveArm {
  std::string room_id;
  std::string arm_id;
};

struct SetArmEnabled {
  std::string room_id;
  std::string arm_id;
  bool enabled = true;
};

// Changes a room's default policy and decay in place, keeping its counters.
// Only the fields that are set change (the service builds this from an
// AIP-134 field mask); the log holds the change rather than the resolved
// result, so concurrent updates of different fields compose in log order.
struct UpdateRoom {
  std::string room_id;
  PolicyOverride policy;
  std::optional<double> half_life_events;
  std::optional<double> half_life_seconds;
};

// Zeroes one arm's counters: without `segment`, in every segment and context
// item and its LinUCB model; with it, in that segment's arm and context
// tables only ("" is the whole-room segment). The arm stays, as does its
// enabled flag.
struct ResetArm {
  std::string room_id;
  std::string arm_id;
  std::optional<std::string> segment;
};

struct FeedbackEvent {
  std::string room_id;
  std::string segment;
  std::vector<std::string> context_items;
  std::string arm_id;
  int64_t views = 0;
  int64_t clicks = 0;
  // Total reward of the event; when unset each click counts 1.
  std::optional<double> reward;
  // Optional idempotency key; empty means none.
  std::string event_id;
  // LinUCB features; empty means the event does not update LinUCB state.
  std::vector<double> features;
};

// Where a Feedback batch was consumed from when it came from a partitioned,
// ordered source (a Kafka topic partition, server/ingest): the batch holds
// the partition's records at offsets [from_offset, next_offset). The engine
// keeps each partition's next offset in its state (SourceOffsets), so the
// position is logged, snapshotted and replayed with the counts it produced.
struct SourceRange {
  std::string topic;
  int32_t partition = 0;
  int64_t from_offset = 0;
  int64_t next_offset = 0;
};

struct FeedbackBatch {
  std::vector<FeedbackEvent> events;
  // When the batch was logged (microseconds since the Unix epoch), set by
  // the committer; time-based decay reads it, so replay decays identically.
  int64_t logged_at_micros = 0;
  // Set on batches consumed from a source; then `events` may be empty (every
  // record of the range was dead-lettered) and Apply changes nothing unless
  // from_offset is the partition's position (Engine::Apply).
  std::optional<SourceRange> source = std::nullopt;
  // The log stream the batch was read from, as the committer numbers them
  // (cluster mode: its index among --cluster_streams; otherwise 0). Selects
  // the event-id window the batch's ids are checked against and remembered
  // in, so that each stream's window forgets by its own records alone,
  // whatever the interleaving of streams. Not logged: the reader sets it.
  int stream = 0;
};

using Mutation =
    std::variant<CreateRoom, DeleteRoom, ResetRoom, AddArms, RemoveArm,
                 SetArmEnabled, FeedbackBatch, UpdateRoom, ResetArm>;

// What applying a mutation did, for the reply.
struct ApplyResult {
  int64_t applied_events = 0;
  int64_t duplicate_events = 0;
  // The sequence of the log record that carried the mutation (the last one
  // when the committer split it), when the log is shared by replicas; set
  // by the committer, 0 otherwise. Reads elsewhere can wait for it.
  uint64_t sequence = 0;
};

}  // namespace banditd::core

#endif  // BANDITD_SERVER_CORE_MUTATION_H_
