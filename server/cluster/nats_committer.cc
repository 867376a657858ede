#include "server/cluster/nats_committer.h"

#include <nats/nats.h>

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

namespace banditd::cluster {

namespace {

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

InFlightTable::Options InFlightOptions(const NatsCommitter::Options& o) {
  InFlightTable::Options options;
  options.apply_timeout = o.apply_timeout;
  options.read_wait_timeout = o.read_wait_timeout;
  options.fetch_after = o.fetch_after;
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
      in_flight_(InFlightOptions(options_)),
      snapshotter_(SnapshotterOptions(options_),
                   [this] { return TakeSnapshot(/*publish=*/true); }) {
  filter_subject_ =
      options_.rooms_filter.empty()
          ? absl::StrCat(options_.subject_prefix, ".>")
          : absl::StrCat(options_.subject_prefix, ".", options_.rooms_filter);
  std::random_device random;
  origin_ = absl::StrFormat("%08x%08x", random(), random());
}

NatsCommitter::~NatsCommitter() { Shutdown(); }

absl::Status NatsCommitter::Start() {
  const absl::Time start = absl::Now();
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
  uint64_t first_seq = 0, last_seq = 0;
  int64_t created = 0;
  if (absl::Status s = EnsureStream(&first_seq, &last_seq, &created); !s.ok()) {
    return s;
  }

  if (snapshot->has_value() && ((*snapshot)->stream != options_.stream ||
                                (*snapshot)->stream_created != created)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the snapshot in ", options_.data_dir, " is of stream ",
        (*snapshot)->stream, " created at ", (*snapshot)->stream_created,
        ", not of the current stream ", options_.stream, " created at ",
        created, ": remove ", kSnapshotFile,
        " to rebuild from the stream (or from the published snapshot), or "
        "copy it from a current replica"));
  }
  if (!options_.snapshot_bucket.empty()) {
    ObjectStore::Options object_options;
    object_options.bucket = options_.snapshot_bucket;
    object_options.replicas = options_.replicas;
    object_options.request_timeout = options_.publish_timeout;
    absl::StatusOr<std::unique_ptr<ObjectStore>> objects =
        ObjectStore::Create(nc_, object_options);
    if (!objects.ok()) return objects.status();
    objects_ = *std::move(objects);
  }
  absl::StatusOr<std::optional<SnapshotFile::Snapshot>> chosen =
      ChooseSnapshot(*std::move(snapshot), first_seq, last_seq, created);
  if (!chosen.ok()) return chosen.status();
  uint64_t seq = 0;
  if (chosen->has_value()) {
    absl::StatusOr<store::EngineState> state =
        store::DecodeSnapshot((*chosen)->chunks);
    if (!state.ok()) {
      return absl::DataLossError(absl::StrCat("cluster snapshot at seq ",
                                              (*chosen)->seq, ": ",
                                              state.status().message()));
    }
    seq = (*chosen)->seq;
    store::RestoreState(*std::move(state), engine_);
  }
  if (seq > last_seq) {
    return absl::FailedPreconditionError(absl::StrCat(
        "this replica's snapshot covers seq ", seq, " but the stream ",
        options_.stream, " ends at seq ", last_seq));
  }
  applied_seq_.store(seq, std::memory_order_release);
  in_flight_.SetApplied(seq);
  {
    absl::MutexLock lock(&mu_);
    stats_.applied_sequence = seq;
    stats_.last_snapshot_sequence = seq;
    last_delivery_ = absl::Now();
  }
  if (absl::Status s = Subscribe(seq + 1); !s.ok()) return s;
  // Snapshots while catching up, so that a long catch-up is not lost.
  snapshotter_.Start();
  maintenance_ = std::thread([this] { MaintenanceLoop(); });
  fetcher_ = std::thread([this] { FetchLoop(); });
  if (absl::Status s = WaitCaughtUp(); !s.ok()) return s;
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
        "cluster replica of stream {} ({}): snapshot at seq {}, caught up to "
        "seq {} ({} records applied) in {:.1f} ms",
        options_.stream, filter_subject_, seq, applied_sequence(), applied,
        Ms(elapsed));
  }
  return absl::OkStatus();
}

absl::Status NatsCommitter::CheckRoomHeld(const std::string& room_id) const {
  if (options_.rooms_filter.empty()) return absl::OkStatus();
  absl::StatusOr<std::string> subject =
      RoomSubject(options_.subject_prefix, room_id);
  if (!subject.ok()) return subject.status();
  if (SubjectMatches(filter_subject_, *subject)) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "room \"", room_id,
      "\" is not held by this replica: it holds only "
      "rooms matching --cluster_rooms=",
      options_.rooms_filter, "; send it to a replica that holds the room"));
}

void NatsCommitter::WhenApplied(
    uint64_t sequence, absl::AnyInvocable<void(absl::Status) &&> done) {
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
  in_flight_.WhenApplied(sequence, std::move(done), absl::Now());
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
  }
  // In-flight calls get until their timeouts to finish.
  in_flight_.WaitDrained(options_.publish_timeout + absl::Seconds(1));
  if (js_ != nullptr) {
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = 1000;
    js_PublishAsyncComplete(js_, &po);
  }
  if (sub_ != nullptr) {
    if (natsSubscription_Drain(sub_) == NATS_OK) {
      natsSubscription_WaitForDrainCompletion(sub_, 5000);
    } else {
      natsSubscription_Unsubscribe(sub_);
    }
  }
  in_flight_.Close();
  snapshotter_.Stop();
  const bool started = maintenance_.joinable();
  {
    absl::MutexLock lock(&mu_);
    consuming_ = false;
  }
  if (maintenance_.joinable()) maintenance_.join();
  if (fetcher_.joinable()) fetcher_.join();
  // A final snapshot, so that a restart replays little.
  if (started) {
    if (absl::Status s = TakeSnapshot(/*publish=*/false); !s.ok()) {
      SPDLOG_ERROR("final cluster snapshot failed: {}", s.ToString());
    }
  }
  objects_.reset();
  if (sub_ != nullptr) natsSubscription_Destroy(sub_);
  sub_ = nullptr;
  if (js_ != nullptr) jsCtx_Destroy(js_);
  js_ = nullptr;
  if (nc_ != nullptr) {
    natsConnection_Close(nc_);
    natsConnection_Destroy(nc_);
  }
  nc_ = nullptr;
}

NatsCommitter::Stats NatsCommitter::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

}  // namespace banditd::cluster
