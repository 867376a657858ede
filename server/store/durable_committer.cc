#include "server/store/durable_committer.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/types/span.h"
#include "server/store/log_codec.h"
#include "server/store/sqlite_log_store.h"

namespace banditd::store {
namespace {

int64_t EventCount(const core::Mutation& mutation) {
  if (const auto* batch = std::get_if<core::FeedbackBatch>(&mutation)) {
    return static_cast<int64_t>(batch->events.size());
  }
  return 1;
}

bool IsStructural(const core::Mutation& mutation) {
  return !std::holds_alternative<core::FeedbackBatch>(mutation);
}

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

}  // namespace

absl::StatusOr<std::unique_ptr<DurableCommitter>> DurableCommitter::Open(
    Options options, core::Engine* engine) {
  std::error_code error;
  std::filesystem::create_directories(options.data_dir, error);
  if (error) {
    return absl::UnavailableError(absl::StrCat("cannot create data directory ",
                                               options.data_dir, ": ",
                                               error.message()));
  }
  SqliteLogStore::Options store_options;
  store_options.path =
      (std::filesystem::path(options.data_dir) / kDatabaseFile).string();
  store_options.sync_every_commit = options.durability == Durability::kSync;
  store_options.max_page_count = options.max_page_count;
  store_options.verify_on_open = options.verify_on_open;
  absl::StatusOr<std::unique_ptr<SqliteLogStore>> log =
      SqliteLogStore::Open(std::move(store_options));
  if (!log.ok()) return log.status();
  return Create(std::move(options), *std::move(log), engine);
}

absl::StatusOr<std::unique_ptr<DurableCommitter>> DurableCommitter::Create(
    Options options, std::unique_ptr<LogStore> log, core::Engine* engine) {
  std::unique_ptr<DurableCommitter> committer(
      new DurableCommitter(std::move(options), std::move(log), engine));
  if (absl::Status status = committer->Recover(); !status.ok()) {
    return status;
  }
  committer->writer_ = std::thread([c = committer.get()] { c->WriterLoop(); });
  committer->snapshotter_ =
      std::thread([c = committer.get()] { c->SnapshotLoop(); });
  return committer;
}

DurableCommitter::DurableCommitter(Options options,
                                   std::unique_ptr<LogStore> log,
                                   core::Engine* engine)
    : options_(std::move(options)), log_(std::move(log)), engine_(engine) {}

DurableCommitter::~DurableCommitter() { Shutdown(); }

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
        static_cast<int64_t>(state->event_ids.size());
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
    records_since_snapshot_ = recovery_.records_replayed;
  }
  if (options_.metrics != nullptr) {
    options_.metrics->RecordRecovery(recovery_.elapsed,
                                     recovery_.records_replayed);
  }
  if (options_.log_recovery) {
    absl::FPrintF(
        stderr,
        "banditd: recovered from %s: snapshot at seq %d (%d rooms, %d event "
        "ids, loaded in %.1f ms) + %d log records (%d events, %d rejected "
        "as when first applied) in %.1f ms; log ends at seq %d\n",
        options_.data_dir, recovery_.snapshot_seq, recovery_.snapshot_rooms,
        recovery_.snapshot_event_ids, Ms(recovery_.snapshot_load_time),
        recovery_.records_replayed, recovery_.events_replayed,
        recovery_.records_rejected, Ms(recovery_.elapsed), log_->last_seq());
  }
  return absl::OkStatus();
}

void DurableCommitter::Submit(core::Mutation mutation, Done done) {
  // Validating here, on the caller's thread, keeps that work off the single
  // writer. The writer validates again only if a structural change was
  // applied in between.
  const int64_t epoch = structure_epoch_.load(std::memory_order_acquire);
  if (auto* batch = std::get_if<core::FeedbackBatch>(&mutation)) {
    batch->logged_at_micros = 0;  // The writer stamps it in log order.
  }
  if (absl::Status status = engine_->Validate(mutation); !status.ok()) {
    std::move(done)(status);
    return;
  }
  Pending pending;
  pending.record = EncodeMutation(mutation);
  pending.events = EventCount(mutation);
  pending.structural = IsStructural(mutation);
  pending.validated_epoch = epoch;
  if (options_.metrics != nullptr) pending.submitted = absl::Now();
  pending.mutation = std::move(mutation);
  pending.done = std::move(done);
  absl::Status refused;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) {
      refused = absl::UnavailableError("server is shutting down");
    } else if (queued_events_ > 0 &&
               queued_events_ + pending.events > options_.max_queued_events) {
      refused = absl::ResourceExhaustedError(
          absl::StrCat("write queue full (", queued_events_,
                       " events wait for the disk); retry later"));
    } else {
      queued_events_ += pending.events;
      queue_.push_back(std::move(pending));
      return;
    }
  }
  std::move(pending.done)(refused);
}

