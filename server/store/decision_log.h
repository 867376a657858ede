#ifndef BANDITD_SERVER_STORE_DECISION_LOG_H_
#define BANDITD_SERVER_STORE_DECISION_LOG_H_

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

struct sqlite3;

namespace banditd::store {

// What one Sample call saw and returned.
struct DecisionRecord {
  std::string decision_id;
  int64_t time_micros = 0;
  std::string room_id;
  std::string segment;
  std::vector<std::string> context_items;
  std::vector<double> features;
  std::vector<std::string> candidate_arm_ids;
  std::vector<std::string> excluded_arm_ids;
  int64_t eligible_arms = 0;
  int k = 1;
  int policy_kind = 0;               // core::PolicyKind
  std::vector<std::string> arm_ids;  // best first
  std::vector<double> propensities;  // index-aligned with arm_ids
  int propensity_draws = 0;          // 0: exact
};

// A decision as queued for the writer: its body (DecisionEntry, see
// DecisionBodyWriter) serialized on the request thread, once.
struct EncodedDecision {
  std::string decision_id;
  int64_t time_micros = 0;
  std::string room_id;
  std::string body;
};

// A Feedback event that cited a decision.
struct OutcomeRecord {
  std::string decision_id;
  std::string arm_id;
  int64_t views = 0;
  int64_t clicks = 0;
  double reward = 0;  // clicks when the event gave no reward
  int64_t time_micros = 0;
};

// A decision joined with the outcomes reported for it: per returned arm,
// the sums of its outcome events.
struct JoinedDecision {
  int64_t sequence = 0;
  DecisionRecord decision;
  std::vector<double> views, clicks, rewards;  // index-aligned with arm_ids
};

// DecisionLog keeps Sample decisions and their outcomes in their own SQLite
// file, off the request path: Add* only queue (dropping, and counting, when
// the queue is full), and a background thread writes the queue in one
// transaction per flush interval and applies retention (rows older than
// max_age, and the oldest beyond max_rows).
//
// Decisions are appended in sequence order with no secondary index (a
// unique index on the random decision ids cost a random B-tree insert per
// Sample); outcomes are appended with their decision id, indexed, and
// joined when read. An outcome whose decision is not logged is kept, never
// read, until it is older than the oldest decision kept.
class DecisionLog {
 public:
  struct Options {
    std::string path;
    absl::Duration max_age = absl::Hours(24 * 7);
    int64_t max_rows = 10'000'000;
    // Pages in use in the file, at most (0: no limit): the oldest decisions
    // (and their outcomes) go first. One Sample of a big room may log
    // every candidate arm, so rows alone do not bound the disk.
    int64_t max_bytes = 0;
    absl::Duration flush_interval = absl::Milliseconds(100);
    size_t max_queued = 100'000;
    // Bytes the queue may hold (RecordBytes): a Sample may list many
    // candidate arms, so a count alone does not bound memory.
    size_t max_queued_bytes = size_t{64} << 20;
  };
  struct Stats {
    int64_t decisions_written = 0;
    int64_t outcomes_written = 0;
    int64_t dropped = 0;
    int64_t write_errors = 0;
    // Decisions deleted to keep the file within max_bytes.
    int64_t deleted_for_bytes = 0;
  };

  static absl::StatusOr<std::unique_ptr<DecisionLog>> Open(Options options);
  ~DecisionLog();  // Flushes what is queued.

  void AddDecision(const DecisionRecord& record);
  void AddDecision(EncodedDecision decision);
  void AddOutcomes(std::vector<OutcomeRecord> records);
  // Writes everything queued so far (tests, export).
  absl::Status Flush();
  // Up to `limit` decisions with sequence > `after`, oldest first, of one
  // room (empty: all), each with its outcomes summed per returned arm.
  absl::StatusOr<std::vector<JoinedDecision>> Read(const std::string& room_id,
                                                   int64_t after, int limit);
  Stats stats() const;
  // Applies retention as of `now` (the writer does so every 10 s).
  absl::Status Retain(absl::Time now) ABSL_LOCKS_EXCLUDED(db_mu_);

 private:
  DecisionLog(Options options, sqlite3* db);
  void Run();
  absl::Status WriteQueued() ABSL_LOCKS_EXCLUDED(mu_);
  // Counts `bytes` into the queue, or a drop when it is full.
  bool Admit(size_t bytes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status ApplyRetention(absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(db_mu_);
  // Deletes the oldest decisions while the file's pages in use pass
  // max_bytes (checked after every write: two O(1) pragmas).
  absl::Status RetainBytes() ABSL_EXCLUSIVE_LOCKS_REQUIRED(db_mu_);
  // Outcomes older than the oldest decision kept belong to none kept.
  absl::Status DeleteOrphanOutcomes() ABSL_EXCLUSIVE_LOCKS_REQUIRED(db_mu_);
  // Sums the outcomes of each decision of `out` (read order) per arm.
  absl::Status JoinOutcomes(std::vector<JoinedDecision>& out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(db_mu_);

  const Options options_;
  mutable absl::Mutex mu_;
  std::vector<EncodedDecision> decisions_ ABSL_GUARDED_BY(mu_);
  std::vector<OutcomeRecord> outcomes_ ABSL_GUARDED_BY(mu_);
  size_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  Stats stats_ ABSL_GUARDED_BY(mu_);
  // Serializes use of the connection (writer thread, Flush, Read).
  absl::Mutex db_mu_ ABSL_ACQUIRED_AFTER(mu_);
  sqlite3* const db_ ABSL_PT_GUARDED_BY(db_mu_);
  std::thread writer_;
};

}  // namespace banditd::store

#endif  // BANDITD_SERVER_STORE_DECISION_LOG_H_
