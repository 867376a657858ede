#ifndef BANDITD_TESTS_TESTING_FAKE_LOG_STORE_H_
#define BANDITD_TESTS_TESTING_FAKE_LOG_STORE_H_

// An in-memory LogStore for tests, with injectable failures.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/store/log_store.h"

namespace banditd::testing {

// The contents of a FakeLogStore. It outlives the store so that a test can
// "restart" by opening a new FakeLogStore over the same contents, and can
// inject failures while a committer owns the store.
struct FakeLogContents {
  absl::Mutex mu;
  std::map<int64_t, std::string> log ABSL_GUARDED_BY(mu);
  // Committed snapshots by seq, and chunks by (seq, ordinal).
  std::map<int64_t, int64_t> snapshots ABSL_GUARDED_BY(mu);
  std::map<std::pair<int64_t, int64_t>, std::string> chunks ABSL_GUARDED_BY(mu);
  // When set, every write fails with this status (a full or broken disk).
  absl::Status write_error ABSL_GUARDED_BY(mu);
  // Each Append takes this long, like a disk sync.
  absl::Duration append_delay ABSL_GUARDED_BY(mu);
  int64_t appends ABSL_GUARDED_BY(mu) = 0;
  int64_t syncs ABSL_GUARDED_BY(mu) = 0;

  void SetWriteError(absl::Status status) {
    absl::MutexLock lock(&mu);
    write_error = std::move(status);
  }
  size_t log_size() {
    absl::MutexLock lock(&mu);
    return log.size();
  }
};

class FakeLogStore final : public store::LogStore {
 public:
  explicit FakeLogStore(std::shared_ptr<FakeLogContents> contents)
      : contents_(std::move(contents)) {
    absl::MutexLock lock(&contents_->mu);
    if (!contents_->log.empty()) last_seq_ = contents_->log.rbegin()->first;
    if (!contents_->snapshots.empty()) {
      last_seq_ = std::max(last_seq_, contents_->snapshots.rbegin()->first);
    }
  }

  int64_t last_seq() const override { return last_seq_; }

  absl::Status Append(absl::Span<const std::string> records) override {
    absl::Duration delay;
    {
      absl::MutexLock lock(&contents_->mu);
      delay = contents_->append_delay;
    }
    absl::SleepFor(delay);
    absl::MutexLock lock(&contents_->mu);
    if (!contents_->write_error.ok()) return contents_->write_error;
    for (const std::string& record : records) {
      contents_->log[++last_seq_] = record;
    }
    ++contents_->appends;
    return absl::OkStatus();
  }

  absl::Status Sync() override {
    absl::MutexLock lock(&contents_->mu);
    if (!contents_->write_error.ok()) return contents_->write_error;
    ++contents_->syncs;
    return absl::OkStatus();
  }

  absl::Status Read(int64_t after,
                    absl::FunctionRef<absl::Status(int64_t, std::string_view)>
                        visit) override {
    std::vector<std::pair<int64_t, std::string>> records;
    {
      absl::MutexLock lock(&contents_->mu);
      for (auto it = contents_->log.upper_bound(after);
           it != contents_->log.end(); ++it) {
        records.emplace_back(it->first, it->second);
      }
    }
    for (const auto& [seq, record] : records) {
      if (absl::Status s = visit(seq, record); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  absl::Status WriteSnapshotChunks(
      int64_t seq, int64_t first_ordinal,
      absl::Span<const std::string> chunks) override {
    absl::MutexLock lock(&contents_->mu);
    if (!contents_->write_error.ok()) return contents_->write_error;
    for (size_t i = 0; i < chunks.size(); ++i) {
      contents_->chunks[{seq, first_ordinal + static_cast<int64_t>(i)}] =
          chunks[i];
    }
    return absl::OkStatus();
  }

  absl::Status CommitSnapshot(int64_t seq, int64_t chunk_count) override {
    absl::MutexLock lock(&contents_->mu);
    if (!contents_->write_error.ok()) return contents_->write_error;
    contents_->snapshots[seq] = chunk_count;
    return absl::OkStatus();
  }

  absl::StatusOr<std::optional<store::StoredSnapshot>> LoadLatestSnapshot()
      override {
    absl::MutexLock lock(&contents_->mu);
    if (contents_->snapshots.empty()) return std::nullopt;
    auto [seq, count] = *contents_->snapshots.rbegin();
    store::StoredSnapshot snapshot;
    snapshot.seq = seq;
    for (int64_t i = 0; i < count; ++i) {
      auto it = contents_->chunks.find({seq, i});
      if (it == contents_->chunks.end()) {
        return absl::DataLossError("missing snapshot chunk");
      }
      snapshot.chunks.push_back(it->second);
    }
    return snapshot;
  }

  absl::StatusOr<bool> Trim(int max_rows) override {
    absl::MutexLock lock(&contents_->mu);
    if (contents_->snapshots.empty()) return false;
    const int64_t seq = contents_->snapshots.rbegin()->first;
    int deleted = 0;
    while (!contents_->log.empty() && contents_->log.begin()->first <= seq &&
           deleted < max_rows) {
      contents_->log.erase(contents_->log.begin());
      ++deleted;
    }
    std::erase_if(contents_->chunks,
                  [seq](const auto& entry) { return entry.first.first < seq; });
    std::erase_if(contents_->snapshots,
                  [seq](const auto& entry) { return entry.first < seq; });
    return !contents_->log.empty() && contents_->log.begin()->first <= seq;
  }

 private:
  std::shared_ptr<FakeLogContents> contents_;
  int64_t last_seq_ = 0;
};

}  // namespace banditd::testing

#endif  // BANDITD_TESTS_TESTING_FAKE_LOG_STORE_H_
