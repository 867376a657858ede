// NatsCommitter's self-bootstrap: snapshots published to a JetStream object
// store bucket (server/cluster/object_store.h) with the stream sequence
// they cover, and the choice, at Open, of the snapshot to start from.
//
// Retention may trim the stream's head only up to the published snapshot:
// a replica starting from it needs every record after its sequence. The
// retention watch (nats_retention.cc) publishes early when the head nears
// it (docs/SCALING.md, "Retention").

#include <nats/nats.h>

#include <algorithm>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "server/cluster/nats_committer.h"
#include "server/cluster/snapshot_object.h"
#include "server/log/log.h"

namespace banditd::cluster {

namespace {

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

// The sum of a published snapshot's positions in every stream (each only
// grows, so a larger sum is a newer snapshot of the same streams).
uint64_t PublishedTotal(const object_layout::ObjectInfo& info) {
  uint64_t total = 0;
  auto it = info.metadata.find(snapshot_object::kSequence);
  if (it != info.metadata.end()) absl::SimpleAtoi(it->second, &total);
  it = info.metadata.find(snapshot_object::kMoreStreams);
  if (it == info.metadata.end()) return total;
  for (absl::string_view entry :
       absl::StrSplit(it->second, ',', absl::SkipEmpty())) {
    uint64_t seq = 0;
    const size_t colon = entry.rfind(':');
    if (colon != absl::string_view::npos &&
        absl::SimpleAtoi(entry.substr(colon + 1), &seq)) {
      total += seq;
    }
  }
  return total;
}

uint64_t Total(const SnapshotFile::Snapshot& snapshot) {
  uint64_t total = snapshot.seq;
  for (const SnapshotFile::Position& p : snapshot.more) total += p.seq;
  return total;
}

}  // namespace

absl::StatusOr<SnapshotFile::Snapshot> NatsCommitter::FetchPublished() {
  const absl::Time start = absl::Now();
  const std::string name =
      snapshot_object::ObjectName(options_.stream, filter_subject_);
  absl::StatusOr<ObjectStore::Object> object = objects_->Get(name);
  // Replaced and collected while being read (slower than
  // --cluster_snapshot_gc_grace): read the new one.
  for (int retry = 0; retry < 3 && absl::IsDataLoss(object.status()); ++retry) {
    object = objects_->Get(name);
  }
  if (!object.ok()) return object.status();
  absl::StatusOr<SnapshotFile::Snapshot> snapshot =
      snapshot_object::Decode(object->info, object->data);
  if (!snapshot.ok()) return snapshot.status();
  auto rooms = object->info.metadata.find(snapshot_object::kRooms);
  if (rooms == object->info.metadata.end() ||
      rooms->second != filter_subject_) {
    return absl::FailedPreconditionError(absl::StrCat(
        "object \"", name, "\" holds rooms ",
        rooms == object->info.metadata.end() ? "(none)" : rooms->second,
        ", this replica holds ", filter_subject_));
  }
  if (absl::Status s = CheckSnapshotStreams(
          *snapshot, absl::StrCat("object \"", name, "\""));
      !s.ok()) {
    return s;
  }
  for (size_t i = 0; i < streams_.size(); ++i) {
    const Stream& stream = *streams_[i];
    const uint64_t seq = SnapshotSeq(*snapshot, static_cast<int>(i));
    if (seq + 1 < stream.first_seq) {
      return absl::FailedPreconditionError(absl::StrCat(
          "object \"", name, "\" covers stream ", stream.name,
          " only up to seq ", seq, ", older than its first retained record"));
    }
    if (seq > stream.last_seq) {
      return absl::FailedPreconditionError(
          absl::StrCat("object \"", name, "\" covers seq ", seq, " of stream ",
                       stream.name, " but it ends at seq ", stream.last_seq));
    }
  }
  if (options_.log) {
    SPDLOG_INFO(
        "fetched the published snapshot \"{}\" of bucket {} (seq {}, {} "
        "bytes, stored {}) in {:.1f} ms",
        name, objects_->bucket(), snapshot->seq, object->info.size,
        absl::FormatTime(object->info.mtime), Ms(absl::Now() - start));
  }
  return snapshot;
}

absl::StatusOr<std::optional<SnapshotFile::Snapshot>>
NatsCommitter::ChooseSnapshot(std::optional<SnapshotFile::Snapshot> local) {
  // Records after the local snapshot must all still be in every stream.
  const Stream* trimmed = nullptr;
  uint64_t behind = 0;
  for (const auto& stream : streams_) {
    const uint64_t local_seq =
        local.has_value() ? SnapshotSeq(*local, stream->index) : 0;
    if (trimmed == nullptr && stream->first_seq > local_seq + 1) {
      trimmed = stream.get();
    }
    if (stream->last_seq > local_seq) behind += stream->last_seq - local_seq;
  }
  const uint64_t local_seq = trimmed == nullptr || !local.has_value()
                                 ? (local.has_value() ? local->seq : 0)
                                 : SnapshotSeq(*local, trimmed->index);
  const bool lagging = behind > static_cast<uint64_t>(std::max<int64_t>(
                                    0, options_.snapshot_every_records));
  if (trimmed == nullptr && !lagging) return local;
  absl::Status why = absl::FailedPreconditionError(
      "no snapshot is published (--cluster_snapshot_bucket is empty)");
  if (objects_ != nullptr) {
    absl::StatusOr<SnapshotFile::Snapshot> published = FetchPublished();
    const uint64_t local_total = local.has_value() ? Total(*local) : 0;
    if (published.ok() && Total(*published) > local_total) {
      if (absl::Status s = snapshot_file_->Save(*published); !s.ok()) {
        SPDLOG_WARN("cannot keep the fetched snapshot in {}: {}", kSnapshotFile,
                    s.ToString());
      }
      absl::MutexLock lock(&mu_);
      stats_.bootstrapped_from_sequence = published->seq;
      return *std::move(published);
    }
    why = published.ok() ? absl::FailedPreconditionError(absl::StrCat(
                               "the published snapshot covers only up to seq ",
                               published->seq))
                         : published.status();
  }
  if (trimmed == nullptr) {
    if (objects_ != nullptr && options_.log) {
      SPDLOG_INFO(
          "starting without the published snapshot ({}): replaying "
          "the stream from seq {}",
          std::string(why.message()), local_seq + 1);
    }
    return local;
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "the stream ", trimmed->name, " retains records only from seq ",
      trimmed->first_seq,
      " (older ones were trimmed by its retention limits) and ",
      local.has_value()
          ? absl::StrCat("this replica's snapshot covers only up to seq ",
                         local_seq)
          : std::string("this replica has no snapshot"),
      "; the published snapshot in bucket ", options_.snapshot_bucket,
      " cannot serve: ", why.message(),
      ". Publish a snapshot from a current replica "
      "(--cluster_snapshot_publish_every), or copy ",
      kSnapshotFile, " from a current replica into ", options_.data_dir,
      " and restart"));
}

