// NatsCommitter's snapshots: the engine state with the stream sequence it
// covers, saved in the replica's SnapshotFile when the store's Snapshotter
// says one is due.

#include <nats/nats.h>

#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "server/cluster/nats_committer.h"
#include "server/cluster/nats_status.h"
#include "server/log/log.h"
#include "server/store/engine_state.h"
#include "server/store/snapshot_codec.h"

namespace banditd::cluster {

namespace {

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

}  // namespace

absl::Status NatsCommitter::TakeSnapshot(bool publish) {
  if (diverged_.load(std::memory_order_acquire)) {
    return absl::FailedPreconditionError(
        "no snapshot: this replica skipped records the stream no longer "
        "holds (see banditd_cluster_skipped_records_total); restart it");
  }
  const absl::Time start = absl::Now();
  // Every stream's position, read while Apply is excluded.
  std::vector<uint64_t> seqs(streams_.size());
  store::StateCopy copy =
      store::CopyState(*engine_, structure_epoch_,
                       [this, &seqs](absl::FunctionRef<void()> capture) {
                         absl::MutexLock lock(&apply_mu_);
                         capture();
                         for (size_t i = 0; i < streams_.size(); ++i) {
                           seqs[i] = streams_[i]->applied();
                         }
                         return static_cast<int64_t>(seqs[0]);
                       });
  snapshotter_.Covered();
  const uint64_t seq = seqs[0];
  const absl::Duration pause = copy.pause;
  uint64_t total = 0;
  for (uint64_t s : seqs) total += s;
  bool unchanged = false;
  {
    absl::MutexLock lock(&mu_);
    // Each position only grows: an equal total is the same snapshot.
    if (total <= last_snapshot_total_) {
      unchanged = true;
    }
  }
  // Nothing new, but the retention watch wants the saved one published.
  if (unchanged) {
    if (!publish || !publish_due_.load(std::memory_order_acquire)) {
      return absl::OkStatus();
    }
    absl::StatusOr<std::optional<SnapshotFile::Snapshot>> saved =
        snapshot_file_->Load();
    if (!saved.ok()) return saved.status();
    if (saved->has_value()) MaybePublish(**saved);
    return absl::OkStatus();
  }
  SnapshotFile::Snapshot snapshot;
  for (size_t i = 0; i < streams_.size(); ++i) {
    jsStreamInfo* si = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    natsStatus s =
        js_GetStreamInfo(&si, js_, streams_[i]->name.c_str(), nullptr, &code);
    if (s != NATS_OK) return NatsError("stream info for a snapshot", s, code);
    if (i == 0) {
      snapshot.seq = seq;
      snapshot.stream = streams_[i]->name;
      snapshot.stream_created = si->Created;
    } else {
      snapshot.more.push_back({streams_[i]->name, si->Created, seqs[i]});
    }
    jsStreamInfo_Destroy(si);
  }
  snapshot.chunks =
      store::EncodeSnapshot(copy.state, options_.snapshot_chunk_bytes);
  copy.state = store::EngineState();
  if (absl::Status s = snapshot_file_->Save(snapshot); !s.ok()) return s;
  const absl::Duration elapsed = absl::Now() - start;
  {
    absl::MutexLock lock(&mu_);
    ++stats_.snapshots;
    stats_.last_snapshot_sequence = seq;
    last_snapshot_total_ = total;
  }
  if (options_.metrics != nullptr) options_.metrics->RecordSnapshot(elapsed);
  if (options_.log) {
    SPDLOG_INFO(
        "cluster snapshot at seq {}{}: {} chunks, pause {:.2f} ms, total "
        "{:.1f} "
        "ms",
        seq,
        snapshot.more.empty()
            ? ""
            : absl::StrCat(" (+", total - seq, " in the other streams)"),
        snapshot.chunks.size(), Ms(pause), Ms(elapsed));
  }
  if (publish) MaybePublish(snapshot);
  return absl::OkStatus();
}

absl::Status NatsCommitter::SnapshotNow() { return snapshotter_.SnapshotNow(); }

}  // namespace banditd::cluster
