#include "server/cluster/nats_committer.h"

#include <nats/nats.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <random>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "server/log/log.h"
#include "server/store/engine_state.h"
#include "server/store/snapshot_codec.h"

namespace banditd::cluster {

namespace {

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

InFlightTable::Options InFlightOptions(const NatsCommitter::Options& o) {
  InFlightTable::Options options;
  options.apply_timeout = o.apply_timeout;
  options.read_wait_timeout = o.read_wait_timeout;
  options.fetch_after = o.fetch_after;
  options.publish_timeout = o.publish_timeout;
  options.republish_interval = o.republish_interval;
  return options;
}

store::Snapshotter::Options SnapshotterOptions(
    const NatsCommitter::Options& o) {
  store::Snapshotter::Options options;
  options.every_records = o.snapshot_every_records;
  options.interval = o.snapshot_interval;
  options.what = "cluster snapshot";
  return options;
}

}  // namespace

absl::StatusOr<std::string> NatsCommitter::RoomSubject(
    const std::string& prefix, const std::string& room_id) {
  if (room_id.empty() || room_id.front() == '.' || room_id.back() == '.' ||
      room_id.find("..") != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "room_id \"", room_id,
        "\" has an empty dot-separated part, which cluster mode cannot map "
        "to a stream subject"));
  }
  return absl::StrCat(prefix, ".", room_id);
}

int NatsCommitter::StreamOf(absl::string_view room_id, int streams) {
  if (streams <= 1) return 0;
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : room_id) h = (h ^ c) * 0x100000001b3ull;
  return static_cast<int>(h % static_cast<uint64_t>(streams));
}

std::string NatsCommitter::StreamName(const std::string& stream, int i) {
  return i == 0 ? stream : absl::StrCat(stream, "_", i);
}

std::string NatsCommitter::StreamPrefix(const std::string& prefix, int i) {
  return i == 0 ? prefix : absl::StrCat(prefix, "_", i);
}

bool NatsCommitter::SubjectMatches(const std::string& pattern,
                                   const std::string& subject) {
  std::vector<absl::string_view> p = absl::StrSplit(pattern, '.');
  std::vector<absl::string_view> s = absl::StrSplit(subject, '.');
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == ">") return s.size() > i;
    if (i >= s.size()) return false;
    if (p[i] != "*" && p[i] != s[i]) return false;
  }
  return p.size() == s.size();
}

absl::StatusOr<std::unique_ptr<NatsCommitter>> NatsCommitter::Open(
    Options options, core::Engine* engine) {
  std::unique_ptr<NatsCommitter> committer(
      new NatsCommitter(std::move(options), engine));
  if (absl::Status status = committer->Start(); !status.ok()) {
    committer->Shutdown();
    return status;
  }
  return committer;
}

NatsCommitter::NatsCommitter(Options options, core::Engine* engine)
    : options_(std::move(options)),
      engine_(engine),
      snapshotter_(SnapshotterOptions(options_),
                   [this] { return TakeSnapshot(/*publish=*/true); }) {
  const int n = std::max(1, options_.streams);
  for (int i = 0; i < n; ++i) {
    auto stream = std::make_unique<Stream>(this, i, InFlightOptions(options_));
    stream->name = StreamName(options_.stream, i);
    stream->prefix = StreamPrefix(options_.subject_prefix, i);
    stream->filter =
        options_.rooms_filter.empty()
            ? absl::StrCat(stream->prefix, ".>")
            : absl::StrCat(stream->prefix, ".", options_.rooms_filter);
    streams_.push_back(std::move(stream));
  }
  filter_subject_ = streams_.front()->filter;
  last_delivery_.assign(streams_.size(), absl::Now());
  for (const auto& stream : streams_) {
    StreamStats stream_stats;
    stream_stats.stream = stream->name;
    stats_.streams.push_back(std::move(stream_stats));
  }
  std::random_device random;
  origin_ = absl::StrFormat("%08x%08x", random(), random());
}

NatsCommitter::~NatsCommitter() { Shutdown(); }

