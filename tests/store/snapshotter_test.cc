#include "server/store/snapshotter.h"

#include <atomic>
#include <thread>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "server/core/engine.h"
#include "server/store/engine_state.h"
#include "tests/testing/random_mutations.h"

namespace banditd::store {
namespace {

// Counts the snapshots a Snapshotter takes and lets a test wait for them.
class Takes {
 public:
  absl::Status Take() {
    absl::MutexLock lock(&mu_);
    ++count_;
    return next_;
  }
  void FailWith(absl::Status status) {
    absl::MutexLock lock(&mu_);
    next_ = status;
  }
  int count() {
    absl::MutexLock lock(&mu_);
    return count_;
  }
  // True once `n` snapshots were taken (generous deadline: no timing is
  // asserted, a hang just fails instead of blocking the suite).
  bool WaitFor(int n) {
    absl::MutexLock lock(&mu_);
    auto reached = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return count_ >= n;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&reached), absl::Seconds(30));
  }

 private:
  absl::Mutex mu_;
  int count_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status next_ ABSL_GUARDED_BY(mu_);
};

Snapshotter::Options Every(int64_t records, absl::Duration interval) {
  Snapshotter::Options options;
  options.every_records = records;
  options.interval = interval;
  options.retry_after = absl::Milliseconds(1);
  return options;
}

// Catches: a count that never triggers, or one that is not reset by Covered
// (then every later record would trigger a snapshot).
TEST(SnapshotterTest, RecordCountMakesASnapshotDueAndCoveredResetsIt) {
  Takes takes;
  Snapshotter* self = nullptr;
  Snapshotter snapshotter(Every(10, absl::Hours(1)), [&] {
    self->Covered();
    return takes.Take();
  });
  self = &snapshotter;
  snapshotter.Start();
  snapshotter.Applied(9);
  EXPECT_EQ(snapshotter.records_since_snapshot(), 9);
  snapshotter.Applied(1);
  ASSERT_TRUE(takes.WaitFor(1));
  EXPECT_EQ(snapshotter.records_since_snapshot(), 0);
  // Below the count again: only a request takes one now.
  snapshotter.Applied(3);
  ASSERT_TRUE(snapshotter.SnapshotNow().ok());
  EXPECT_EQ(takes.count(), 2);
  EXPECT_EQ(snapshotter.records_since_snapshot(), 0);
  snapshotter.Stop();
}

// Catches: SnapshotNow returning before its snapshot, or reporting another
// attempt's status; a failure that stops later snapshots.
TEST(SnapshotterTest, SnapshotNowWaitsAndReportsThatAttempt) {
  Takes takes;
  Snapshotter snapshotter(Every(0, absl::Hours(1)),
                          [&] { return takes.Take(); });
  snapshotter.Start();
  takes.FailWith(absl::ResourceExhaustedError("disk full"));
  absl::Status failed = snapshotter.SnapshotNow();
  EXPECT_EQ(failed.code(), absl::StatusCode::kResourceExhausted) << failed;
  EXPECT_EQ(takes.count(), 1);
  takes.FailWith(absl::OkStatus());
  EXPECT_TRUE(snapshotter.SnapshotNow().ok());
  EXPECT_EQ(takes.count(), 2);
}

// Catches: an interval snapshot of an unchanged state (a write per interval
// for nothing), and an interval that never fires.
TEST(SnapshotterTest, IntervalSnapshotsOnlyWhenSomethingWasApplied) {
  Takes takes;
  Snapshotter* self = nullptr;
  Snapshotter snapshotter(Every(0, absl::Milliseconds(1)), [&] {
    self->Covered();
    return takes.Take();
  });
  self = &snapshotter;
  snapshotter.Start();
  // Many intervals pass with nothing applied.
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(takes.count(), 0);
  snapshotter.Applied(1);
  ASSERT_TRUE(takes.WaitFor(1));
  snapshotter.Stop();
}

// Catches: a SnapshotNow that hangs at shutdown or before Start.
TEST(SnapshotterTest, NotRunningAnswersUnavailable) {
  Takes takes;
  Snapshotter snapshotter(Every(0, absl::Hours(1)),
                          [&] { return takes.Take(); });
  EXPECT_EQ(snapshotter.SnapshotNow().code(), absl::StatusCode::kUnavailable);
  snapshotter.Start();
  snapshotter.Stop();
  EXPECT_EQ(snapshotter.SnapshotNow().code(), absl::StatusCode::kUnavailable);
  snapshotter.Stop();  // Idempotent.
  EXPECT_EQ(takes.count(), 0);
}

// Catches: a request that arrives while a snapshot is being taken and is
// answered by that one (whose copy may predate the caller's writes).
TEST(SnapshotterTest, RequestDuringASnapshotGetsANewOne) {
  absl::Mutex mu;
  bool release = false;
  int started = 0;
  Snapshotter snapshotter(Every(0, absl::Hours(1)), [&] {
    absl::MutexLock lock(&mu);
    ++started;
    if (started == 1) mu.Await(absl::Condition(&release));
    return absl::OkStatus();
  });
  snapshotter.Start();
  std::thread first([&] { EXPECT_TRUE(snapshotter.SnapshotNow().ok()); });
  {
    absl::MutexLock lock(&mu);
    auto one = [&] { return started == 1; };
    mu.Await(absl::Condition(&one));
  }
  std::thread second([&] { EXPECT_TRUE(snapshotter.SnapshotNow().ok()); });
  absl::SleepFor(absl::Milliseconds(20));  // Lets `second` queue its ticket.
  {
    absl::MutexLock lock(&mu);
    release = true;
  }
  first.join();
  second.join();
  absl::MutexLock lock(&mu);
  EXPECT_EQ(started, 2);
}

void ApplyAll(core::Engine& engine, const std::vector<core::Mutation>& ms,
              std::atomic<int64_t>* epoch) {
  for (const core::Mutation& m : ms) {
    (void)engine.Apply(m);
    if (!std::holds_alternative<core::FeedbackBatch>(m)) epoch->fetch_add(1);
  }
}

// What a committer sees: mutations applied between the two steps must be in
// the copy, which must equal a copy taken at once in the pause.
// Catches: a copy that keeps the draft's stale counters, or that keeps the
// draft's rooms across a structural change.
TEST(CopyStateTest, EqualsAFullCopyAtThePause) {
  const std::vector<core::Mutation> ms = testing::RandomMutations(4000, 7);
  for (bool structural : {false, true}) {
    core::Engine engine;
    std::atomic<int64_t> epoch{0};
    ApplyAll(engine, {ms.begin(), ms.begin() + 2000}, &epoch);
    // Between the draft and the pause: only Feedback, or everything.
    std::vector<core::Mutation> between;
    for (size_t i = 2000; i < ms.size(); ++i) {
      if (structural || std::holds_alternative<core::FeedbackBatch>(ms[i])) {
        between.push_back(ms[i]);
      }
    }
    EngineState expected;
    StateCopy copy = CopyState(engine, epoch, [&](auto capture) {
      ApplyAll(engine, between, &epoch);
      expected = CaptureState(engine);
      capture();
      return int64_t{42};
    });
    EXPECT_EQ(copy.seq, 42);
    EXPECT_EQ(copy.state, expected) << "structural " << structural;
    EXPECT_FALSE(expected.rooms.empty());
  }
}

}  // namespace
}  // namespace banditd::store