void NatsCommitter::MaybePublish(const SnapshotFile::Snapshot& snapshot) {
  if (objects_ == nullptr ||
      options_.snapshot_publish_every <= absl::ZeroDuration()) {
    return;
  }
  const absl::Time start = absl::Now();
  if (!bucket_ready_) {
    if (absl::Status s = objects_->EnsureBucket(); !s.ok()) {
      SPDLOG_WARN("snapshot not published: {}", s.ToString());
      absl::MutexLock lock(&mu_);
      ++stats_.publish_failures;
      last_publish_error_ = s.ToString();
      return;
    }
    bucket_ready_ = true;
  }
  const std::string name =
      snapshot_object::ObjectName(options_.stream, filter_subject_);
  absl::StatusOr<object_layout::ObjectInfo> current = objects_->GetInfo(name);
  if (!current.ok() && !absl::IsNotFound(current.status())) {
    SPDLOG_WARN("snapshot not published: {}", current.status().ToString());
    absl::MutexLock lock(&mu_);
    ++stats_.publish_failures;
    last_publish_error_ = current.status().ToString();
    return;
  }
  // A peer's newer or recent snapshot serves as well: one replica's
  // snapshot per period, whichever is due first; early when the retention
  // watch finds the stream's head nearing the published one.
  const bool early = publish_due_.load(std::memory_order_acquire);
  if (current.ok() && PublishedTotal(*current) >= Total(snapshot)) {
    // A peer's is as new: the retention watch asks again if need be.
    publish_due_.store(false, std::memory_order_release);
    return;
  }
  if (current.ok() && !early &&
      absl::Now() - current->mtime < options_.snapshot_publish_every) {
    return;
  }
  snapshot_object::Encoded encoded =
      snapshot_object::Encode(snapshot, filter_subject_);
  absl::StatusOr<object_layout::ObjectInfo> put =
      objects_->Put(std::move(encoded.info), encoded.data);
  if (!put.ok()) {
    SPDLOG_WARN("snapshot at seq {} not published: {}", snapshot.seq,
                put.status().ToString());
    absl::MutexLock lock(&mu_);
    ++stats_.publish_failures;
    last_publish_error_ = put.status().ToString();
    return;
  }
  publish_due_.store(false, std::memory_order_release);
  {
    absl::MutexLock lock(&mu_);
    ++stats_.published_snapshots;
    if (early) ++stats_.early_publishes;
    stats_.last_published_sequence = snapshot.seq;
    last_publish_error_.clear();
  }
  if (options_.log) {
    SPDLOG_INFO(
        "published snapshot at seq {} as \"{}\" in bucket {} ({} bytes, {} "
        "chunks) in {:.1f} ms",
        snapshot.seq, name, objects_->bucket(), put->size, put->chunks,
        Ms(absl::Now() - start));
  }
}

}  // namespace banditd::cluster
