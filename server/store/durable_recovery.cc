// DurableCommitter's recovery at Open: the latest snapshot, then the log
// after it, read and decoded on one thread while this one applies.

#include <algorithm>
#include <cstdio>
#include <deque>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "server/log/log.h"
#include "server/store/durable_committer.h"
#include "server/store/log_codec.h"
#include "server/store/snapshot_codec.h"

namespace banditd::store {
namespace {

int64_t EventCount(const core::Mutation& mutation) {
  if (const auto* batch = std::get_if<core::FeedbackBatch>(&mutation)) {
    return static_cast<int64_t>(batch->events.size());
  }
  return 1;
}

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

}  // namespace

absl::Status DurableCommitter::Recover() {
  const absl::Time start = absl::Now();
  absl::StatusOr<std::optional<StoredSnapshot>> snapshot =
      log_->LoadLatestSnapshot();
  if (!snapshot.ok()) return snapshot.status();
  int64_t seq = 0;
  if (snapshot->has_value()) {
    absl::StatusOr<EngineState> state = DecodeSnapshot((*snapshot)->chunks);
    if (!state.ok()) {
      return absl::DataLossError(absl::StrCat("snapshot at seq ",
                                              (*snapshot)->seq, ": ",
                                              state.status().message()));
    }
    seq = (*snapshot)->seq;
    recovery_.snapshot_seq = seq;
    recovery_.snapshot_rooms = static_cast<int64_t>(state->rooms.size());
    recovery_.snapshot_event_ids =
        static_cast<int64_t>(state->event_id_count());
    snapshot->reset();  // Frees the chunks before the state is built.
    RestoreState(*std::move(state), engine_);
  }
  recovery_.snapshot_load_time = absl::Now() - start;

  // A reader thread reads and decodes records while this one applies them.
  struct Decoded {
    int64_t seq;
    absl::StatusOr<core::Mutation> mutation;
  };
  absl::Mutex queue_mu;
  std::deque<std::vector<Decoded>> queue;  // Guarded by queue_mu.
  bool reader_done = false;                // Guarded by queue_mu.
  bool abandon = false;                    // Guarded by queue_mu.
  absl::Status read_status;                // Set before reader_done.
  std::thread reader([&] {
    std::vector<Decoded> chunk;
    int64_t chunk_events = 0;
    auto push = [&]() -> bool {
      absl::MutexLock lock(&queue_mu);
      auto room = [&] { return queue.size() < 8 || abandon; };
      queue_mu.Await(absl::Condition(&room));
      if (abandon) return false;
      queue.push_back(std::move(chunk));
      chunk.clear();
      chunk_events = 0;
      return true;
    };
    absl::Status status =
        log_->Read(seq, [&](int64_t record_seq, std::string_view record) {
          chunk.push_back({record_seq, DecodeMutation(record)});
          if (chunk.back().mutation.ok()) {
            chunk_events += EventCount(*chunk.back().mutation);
          }
          if ((chunk.size() >= 1024 || chunk_events >= 65536) && !push()) {
            return absl::CancelledError("recovery stopped");
          }
          return absl::OkStatus();
        });
    if (status.ok() && !chunk.empty()) push();
    absl::MutexLock lock(&queue_mu);
    read_status = status;
    reader_done = true;
  });

  int64_t expected = seq + 1;
  absl::Status status;
  while (status.ok()) {
    std::vector<Decoded> chunk;
    {
      absl::MutexLock lock(&queue_mu);
      auto ready = [&] { return !queue.empty() || reader_done; };
      queue_mu.Await(absl::Condition(&ready));
      if (queue.empty()) break;
      chunk = std::move(queue.front());
      queue.pop_front();
    }
    for (Decoded& d : chunk) {
      if (d.seq != expected) {
        status = absl::DataLossError(absl::StrCat(
            "log has a gap: expected record ", expected, ", found ", d.seq));
        break;
      }
      if (!d.mutation.ok()) {
        status = absl::DataLossError(absl::StrCat(
            "log record ", d.seq, ": ", d.mutation.status().message()));
        break;
      }
      recovery_.events_replayed += EventCount(*d.mutation);
      if (const auto* batch = std::get_if<core::FeedbackBatch>(&*d.mutation)) {
        last_logged_micros_ =
            std::max(last_logged_micros_, batch->logged_at_micros);
      }
      // A record that failed to apply when it was first committed fails
      // the same way now: Apply is deterministic.
      if (!engine_->Apply(*d.mutation).ok()) ++recovery_.records_rejected;
      ++recovery_.records_replayed;
      ++expected;
    }
  }
  {
    absl::MutexLock lock(&queue_mu);
    abandon = true;
  }
  reader.join();
  if (status.ok()) status = read_status;
  if (!status.ok()) return status;
  if (expected - 1 != log_->last_seq()) {
    return absl::DataLossError(absl::StrCat("log ends at record ", expected - 1,
                                            " but the store says ",
                                            log_->last_seq()));
  }
  recovery_.elapsed = absl::Now() - start;
  {
    absl::MutexLock lock(&mu_);
    stats_.last_seq = log_->last_seq();
    stats_.last_snapshot_seq = seq;
  }
  snapshotter_.Applied(recovery_.records_replayed);
  if (options_.metrics != nullptr) {
    options_.metrics->RecordRecovery(recovery_.elapsed,
                                     recovery_.records_replayed);
  }
  if (options_.log_recovery) {
    SPDLOG_INFO(
        "recovered from {}: snapshot at seq {} ({} rooms, {} event ids, "
        "loaded in {:.1f} ms) + {} log records ({} events, {} rejected as "
        "when first applied) in {:.1f} ms; log ends at seq {}",
        options_.data_dir, recovery_.snapshot_seq, recovery_.snapshot_rooms,
        recovery_.snapshot_event_ids, Ms(recovery_.snapshot_load_time),
        recovery_.records_replayed, recovery_.events_replayed,
        recovery_.records_rejected, Ms(recovery_.elapsed), log_->last_seq());
  }
  return absl::OkStatus();
}

}  // namespace banditd::store
