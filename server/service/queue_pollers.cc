#include "server/service/queue_pollers.h"

#include <algorithm>

#include "absl/time/clock.h"

namespace banditd::service {

QueuePollers::IdleMeter::IdleMeter(int64_t window_ns)
    : window_ns_(window_ns), start_ns_(absl::GetCurrentTimeNanos()) {}

bool QueuePollers::IdleMeter::AddWait(int64_t begin_ns, int64_t end_ns,
                                      double* idle_share) {
  idle_ns_ += end_ns - begin_ns;
  const int64_t elapsed = end_ns - start_ns_;
  if (elapsed < window_ns_) return false;
  *idle_share = static_cast<double>(idle_ns_) / static_cast<double>(elapsed);
  start_ns_ = end_ns;
  idle_ns_ = 0;
  return true;
}

QueuePollers::QueuePollers(grpc::CompletionQueue* queue, OnEvent on_event,
                           const PollerOptions& options)
    : queue_(queue), on_event_(on_event), options_(options) {
  threads_.emplace_back([this] { RunFirst(); });
  for (int i = 1; i < options_.threads; ++i) {
    threads_.emplace_back([this] { RunStandby(); });
  }
}

QueuePollers::~QueuePollers() { Join(); }

void QueuePollers::Join() {
  {
    absl::MutexLock lock(&mu_);
    joining_ = true;
  }
  for (std::thread& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
}

int QueuePollers::polling() const {
  absl::MutexLock lock(&mu_);
  return options_.threads - standing_by_;
}

int64_t QueuePollers::joins() const {
  absl::MutexLock lock(&mu_);
  return joins_;
}

int64_t QueuePollers::watcher_checks() const {
  absl::MutexLock lock(&mu_);
  return watcher_checks_;
}

void QueuePollers::RunFirst() {
  const bool standby = options_.standby && options_.threads > 1;
  IdleMeter meter(absl::ToInt64Nanoseconds(options_.window));
  void* tag = nullptr;
  bool ok = false;
  int64_t wait_began = absl::GetCurrentTimeNanos();
  while (queue_->Next(&tag, &ok)) {
    if (standby) {
      const int64_t now = absl::GetCurrentTimeNanos();
      // Sequentially consistent with the watcher's going to sleep (it
      // stores watcher_asleep_, then reads this): one of the two sees the
      // other's store.
      first_busy_since_ns_.store(now);
      if (watcher_asleep_.load()) WakeWatcher();
      double idle = 1;
      if (meter.AddWait(wait_began, now, &idle) && idle < options_.join_below) {
        AskToJoin();
      }
    }
    on_event_(tag, ok);
    if (standby) {
      first_busy_since_ns_.store(0, std::memory_order_relaxed);
      wait_began = absl::GetCurrentTimeNanos();
    }
  }
}

void QueuePollers::RunStandby() {
  void* tag = nullptr;
  bool ok = false;
  if (!options_.standby) {
    while (queue_->Next(&tag, &ok)) on_event_(tag, ok);
    return;
  }
  const int64_t window_ns = absl::ToInt64Nanoseconds(options_.window);
  while (true) {
    AwaitJoin();
    IdleMeter meter(window_ns);
    double idle = 0;
    do {
      const int64_t began = absl::GetCurrentTimeNanos();
      const grpc::CompletionQueue::NextStatus status = queue_->AsyncNext(
          &tag, &ok,
          absl::ToChronoTime(absl::FromUnixNanos(began + window_ns)));
      if (status == grpc::CompletionQueue::SHUTDOWN) return;
      const int64_t now = absl::GetCurrentTimeNanos();
      if (status == grpc::CompletionQueue::GOT_EVENT) on_event_(tag, ok);
      if (!meter.AddWait(began, now, &idle)) idle = 0;
    } while (idle <= options_.leave_above);  // quiet: stand by again
  }
}

void QueuePollers::AwaitJoin() {
  absl::MutexLock lock(&mu_);
  ++standing_by_;
  bool watching = false;
  int idle_checks = 0;
  absl::Duration check_interval = options_.stall;
  const absl::Duration longest_check =
      std::max(options_.stall, options_.max_check_interval);
  while (!joining_) {
    if (asked_ > 0) {
      --asked_;
      ++joins_;
      break;
    }
    if (!watched_) watched_ = watching = true;
    if (!watching) {
      mu_.Await(absl::Condition(this, &QueuePollers::WakesStandby));
      continue;
    }
    // The watcher: joins when the first thread's handler runs long. It
    // checks while the first thread works (ever less often while it finds
    // no stall), and sleeps until the next event once it found it waiting
    // 50 times in a row (an idle server wakes nobody).
    mu_.AwaitWithTimeout(absl::Condition(this, &QueuePollers::WakesWatcher),
                         check_interval);
    ++watcher_checks_;
    if (FirstStalled(absl::GetCurrentTimeNanos())) {
      ++joins_;
      break;
    }
    check_interval = std::min(check_interval * 2, longest_check);
    if (first_busy_since_ns_.load() != 0) {
      idle_checks = 0;
    } else if (++idle_checks >= 50) {
      watcher_asleep_.store(true);
      if (first_busy_since_ns_.load() == 0) {
        mu_.Await(absl::Condition(this, &QueuePollers::WakesSleepingWatcher));
      }
      watcher_asleep_.store(false);
      idle_checks = 0;
      check_interval = options_.stall;  // the first events after a quiet time
    }
  }
  if (watching) watched_ = false;  // another standby thread takes over
  --standing_by_;
}

bool QueuePollers::WakesWatcher() const { return joining_ || asked_ > 0; }

bool QueuePollers::WakesSleepingWatcher() const {
  return joining_ || asked_ > 0 || !watcher_asleep_.load();
}

void QueuePollers::WakeWatcher() {
  absl::MutexLock lock(&mu_);
  watcher_asleep_.store(false);  // the watcher's Await sees it on unlock
}

bool QueuePollers::WakesStandby() const {
  return joining_ || asked_ > 0 || !watched_;
}

void QueuePollers::AskToJoin() {
  absl::MutexLock lock(&mu_);
  if (standing_by_ > asked_) ++asked_;
}

bool QueuePollers::FirstStalled(int64_t now_ns) const {
  const int64_t since = first_busy_since_ns_.load(std::memory_order_relaxed);
  return since != 0 &&
         now_ns - since > absl::ToInt64Nanoseconds(options_.stall);
}

}  // namespace banditd::service
