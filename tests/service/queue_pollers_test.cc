#include "server/service/queue_pollers.h"

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <thread>

#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/alarm.h"
#include "grpcpp/completion_queue.h"
#include "gtest/gtest.h"

namespace banditd::service {
namespace {

// Events posted to a completion queue with alarms that fire at once; each
// runs its function and records the thread that ran it.
class Events {
 public:
  struct Event {
    Events* events;
    std::function<void()> run;
    grpc::Alarm alarm;
  };

  static void OnEvent(void* tag, bool ok) {
    Event* event = static_cast<Event*>(tag);
    EXPECT_TRUE(ok);
    event->run();
    event->events->Ran(std::this_thread::get_id());
  }

  void Post(grpc::CompletionQueue* queue, std::function<void()> run) {
    absl::MutexLock lock(&mu_);
    events_.push_back(std::make_unique<Event>());
    Event* event = events_.back().get();
    event->events = this;
    event->run = std::move(run);
    event->alarm.Set(queue, std::chrono::system_clock::now(), event);
  }

  // Waits until `n` events ran; false after 60 s.
  bool AwaitRan(int n) {
    struct Target {
      Events* events;
      int n;
    } target{this, n};
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(
        absl::Condition(
            +[](Target* t) { return t->events->ran_ >= t->n; }, &target),
        absl::Seconds(60));
  }

  int threads_seen() {
    absl::MutexLock lock(&mu_);
    return static_cast<int>(threads_.size());
  }

 private:
  void Ran(std::thread::id thread) {
    absl::MutexLock lock(&mu_);
    ++ran_;
    threads_.insert(thread);
  }

