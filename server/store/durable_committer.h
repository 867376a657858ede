#ifndef BANDITD_SERVER_STORE_DURABLE_COMMITTER_H_
#define BANDITD_SERVER_STORE_DURABLE_COMMITTER_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/core/engine.h"
#include "server/core/mutation.h"
#include "server/store/committer.h"
#include "server/store/engine_state.h"
#include "server/store/log_store.h"
#include "server/store/snapshotter.h"
#include "server/store/store_metrics.h"

namespace banditd::store {

// DurableCommitter makes every mutation durable in a write-ahead log before
// it is applied and acknowledged.
//
// Group commit: Submit validates and encodes the mutation on the caller's
// thread and queues it. One writer thread takes everything queued, appends it
// to the log in one transaction (one disk sync), applies it to the engine in
// log order and then runs the Done callbacks. Applying in log order is what
// makes recovery exact: replaying the log gives the same state.
//
// Snapshots: when the Snapshotter says one is due (every
// `snapshot_every_records` records or `snapshot_interval`), its thread copies
// the state with CopyState, whose short second step runs on the writer
// between two groups (the only pause) at a known sequence number. The
// snapshot thread encodes it; the writer stores the chunks about a megabyte
// at a time between groups, commits the snapshot and trims the log it covers.
//
// Errors: a group whose append fails is not applied; its callers get
// RESOURCE_EXHAUSTED (disk full) or UNAVAILABLE, and later groups try again.
class DurableCommitter final : public Committer {
 public:
  enum class Durability {
    // Acknowledged means on disk (SQLite synchronous=FULL).
    kSync,
    // Acknowledged once written to the OS, synced at least every
    // flush_interval: a power loss (not a process crash) loses at most that.
    kAsync,
  };

  struct Options {
    // Directory of the database file (kDatabaseFile); created if missing.
    std::string data_dir = "./data";
    Durability durability = Durability::kSync;
    // Async durability: the longest time between two syncs.
    absl::Duration flush_interval = absl::Milliseconds(100);
    // A snapshot is taken after this many log records (0: never by count)...
    int64_t snapshot_every_records = 100'000;
    // ...or this long after the previous one if anything was logged since.
    absl::Duration snapshot_interval = absl::Minutes(10);
    // Upper bound on the Feedback events in one group commit.
    int64_t max_group_events = 256 * 1024;
    // Back-pressure: while this many events wait for the writer (a slow or
    // stalled disk), Submit fails fast with RESOURCE_EXHAUSTED.
    int64_t max_queued_events = 4 * 1024 * 1024;
    // Target size of a snapshot chunk, and roughly what the writer stores
    // between two groups.
    size_t snapshot_chunk_bytes = 1 << 20;
    // Passed to SqliteLogStore (tests simulate a full disk with it).
    int64_t max_page_count = 0;
    bool verify_on_open = false;
    // SqliteLogStore::Options::cache_bytes.
    int64_t log_cache_bytes = int64_t{4} << 20;
    // Log the recovery summary and each snapshot (info).
    bool log_recovery = true;
    // When set, commits, snapshots and recovery are reported here; must
    // outlive the committer.
    store::StoreMetrics* metrics = nullptr;
  };

  // What recovery found at Open.
  struct RecoveryStats {
    int64_t snapshot_seq = 0;
    int64_t snapshot_rooms = 0;
    int64_t snapshot_event_ids = 0;
    int64_t records_replayed = 0;
    int64_t events_replayed = 0;
    // Records whose Apply failed on replay, as it did when first applied.
    int64_t records_rejected = 0;
    absl::Duration snapshot_load_time;
    absl::Duration elapsed;
  };

  struct Stats {
    int64_t last_seq = 0;
    int64_t groups = 0;
    int64_t records = 0;
    int64_t snapshots = 0;
    int64_t last_snapshot_seq = 0;
    // Time the writer spent copying state for the last / longest snapshot.
    absl::Duration last_snapshot_pause;
    absl::Duration max_snapshot_pause;
    absl::Duration last_snapshot_total;
  };

  static constexpr char kDatabaseFile[] = "banditd.db";

  // Opens (or creates) <data_dir>/banditd.db, recovers `engine` from it and
  // starts the writer and snapshot threads. `engine` must be empty, must
  // outlive the committer, and from now on changes only through it. Fails
  // with FAILED_PRECONDITION or DATA_LOSS, leaving the file untouched, for a
  // database that is foreign, of a newer format version, or corrupt.
  static absl::StatusOr<std::unique_ptr<DurableCommitter>> Open(
      Options options, core::Engine* engine);

