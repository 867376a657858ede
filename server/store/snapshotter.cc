#include "server/store/snapshotter.h"

#include <cstdio>
#include <utility>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "server/log/log.h"

namespace banditd::store {

StateCopy CopyState(
    const core::Engine& engine, const std::atomic<int64_t>& structure_epoch,
    absl::FunctionRef<int64_t(absl::FunctionRef<void()> copy)> run_paused) {
  StateCopy copy;
  // Copy everything now, while Feedback keeps flowing, and in the pause
  // only what Feedback changes, into the same memory; unless a structural
  // change came in between, then copy all in the pause.
  const int64_t epoch = structure_epoch.load(std::memory_order_acquire);
  copy.state = CaptureDraft(engine);
  copy.seq = run_paused([&] {
    const absl::Time start = absl::Now();
    if (structure_epoch.load(std::memory_order_acquire) != epoch ||
        !FinishDraft(engine, &copy.state)) {
      copy.state = CaptureState(engine);
    }
    copy.pause = absl::Now() - start;
  });
  return copy;
}

Snapshotter::Snapshotter(Options options,
                         absl::AnyInvocable<absl::Status()> take)
    : options_(std::move(options)), take_(std::move(take)) {}

Snapshotter::~Snapshotter() { Stop(); }

void Snapshotter::Start() {
  absl::MutexLock lock(&mu_);
  if (started_ || stopping_) return;
  started_ = true;
  thread_ = std::thread([this] { Loop(); });
}

void Snapshotter::BeginStop() {
  absl::MutexLock lock(&mu_);
  stopping_ = true;
}

void Snapshotter::Stop() {
  BeginStop();
  absl::MutexLock lock(&join_mu_);
  if (thread_.joinable()) thread_.join();
  // Requests made while the thread was never started.
  absl::MutexLock state_lock(&mu_);
  if (served_ < requested_) {
    served_ = requested_;
    last_status_ = absl::UnavailableError("shutting down");
  }
}

void Snapshotter::Applied(int64_t records) {
  absl::MutexLock lock(&mu_);
  records_since_ += records;
}

void Snapshotter::Covered() {
  absl::MutexLock lock(&mu_);
  records_since_ = 0;
}

int64_t Snapshotter::records_since_snapshot() const {
  absl::MutexLock lock(&mu_);
  return records_since_;
}

absl::Status Snapshotter::SnapshotNow() {
  absl::MutexLock lock(&mu_);
  if (!started_ || stopping_) {
    return absl::UnavailableError("snapshots are not running");
  }
  const int64_t ticket = ++requested_;
  auto served = [this, ticket]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return served_ >= ticket;
  };
  mu_.Await(absl::Condition(&served));
  return last_status_;
}

void Snapshotter::Loop() {
  absl::Time last = absl::Now();
  while (true) {
    int64_t ticket;
    {
      absl::MutexLock lock(&mu_);
      auto due = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || requested_ > served_ ||
               (options_.every_records > 0 &&
                records_since_ >= options_.every_records);
      };
      const bool woken = mu_.AwaitWithDeadline(absl::Condition(&due),
                                               last + options_.interval);
      if (stopping_) {
        served_ = requested_;
        last_status_ = absl::UnavailableError("shutting down");
        return;
      }
      ticket = requested_;
      // The interval passed with nothing new: nothing to save.
      if (!woken && records_since_ == 0) {
        last = absl::Now();
        continue;
      }
    }
    absl::Status status = take_();
    last = absl::Now();
    absl::MutexLock lock(&mu_);
    served_ = ticket;
    last_status_ = status;
    if (!status.ok()) {
      SPDLOG_ERROR("{} failed (will retry): {}", options_.what,
                   status.ToString());
      auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_;
      };
      mu_.AwaitWithTimeout(absl::Condition(&stopping), options_.retry_after);
    }
  }
}

}  // namespace banditd::store