void DurableCommitter::WriterLoop() {
  last_sync_ = absl::Now();
  while (true) {
    std::vector<Pending> group;
    std::vector<absl::AnyInvocable<void() &&>> tasks;
    bool snapshot_work = false;
    bool trim = false;
    bool stop = false;
    {
      absl::MutexLock lock(&mu_);
      auto has_work = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !queue_.empty() || !tasks_.empty() || stopping_ ||
               (snapshot_write_ != nullptr && !snapshot_write_->result) ||
               trim_pending_;
      };
      mu_.AwaitWithDeadline(absl::Condition(&has_work),
                            unsynced_ ? last_sync_ + options_.flush_interval
                                      : absl::InfiniteFuture());
      tasks.swap(tasks_);
      int64_t events = 0;
      while (!queue_.empty() && events < options_.max_group_events) {
        const bool structural = queue_.front().structural;
        events += queue_.front().events;
        queued_events_ -= queue_.front().events;
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
        // Whatever follows a structural change is validated against the
        // state after it, in the next group.
        if (structural) break;
      }
      snapshot_work = snapshot_write_ != nullptr && !snapshot_write_->result;
      trim = trim_pending_;
      stop = stopping_ && queue_.empty();
    }
    for (auto& task : tasks) std::move(task)();
    if (!group.empty()) CommitGroup(std::move(group));
    if (snapshot_work && !stop) {
      ContinueSnapshot();
    } else if (trim && !stop) {
      // Delete a few chunk-sizes' worth of log rows per round, so that a
      // round costs about what storing a snapshot chunk does.
      const int64_t rows = std::clamp<int64_t>(
          4 * static_cast<int64_t>(options_.snapshot_chunk_bytes) /
              std::max<int64_t>(1, avg_record_bytes_),
          16, 50'000);
      absl::StatusOr<bool> more = log_->Trim(static_cast<int>(rows));
      absl::MutexLock lock(&mu_);
      trim_pending_ = more.ok() && *more;
      if (!more.ok()) {
        absl::FPrintF(stderr, "banditd: trimming the log failed: %s\n",
                      more.status().ToString());
      }
    }
    if (unsynced_ && absl::Now() >= last_sync_ + options_.flush_interval) {
      if (absl::Status s = log_->Sync(); !s.ok()) {
        absl::FPrintF(stderr, "banditd: log sync failed (will retry): %s\n",
                      s.ToString());
      } else {
        unsynced_ = false;
      }
      last_sync_ = absl::Now();
    }
    if (stop) break;
  }
  if (unsynced_) {
    if (absl::Status s = log_->Sync(); !s.ok()) {
      absl::FPrintF(stderr, "banditd: final log sync failed: %s\n",
                    s.ToString());
    }
  }
  std::vector<absl::AnyInvocable<void() &&>> tasks;
  {
    absl::MutexLock lock(&mu_);
    writer_done_ = true;
    tasks.swap(tasks_);
    if (snapshot_write_ != nullptr && !snapshot_write_->result) {
      snapshot_write_->result = absl::CancelledError("shutting down");
    }
  }
  for (auto& task : tasks) std::move(task)();
}

