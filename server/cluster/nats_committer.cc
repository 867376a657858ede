#include "server/cluster/nats_committer.h"

#include <nats/nats.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "server/cluster/nats_status.h"
#include "server/store/engine_state.h"
#include "server/store/log_codec.h"

namespace banditd::cluster {

// The header that names the replica and call that published a record, so
// that the replica's consumer can hand the Apply result to the call.
constexpr char kOriginHeader[] = "Banditd-Origin";

struct NatsCommitter::Call {
  absl::Mutex mu;
  Done done ABSL_GUARDED_BY(mu);
  int remaining ABSL_GUARDED_BY(mu) = 0;
  core::ApplyResult sum ABSL_GUARDED_BY(mu);
  absl::Status error ABSL_GUARDED_BY(mu);
};

namespace {

const std::string& RoomOf(const core::Mutation& mutation) {
  return std::visit(
      [](const auto& m) -> const std::string& {
        if constexpr (std::is_same_v<std::decay_t<decltype(m)>,
                                     core::FeedbackBatch>) {
          static const std::string kEmpty;
          return m.events.empty() ? kEmpty : m.events.front().room_id;
        } else {
          return m.room_id;
        }
      },
      mutation);
}

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

// JetStream's message id of a Feedback record whose events all carry an
// event_id: the same events retried give the same id, so JetStream drops
// the retry within the stream's duplicate window. FNV-1a over the room and
// the ids (stable across processes and builds, unlike absl::Hash).
std::string MessageId(const std::string& room, const core::Mutation& part) {
  const auto* batch = std::get_if<core::FeedbackBatch>(&part);
  if (batch == nullptr || batch->events.empty()) return "";
  uint64_t h1 = 0xcbf29ce484222325ull, h2 = 0x84222325cbf29ce4ull;
  auto mix = [&](absl::string_view bytes) {
    for (unsigned char c : bytes) {
      h1 = (h1 ^ c) * 0x100000001b3ull;
      h2 = (h2 ^ c) * 0x100000001b3ull + 0x9e3779b97f4a7c15ull;
    }
    h1 = (h1 ^ 0xff) * 0x100000001b3ull;  // A separator no byte forges.
  };
  mix(room);
  for (const core::FeedbackEvent& event : batch->events) {
    if (event.event_id.empty()) return "";
    mix(event.event_id);
  }
  return absl::StrFormat("%s:%d:%016x%016x", room, batch->events.size(), h1,
                         h2);
}

int64_t EventCount(const core::Mutation& part) {
  const auto* batch = std::get_if<core::FeedbackBatch>(&part);
  return batch == nullptr ? 0 : static_cast<int64_t>(batch->events.size());
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
    : options_(std::move(options)), engine_(engine) {
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

  uint64_t seq = 0;
  if (snapshot->has_value()) {
    SnapshotFile::Snapshot& saved = **snapshot;
    if (saved.stream != options_.stream || saved.stream_created != created) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the snapshot in ", options_.data_dir, " is of stream ", saved.stream,
          " created at ", saved.stream_created, ", not of the current stream ",
          options_.stream, " created at ", created, ": remove ", kSnapshotFile,
          " to rebuild from the stream, or copy it from a current replica"));
    }
    absl::StatusOr<store::EngineState> state =
        store::DecodeSnapshot(saved.chunks);
    if (!state.ok()) {
      return absl::DataLossError(absl::StrCat("cluster snapshot at seq ",
                                              saved.seq, ": ",
                                              state.status().message()));
    }
    seq = saved.seq;
    store::RestoreState(*std::move(state), engine_);
  }
  // Records after the snapshot must all still be in the stream.
  if (first_seq > seq + 1) {
    return absl::FailedPreconditionError(absl::StrCat(
        "this replica's snapshot covers the stream up to seq ", seq,
        " but the stream ", options_.stream, " retains records only from seq ",
        first_seq, " (older ones were trimmed by its retention limits): copy ",
        kSnapshotFile, " from a current replica into ", options_.data_dir,
        " and restart"));
  }
  if (seq > last_seq) {
    return absl::FailedPreconditionError(absl::StrCat(
        "this replica's snapshot covers seq ", seq, " but the stream ",
        options_.stream, " ends at seq ", last_seq));
  }
  applied_seq_.store(seq, std::memory_order_release);
  {
    absl::MutexLock lock(&mu_);
    stats_.applied_sequence = seq;
    stats_.last_snapshot_sequence = seq;
    last_delivery_ = absl::Now();
  }
  if (absl::Status s = Subscribe(seq + 1); !s.ok()) return s;
  // Snapshots while catching up, so that a long catch-up is not lost.
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
    absl::FPrintF(stderr,
                  "banditd: cluster replica of stream %s (%s): snapshot at "
                  "seq %d, caught up to seq %d (%d records applied) in %.1f "
                  "ms\n",
                  options_.stream, filter_subject_, seq, applied_sequence(),
                  applied, Ms(elapsed));
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

void NatsCommitter::Submit(core::Mutation mutation, Done done) {
  // Which rooms the mutation touches, in order of first appearance; a
  // Feedback batch is split into one record per room.
  std::vector<std::pair<std::string, core::Mutation>> parts;
  if (auto* batch = std::get_if<core::FeedbackBatch>(&mutation)) {
    std::map<std::string, size_t> index;
    for (core::FeedbackEvent& event : batch->events) {
      auto [it, added] = index.emplace(event.room_id, parts.size());
      if (added) parts.emplace_back(event.room_id, core::FeedbackBatch{});
      std::get<core::FeedbackBatch>(parts[it->second].second)
          .events.push_back(event);
    }
    // The decay clock: wall time, never going back on this replica.
    int64_t now = absl::ToUnixMicros(absl::Now());
    int64_t last = last_logged_micros_.load(std::memory_order_relaxed);
    while (!last_logged_micros_.compare_exchange_weak(
        last, std::max(last, now), std::memory_order_relaxed)) {
    }
    now = std::max(last, now);
    batch->logged_at_micros = now;
    for (auto& part : parts) {
      std::get<core::FeedbackBatch>(part.second).logged_at_micros = now;
    }
  } else {
    parts.emplace_back(RoomOf(mutation), core::Mutation());
  }
  for (const auto& part : parts) {
    if (absl::Status held = CheckRoomHeld(part.first); !held.ok()) {
      std::move(done)(held);
      return;
    }
    if (absl::StatusOr<std::string> subject =
            RoomSubject(options_.subject_prefix, part.first);
        !subject.ok()) {
      std::move(done)(subject.status());
      return;
    }
  }
  if (absl::Status status = engine_->Validate(mutation); !status.ok()) {
    std::move(done)(status);
    return;
  }
  if (parts.empty()) {
    std::move(done)(absl::InvalidArgumentError("events: empty batch"));
    return;
  }
  if (parts.size() == 1) parts.front().second = std::move(mutation);
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) {
      std::move(done)(absl::UnavailableError("server is shutting down"));
      return;
    }
  }
  auto call = std::make_shared<Call>();
  {
    absl::MutexLock lock(&call->mu);
    call->done = std::move(done);
    call->remaining = static_cast<int>(parts.size());
  }
  for (auto& [room, part] : parts) {
    Publish(*RoomSubject(options_.subject_prefix, room),
            store::EncodeMutation(part), MessageId(room, part),
            EventCount(part), call);
  }
}

