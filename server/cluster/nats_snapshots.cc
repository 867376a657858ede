// NatsCommitter's maintenance thread: periodic snapshots of the engine
// with the stream sequence they cover, and expiry of writes that were
// acknowledged by JetStream but not applied here in time.

#include <nats/nats.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "server/cluster/nats_committer.h"
#include "server/cluster/nats_status.h"
#include "server/store/engine_state.h"

namespace banditd::cluster {

namespace {

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

}  // namespace

void NatsCommitter::MaintenanceLoop() {
  absl::Time last_snapshot = absl::Now();
  while (true) {
    int64_t ticket = 0;
    bool snapshot = false;
    std::vector<Completion> expired;
    ReadDone reads;
    {
      absl::MutexLock lock(&mu_);
      auto due = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !consuming_ || snapshot_requested_ > snapshot_served_ ||
               (options_.snapshot_every_records > 0 &&
                records_since_snapshot_ >= options_.snapshot_every_records);
      };
      mu_.AwaitWithTimeout(absl::Condition(&due), absl::Milliseconds(100));
      if (!consuming_) return;
      const absl::Time now = absl::Now();
      ticket = snapshot_requested_;
      snapshot = snapshot_requested_ > snapshot_served_ ||
                 (options_.snapshot_every_records > 0 &&
                  records_since_snapshot_ >= options_.snapshot_every_records) ||
                 (now - last_snapshot >= options_.snapshot_interval &&
                  records_since_snapshot_ > 0);
      // Acknowledged records not applied here in time: the write is durable
      // in the stream, but this replica cannot report its outcome.
      for (auto it = in_flight_.begin(); it != in_flight_.end();) {
        InFlight& entry = it->second;
        if (entry.acked && !entry.applied &&
            now - entry.published > options_.apply_timeout) {
          expired.emplace_back(
              std::move(entry.call),
              absl::DeadlineExceededError(absl::StrCat(
                  "stored in the stream at seq ", entry.seq,
                  " but not applied on this replica within ",
                  absl::FormatDuration(options_.apply_timeout),
                  "; it will be: retry with the same event_ids to be sure")));
          in_flight_.erase(it++);
        } else {
          ++it;
        }
      }
      CollectReadsDone(now, &reads);
      // Idle and caught up: nothing lags.
      if (stats_.pending_records == 0 &&
          now - last_delivery_ > absl::Seconds(1)) {
        stats_.apply_lag = absl::ZeroDuration();
      }
    }
    Complete(std::move(expired));
    for (auto& [read, status] : reads) std::move(read)(std::move(status));
    if (!snapshot) continue;
    absl::Status status = TakeSnapshot();
    last_snapshot = absl::Now();
    absl::MutexLock lock(&mu_);
    snapshot_served_ = ticket;
    last_snapshot_status_ = status;
    if (!status.ok()) {
      absl::FPrintF(stderr, "banditd: cluster snapshot failed: %s\n",
                    status.ToString());
    }
  }
}

absl::Status NatsCommitter::TakeSnapshot() {
  const absl::Time start = absl::Now();
  int64_t epoch;
  {
    absl::MutexLock lock(&apply_mu_);
    epoch = structure_epoch_;
  }
  store::EngineState state = store::CaptureDraft(*engine_);
  uint64_t seq;
  absl::Duration pause;
  {
    absl::MutexLock lock(&apply_mu_);
    const absl::Time t0 = absl::Now();
    if (structure_epoch_ != epoch || !store::FinishDraft(*engine_, &state)) {
      state = store::CaptureState(*engine_);
    }
    seq = applied_sequence();
    pause = absl::Now() - t0;
  }
  {
    absl::MutexLock lock(&mu_);
    records_since_snapshot_ = 0;
    if (seq <= stats_.last_snapshot_sequence) return absl::OkStatus();
  }
  jsStreamInfo* si = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s =
      js_GetStreamInfo(&si, js_, options_.stream.c_str(), nullptr, &code);
  if (s != NATS_OK) return NatsError("stream info for a snapshot", s, code);
  SnapshotFile::Snapshot snapshot;
  snapshot.seq = seq;
  snapshot.stream = options_.stream;
  snapshot.stream_created = si->Created;
  jsStreamInfo_Destroy(si);
  snapshot.chunks = store::EncodeSnapshot(state, options_.snapshot_chunk_bytes);
  state = store::EngineState();
  if (absl::Status s = snapshot_file_->Save(snapshot); !s.ok()) return s;
  const absl::Duration total = absl::Now() - start;
  {
    absl::MutexLock lock(&mu_);
    ++stats_.snapshots;
    stats_.last_snapshot_sequence = seq;
  }
  if (options_.metrics != nullptr) options_.metrics->RecordSnapshot(total);
  if (options_.log) {
    absl::FPrintF(stderr,
                  "banditd: cluster snapshot at seq %d: %d chunks, pause %.2f "
                  "ms, total %.1f ms\n",
                  seq, snapshot.chunks.size(), Ms(pause), Ms(total));
  }
  return absl::OkStatus();
}

absl::Status NatsCommitter::SnapshotNow() {
  absl::MutexLock lock(&mu_);
  if (!consuming_ || !maintenance_.joinable()) {
    return absl::UnavailableError("not running");
  }
  const int64_t ticket = ++snapshot_requested_;
  auto served = [this, ticket]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return snapshot_served_ >= ticket || !consuming_;
  };
  mu_.Await(absl::Condition(&served));
  return snapshot_served_ >= ticket ? last_snapshot_status_
                                    : absl::UnavailableError("shutting down");
}

}  // namespace banditd::cluster