void DurableCommitter::CommitGroup(std::vector<Pending> group) {
  const int64_t epoch = structure_epoch_.load(std::memory_order_acquire);
  std::vector<Pending*> kept;
  std::vector<std::string> records;
  kept.reserve(group.size());
  records.reserve(group.size());
  for (Pending& pending : group) {
    if (pending.validated_epoch != epoch) {
      if (absl::Status s = engine_->Validate(pending.mutation); !s.ok()) {
        std::move(pending.done)(s);
        continue;
      }
    }
    if (auto* batch = std::get_if<core::FeedbackBatch>(&pending.mutation)) {
      // The decay clock: wall time, but never going back in log order.
      last_logged_micros_ =
          std::max(last_logged_micros_, absl::ToUnixMicros(absl::Now()));
      batch->logged_at_micros = last_logged_micros_;
      SetLoggedAtMicros(last_logged_micros_, &pending.record);
    }
    kept.push_back(&pending);
    records.push_back(std::move(pending.record));
  }
  if (kept.empty()) return;
  int64_t bytes = 0;
  for (const std::string& record : records) bytes += record.size();
  avg_record_bytes_ =
      (7 * avg_record_bytes_ + bytes / static_cast<int64_t>(records.size())) /
      8;

  const int64_t before = log_->last_seq();
  const int64_t count = static_cast<int64_t>(records.size());
  const absl::Status status = log_->Append(records);
  if (options_.metrics != nullptr && status.ok()) {
    options_.metrics->RecordCommit(absl::Now() - kept.front()->submitted,
                                   static_cast<int>(count));
  }
  // Normally a failed append leaves nothing behind; if the records did land
  // (an error after the write), apply them anyway so that memory matches the
  // log, and still report the error: the outcome was uncertain to us.
  const bool logged = status.ok() || log_->last_seq() == before + count;
  if (!status.ok() && !logged && log_->last_seq() != before) {
    absl::FPrintF(stderr,
                  "banditd: log is at seq %d after a failed append of %d "
                  "records from %d\n",
                  log_->last_seq(), count, before);
  }
  records.clear();
  std::vector<absl::StatusOr<core::ApplyResult>> results;
  if (logged) {
    results.reserve(kept.size());
    for (Pending* pending : kept) {
      results.push_back(engine_->Apply(pending->mutation));
      if (pending->structural) {
        structure_epoch_.fetch_add(1, std::memory_order_acq_rel);
      }
    }
    if (options_.durability == Durability::kAsync) unsynced_ = true;
  }
  {
    absl::MutexLock lock(&mu_);
    ++stats_.groups;
    stats_.last_seq = log_->last_seq();
    if (logged) {
      stats_.records += count;
      records_since_snapshot_ += count;
    }
  }
  for (size_t i = 0; i < kept.size(); ++i) {
    std::move(kept[i]->done)(status.ok()
                                 ? std::move(results[i])
                                 : absl::StatusOr<core::ApplyResult>(status));
  }
}

void DurableCommitter::ContinueSnapshot() {
  SnapshotWrite* write;
  {
    absl::MutexLock lock(&mu_);
    write = snapshot_write_.get();
  }
  // The snapshot thread leaves `write` alone until its result is set.
  const size_t begin = write->next;
  size_t end = begin;
  size_t bytes = 0;
  while (end < write->chunks.size() &&
         (end == begin ||
          bytes + write->chunks[end].size() <= options_.snapshot_chunk_bytes)) {
    bytes += write->chunks[end].size();
    ++end;
  }
  absl::Status status;
  if (end > begin) {
    status = log_->WriteSnapshotChunks(
        write->seq, static_cast<int64_t>(begin),
        absl::MakeConstSpan(write->chunks).subspan(begin, end - begin));
  }
  if (status.ok()) {
    for (size_t i = begin; i < end; ++i) std::string().swap(write->chunks[i]);
    write->next = end;
    if (end < write->chunks.size()) return;
    status = log_->CommitSnapshot(write->seq,
                                  static_cast<int64_t>(write->chunks.size()));
  }
  absl::MutexLock lock(&mu_);
  write->result = status;
  if (status.ok()) trim_pending_ = true;
}

void DurableCommitter::SnapshotLoop() {
  absl::Time last = absl::Now();
  while (true) {
    int64_t ticket;
    {
      absl::MutexLock lock(&mu_);
      auto due = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || snapshot_requested_ > snapshot_served_ ||
               (options_.snapshot_every_records > 0 &&
                records_since_snapshot_ >= options_.snapshot_every_records);
      };
      const bool woken = mu_.AwaitWithDeadline(
          absl::Condition(&due), last + options_.snapshot_interval);
      if (stopping_) {
        snapshot_served_ = snapshot_requested_;
        last_snapshot_status_ = absl::UnavailableError("shutting down");
        return;
      }
      ticket = snapshot_requested_;
      if (!woken && records_since_snapshot_ == 0) {
        last = absl::Now();
        continue;
      }
    }
    absl::Status status = TakeSnapshot();
    last = absl::Now();
    absl::MutexLock lock(&mu_);
    snapshot_served_ = ticket;
    last_snapshot_status_ = status;
    if (!status.ok()) {
      absl::FPrintF(stderr, "banditd: snapshot failed (will retry): %s\n",
                    status.ToString());
      // Back off instead of retrying at once, e.g. while the disk is full.
      auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_;
      };
      mu_.AwaitWithTimeout(absl::Condition(&stopping), absl::Seconds(1));
    }
  }
}

