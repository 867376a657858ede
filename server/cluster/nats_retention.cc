// NatsCommitter's retention watch: retention (the stream's max bytes,
// messages and age) must never trim a record after the sequence the
// published snapshot covers, or no new replica can join. Every
// --cluster_retention_check_every the watch reads each stream's state and
// limits and the published snapshot's positions, reports how far the head
// is from the snapshot (Stats, /metrics), asks for a snapshot and an early
// publish when the records after it use --cluster_snapshot_publish_at of
// the tightest limit, warns at --cluster_retention_warn_at and when the
// head has passed it; then it deletes the object store's unreferenced
// chunks (ObjectStore::CollectGarbage). See docs/SCALING.md, "Retention".

#include <nats/nats.h>

#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "server/cluster/nats_committer.h"
#include "server/cluster/nats_status.h"
#include "server/cluster/snapshot_object.h"
#include "server/log/log.h"

namespace banditd::cluster {

namespace {

namespace so = snapshot_object;

// The store time of the first record at or after `seq` in `stream`
// (Direct Get); nullopt when there is none or it cannot be read.
std::optional<absl::Time> StoredAt(jsCtx* js, const std::string& stream,
                                   uint64_t seq) {
  jsDirectGetMsgOptions dg;
  jsDirectGetMsgOptions_Init(&dg);
  dg.Sequence = seq;
  natsMsg* msg = nullptr;
  if (js_DirectGetMsg(&msg, js, stream.c_str(), nullptr, &dg) != NATS_OK) {
    nats_GetLastError(nullptr);
    return std::nullopt;
  }
  const char* value = nullptr;
  absl::Time stored;
  std::string error;
  const bool ok =
      natsMsgHeader_Get(msg, "Nats-Time-Stamp", &value) == NATS_OK &&
      value != nullptr &&
      absl::ParseTime(absl::RFC3339_full, value, &stored, &error);
  natsMsg_Destroy(msg);
  if (!ok) return std::nullopt;
  return stored;
}

// What the retention warnings add: why the published snapshot is behind.
std::string WhyBehind(const absl::Status& published,
                      const std::string& publish_error, bool publishes) {
  std::vector<std::string> why;
  if (!published.ok()) {
    why.push_back(
        absl::StrCat("no snapshot is published (", published.message(), ")"));
  } else if (!publish_error.empty()) {
    why.push_back(absl::StrCat("the last publish failed: ", publish_error));
  }
  if (!publishes) {
    why.push_back(
        "this replica does not publish (--cluster_snapshot_publish_every=0)");
  }
  return absl::StrJoin(why, "; ");
}

// A stream's state and limits (stream info) with the published snapshot's
// position `published_seq` in it; nullopt when NATS does not answer.
std::optional<retention::StreamState> ReadState(jsCtx* js,
                                                const std::string& stream,
                                                uint64_t published_seq) {
  jsStreamInfo* si = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  if (js_GetStreamInfo(&si, js, stream.c_str(), nullptr, &code) != NATS_OK) {
    nats_GetLastError(nullptr);
    return std::nullopt;
  }
  retention::StreamState state;
  state.first_seq = si->State.FirstSeq;
  state.last_seq = si->State.LastSeq;
  state.msgs = si->State.Msgs;
  state.bytes = si->State.Bytes;
  state.max_bytes = si->Config->MaxBytes;
  state.max_msgs = si->Config->MaxMsgs;
  state.max_age = absl::Nanoseconds(si->Config->MaxAge);
  jsStreamInfo_Destroy(si);
  state.published_seq = published_seq;
  if (state.max_age > absl::ZeroDuration() &&
      state.last_seq > state.published_seq) {
    if (std::optional<absl::Time> stored =
            StoredAt(js, stream, state.published_seq + 1)) {
      state.first_needed_age = absl::Now() - *stored;
    }
  }
  return state;
}

}  // namespace

absl::StatusOr<std::vector<uint64_t>> NatsCommitter::PublishedPositions() {
  if (watch_objects_ == nullptr) {
    return absl::NotFoundError("--cluster_snapshot_bucket is empty");
  }
  absl::StatusOr<object_layout::ObjectInfo> info =
      watch_objects_->GetInfo(so::ObjectName(options_.stream, filter_subject_));
  if (!info.ok()) return info.status();
  // The metadata is all that is read: decode it with no snapshot chunks.
  absl::StatusOr<SnapshotFile::Snapshot> positions =
      so::Decode(*info, so::Encode(SnapshotFile::Snapshot(), "").data);
  if (!positions.ok()) return positions.status();
  // A position in another incarnation of a stream (deleted and created
  // again) is no position in this one.
  std::vector<uint64_t> seqs(streams_.size(), 0);
  for (size_t i = 0; i < streams_.size(); ++i) {
    const SnapshotFile::Position at =
        SnapshotPosition(*positions, static_cast<int>(i));
    if (at.stream == streams_[i]->name && at.created == streams_[i]->created) {
      seqs[i] = at.seq;
    }
  }
  return seqs;
}

void NatsCommitter::RetentionLoop() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !consuming_;
      };
      mu_.AwaitWithTimeout(absl::Condition(&stop),
                           options_.retention.check_every);
      if (!consuming_) return;
    }
    CheckRetention();
    if (watch_objects_ != nullptr &&
        options_.snapshot_publish_every > absl::ZeroDuration()) {
      absl::StatusOr<ObjectStore::Collected> collected =
          watch_objects_->CollectGarbage();
      if (!collected.ok()) {
        // No bucket yet, or NATS unreachable: the next round retries.
        if (!absl::IsNotFound(collected.status())) {
          SPDLOG_DEBUG("snapshot garbage collection: {}",
                       collected.status().ToString());
        }
      } else if (collected->objects > 0) {
        {
          absl::MutexLock lock(&mu_);
          stats_.collected_chunks += static_cast<int64_t>(collected->chunks);
        }
        if (options_.log) {
          SPDLOG_INFO(
              "deleted {} unreferenced snapshot object(s) ({} chunks) from "
              "bucket {}",
              collected->objects, collected->chunks, watch_objects_->bucket());
        }
      }
    }
  }
}