absl::Status NatsCommitter::Start() {
  const absl::Time start = absl::Now();
  if (const absl::Duration r = options_.republish_interval;
      r != absl::ZeroDuration() &&
      (r < absl::Milliseconds(10) || r >= options_.publish_timeout)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--cluster_republish_interval=", absl::FormatDuration(r),
                     " must be 0 (off) or at least 10ms and less than "
                     "--cluster_publish_timeout=",
                     absl::FormatDuration(options_.publish_timeout),
                     ": a record is re-sent within its publish timeout"));
  }
  if (absl::Status s = retention::Validate(options_.retention); !s.ok()) {
    return s;
  }
  if (options_.snapshot_publish_every < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--cluster_snapshot_publish_every must be 0 (never publish) or "
        "positive, not ",
        absl::FormatDuration(options_.snapshot_publish_every)));
  }
  if (options_.snapshot_gc_grace < 4 * options_.publish_timeout) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--cluster_snapshot_gc_grace (",
        absl::FormatDuration(options_.snapshot_gc_grace),
        ") must be at least 4x --cluster_publish_timeout (",
        absl::FormatDuration(options_.publish_timeout),
        "): a publish must store its meta within a quarter of it"));
  }
  std::error_code error;
  std::filesystem::create_directories(options_.data_dir, error);
  if (error) {
    return absl::UnavailableError(absl::StrCat("cannot create data directory ",
                                               options_.data_dir, ": ",
                                               error.message()));
  }
  absl::StatusOr<std::unique_ptr<SnapshotFile>> file = SnapshotFile::Open(
      (std::filesystem::path(options_.data_dir) / kSnapshotFile).string());
  if (!file.ok()) return file.status();
  snapshot_file_ = *std::move(file);
  absl::StatusOr<std::optional<SnapshotFile::Snapshot>> snapshot =
      snapshot_file_->Load();
  if (!snapshot.ok()) return snapshot.status();

  if (absl::Status s = Connect(); !s.ok()) return s;
  if (absl::Status s = EnsureStreams(); !s.ok()) return s;
  if (streams_.size() > 1) SpreadLeaders();
  if (snapshot->has_value()) {
    if (absl::Status s = CheckSnapshotStreams(
            **snapshot, absl::StrCat("the snapshot in ", options_.data_dir));
        !s.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          s.message(), ": remove ", kSnapshotFile,
          " to rebuild from the stream (or from the published snapshot), or "
          "copy it from a current replica"));
    }
  }
  if (!options_.snapshot_bucket.empty()) {
    ObjectStore::Options object_options;
    object_options.bucket = options_.snapshot_bucket;
    object_options.replicas = options_.replicas;
    object_options.request_timeout = options_.publish_timeout;
    object_options.gc_grace = options_.snapshot_gc_grace;
    absl::StatusOr<std::unique_ptr<ObjectStore>> objects =
        ObjectStore::Create(nc_, object_options);
    if (!objects.ok()) return objects.status();
    objects_ = *std::move(objects);
    objects = ObjectStore::Create(nc_, object_options);
    if (!objects.ok()) return objects.status();
    watch_objects_ = *std::move(objects);
  }
  absl::StatusOr<std::optional<SnapshotFile::Snapshot>> chosen =
      ChooseSnapshot(*std::move(snapshot));
  if (!chosen.ok()) return chosen.status();
  std::vector<uint64_t> seqs(streams_.size(), 0);
  if (chosen->has_value()) {
    absl::StatusOr<store::EngineState> state =
        store::DecodeSnapshot((*chosen)->chunks);
    if (!state.ok()) {
      return absl::DataLossError(absl::StrCat("cluster snapshot at seq ",
                                              (*chosen)->seq, ": ",
                                              state.status().message()));
    }
    for (size_t i = 0; i < streams_.size(); ++i) {
      seqs[i] = SnapshotSeq(**chosen, static_cast<int>(i));
    }
    store::RestoreState(*std::move(state), engine_);
  }
  for (size_t i = 0; i < streams_.size(); ++i) {
    Stream& stream = *streams_[i];
    if (seqs[i] > stream.last_seq) {
      return absl::FailedPreconditionError(absl::StrCat(
          "this replica's snapshot covers seq ", seqs[i], " but the stream ",
          stream.name, " ends at seq ", stream.last_seq));
    }
    stream.applied_seq.store(seqs[i], std::memory_order_release);
    stream.in_flight.SetApplied(seqs[i]);
  }
  {
    absl::MutexLock lock(&mu_);
    for (size_t i = 0; i < streams_.size(); ++i) {
      stats_.streams[i].applied_sequence = seqs[i];
    }
    stats_.applied_sequence = seqs[0];
    stats_.last_snapshot_sequence = seqs[0];
    last_snapshot_total_ = 0;
    for (uint64_t seq : seqs) last_snapshot_total_ += seq;
    last_delivery_.assign(streams_.size(), absl::Now());
  }
  for (size_t i = 0; i < streams_.size(); ++i) {
    if (absl::Status s = Subscribe(*streams_[i], seqs[i] + 1); !s.ok()) {
      return s;
    }
  }
  // Snapshots while catching up, so that a long catch-up is not lost.
  snapshotter_.Start();
  maintenance_ = std::thread([this] { MaintenanceLoop(); });
  if (options_.republish_interval > absl::ZeroDuration()) {
    republisher_ = std::thread([this] { RepublishLoop(); });
  }
  retention_ = std::thread([this] { RetentionLoop(); });
  if (streams_.size() > 1 &&
      options_.rebalance_interval > absl::ZeroDuration()) {
    rebalancer_ = std::thread([this] { RebalanceLoop(); });
  }
  for (const auto& stream : streams_) {
    Stream* s = stream.get();
    s->fetcher = std::thread([this, s] { FetchLoop(*s); });
  }
  for (const auto& stream : streams_) {
    if (absl::Status s = WaitCaughtUp(*stream); !s.ok()) return s;
  }
  const absl::Duration elapsed = absl::Now() - start;
  int64_t applied = 0;
  {
    absl::MutexLock lock(&mu_);
    applied = stats_.applied_records;
  }
  if (options_.metrics != nullptr) {
    options_.metrics->RecordRecovery(elapsed, applied);
  }
  if (options_.log) {
    SPDLOG_INFO(
        "cluster replica of stream {} ({}{}): snapshot at seq {}, caught up "
        "to seq {} ({} records applied) in {:.1f} ms",
        options_.stream, filter_subject_,
        streams_.size() > 1
            ? absl::StrCat(", rooms spread over ", streams_.size(), " streams")
            : "",
        seqs[0], applied_sequence(), applied, Ms(elapsed));
  }
  return absl::OkStatus();
}

