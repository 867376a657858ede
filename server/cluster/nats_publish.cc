// NatsCommitter's publish path: Submit splits a mutation into one record
// per room, publishes each to its room's subject with a JetStream message id
// (retries of the same events are dropped by JetStream) and an origin
// header (so that this replica's apply loop finds the call), and hands the
// acknowledgements to the InFlightTable. A record not acknowledged in time
// is published again with the same message id (RepublishLoop): JetStream
// stores one copy, so a call in flight to a failed node is answered once
// the cluster has recovered, within the publish timeout.
//
// Threads: Submit runs on gRPC threads, the acks on the client library's
// ack thread (which must never publish: with its pending publishes at the
// limit, a publish there would wait for acks only it delivers), re-sends on
// the republisher thread.

#include <nats/nats.h>

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "server/cluster/nats_committer.h"
#include "server/cluster/nats_status.h"
#include "server/log/log.h"
#include "server/store/log_codec.h"

namespace banditd::cluster {

namespace {

// The header that names the replica and call that published a record, so
// that the replica's consumer can hand the Apply result to the call.
constexpr char kOriginHeader[] = "Banditd-Origin";
// Marks a re-sent copy (any value), whose ack frees a re-send slot.
constexpr char kResendHeader[] = "Banditd-Resend";
// The client library's limit of pending asynchronous publishes
// (jsOptions.PublishAsync.MaxPending, nats_setup.cc); re-sends use at most
// a quarter of it.
constexpr int64_t kMaxResendsPending = 16384 / 4;

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

// Wraps `done` to release the memory budget reserved at admission
// (Engine::Validate) when the call is answered: by then this replica has
// applied the records (their bytes are accounted) or the call failed. Until
// then, what waits for JetStream counts against --memory_budget_bytes.
store::Committer::Done HoldingReservation(const core::Engine* engine,
                                          int64_t reserved,
                                          store::Committer::Done done) {
  if (reserved == 0) return done;
  return [engine, reserved, done = std::move(done)](
             absl::StatusOr<core::ApplyResult> result) mutable {
    engine->ReleaseReserved(reserved);
    std::move(done)(std::move(result));
  };
}

}  // namespace

void NatsCommitter::Submit(core::Mutation mutation, Done done) {
  Admit(std::move(mutation), std::move(done),
        options_.write_catch_up_timeout > absl::ZeroDuration());
}

void NatsCommitter::Admit(core::Mutation mutation, Done done,
                          bool may_catch_up) {
  // Which rooms the mutation touches, in order of first appearance; a
  // Feedback batch is split into one record per room.
  std::vector<std::pair<std::string, core::Mutation>> parts;
  if (auto* batch = std::get_if<core::FeedbackBatch>(&mutation);
      batch != nullptr && batch->source.has_value()) {
    SubmitSourced(std::move(*batch), std::move(done), may_catch_up);
    return;
  }
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
  std::vector<Stream*> streams;
  for (const auto& part : parts) {
    if (absl::Status held = CheckRoomHeld(part.first); !held.ok()) {
      std::move(done)(held);
      return;
    }
    Stream* stream = streams_[StreamOf(part.first, options_.streams)].get();
    if (absl::StatusOr<std::string> subject =
            RoomSubject(stream->prefix, part.first);
        !subject.ok()) {
      std::move(done)(subject.status());
      return;
    }
    streams.push_back(stream);
  }
  int64_t reserved = 0;
  if (absl::Status status = engine_->Validate(mutation, &reserved);
      !status.ok()) {
    // A room or arm unknown here may be one created through another replica
    // that this one has not applied yet.
    if (may_catch_up && absl::IsNotFound(status)) {
      std::vector<Stream*> distinct = streams;
      std::sort(distinct.begin(), distinct.end());
      distinct.erase(std::unique(distinct.begin(), distinct.end()),
                     distinct.end());
      CatchUpThenAdmit(std::move(mutation), std::move(distinct),
                       std::move(done));
      return;
    }
    std::move(done)(status);
    return;
  }
  done = HoldingReservation(engine_, reserved, std::move(done));
  if (parts.empty()) {
    std::move(done)(absl::InvalidArgumentError("events: empty batch"));
    return;
  }
  if (parts.size() == 1) parts.front().second = std::move(mutation);
  bool stopping;
  {
    absl::MutexLock lock(&mu_);
    stopping = stopping_;
  }
  if (stopping) {
    std::move(done)(absl::UnavailableError("server is shutting down"));
    return;
  }
  // Sequences of different streams do not compare: a call whose records
  // went to several reports none (0), and reads cannot wait for it.
  if (std::any_of(streams.begin(), streams.end(),
                  [&](const Stream* s) { return s != streams.front(); })) {
    done = [done = std::move(done)](
               absl::StatusOr<core::ApplyResult> result) mutable {
      if (result.ok()) result->sequence = 0;
      std::move(done)(std::move(result));
    };
  }
  std::shared_ptr<InFlightTable::Call> call =
      InFlightTable::NewCall(std::move(done), static_cast<int>(parts.size()));
  for (size_t i = 0; i < parts.size(); ++i) {
    auto& [room, part] = parts[i];
    Publish(*streams[i], *RoomSubject(streams[i]->prefix, room),
            store::EncodeMutation(part), MessageId(room, part),
            EventCount(part), call, /*resendable=*/true);
  }
}

void NatsCommitter::SubmitSourced(core::FeedbackBatch batch, Done done,
                                  bool may_catch_up) {
  // The partition's position must move in the same record as the counts,
  // so a consumed batch is never split by room: one record on a subject of
  // its own, which every replica consumes (sharded replicas cannot hold it).
  if (!options_.rooms_filter.empty()) {
    std::move(done)(absl::FailedPreconditionError(
        "source: Kafka ingest needs every replica to hold every room "
        "(--cluster_rooms must be empty)"));
    return;
  }
  // One record over many rooms has no one stream to go to.
  if (streams_.size() > 1) {
    std::move(done)(absl::FailedPreconditionError(
        "source: Kafka ingest needs one stream (--cluster_streams=1): its "
        "batches span rooms, which several streams would order differently"));
    return;
  }
  int64_t now = absl::ToUnixMicros(absl::Now());
  int64_t last = last_logged_micros_.load(std::memory_order_relaxed);
  while (!last_logged_micros_.compare_exchange_weak(
      last, std::max(last, now), std::memory_order_relaxed)) {
  }
  batch.logged_at_micros = std::max(last, now);
  int64_t reserved = 0;
  if (absl::Status status = engine_->Validate(batch, &reserved); !status.ok()) {
    if (may_catch_up && absl::IsNotFound(status)) {
      CatchUpThenAdmit(std::move(batch), {streams_.front().get()},
                       std::move(done));
      return;
    }
    std::move(done)(status);
    return;
  }
  done = HoldingReservation(engine_, reserved, std::move(done));
  bool stopping;
  {
    absl::MutexLock lock(&mu_);
    stopping = stopping_;
  }
  if (stopping) {
    std::move(done)(absl::UnavailableError("server is shutting down"));
    return;
  }
  std::shared_ptr<InFlightTable::Call> call =
      InFlightTable::NewCall(std::move(done), 1);
  // No message id: the engine's fencing drops a range that already landed.
  Publish(*streams_.front(),
          absl::StrCat(options_.subject_prefix, ".", kSourcedSubject),
          store::EncodeMutation(batch), "", EventCount(batch), call,
          /*resendable=*/false);
}

void NatsCommitter::Publish(Stream& stream, std::string subject,
                            std::string record, std::string msg_id,
                            int64_t events,
                            const std::shared_ptr<InFlightTable::Call>& call,
                            bool resendable) {
  // A re-sendable record keeps its bytes until acknowledged, and needs a
  // message id even without event ids, so that JetStream stores it once.
  std::shared_ptr<const InFlightTable::Record> copy;
  if (resendable && options_.republish_interval > absl::ZeroDuration()) {
    if (msg_id.empty()) {
      msg_id = absl::StrCat(origin_, "-m", next_msg_id_.fetch_add(1));
    }
    copy = std::make_shared<const InFlightTable::Record>(InFlightTable::Record{
        std::move(subject), std::move(record), std::move(msg_id)});
  }
  const std::optional<uint64_t> id =
      stream.in_flight.Add(call, events, absl::Now(), copy);
  if (!id.has_value()) return;  // Shutting down: the call failed.
  absl::Status status =
      PublishCopy("publish to JetStream failed", copy ? copy->subject : subject,
                  copy ? copy->data : record, copy ? copy->msg_id : msg_id, *id,
                  options_.publish_timeout, /*resend=*/false);
  if (!status.ok()) stream.in_flight.Fail(*id, std::move(status));
}

absl::Status NatsCommitter::PublishCopy(const char* what,
                                        const std::string& subject,
                                        const std::string& data,
                                        const std::string& msg_id, uint64_t id,
                                        absl::Duration max_wait, bool resend) {
  const std::string origin = absl::StrCat(origin_, "-", id);
  natsMsg* msg = nullptr;
  natsStatus s = natsMsg_Create(&msg, subject.c_str(), nullptr, data.data(),
                                static_cast<int>(data.size()));
  if (s == NATS_OK) s = natsMsgHeader_Set(msg, kOriginHeader, origin.c_str());
  if (s == NATS_OK && resend) s = natsMsgHeader_Set(msg, kResendHeader, "1");
  if (s == NATS_OK) {
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = std::max<int64_t>(1, absl::ToInt64Milliseconds(max_wait));
    if (!msg_id.empty()) po.MsgId = msg_id.c_str();
    s = js_PublishMsgAsync(js_, &msg, &po);
  }
  if (s == NATS_OK) return absl::OkStatus();  // The library owns msg now.
  natsMsg_Destroy(msg);
  return NatsError(what, s);
}

void NatsCommitter::RepublishLoop() {
  // A quarter interval late at most; idle, this wakes 10 times a second.
  const absl::Duration tick =
      std::clamp(options_.republish_interval / 4, absl::Milliseconds(10),
                 absl::Milliseconds(100));
  // Re-sends are logged at most once a second.
  int64_t unlogged = 0;
  absl::Time logged = absl::InfinitePast();
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !republishing_;
      };
      mu_.AwaitWithTimeout(absl::Condition(&stop), tick);
      if (!republishing_) return;
    }
    for (const auto& stream : streams_) {
      const int64_t room =
          kMaxResendsPending - resends_pending_.load(std::memory_order_relaxed);
      if (room <= 0) break;
      for (const InFlightTable::Resend& resend : stream->in_flight.TakeResends(
               absl::Now(), static_cast<size_t>(room))) {
        ++unlogged;
        resends_pending_.fetch_add(1, std::memory_order_relaxed);
        absl::Status status = PublishCopy(
            "re-publish to JetStream failed", resend.record->subject,
            resend.record->data, resend.record->msg_id, resend.id,
            resend.max_wait, /*resend=*/true);
        if (status.ok()) continue;
        resends_pending_.fetch_sub(1, std::memory_order_relaxed);
        stream->in_flight.CopyFailed(resend.id, std::move(status));
      }
    }
    if (unlogged > 0 && absl::Now() - logged >= absl::Seconds(1)) {
      SPDLOG_WARN(
          "re-published {} unacknowledged record copies (--cluster_"
          "republish_interval={}): the NATS node or the stream leader "
          "stopped answering; JetStream stores each record once",
          unlogged, absl::FormatDuration(options_.republish_interval));
      unlogged = 0;
      logged = absl::Now();
    }
  }
}

