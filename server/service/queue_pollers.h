#ifndef BANDITD_SERVER_SERVICE_QUEUE_POLLERS_H_
#define BANDITD_SERVER_SERVICE_QUEUE_POLLERS_H_

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/completion_queue.h"

namespace banditd::service {

struct PollerOptions {
  // Threads polling the queue, at least 1.
  int threads = 1;
  // false: every thread always polls.
  bool standby = true;
  // A standby thread joins when the polling threads were idle (waiting for
  // an event) less than `join_below` of a window, and stands by again when
  // it was idle more than `leave_above` of its own.
  absl::Duration window = absl::Milliseconds(5);
  double join_below = 0.3;
  double leave_above = 0.8;
  // A handler running longer than `stall` on the first thread while every
  // other stands by lets one join. One standby thread checks while the
  // first thread has events (not while the server is idle): every `stall`
  // at first, the interval doubling after each check that finds no stall
  // up to `max_check_interval`, so that a steady light load (a call every
  // few hundred microseconds) costs tens of wake-ups a second, not 500. A
  // stall is noticed within stall + max_check_interval.
  absl::Duration stall = absl::Milliseconds(2);
  absl::Duration max_check_interval = absl::Milliseconds(16);
};

// The threads that poll one completion queue and run each event's handler
// inline (`on_event(tag, ok)`). With gRPC 1.51's epoll1 poller every thread
// waiting in Next beyond the first costs a wake-up per event (the thread
// that finds an event hands the polling to another), most of the server's
// CPU per call at low load. So only the first thread always polls; the
// others stand by, join while the queue is busy, and stand by again when
// it is quiet.
class QueuePollers {
 public:
  using OnEvent = void (*)(void* tag, bool ok);

  // Starts the threads.
  QueuePollers(grpc::CompletionQueue* queue, OnEvent on_event,
               const PollerOptions& options);
  QueuePollers(const QueuePollers&) = delete;
  QueuePollers& operator=(const QueuePollers&) = delete;
  // Join().
  ~QueuePollers();

  // Waits for every thread to end: call after shutting the queue down (its
  // threads end when it is drained; standby threads poll it to the end).
  void Join() ABSL_LOCKS_EXCLUDED(mu_);

  // Threads polling now (the first, and the standby ones that joined).
  int polling() const ABSL_LOCKS_EXCLUDED(mu_);
  // How many times a standby thread joined (tests, diagnostics).
  int64_t joins() const ABSL_LOCKS_EXCLUDED(mu_);
  // How many times the watcher woke to check for a stall (tests).
  int64_t watcher_checks() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Measures the share of a window a thread spent waiting for events.
  class IdleMeter {
   public:
    explicit IdleMeter(int64_t window_ns);
    // Adds a wait of [begin, end]; true when a window ended, with the idle
    // share of it in `idle_share` (then a new window starts).
    bool AddWait(int64_t begin_ns, int64_t end_ns, double* idle_share);

   private:
    const int64_t window_ns_;
    int64_t start_ns_ = 0;
    int64_t idle_ns_ = 0;
  };

  void RunFirst();
  void RunStandby();
  // Blocks until this standby thread should poll: asked to join, the first
  // thread's handler stalled, or Join() called.
  void AwaitJoin() ABSL_LOCKS_EXCLUDED(mu_);
  void AskToJoin() ABSL_LOCKS_EXCLUDED(mu_);
  // AwaitJoin's wake-up conditions: of the watcher, and of the others.
  bool WakesWatcher() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool WakesStandby() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool WakesSleepingWatcher() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends the watcher's sleep (the first thread, when an event arrives).
  void WakeWatcher() ABSL_LOCKS_EXCLUDED(mu_);
  bool FirstStalled(int64_t now_ns) const;

  grpc::CompletionQueue* const queue_;
  const OnEvent on_event_;
  const PollerOptions options_;
  // When the first thread's current handler began; 0 while it waits.
  std::atomic<int64_t> first_busy_since_ns_{0};
  // Whether the watcher sleeps until the first thread's next event.
  std::atomic<bool> watcher_asleep_{false};
  mutable absl::Mutex mu_;
  int standing_by_ ABSL_GUARDED_BY(mu_) = 0;
  // Standby threads asked to join and not yet woken.
  int asked_ ABSL_GUARDED_BY(mu_) = 0;
  // Whether one standby thread already checks the first for stalls.
  bool watched_ ABSL_GUARDED_BY(mu_) = false;
  int64_t joins_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t watcher_checks_ ABSL_GUARDED_BY(mu_) = 0;
  bool joining_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace banditd::service

#endif  // BANDITD_SERVER_SERVICE_QUEUE_POLLERS_H_