absl::Status NatsCommitter::CheckRoomHeld(const std::string& room_id) const {
  if (options_.rooms_filter.empty()) return absl::OkStatus();
  const Stream& stream = *streams_[StreamOf(room_id, options_.streams)];
  absl::StatusOr<std::string> subject = RoomSubject(stream.prefix, room_id);
  if (!subject.ok()) return subject.status();
  if (SubjectMatches(stream.filter, *subject)) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "room \"", room_id,
      "\" is not held by this replica: it holds only "
      "rooms matching --cluster_rooms=",
      options_.rooms_filter, "; send it to a replica that holds the room"));
}

void NatsCommitter::WhenApplied(
    const std::string& room_id, uint64_t sequence,
    absl::AnyInvocable<void(absl::Status) &&> done) {
  bool running;
  {
    absl::MutexLock lock(&mu_);
    running = !stopping_ && consuming_;
  }
  if (!running) {
    std::move(done)(absl::UnavailableError(
        "min_applied_sequence: the server is shutting down; read from "
        "another replica"));
    return;
  }
  streams_[StreamOf(room_id, options_.streams)]->in_flight.WhenApplied(
      sequence, std::move(done), absl::Now());
}

void NatsCommitter::Shutdown() {
  {
    absl::MutexLock lock(&shutdown_mu_);
    if (shut_down_) return;
    shut_down_ = true;
  }
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    rebalancing_ = false;
  }
  StopCatchUps();
  if (rebalancer_.joinable()) rebalancer_.join();
  // In-flight calls get until their timeouts to finish.
  const absl::Time drained =
      absl::Now() + options_.publish_timeout + absl::Seconds(1);
  for (const auto& stream : streams_) {
    stream->in_flight.WaitDrained(
        std::max(absl::ZeroDuration(), drained - absl::Now()));
  }
  {
    absl::MutexLock lock(&mu_);
    republishing_ = false;
  }
  if (republisher_.joinable()) republisher_.join();
  if (js_ != nullptr) {
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = 1000;
    js_PublishAsyncComplete(js_, &po);
  }
  for (const auto& stream : streams_) {
    if (stream->sub == nullptr) continue;
    if (natsSubscription_Drain(stream->sub) == NATS_OK) {
      natsSubscription_WaitForDrainCompletion(stream->sub, 5000);
    } else {
      natsSubscription_Unsubscribe(stream->sub);
    }
  }
  for (const auto& stream : streams_) stream->in_flight.Close();
  {
    absl::MutexLock lock(&mu_);
    consuming_ = false;
  }
  // The retention watch may wait for a snapshot: stop it first.
  snapshotter_.BeginStop();
  if (retention_.joinable()) retention_.join();
  snapshotter_.Stop();
  const bool started = maintenance_.joinable();
  if (maintenance_.joinable()) maintenance_.join();
  for (const auto& stream : streams_) {
    if (stream->fetcher.joinable()) stream->fetcher.join();
  }
  // A final snapshot, so that a restart replays little.
  if (started) {
    if (absl::Status s = TakeSnapshot(/*publish=*/false); !s.ok()) {
      SPDLOG_ERROR("final cluster snapshot failed: {}", s.ToString());
    }
  }
  objects_.reset();
  watch_objects_.reset();
  for (const auto& stream : streams_) {
    if (stream->sub != nullptr) natsSubscription_Destroy(stream->sub);
    stream->sub = nullptr;
  }
  if (js_ != nullptr) jsCtx_Destroy(js_);
  js_ = nullptr;
  if (nc_ != nullptr) {
    natsConnection_Close(nc_);
    natsConnection_Destroy(nc_);
  }
  nc_ = nullptr;
}

