// Engine::ApplyOrQueue: Feedback to a big room whose lock a reader holds is
// queued rather than waited for, applied in the room's log order, and
// answered only once applied; reads never see half an event.

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "server/core/engine.h"
#include "tests/testing/core_builders.h"

namespace banditd::core {
namespace {

using ::banditd::testing::Batch;
using ::banditd::testing::Event;
using ::banditd::testing::NewRoom;

EngineOptions QueueingOptions() {
  EngineOptions options;
  options.queue_writes_min_arms = 3;  // "big": 3 arms or more
  return options;
}

// Holds room `id`'s reader lock on a thread of its own until Release().
class RoomReader {
 public:
  RoomReader(const Engine& engine, std::string id)
      : thread_([this, &engine, id] {
          engine.ForEachRoom([&](const Room& room) {
            if (room.id != id) return;
            holding_.Notify();
            release_.WaitForNotification();
          });
        }) {
    holding_.WaitForNotification();
  }
  ~RoomReader() { Release(); }
  void Release() {
    if (!release_.HasBeenNotified()) release_.Notify();
    if (thread_.joinable()) thread_.join();
  }

 private:
  absl::Notification holding_, release_;
  std::thread thread_;
};

Counts CountsOf(const Engine& engine, const std::string& room,
                const std::string& arm) {
  ArmSelection one;
  one.arm_ids = {arm};
  absl::StatusOr<Stats> stats = engine.GetStats(room, "", false, one);
  EXPECT_TRUE(stats.ok()) << stats.status();
  return stats.ok() ? stats->arms[0].counts : Counts{};
}

struct Answers {
  std::vector<std::string> order;
  std::vector<absl::StatusOr<ApplyResult>> results;