NatsCommitter::Stream* NatsCommitter::StreamOfSubject(
    absl::string_view subject) {
  // Prefixes differ before their first ".": "banditd.events.x" is never on
  // "banditd.events_1".
  for (const auto& stream : streams_) {
    if (subject.size() > stream->prefix.size() &&
        subject.substr(0, stream->prefix.size()) == stream->prefix &&
        subject[stream->prefix.size()] == '.') {
      return stream.get();
    }
  }
  return nullptr;
}

std::optional<uint64_t> NatsCommitter::OwnId(natsMsg* msg) const {
  const std::string& origin = origin_;
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

void NatsCommitter::OnAck(jsCtx* js, natsMsg* msg, jsPubAck* pa,
                          jsPubAckErr* pae, void* closure) {
  static_cast<NatsCommitter*>(closure)->HandleAck(msg, pa, pae);
  natsMsg_Destroy(msg);
}

void NatsCommitter::HandleAck(natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae) {
  const char* resend_mark = nullptr;
  const bool resend =
      natsMsgHeader_Get(msg, kResendHeader, &resend_mark) == NATS_OK;
  if (resend) resends_pending_.fetch_sub(1, std::memory_order_relaxed);
  const std::optional<uint64_t> id = OwnId(msg);
  if (!id.has_value()) return;
  const char* subject = natsMsg_GetSubject(msg);
  Stream* stream = subject == nullptr ? nullptr : StreamOfSubject(subject);
  if (stream == nullptr) return;
  InFlightTable& in_flight = stream->in_flight;
  if (pa == nullptr) {
    std::string text = "JetStream did not acknowledge the publish";
    if (pae != nullptr) {
      absl::StrAppend(&text, ": ",
                      pae->ErrText != nullptr ? pae->ErrText
                                              : natsStatus_GetText(pae->Err));
    }
    absl::StrAppend(&text,
                    "; it may still be applied: retry with the same "
                    "event_ids");
    // Fails the call unless another copy is still pending.
    in_flight.CopyFailed(*id, absl::UnavailableError(std::move(text)));
    return;
  }
  // A duplicate: JetStream already holds these events at pa->Sequence (a
  // retry, or an earlier copy of a re-sent record); the call is answered
  // once that record is applied here. Counted before: Acked may answer the
  // call at once. Re-sent copies are counted as republished records.
  if (pa->Duplicate && !resend) {
    absl::MutexLock lock(&mu_);
    ++stats_.duplicate_publishes;
  }
  const std::optional<absl::Time> published =
      in_flight.Acked(*id, pa->Sequence, pa->Duplicate, absl::Now());
  if (!published.has_value()) return;
  if (options_.metrics != nullptr) {
    options_.metrics->RecordCommit(absl::Now() - *published, 1);
  }
}

}  // namespace banditd::cluster