NatsCommitter::Stats NatsCommitter::stats() const {
  int64_t republished = 0;
  for (const auto& stream : streams_) republished += stream->in_flight.resent();
  absl::MutexLock lock(&mu_);
  Stats stats = stats_;
  stats.republished_records = republished;
  stats.applied_sequence = stats.streams.front().applied_sequence;
  stats.pending_records = 0;
  stats.apply_lag = absl::ZeroDuration();
  for (const StreamStats& stream : stats.streams) {
    stats.pending_records += stream.pending_records;
    stats.apply_lag = std::max(stats.apply_lag, stream.apply_lag);
  }
  return stats;
}

SnapshotFile::Position NatsCommitter::SnapshotPosition(
    const SnapshotFile::Snapshot& snapshot, int i) {
  if (i == 0) {
    return {snapshot.stream, snapshot.stream_created, snapshot.seq};
  }
  return static_cast<size_t>(i) <= snapshot.more.size()
             ? snapshot.more[i - 1]
             : SnapshotFile::Position();
}

absl::Status NatsCommitter::CheckSnapshotStreams(
    const SnapshotFile::Snapshot& snapshot, absl::string_view what) const {
  if (snapshot.more.size() + 1 != streams_.size()) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, " covers ", snapshot.more.size() + 1,
                     " stream(s), this cluster spreads rooms over ",
                     streams_.size(), " (cluster_streams)"));
  }
  for (size_t i = 0; i < streams_.size(); ++i) {
    const SnapshotFile::Position at =
        SnapshotPosition(snapshot, static_cast<int>(i));
    if (at.stream != streams_[i]->name || at.created != streams_[i]->created) {
      return absl::FailedPreconditionError(absl::StrCat(
          what, " is of stream ", at.stream, " created at ", at.created,
          ", not of the current stream ", streams_[i]->name, " created at ",
          streams_[i]->created));
    }
  }
  return absl::OkStatus();
}

}  // namespace banditd::cluster
