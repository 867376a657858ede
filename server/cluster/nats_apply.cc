// NatsCommitter's apply loop: the ordered consumer (and the direct
// fetcher) deliver the stream's records in order; each is applied to the
// engine under apply_mu_, then the InFlightTable answers the calls and
// reads it completes. The maintenance thread expires what waited too long.

#include <nats/nats.h>

#include <cstdio>
#include <optional>
#include <string_view>
#include <utility>
#include <variant>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "server/cluster/nats_committer.h"
#include "server/log/log.h"
#include "server/store/log_codec.h"

namespace banditd::cluster {

void NatsCommitter::OnMessage(natsConnection* nc, natsSubscription* sub,
                              natsMsg* msg, void* closure) {
  auto* stream = static_cast<Stream*>(closure);
  stream->owner->HandleMessage(*stream, msg);
  natsMsg_Destroy(msg);
}

void NatsCommitter::HandleMessage(Stream& stream, natsMsg* msg) {
  jsMsgMetaData* meta = nullptr;
  if (natsMsg_GetMetaData(&meta, msg) != NATS_OK) return;
  const uint64_t seq = meta->Sequence.Stream;
  const uint64_t pending = meta->NumPending;
  const int64_t stored_ns = meta->Timestamp;
  jsMsgMetaData_Destroy(meta);
  if (options_.before_consumer_apply_for_testing) {
    options_.before_consumer_apply_for_testing(seq);
  }
  ApplyRecord(stream, seq, pending, stored_ns, msg);
}

void NatsCommitter::ApplyRecord(Stream& stream, uint64_t seq,
                                std::optional<uint64_t> pending,
                                int64_t stored_ns, natsMsg* msg) {
  std::optional<InFlightTable::Outcomes> answers;
  bool rejected = false;
  {
    absl::MutexLock lock(&apply_mu_);
    // The ordered consumer and the direct fetcher both deliver records in
    // order; whichever comes second skips.
    const uint64_t previous = stream.applied();
    if (seq <= previous) return;
    // Without a filter every sequence is for this replica: a jump means the
    // stream dropped records (retention) before this replica applied them.
    if (options_.rooms_filter.empty() && previous > 0 && seq != previous + 1) {
      SPDLOG_ERROR(
          "stream {} records {} to {} were removed (retention limits) before "
          "this replica applied them; its state now differs from its peers' "
          "and it saves no more snapshots: restart it, it then starts from "
          "the published snapshot (or copy cluster.db from a current "
          "replica)",
          stream.name, previous + 1, seq - 1);
      diverged_.store(true, std::memory_order_release);
      absl::MutexLock stats_lock(&mu_);
      stats_.skipped_records += static_cast<int64_t>(seq - previous - 1);
    }
    absl::StatusOr<core::ApplyResult> result;
    absl::StatusOr<core::Mutation> mutation = store::DecodeMutation(
        std::string_view(natsMsg_GetData(msg),
                         static_cast<size_t>(natsMsg_GetDataLength(msg))));
    if (!mutation.ok()) {
      // Every replica skips the same record the same way.
      SPDLOG_ERROR("stream {} record {} skipped: {}", stream.name, seq,
                   mutation.status().ToString());
      result = mutation.status();
    } else {
      // Its ids go to this stream's event-id window (FeedbackBatch::stream).
      if (auto* batch = std::get_if<core::FeedbackBatch>(&*mutation)) {
        batch->stream = stream.index;
      }
      result = engine_->Apply(*mutation);
      if (!std::holds_alternative<core::FeedbackBatch>(*mutation)) {
        structure_epoch_.fetch_add(1, std::memory_order_acq_rel);
      }
    }
    stream.applied_seq.store(seq, std::memory_order_release);
    rejected = !result.ok();
    // Reported under apply_mu_, so in sequence order whichever of the
    // consumer and the fetcher applied it; answered after.
    answers =
        stream.in_flight.RecordApplied(seq, OwnId(msg), std::move(result));
  }
  const absl::Time now = absl::Now();
  {
    absl::MutexLock lock(&mu_);
    StreamStats& mine = stats_.streams[stream.index];
    mine.applied_sequence = seq;
    if (pending.has_value()) {
      mine.pending_records = *pending;
    } else if (mine.pending_records > 0) {
      --mine.pending_records;
    }
    mine.apply_lag = now - absl::FromUnixNanos(stored_ns);
    ++stats_.applied_records;
    if (rejected) ++stats_.rejected_records;
    last_delivery_[stream.index] = now;
  }
  snapshotter_.Applied(1);
  // Completes this process's call for the record, and what waited for seq.
  std::move(*answers).Run();
}

void NatsCommitter::MaintenanceLoop() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !consuming_;
      };
      mu_.AwaitWithTimeout(absl::Condition(&stop), absl::Milliseconds(100));
      if (!consuming_) return;
      // Idle and caught up: nothing lags.
      for (size_t i = 0; i < stats_.streams.size(); ++i) {
        if (stats_.streams[i].pending_records == 0 &&
            absl::Now() - last_delivery_[i] > absl::Seconds(1)) {
          stats_.streams[i].apply_lag = absl::ZeroDuration();
        }
      }
    }
    for (const auto& stream : streams_) stream->in_flight.Expire(absl::Now());
  }
}

}  // namespace banditd::cluster