  Engine::Applied Record(std::string name) {
    return [this, name](absl::StatusOr<ApplyResult> r) {
      order.push_back(name);
      results.push_back(std::move(r));
    };
  }
};

TEST(EngineQueueTest, BusyBigRoomQueuesWhileOtherRoomsApplyAtOnce) {
  Engine engine(QueueingOptions());
  ASSERT_TRUE(engine.Apply(NewRoom("big", {"a", "b", "c"})).ok());
  ASSERT_TRUE(engine.Apply(NewRoom("small", {"x", "y"})).ok());
  Answers answers;
  RoomReader reader(engine, "big");

  engine.ApplyOrQueue(Batch({Event("big", "a", 2, 1)}), answers.Record("b1"));
  engine.ApplyOrQueue(Batch({Event("small", "x", 1, 0)}), answers.Record("s1"));
  // One record, two rooms: answered once the big room's part is applied.
  engine.ApplyOrQueue(
      Batch({Event("small", "y", 3, 0), Event("big", "b", 5, 2)}),
      answers.Record("mixed"));
  // A small room (under queue_writes_min_arms) is applied and answered now.
  EXPECT_EQ(answers.order, std::vector<std::string>{"s1"});
  EXPECT_EQ(CountsOf(engine, "small", "y").views, 3);
  EXPECT_EQ(engine.queued_events(), 2);
  EXPECT_EQ(engine.ApplyQueued(/*wait=*/false), 2);  // still held
  EXPECT_EQ(answers.order, std::vector<std::string>{"s1"});

  reader.Release();
  EXPECT_EQ(engine.ApplyQueued(/*wait=*/false), 0);
  EXPECT_EQ(answers.order, (std::vector<std::string>{"s1", "b1", "mixed"}));
  ASSERT_TRUE(answers.results[2].ok());
  EXPECT_EQ(answers.results[2]->applied_events, 2);
  EXPECT_EQ(CountsOf(engine, "big", "a"), (Counts{2, 1, 1}));
  EXPECT_EQ(CountsOf(engine, "big", "b"), (Counts{5, 2, 2}));
  // With the lock free, the next event is applied at once.
  engine.ApplyOrQueue(Batch({Event("big", "c", 1, 1)}), answers.Record("b2"));
  EXPECT_EQ(answers.order.back(), "b2");
  EXPECT_EQ(engine.queued_events(), 0);
}

TEST(EngineQueueTest, DuplicatesAreDecidedInLogOrderEvenWhenQueued) {
  Engine engine(QueueingOptions());
  ASSERT_TRUE(engine.Apply(NewRoom("big", {"a", "b", "c"})).ok());
  Answers answers;
  {
    RoomReader reader(engine, "big");
    engine.ApplyOrQueue(Batch({Event("big", "a", 1, 0, "", {}, {}, "e1")}),
                        answers.Record("first"));
    engine.ApplyOrQueue(Batch({Event("big", "a", 1, 0, "", {}, {}, "e1"),
                               Event("big", "b", 1, 0, "", {}, {}, "e2")}),
                        answers.Record("retry"));
  }
  engine.ApplyQueued(/*wait=*/false);
  ASSERT_EQ(answers.results.size(), 2u);
  EXPECT_EQ(answers.results[1]->duplicate_events, 1);
  EXPECT_EQ(answers.results[1]->applied_events, 1);
  EXPECT_EQ(CountsOf(engine, "big", "a").views, 1);  // counted once
}

// A room with decay by events: each event shrinks the earlier counts, so
// applying a room's events in any order but the log's gives other counts.
// Structural changes (here SetArmEnabled and ResetArm) apply the room's
// queue first.
TEST(EngineQueueTest, QueuedRoomEndsInTheStateOfThePlainLogOrder) {
  std::vector<Mutation> log;
  CreateRoom big = NewRoom("big", {"a", "b", "c", "d"});
  big.decay.half_life_events = 3;
  log.push_back(big);
  log.push_back(NewRoom("small", {"x", "y"}));
  for (int i = 0; i < 40; ++i) {
    const std::string arm(1, static_cast<char>('a' + (i * 7) % 4));
    log.push_back(Batch({Event("big", arm, 1 + i % 3, i % 2, i % 5 ? "s" : "",
                               {i % 3 ? "ctx" : "other"}),
                         Event("small", i % 2 ? "x" : "y", 1, 0)}));
    if (i == 13) {
      SetArmEnabled disable;
      disable.room_id = "big";
      disable.arm_id = "b";
      disable.enabled = false;
      log.push_back(disable);
    }
    if (i == 29) {
      ResetArm reset;
      reset.room_id = "big";
      reset.arm_id = "c";
      log.push_back(reset);
    }
  }
  Engine plain;
  for (const Mutation& m : log) ASSERT_TRUE(plain.Apply(m).ok());

  Engine queued(QueueingOptions());
  int answered = 0;
  std::unique_ptr<RoomReader> reader;
  for (size_t i = 0; i < log.size(); ++i) {
    // The reader holds the big room for stretches of the log.
    if (i % 10 == 3) reader = std::make_unique<RoomReader>(queued, "big");
    if (i % 10 == 8) reader.reset();
    if (std::holds_alternative<FeedbackBatch>(log[i]) || i < 2) {
      queued.ApplyOrQueue(log[i], [&](absl::StatusOr<ApplyResult> r) {
        EXPECT_TRUE(r.ok()) << r.status();
        ++answered;
      });
    } else {
      reader.reset();  // a structural change waits for the readers
      ASSERT_TRUE(queued.Apply(log[i]).ok());
    }
    if (i % 4 == 0) queued.ApplyQueued(/*wait=*/false);
  }
  reader.reset();
  EXPECT_EQ(queued.ApplyQueued(/*wait=*/true), 0);
  EXPECT_EQ(answered, 42);
  for (const std::string segment : {"", "s"}) {
    absl::StatusOr<Stats> want = plain.GetStats("big", segment, true);
    absl::StatusOr<Stats> got = queued.GetStats("big", segment, true);
    ASSERT_TRUE(want.ok() && got.ok());
    EXPECT_EQ(got->total_views, want->total_views);
    for (size_t a = 0; a < want->arms.size(); ++a) {
      EXPECT_EQ(got->arms[a].counts, want->arms[a].counts) << a;
      ASSERT_EQ(got->arms[a].context.size(), want->arms[a].context.size());
      for (size_t c = 0; c < want->arms[a].context.size(); ++c) {
        EXPECT_EQ(got->arms[a].context[c].counts,
                  want->arms[a].context[c].counts);
      }
    }
  }
  EXPECT_EQ(queued.bytes_used(), plain.bytes_used());
}

// Every event adds 2 views and 1 click: in any state an arm has exactly
// twice as many views as clicks, so a read that saw half an event (or a
// write made without the room's lock) would break it.
TEST(EngineQueueTest, ReadsBesideQueuedWritesSeeWholeEvents) {
  Engine engine(QueueingOptions());
  std::vector<std::string> arms;
  for (int i = 0; i < 64; ++i) arms.push_back("arm" + std::to_string(i));
  ASSERT_TRUE(engine.Apply(NewRoom("big", arms)).ok());
  std::atomic<bool> stop{false};
  std::atomic<int> reads{0}, bad{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&, t] {
      std::vector<double> last(arms.size(), 0);
      while (!stop.load()) {
        if (t == 0) {
          absl::StatusOr<Stats> stats = engine.GetStats("big", "", false);
          if (!stats.ok()) continue;
          for (size_t a = 0; a < stats->arms.size(); ++a) {
            const Counts& c = stats->arms[a].counts;
            if (c.views != 2 * c.clicks || c.views < last[a]) ++bad;
            last[a] = c.views;
          }
        } else {
          SampleQuery q;
          q.room_id = "big";
          q.k = 10;
          absl::StatusOr<SampleResult> sampled = engine.Sample(q);
          if (!sampled.ok()) continue;
          for (const ScoredArm& arm : sampled->arms) {
            if (arm.counts.views != 2 * arm.counts.clicks) ++bad;
          }
        }
        ++reads;
      }
    });
  }
  // The writes start once both readers are reading.
  while (reads.load() < 2) std::this_thread::yield();
  constexpr int kEvents = 3000;
  std::vector<int> answered_order;
  for (int i = 0; i < kEvents; ++i) {
    engine.ApplyOrQueue(
        Batch({Event("big", arms[static_cast<size_t>(i * 13) % arms.size()], 2,
                     1)}),
        [&, i](absl::StatusOr<ApplyResult> r) {
          EXPECT_TRUE(r.ok());
          answered_order.push_back(i);
        });
    engine.ApplyQueued(/*wait=*/false);
  }
  stop = true;
  for (std::thread& r : readers) r.join();
  EXPECT_EQ(engine.ApplyQueued(/*wait=*/true), 0);
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(reads.load(), 0);
  ASSERT_EQ(answered_order.size(), static_cast<size_t>(kEvents));
  for (int i = 0; i < kEvents; ++i) EXPECT_EQ(answered_order[i], i);
  absl::StatusOr<Stats> stats = engine.GetStats("big", "", false);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->total_views, 2.0 * kEvents);
}

}  // namespace
}  // namespace banditd::core