void NatsCommitter::CheckRetention() {
  absl::StatusOr<std::vector<uint64_t>> published = PublishedPositions();
  if (!published.ok() && !absl::IsNotFound(published.status())) {
    SPDLOG_DEBUG("retention watch: {}", published.status().ToString());
    return;
  }
  const std::vector<uint64_t> seqs =
      published.ok() ? *published : std::vector<uint64_t>(streams_.size(), 0);
  std::vector<retention::Assessment> assessed;
  double worst = 0;
  std::string worst_line;
  bool passed = false;
  for (size_t i = 0; i < streams_.size(); ++i) {
    const Stream& stream = *streams_[i];
    std::optional<retention::StreamState> read =
        ReadState(js_, stream.name, seqs[i]);
    if (!read.has_value()) return;  // NATS unreachable: the next look
    const retention::StreamState& state = *read;
    const retention::Assessment a = retention::Assess(state);
    if (a.headroom < 0) passed = true;
    if (a.pressure >= worst) {
      worst = a.pressure;
      worst_line = absl::StrFormat(
          "stream %s: the %d records after the published snapshot (seq %d, "
          "first retained seq %d) use %.0f%% of its %s",
          stream.name, a.records_since, state.published_seq, state.first_seq,
          100 * a.pressure, a.limit);
    }
    assessed.push_back(a);
  }
  std::string publish_error;
  {
    absl::MutexLock lock(&mu_);
    for (size_t i = 0; i < assessed.size(); ++i) {
      StreamStats& s = stats_.streams[i];
      s.published_sequence = seqs[i];
      s.records_since_published = assessed[i].records_since;
      s.trim_headroom = assessed[i].headroom;
      s.retention_pressure = assessed[i].pressure;
      s.retention_limit = assessed[i].limit;
    }
    publish_error = last_publish_error_;
  }
  const bool publishes = objects_ != nullptr &&
                         options_.snapshot_publish_every > absl::ZeroDuration();
  const absl::Time now = absl::Now();
  // Without a bucket nothing is published, by the operator's choice.
  if (watch_objects_ != nullptr &&
      (passed || worst >= options_.retention.warn_at) &&
      now - last_retention_warning_ >= absl::Minutes(1)) {
    last_retention_warning_ = now;
    const std::string why =
        WhyBehind(published.status(), publish_error, publishes);
    if (passed) {
      SPDLOG_ERROR(
          "retention trimmed records after the published snapshot: {}; no new "
          "replica can join until a newer snapshot is published. {}",
          worst_line, why);
    } else {
      SPDLOG_WARN(
          "retention nears the published snapshot: {} (warn at {:.0f}%); at "
          "100% it trims records a new replica needs. {}",
          worst_line, 100 * options_.retention.warn_at, why);
    }
  }
  // While publishing fails, ask at most once a minute (each ask copies
  // and saves the whole state).
  if (publishes && worst >= options_.retention.publish_at &&
      (publish_error.empty() ||
       now - last_early_request_ >= absl::Minutes(1))) {
    last_early_request_ = now;
    publish_due_.store(true, std::memory_order_release);
    if (options_.log) {
      SPDLOG_INFO("publishing a snapshot early: {}", worst_line);
    }
    if (absl::Status s = snapshotter_.SnapshotNow(); !s.ok()) {
      SPDLOG_WARN("early snapshot failed: {}", s.ToString());
    }
  }
}

}  // namespace banditd::cluster