  absl::Mutex mu_;
  std::deque<std::unique_ptr<Event>> events_;
  int ran_ = 0;
  absl::flat_hash_set<std::thread::id> threads_;
};

// The standby threads stand by before the test posts anything.
void AwaitPolling(const QueuePollers& pollers, int n) {
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  while (pollers.polling() != n && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  ASSERT_EQ(pollers.polling(), n);
}

PollerOptions Options(int threads) {
  PollerOptions options;
  options.threads = threads;
  options.stall = absl::Seconds(10);  // unless a test needs the watcher
  return options;
}

TEST(QueuePollersTest, QuietQueueIsPolledByOneThread) {
  grpc::CompletionQueue queue;
  Events events;
  {
    QueuePollers pollers(&queue, &Events::OnEvent, Options(3));
    AwaitPolling(pollers, 1);
    for (int i = 1; i <= 50; ++i) {
      events.Post(&queue, [] {});
      ASSERT_TRUE(events.AwaitRan(i));
      absl::SleepFor(absl::Milliseconds(2));
    }
    EXPECT_EQ(pollers.joins(), 0);
    EXPECT_EQ(pollers.polling(), 1);
    queue.Shutdown();
  }
  EXPECT_EQ(events.threads_seen(), 1);
}

TEST(QueuePollersTest, BusyQueueWakesStandbyThreads) {
  grpc::CompletionQueue queue;
  Events events;
  {
    QueuePollers pollers(&queue, &Events::OnEvent, Options(3));
    AwaitPolling(pollers, 1);
    // 400 events of 1 ms each, all queued: the first thread is never idle.
    for (int i = 0; i < 400; ++i) {
      events.Post(&queue, [] { absl::SleepFor(absl::Milliseconds(1)); });
    }
    ASSERT_TRUE(events.AwaitRan(400));
    EXPECT_GE(pollers.joins(), 1);
    // Quiet again: the standby threads leave (each after an idle window).
    AwaitPolling(pollers, 1);
    queue.Shutdown();
  }
  EXPECT_GT(events.threads_seen(), 1);
}

// Posts an event that holds its thread until a second one ran, then the
// second; shuts the queue down once both ran. False when the second did
// not run while the first held (after 60 s).
bool SecondRunsWhileFirstHolds(grpc::CompletionQueue* queue, Events* events) {
  absl::Notification first_started;
  absl::Notification second_ran;
  bool second_ran_in_time = false;
  events->Post(queue, [&] {
    first_started.Notify();
    second_ran_in_time =
        second_ran.WaitForNotificationWithTimeout(absl::Seconds(60));
  });
  first_started.WaitForNotification();
  events->Post(queue, [&] { second_ran.Notify(); });
  const bool both_ran = events->AwaitRan(2);
  queue->Shutdown();
  return both_ran && second_ran_in_time;
}

TEST(QueuePollersTest, StalledHandlerLetsAStandbyThreadServeTheQueue) {
  grpc::CompletionQueue queue;
  Events events;
  PollerOptions options = Options(2);
  options.stall = absl::Milliseconds(2);
  QueuePollers pollers(&queue, &Events::OnEvent, options);
  AwaitPolling(pollers, 1);
  // Without a standby thread joining, the only polling thread is held.
  EXPECT_TRUE(SecondRunsWhileFirstHolds(&queue, &events));
  pollers.Join();
  EXPECT_EQ(pollers.joins(), 1);
  EXPECT_EQ(events.threads_seen(), 2);
}

TEST(QueuePollersTest, StallAfterALongIdleStillLetsAStandbyThreadJoin) {
  grpc::CompletionQueue queue;
  Events events;
  PollerOptions options = Options(2);
  options.stall = absl::Milliseconds(1);
  QueuePollers pollers(&queue, &Events::OnEvent, options);
  AwaitPolling(pollers, 1);
  // Idle for 200 stall periods: the watcher sleeps until the next event,
  // which must wake it.
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_TRUE(SecondRunsWhileFirstHolds(&queue, &events));
  pollers.Join();
  EXPECT_EQ(pollers.joins(), 1);
}

TEST(QueuePollersTest, WatcherChecksLessOftenUnderSteadyLightLoad) {
  grpc::CompletionQueue queue;
  Events events;
  PollerOptions options = Options(2);
  options.stall = absl::Milliseconds(1);
  options.max_check_interval = absl::Milliseconds(16);
  QueuePollers pollers(&queue, &Events::OnEvent, options);
  AwaitPolling(pollers, 1);
  // 400 ms of quick events a few hundred microseconds apart: the first
  // thread is busy now and then, never stalled. Checking every `stall`
  // would wake the watcher about 400 times; doubling up to 16 ms, about 30.
  const absl::Time end = absl::Now() + absl::Milliseconds(400);
  int posted = 0;
  while (absl::Now() < end) {
    events.Post(&queue, [] {
      const absl::Time busy_until = absl::Now() + absl::Microseconds(100);
      while (absl::Now() < busy_until) {
      }
    });
    ASSERT_TRUE(events.AwaitRan(++posted));
    absl::SleepFor(absl::Microseconds(200));
  }
  EXPECT_LT(pollers.watcher_checks(), 120);
  // A stall is still noticed after the interval grew.
  Events stall;
  EXPECT_TRUE(SecondRunsWhileFirstHolds(&queue, &stall));
  pollers.Join();
  EXPECT_GE(pollers.joins(), 1);
}

TEST(QueuePollersTest, WithoutStandbyEveryThreadPolls) {
  grpc::CompletionQueue queue;
  Events events;
  PollerOptions options = Options(2);
  options.standby = false;
  QueuePollers pollers(&queue, &Events::OnEvent, options);
  EXPECT_EQ(pollers.polling(), 2);
  EXPECT_TRUE(SecondRunsWhileFirstHolds(&queue, &events));
  pollers.Join();
  EXPECT_EQ(pollers.joins(), 0);
}

TEST(QueuePollersTest, ShutdownEndsStandingByThreads) {
  grpc::CompletionQueue queue;
  Events events;
  QueuePollers pollers(&queue, &Events::OnEvent, Options(4));
  AwaitPolling(pollers, 1);
  events.Post(&queue, [] {});
  ASSERT_TRUE(events.AwaitRan(1));
  queue.Shutdown();
  pollers.Join();  // returns: the three standing by poll the queue's end
  EXPECT_EQ(events.threads_seen(), 1);
}

}  // namespace
}  // namespace banditd::service
