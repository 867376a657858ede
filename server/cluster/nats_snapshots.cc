// NatsCommitter's snapshots: the engine state with the stream sequence it
// covers, saved in the replica's SnapshotFile when the store's Snapshotter
// says one is due.

#include <nats/nats.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "server/cluster/nats_committer.h"
#include "server/cluster/nats_status.h"
#include "server/log/log.h"
#include "server/store/engine_state.h"

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
  store::StateCopy copy = store::CopyState(
      *engine_, structure_epoch_, [this](absl::FunctionRef<void()> capture) {
        absl::MutexLock lock(&apply_mu_);
        capture();
        return static_cast<int64_t>(applied_sequence());
      });
  snapshotter_.Covered();
  const uint64_t seq = static_cast<uint64_t>(copy.seq);
  const absl::Duration pause = copy.pause;
  {
    absl::MutexLock lock(&mu_);
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
  snapshot.chunks =
      store::EncodeSnapshot(copy.state, options_.snapshot_chunk_bytes);
  copy.state = store::EngineState();
  if (absl::Status s = snapshot_file_->Save(snapshot); !s.ok()) return s;
  const absl::Duration total = absl::Now() - start;
  {
    absl::MutexLock lock(&mu_);
    ++stats_.snapshots;
    stats_.last_snapshot_sequence = seq;
  }
  if (options_.metrics != nullptr) options_.metrics->RecordSnapshot(total);
  if (options_.log) {
    SPDLOG_INFO(
        "cluster snapshot at seq {}: {} chunks, pause {:.2f} ms, total {:.1f} "
        "ms",
        seq, snapshot.chunks.size(), Ms(pause), Ms(total));
  }
  if (publish) MaybePublish(snapshot);
  return absl::OkStatus();
}

absl::Status NatsCommitter::SnapshotNow() { return snapshotter_.SnapshotNow(); }

}  // namespace banditd::cluster
