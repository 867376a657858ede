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
#include "server/log/log.h"
#include "server/store/log_codec.h"
#include "server/store/snapshot_codec.h"
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

Snapshotter::Options SnapshotterOptions(const DurableCommitter::Options& o) {
  Snapshotter::Options options;
  options.every_records = o.snapshot_every_records;
  options.interval = o.snapshot_interval;
  return options;
}

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
  store_options.cache_bytes = options.log_cache_bytes;
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
  committer->snapshotter_.Start();
  return committer;
}

DurableCommitter::DurableCommitter(Options options,
                                   std::unique_ptr<LogStore> log,
                                   core::Engine* engine)
    : options_(std::move(options)),
      log_(std::move(log)),
      engine_(engine),
      snapshotter_(SnapshotterOptions(options_),
                   [this] { return TakeSnapshot(); }) {}

DurableCommitter::~DurableCommitter() { Shutdown(); }

void DurableCommitter::Submit(core::Mutation mutation, Done done) {
  // Validating here, on the caller's thread, keeps that work off the single
  // writer. The writer validates again only if a structural change was
  // applied in between.
  const int64_t epoch = structure_epoch_.load(std::memory_order_acquire);
  if (auto* batch = std::get_if<core::FeedbackBatch>(&mutation)) {
    batch->logged_at_micros = 0;  // The writer stamps it in log order.
  }
  // The bytes the mutation may add stay reserved until it is applied, so
  // that what waits in the queue counts against the memory budget too.
  int64_t reserved = 0;
  if (absl::Status status = engine_->Validate(mutation, &reserved);
      !status.ok()) {
    std::move(done)(status);
    return;
  }
  Pending pending;
  pending.reserved = reserved;
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
  engine_->ReleaseReserved(pending.reserved);
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
      absl::Time deadline = unsynced_ ? last_sync_ + options_.flush_interval
                                      : absl::InfiniteFuture();
      if (engine_->queued_events() > 0) {
        // Events queued to busy big rooms: try their locks again soon.
        deadline = std::min(deadline, absl::Now() + kQueuedPoll);
      }
      mu_.AwaitWithDeadline(absl::Condition(&has_work), deadline);
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
    if (engine_->queued_events() > 0) {
      // At the end every queued event is applied (and answered), waiting.
      engine_->ApplyQueued(/*wait=*/stop);
    }
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
        SPDLOG_ERROR("trimming the log failed: {}", more.status().ToString());
      }
    }
    if (unsynced_ && absl::Now() >= last_sync_ + options_.flush_interval) {
      if (absl::Status s = log_->Sync(); !s.ok()) {
        SPDLOG_ERROR("log sync failed (will retry): {}", s.ToString());
      } else {
        unsynced_ = false;
      }
      last_sync_ = absl::Now();
    }
    if (stop) break;
  }
  if (unsynced_) {
    if (absl::Status s = log_->Sync(); !s.ok()) {
      SPDLOG_ERROR("final log sync failed: {}", s.ToString());
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
      engine_->ReleaseReserved(pending.reserved);
      if (absl::Status s =
              engine_->Validate(pending.mutation, &pending.reserved);
          !s.ok()) {
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
    SPDLOG_ERROR("log is at seq {} after a failed append of {} records from {}",
                 log_->last_seq(), count, before);
  }
  records.clear();
  // A Feedback event to a big room that a reader holds is queued to that
  // room (Engine::ApplyOrQueue) rather than waited for; its call is
  // answered once the writer has applied it (ApplyQueued in WriterLoop).
  // Answers of the mutations applied at once are sent below, in log order.
  std::vector<std::shared_ptr<Answer>> answers;
  answers.reserve(kept.size());
  for (Pending* pending : kept) {
    auto answer = std::make_shared<Answer>();
    answer->reserved = pending->reserved;
    answer->logged = status;
    answer->done = std::move(pending->done);
    answers.push_back(std::move(answer));
  }
  if (logged) {
    for (size_t i = 0; i < kept.size(); ++i) {
      const std::shared_ptr<Answer>& answer = answers[i];
      engine_->ApplyOrQueue(
          kept[i]->mutation,
          [this, answer](absl::StatusOr<core::ApplyResult> result) {
            if (answer->now) {
              answer->result = std::move(result);
              return;
            }
            // Applied later: its bytes are accounted now.
            engine_->ReleaseReserved(answer->reserved);
            std::move(answer->done)(
                answer->logged.ok()
                    ? std::move(result)
                    : absl::StatusOr<core::ApplyResult>(answer->logged));
          });
      answer->now = false;
      if (kept[i]->structural) {
        structure_epoch_.fetch_add(1, std::memory_order_acq_rel);
      }
    }
    if (options_.durability == Durability::kAsync) unsynced_ = true;
  }
  {
    absl::MutexLock lock(&mu_);
    ++stats_.groups;
    stats_.last_seq = log_->last_seq();
    if (logged) stats_.records += count;
  }
  if (logged) snapshotter_.Applied(count);
  for (const std::shared_ptr<Answer>& answer : answers) {
    if (logged && !answer->result.has_value()) continue;  // queued
    // Applied (its bytes are accounted now) or failed: either way done.
    engine_->ReleaseReserved(answer->reserved);
    std::move(answer->done)(status.ok()
                                ? *std::move(answer->result)
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

absl::Status DurableCommitter::TakeSnapshot() {
  const absl::Time start = absl::Now();
  StateCopy copy = CopyState(*engine_, structure_epoch_,
                             [this](absl::FunctionRef<void()> capture) {
                               int64_t seq = 0;
                               RunOnWriter([&](LogStore* log) {
                                 // The copy covers every logged record.
                                 engine_->ApplyQueued(/*wait=*/true);
                                 capture();
                                 seq = log->last_seq();
                                 snapshotter_.Covered();
                               });
                               return seq;
                             });
  const int64_t seq = copy.seq;
  const absl::Duration pause = copy.pause;
  {
    absl::MutexLock lock(&mu_);
    stats_.last_snapshot_pause = pause;
    stats_.max_snapshot_pause = std::max(stats_.max_snapshot_pause, pause);
    if (seq == 0 || seq <= stats_.last_snapshot_seq) return absl::OkStatus();
  }
  auto write = std::make_unique<SnapshotWrite>();
  write->seq = seq;
  write->chunks = EncodeSnapshot(copy.state, options_.snapshot_chunk_bytes);
  copy.state = EngineState();
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
      SPDLOG_INFO(
          "snapshot at seq {}: {} chunks, pause {:.2f} ms, total {:.1f} ms",
          seq, chunk_count, Ms(pause), Ms(stats_.last_snapshot_total));
    }
  }
  return status;
}

absl::Status DurableCommitter::SnapshotNow() {
  return snapshotter_.SnapshotNow();
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
  // No snapshot starts now; one in progress ends when the writer stops.
  snapshotter_.BeginStop();
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (writer_.joinable()) writer_.join();
  snapshotter_.Stop();
}

DurableCommitter::Stats DurableCommitter::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

}  // namespace banditd::store