  // Like Open, over any LogStore (tests pass a fake).
  static absl::StatusOr<std::unique_ptr<DurableCommitter>> Create(
      Options options, std::unique_ptr<LogStore> log, core::Engine* engine);

  ~DurableCommitter() override;
  DurableCommitter(const DurableCommitter&) = delete;
  DurableCommitter& operator=(const DurableCommitter&) = delete;

  void Submit(core::Mutation mutation, Done done) override;
  void Shutdown() override;

  // Takes a snapshot now and waits until it is committed (tests, benches).
  absl::Status SnapshotNow();

  // Runs `task` on the writer thread between two groups, with the log store,
  // and waits for it. For tests (e.g. changing the page limit).
  void RunOnWriter(absl::AnyInvocable<void(LogStore*) &&> task);

  const RecoveryStats& recovery() const { return recovery_; }
  Stats stats() const;

 private:
  struct Pending {
    core::Mutation mutation;
    std::string record;
    int64_t events = 0;
    bool structural = false;
    // structure_epoch_ when Submit validated the mutation.
    int64_t validated_epoch = 0;
    // Memory budget bytes reserved at admission (Engine::Validate), released
    // when done is called.
    int64_t reserved = 0;
    absl::Time submitted;
    Done done;
  };

  // The answer of a logged mutation: sent after the group's commit when
  // the engine applied it at once, else when it applies its queued events.
  struct Answer {
    int64_t reserved = 0;
    // The log append's status: an error after the records landed is still
    // reported, as for the mutations applied at once.
    absl::Status logged;
    Done done;
    // Set while ApplyOrQueue runs: a result then is kept for the group's
    // answers, in log order.
    bool now = true;
    std::optional<absl::StatusOr<core::ApplyResult>> result;
  };

  // How often the writer tries again the locks of rooms with queued events.
  static constexpr absl::Duration kQueuedPoll = absl::Microseconds(500);

  // A snapshot being written by the writer.
  struct SnapshotWrite {
    int64_t seq = 0;
    std::vector<std::string> chunks;
    size_t next = 0;
    std::optional<absl::Status> result;
  };

  DurableCommitter(Options options, std::unique_ptr<LogStore> log,
                   core::Engine* engine);

  absl::Status Recover();
  void WriterLoop();
  // Writer thread: commits one group.
  void CommitGroup(std::vector<Pending> group);
  // Writer thread: stores some chunks of snapshot_write_, commits it at the
  // end. Returns with mu_ not held.
  void ContinueSnapshot();
  // Snapshot thread: one snapshot from capture to commit.
  absl::Status TakeSnapshot();

  const Options options_;
  // Used only by the writer thread once it runs (and by recovery before).
  const std::unique_ptr<LogStore> log_;
  core::Engine* const engine_;
  RecoveryStats recovery_;

  // Bumped by the writer after applying a mutation that is not a Feedback
  // batch, since that can change whether other mutations are valid.
  std::atomic<int64_t> structure_epoch_{0};

  mutable absl::Mutex mu_;
  std::deque<Pending> queue_ ABSL_GUARDED_BY(mu_);
  int64_t queued_events_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<absl::AnyInvocable<void() &&>> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool writer_done_ ABSL_GUARDED_BY(mu_) = false;
  std::unique_ptr<SnapshotWrite> snapshot_write_ ABSL_GUARDED_BY(mu_);
  bool trim_pending_ ABSL_GUARDED_BY(mu_) = false;
  Stats stats_ ABSL_GUARDED_BY(mu_);

  // Writer thread only.
  bool unsynced_ = false;
  absl::Time last_sync_;
  int64_t avg_record_bytes_ = 1024;  // Moving average, sizes log trimming.
  // Largest FeedbackBatch::logged_at_micros logged so far.
  int64_t last_logged_micros_ = 0;

  Snapshotter snapshotter_;
  std::thread writer_;
  absl::Mutex shutdown_mu_;
  bool shut_down_ ABSL_GUARDED_BY(shutdown_mu_) = false;
};

}  // namespace banditd::store

#endif  // BANDITD_SERVER_STORE_DURABLE_COMMITTER_H_