void NatsCommitter::Publish(std::string subject, std::string record,
                            std::string msg_id, int64_t events,
                            std::shared_ptr<Call> call) {
  const uint64_t id = next_id_.fetch_add(1, std::memory_order_relaxed);
  const std::string origin = absl::StrCat(origin_, "-", id);
  {
    absl::MutexLock lock(&mu_);
    InFlight& entry = in_flight_[id];
    entry.call = call;
    entry.events = events;
    entry.published = absl::Now();
  }
  natsMsg* msg = nullptr;
  natsStatus s = natsMsg_Create(&msg, subject.c_str(), nullptr, record.data(),
                                static_cast<int>(record.size()));
  if (s == NATS_OK) s = natsMsgHeader_Set(msg, kOriginHeader, origin.c_str());
  if (s == NATS_OK) {
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = absl::ToInt64Milliseconds(options_.publish_timeout);
    if (!msg_id.empty()) po.MsgId = msg_id.c_str();
    s = js_PublishMsgAsync(js_, &msg, &po);
  }
  if (s == NATS_OK) return;  // The library owns msg now.
  natsMsg_Destroy(msg);
  const absl::Status error = NatsError("publish to JetStream failed", s);
  std::vector<Completion> done;
  {
    absl::MutexLock lock(&mu_);
    auto it = in_flight_.find(id);
    if (it != in_flight_.end()) {
      done.emplace_back(std::move(it->second.call), error);
      in_flight_.erase(it);
    }
  }
  Complete(std::move(done));
}

