// DurableCommitter with writes queued to busy big rooms
// (Engine::ApplyOrQueue): one room's reader holds up no other room's writes,
// a queued write is answered only once applied, and the log replays to the
// same state whatever was queued.

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "server/store/durable_committer.h"
#include "server/store/engine_state.h"
#include "tests/testing/core_builders.h"
#include "tests/testing/fake_log_store.h"
#include "tests/testing/random_mutations.h"

namespace banditd::store {
namespace {

using ::banditd::testing::Batch;
using ::banditd::testing::Event;
using ::banditd::testing::FakeLogContents;
using ::banditd::testing::FakeLogStore;
using ::banditd::testing::NewRoom;
using ::banditd::testing::RandomMutations;
using ::banditd::testing::SubmitAndWait;

std::unique_ptr<DurableCommitter> OpenFake(
    std::shared_ptr<FakeLogContents> contents, core::Engine* engine,
    int64_t snapshot_every_records = 0) {
  DurableCommitter::Options options;
  options.log_recovery = false;
  options.snapshot_every_records = snapshot_every_records;
  options.snapshot_interval = absl::Hours(1);
  auto committer = DurableCommitter::Create(
      options, std::make_unique<FakeLogStore>(std::move(contents)), engine);
  EXPECT_TRUE(committer.ok()) << committer.status();
  return committer.ok() ? *std::move(committer) : nullptr;
}

double Views(const core::Engine& engine, const std::string& room) {
  absl::StatusOr<core::Stats> stats = engine.GetStats(room, "", false);
  return stats.ok() ? stats->total_views : -1;
}

TEST(DurableQueueTest, AReaderOfABigRoomHoldsUpNoOtherRoomsWrites) {
  core::Engine engine({.queue_writes_min_arms = 3});
  auto contents = std::make_shared<FakeLogContents>();
  auto committer = OpenFake(contents, &engine);
  ASSERT_TRUE(SubmitAndWait(*committer, NewRoom("big", {"a", "b", "c"})).ok());
  ASSERT_TRUE(SubmitAndWait(*committer, NewRoom("small", {"x"})).ok());

  // A long read of the big room (a scan of a million arms, say).
  absl::Notification holding, release;
  std::thread reader([&] {
    engine.ForEachRoom([&](const core::Room& room) {
      if (room.id != "big") return;
      holding.Notify();
      release.WaitForNotification();
    });
  });
  holding.WaitForNotification();
  absl::Notification big_done;
  absl::StatusOr<core::ApplyResult> big;
  committer->Submit(Batch({Event("big", "a", 1, 1)}),
                    [&](absl::StatusOr<core::ApplyResult> r) {
                      big = std::move(r);
                      big_done.Notify();
                    });
  // Before queueing, the writer waited for the big room's lock here, and
  // so did this write to another room (the timeout is only a backstop).
  absl::StatusOr<core::ApplyResult> small;
  absl::Notification small_done;
  committer->Submit(Batch({Event("small", "x", 1, 0)}),
                    [&](absl::StatusOr<core::ApplyResult> r) {
                      small = std::move(r);
                      small_done.Notify();
                    });
  EXPECT_TRUE(small_done.WaitForNotificationWithTimeout(absl::Seconds(60)));
  EXPECT_TRUE(small.ok()) << small.status();
  EXPECT_EQ(Views(engine, "small"), 1);
  // Logged, but not applied while the reader holds the room: not answered.
  EXPECT_FALSE(big_done.HasBeenNotified());
  EXPECT_EQ(contents->log_size(), 4u);

  release.Notify();
  reader.join();
  big_done.WaitForNotification();
  ASSERT_TRUE(big.ok()) << big.status();
  EXPECT_EQ(big->applied_events, 1);
  // Answered after the apply: a read now sees it.
  EXPECT_EQ(Views(engine, "big"), 1);
  committer->Shutdown();

  core::Engine recovered;
  auto again = OpenFake(contents, &recovered);
  EXPECT_EQ(CaptureState(recovered), CaptureState(engine));
}

// Readers hammer every room while random mutations are submitted, so that
// writes are queued and then applied at arbitrary points (snapshots too
// apply the queues first); the log then replays to exactly the same state.
TEST(DurableQueueTest, QueuedWritesReplayToTheSameState) {
  core::Engine engine({.queue_writes_min_arms = 1});
  auto contents = std::make_shared<FakeLogContents>();
  auto committer = OpenFake(contents, &engine, /*snapshot_every_records=*/200);
  std::atomic<bool> stop{false};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&, t] {
      int i = t;
      while (!stop.load()) {
        core::RoomPage page = engine.ListRooms(100, "");
        for (const core::RoomInfo& room : page.rooms) {
          (void)engine.GetStats(room.room_id, "", ++i % 2 == 0);
        }
      }
    });
  }
  const std::vector<core::Mutation> ms = RandomMutations(2000, 7);
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (size_t i = t; i < ms.size(); i += 4) {
        (void)SubmitAndWait(*committer, ms[i]);
      }
    });
  }
  for (std::thread& w : writers) w.join();
  stop = true;
  for (std::thread& r : readers) r.join();
  committer->Shutdown();
  EXPECT_EQ(engine.queued_events(), 0);
  EXPECT_EQ(engine.reserved_bytes(), 0);
  const EngineState state = CaptureState(engine);
  ASSERT_FALSE(state.rooms.empty());

  core::Engine recovered;
  auto again = OpenFake(contents, &recovered);
  EXPECT_EQ(CaptureState(recovered), state);
}

}  // namespace
}  // namespace banditd::store
