#ifndef BANDITD_SERVER_STORE_SNAPSHOTTER_H_
#define BANDITD_SERVER_STORE_SNAPSHOTTER_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/core/engine.h"
#include "server/store/engine_state.h"

namespace banditd::store {

// The engine's state at one log sequence, as CopyState returns it.
struct StateCopy {
  EngineState state;
  int64_t seq = 0;
  // How long the single writer was paused for the second step.
  absl::Duration pause;
};

// CopyState copies `engine`'s state in two steps so that its single writer
// pauses only briefly: first everything (CaptureDraft) while mutations keep
// being applied, then, in the pause, what Feedback changed since (FinishDraft)
// into the same memory; or everything again (CaptureState) when a structural
// change came in between, which `structure_epoch` tells: the committer bumps
// it after applying any mutation but a Feedback batch.
//
// `run_paused(copy)` must call `copy` once while no mutation is applied (on
// the writer thread, or holding the lock Apply runs under) and return the
// log sequence the engine is at then: the sequence the copy covers.
StateCopy CopyState(
    const core::Engine& engine, const std::atomic<int64_t>& structure_epoch,
    absl::FunctionRef<int64_t(absl::FunctionRef<void()> copy)> run_paused);

// Snapshotter decides when a committer takes a snapshot, and takes it on its
// own thread by calling `take`: once `every_records` records were applied
// since the state the last snapshot covers, `interval` after the previous
// attempt if any record was applied since, and when SnapshotNow asks. A
// failed attempt is logged, and the next one waits at least `retry_after`
// (e.g. while the disk is full).
//
// Shared by DurableCommitter and cluster::NatsCommitter: what a snapshot is
// (a log store's chunks, a snapshot file) is theirs; when one is due is this.
//
// Thread safety: every method may be called from any thread; `take` runs on
// the snapshotter's thread only, never two at a time.
class Snapshotter {
 public:
  struct Options {
    // Records since the last snapshot that make one due (0: never by count).
    int64_t every_records = 100'000;
    // A snapshot is due this long after the previous attempt if anything
    // was applied since.
    absl::Duration interval = absl::Minutes(10);
    // Least wait after a failed attempt.
    absl::Duration retry_after = absl::Seconds(1);
    // Names the snapshot in the failure line: "banditd: <what> failed".
    std::string what = "snapshot";
  };

  Snapshotter(Options options, absl::AnyInvocable<absl::Status()> take);
  // Stops (see Stop).
  ~Snapshotter();
  Snapshotter(const Snapshotter&) = delete;
  Snapshotter& operator=(const Snapshotter&) = delete;

  // Starts the thread. At most once.
  void Start();
  // No snapshot starts after this; waiting and later SnapshotNow calls get
  // UNAVAILABLE. Does not wait for an attempt in progress.
  void BeginStop();
  // BeginStop, then waits for the thread to end. Idempotent.
  void Stop();

  // `records` more records were applied (or replayed at recovery).
  void Applied(int64_t records);
  // The state being copied covers every record counted so far: the count
  // starts again from zero. Call it from the pause of CopyState.
  void Covered();
  int64_t records_since_snapshot() const;

  // Asks for a snapshot now and waits for the attempt: its status, or
  // UNAVAILABLE when stopped (or not started) first.
  absl::Status SnapshotNow();

 private:
  void Loop();

  const Options options_;
  absl::AnyInvocable<absl::Status()> take_;

  mutable absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int64_t records_since_ ABSL_GUARDED_BY(mu_) = 0;
  // SnapshotNow tickets: requests so far, and the requests that the last
  // finished attempt covered, with its status.
  int64_t requested_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t served_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status last_status_ ABSL_GUARDED_BY(mu_);

  std::thread thread_;
  absl::Mutex join_mu_;
};

}  // namespace banditd::store

#endif  // BANDITD_SERVER_STORE_SNAPSHOTTER_H_