void NatsCommitter::Complete(std::vector<Completion> completions) {
  for (auto& [call, result] : completions) {
    Done done;
    absl::StatusOr<core::ApplyResult> outcome;
    {
      // Parts of one call complete on the ack and the consumer threads.
      absl::MutexLock lock(&call->mu);
      if (result.ok()) {
        call->sum.applied_events += result->applied_events;
        call->sum.duplicate_events += result->duplicate_events;
        call->sum.sequence = std::max(call->sum.sequence, result->sequence);
      } else if (call->error.ok()) {
        call->error = result.status();
      }
      if (--call->remaining > 0) continue;
      done = std::move(call->done);
      if (call->error.ok()) {
        outcome = call->sum;
      } else {
        outcome = call->error;
      }
    }
    std::move(done)(std::move(outcome));
  }
}

void NatsCommitter::OnAck(jsCtx* js, natsMsg* msg, jsPubAck* pa,
                          jsPubAckErr* pae, void* closure) {
  static_cast<NatsCommitter*>(closure)->HandleAck(msg, pa, pae);
  natsMsg_Destroy(msg);
}

namespace {

// The call id in a record's origin header when this replica published it.
std::optional<uint64_t> OwnId(natsMsg* msg, const std::string& origin) {
  const char* value = nullptr;
  if (natsMsgHeader_Get(msg, kOriginHeader, &value) != NATS_OK ||
      value == nullptr) {
    return std::nullopt;
  }
  absl::string_view v(value);
  if (v.size() <= origin.size() + 1 || v.substr(0, origin.size()) != origin ||
      v[origin.size()] != '-') {
    return std::nullopt;
  }
  uint64_t id = 0;
  if (!absl::SimpleAtoi(v.substr(origin.size() + 1), &id)) return std::nullopt;
  return id;
}

}  // namespace

void NatsCommitter::HandleAck(natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae) {
  const std::optional<uint64_t> id = OwnId(msg, origin_);
  if (!id.has_value()) return;
  std::vector<Completion> done;
  absl::Time published;
  {
    absl::MutexLock lock(&mu_);
    auto it = in_flight_.find(*id);
    if (it == in_flight_.end()) return;
    InFlight& entry = it->second;
    published = entry.published;
    if (pa != nullptr && pa->Duplicate) {
      // JetStream already holds these events at pa->Sequence (a retry).
      ++stats_.duplicate_publishes;
      entry.acked = true;
      entry.acked_at = absl::Now();
      entry.duplicate = true;
      entry.seq = pa->Sequence;
      core::ApplyResult result;
      result.duplicate_events = entry.events;
      result.sequence = pa->Sequence;
      entry.result = result;
      duplicate_waiters_.emplace(entry.seq, *id);
      CollectDuplicatesDone(&done);
    } else if (pa != nullptr) {
      entry.acked = true;
      entry.acked_at = absl::Now();
      entry.seq = pa->Sequence;
      if (entry.applied) {
        done.emplace_back(std::move(entry.call), std::move(entry.result));
        in_flight_.erase(it);
      }
    } else {
      std::string text = "JetStream did not acknowledge the publish";
      if (pae != nullptr) {
        absl::StrAppend(&text, ": ",
                        pae->ErrText != nullptr ? pae->ErrText
                                                : natsStatus_GetText(pae->Err));
      }
      absl::StrAppend(&text,
                      "; it may still be applied: retry with the same "
                      "event_ids");
      done.emplace_back(std::move(entry.call),
                        absl::UnavailableError(std::move(text)));
      in_flight_.erase(it);
    }
  }
  if (pa != nullptr && options_.metrics != nullptr) {
    options_.metrics->RecordCommit(absl::Now() - published, 1);
  }
  Complete(std::move(done));
}

void NatsCommitter::OnMessage(natsConnection* nc, natsSubscription* sub,
                              natsMsg* msg, void* closure) {
  static_cast<NatsCommitter*>(closure)->HandleMessage(msg);
  natsMsg_Destroy(msg);
}

void NatsCommitter::HandleMessage(natsMsg* msg) {
  jsMsgMetaData* meta = nullptr;
  if (natsMsg_GetMetaData(&meta, msg) != NATS_OK) return;
  const uint64_t seq = meta->Sequence.Stream;
  const uint64_t pending = meta->NumPending;
  const int64_t stored_ns = meta->Timestamp;
  jsMsgMetaData_Destroy(meta);
  ApplyRecord(seq, pending, stored_ns, msg);
}