absl::Status DurableCommitter::TakeSnapshot() {
  const absl::Time start = absl::Now();
  EngineState state;
  int64_t seq = 0;
  absl::Duration pause;
  // Copy everything now, while Feedback keeps flowing, and in the pause
  // only what Feedback changes, into the same memory; unless a structural
  // change came in between, then copy all in the pause.
  const int64_t epoch = structure_epoch_.load(std::memory_order_acquire);
  state = CaptureDraft(*engine_);
  RunOnWriter([&](LogStore* log) {
    const absl::Time t0 = absl::Now();
    if (structure_epoch_.load(std::memory_order_acquire) != epoch ||
        !FinishDraft(*engine_, &state)) {
      state = CaptureState(*engine_);
    }
    seq = log->last_seq();
    pause = absl::Now() - t0;
    absl::MutexLock lock(&mu_);
    records_since_snapshot_ = 0;
  });
  {
    absl::MutexLock lock(&mu_);
    stats_.last_snapshot_pause = pause;
    stats_.max_snapshot_pause = std::max(stats_.max_snapshot_pause, pause);
    if (seq == 0 || seq <= stats_.last_snapshot_seq) return absl::OkStatus();
  }
  auto write = std::make_unique<SnapshotWrite>();
  write->seq = seq;
  write->chunks = EncodeSnapshot(state, options_.snapshot_chunk_bytes);
  state = EngineState();
  const size_t chunk_count = write->chunks.size();

  absl::MutexLock lock(&mu_);
  if (writer_done_) return absl::CancelledError("shutting down");
  snapshot_write_ = std::move(write);
  auto finished = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return snapshot_write_->result.has_value();
  };
  mu_.Await(absl::Condition(&finished));
  absl::Status status = *snapshot_write_->result;
  snapshot_write_.reset();
  if (status.ok()) {
    ++stats_.snapshots;
    stats_.last_snapshot_seq = seq;
    stats_.last_snapshot_total = absl::Now() - start;
    if (options_.metrics != nullptr) {
      options_.metrics->RecordSnapshot(stats_.last_snapshot_total);
    }
    if (options_.log_recovery) {
      absl::FPrintF(stderr,
                    "banditd: snapshot at seq %d: %d chunks, pause %.2f ms, "
                    "total %.1f ms\n",
                    seq, chunk_count, Ms(pause),
                    Ms(stats_.last_snapshot_total));
    }
  }
  return status;
}

absl::Status DurableCommitter::SnapshotNow() {
  absl::MutexLock lock(&mu_);
  const int64_t ticket = ++snapshot_requested_;
  auto served = [this, ticket]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return snapshot_served_ >= ticket;
  };
  mu_.Await(absl::Condition(&served));
  return last_snapshot_status_;
}

void DurableCommitter::RunOnWriter(
    absl::AnyInvocable<void(LogStore*) &&> task) {
  bool done = false;
  {
    absl::MutexLock lock(&mu_);
    if (!writer_done_) {
      tasks_.push_back([this, &task, &done] {
        std::move(task)(log_.get());
        absl::MutexLock lock(&mu_);
        done = true;
      });
      mu_.Await(absl::Condition(&done));
      return;
    }
  }
  // The writer has exited: nothing else uses the store now.
  std::move(task)(log_.get());
}

void DurableCommitter::Shutdown() {
  {
    absl::MutexLock lock(&shutdown_mu_);
    if (shut_down_) return;
    shut_down_ = true;
  }
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (writer_.joinable()) writer_.join();
  if (snapshotter_.joinable()) snapshotter_.join();
}

DurableCommitter::Stats DurableCommitter::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

}  // namespace banditd::store