void NatsCommitter::ApplyRecord(uint64_t seq, std::optional<uint64_t> pending,
                                int64_t stored_ns, natsMsg* msg) {
  absl::StatusOr<core::ApplyResult> result;
  {
    absl::MutexLock lock(&apply_mu_);
    // The ordered consumer and the direct fetcher both deliver records in
    // order; whichever comes second skips.
    const uint64_t previous = applied_sequence();
    if (seq <= previous) return;
    // Without a filter every sequence is for this replica: a jump means the
    // stream dropped records (retention) before this replica applied them.
    if (options_.rooms_filter.empty() && previous > 0 && seq != previous + 1) {
      absl::FPrintF(stderr,
                    "banditd: stream records %d to %d were removed (retention "
                    "limits) before this replica applied them; its state now "
                    "differs from its peers': copy cluster.db from a current "
                    "replica and restart\n",
                    previous + 1, seq - 1);
      absl::MutexLock stats_lock(&mu_);
      stats_.skipped_records += static_cast<int64_t>(seq - previous - 1);
    }
    absl::StatusOr<core::Mutation> mutation = store::DecodeMutation(
        std::string_view(natsMsg_GetData(msg),
                         static_cast<size_t>(natsMsg_GetDataLength(msg))));
    if (!mutation.ok()) {
      // Every replica skips the same record the same way.
      absl::FPrintF(stderr, "banditd: stream record %d skipped: %s\n", seq,
                    mutation.status().ToString());
      result = mutation.status();
    } else {
      result = engine_->Apply(*mutation);
      if (!std::holds_alternative<core::FeedbackBatch>(*mutation)) {
        ++structure_epoch_;
      }
    }
    applied_seq_.store(seq, std::memory_order_release);
  }
  const absl::Time now = absl::Now();
  std::vector<Completion> done;
  ReadDone reads;
  {
    absl::MutexLock lock(&mu_);
    stats_.applied_sequence = seq;
    if (pending.has_value()) {
      stats_.pending_records = *pending;
    } else if (stats_.pending_records > 0) {
      --stats_.pending_records;
    }
    stats_.apply_lag = now - absl::FromUnixNanos(stored_ns);
    ++stats_.applied_records;
    if (!result.ok()) ++stats_.rejected_records;
    ++records_since_snapshot_;
    last_delivery_ = now;
    if (const std::optional<uint64_t> id = OwnId(msg, origin_)) {
      auto it = in_flight_.find(*id);
      if (it != in_flight_.end()) {
        InFlight& entry = it->second;
        entry.applied = true;
        entry.result = std::move(result);
        if (entry.result.ok()) entry.result->sequence = seq;
        if (entry.acked) {
          done.emplace_back(std::move(entry.call), std::move(entry.result));
          in_flight_.erase(it);
        }
      }
    }
    CollectDuplicatesDone(&done);
    CollectReadsDone(std::nullopt, &reads);
  }
  Complete(std::move(done));
  for (auto& [read, status] : reads) std::move(read)(std::move(status));
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
    // In-flight calls get until their timeouts to finish.
    auto drained = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return in_flight_.empty();
    };
    mu_.AwaitWithTimeout(absl::Condition(&drained),
                         options_.publish_timeout + absl::Seconds(1));
  }
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
  std::vector<Completion> failed;
  ReadDone reads;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [seq, waiter] : read_waiters_) {
      reads.emplace_back(
          std::move(waiter.done),
          absl::UnavailableError("min_applied_sequence: the server is shutting "
                                 "down; read from another replica"));
    }
    read_waiters_.clear();
    for (auto& [id, entry] : in_flight_) {
      failed.emplace_back(
          std::move(entry.call),
          absl::UnavailableError(
              entry.acked
                  ? "stored in the stream, but the server shut down before "
                    "applying it"
                  : "server shut down before JetStream acknowledged the "
                    "publish; it may still be applied: retry with the same "
                    "event_ids"));
    }
    in_flight_.clear();
  }
  Complete(std::move(failed));
  for (auto& [read, status] : reads) std::move(read)(std::move(status));
  // A final snapshot, so that a restart replays little.
  if (maintenance_.joinable()) {
    {
      absl::MutexLock lock(&mu_);
      consuming_ = false;
    }
    maintenance_.join();
    if (fetcher_.joinable()) fetcher_.join();
    if (absl::Status s = TakeSnapshot(); !s.ok()) {
      absl::FPrintF(stderr, "banditd: final cluster snapshot failed: %s\n",
                    s.ToString());
    }
  } else {
    absl::MutexLock lock(&mu_);
    consuming_ = false;
  }
  if (fetcher_.joinable()) fetcher_.join();
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
