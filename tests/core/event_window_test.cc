#include "server/core/event_window.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "server/core/engine.h"

namespace banditd::core {
namespace {

constexpr int64_t kSecond = 1'000'000;

std::string Key(int i) { return EventKey("r", absl::StrCat("e", i)); }

bool Holds(const EventIdWindow& w, int i) {
  return w.Contains(Key(i), absl::StrCat("e", i));
}

// Catches: a window that forgets by count alone (a retry after a burst of
// other ids within the age would count twice), or one that never forgets.
TEST(EventIdWindowTest, KeepsIdsForTheAgeBeyondTheCount) {
  EventIdWindow w(/*count=*/2, absl::Seconds(10));
  const int64_t t0 = 1'700'000'000 * kSecond;
  for (int i = 0; i < 5; ++i) w.Remember(Key(i), t0 + i * kSecond);
  EXPECT_EQ(w.size(), 5u);  // 5 ids > count 2, but all younger than 10 s.
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(Holds(w, i)) << i;
  // 13 s: ids logged at or before 3 s are old enough, and beyond the count.
  w.Remember(Key(5), t0 + 13 * kSecond);
  EXPECT_FALSE(Holds(w, 0));
  EXPECT_FALSE(Holds(w, 3));
  EXPECT_TRUE(Holds(w, 4));
  EXPECT_TRUE(Holds(w, 5));
  EXPECT_EQ(w.first(), 4u);
  EXPECT_EQ(w.added(), 6u);
  EXPECT_EQ(w.bytes(), 2 * EventIdWindow::KeyBytes(Key(4).size()));
  // Much later the count still keeps the newest two.
  w.Remember(Key(6), t0 + 1000 * kSecond);
  EXPECT_EQ(w.size(), 2u);
  EXPECT_TRUE(Holds(w, 5));
}

// Catches: records without a log time (0) keeping every id forever.
TEST(EventIdWindowTest, WithoutLogTimeForgetsByCount) {
  EventIdWindow w(3, absl::Minutes(10));
  for (int i = 0; i < 10; ++i) w.Remember(Key(i), 0);
  EXPECT_EQ(w.size(), 3u);
  EXPECT_FALSE(Holds(w, 6));
  EXPECT_TRUE(Holds(w, 7));
}

// A replica restarted from a snapshot must forget exactly what one that
// kept running forgets, also when log times go back and forth (records
// stamped by replicas whose clocks differ).
// Catches: evicting again while loading a snapshot, or any eviction rule
// that depends on more than the held ids and the record being applied.
TEST(EventIdWindowTest, RestoredWindowForgetsLikeTheOriginal) {
  absl::BitGen gen;
  for (int round = 0; round < 20; ++round) {
    const int64_t count = absl::Uniform(gen, 1, 50);
    EventIdWindow live(count, absl::Seconds(5));
    std::vector<std::pair<int, int64_t>> sequence;
    int64_t t = 1'700'000'000 * kSecond;
    for (int i = 0; i < 400; ++i) {
      t += absl::Uniform(gen, -2 * kSecond, 3 * kSecond);  // Skewed clocks.
      sequence.emplace_back(i, t);
    }
    const size_t cut = absl::Uniform(gen, 0u, sequence.size());
    for (size_t i = 0; i < cut; ++i) {
      live.Remember(Key(sequence[i].first), sequence[i].second);
    }
    EventIdWindow restored(count, absl::Seconds(5));
    for (uint64_t n = live.first(); n < live.added(); ++n) {
      restored.Restore(live.key(n), live.micros(n));
    }
    for (size_t i = cut; i < sequence.size(); ++i) {
      live.Remember(Key(sequence[i].first), sequence[i].second);
      restored.Remember(Key(sequence[i].first), sequence[i].second);
      ASSERT_EQ(live.size(), restored.size()) << "round " << round;
    }
    for (int i = 0; i < 400; ++i) {
      ASSERT_EQ(Holds(live, i), Holds(restored, i)) << i;
    }
    EXPECT_EQ(live.bytes(), restored.bytes());
  }
}

// Catches: deleted rooms' ids still matching, or leaking accounted bytes.
// The set views the entries' characters: catches a view left dangling by
// an eviction, by growing across the deque's blocks, or by a move (short
// keys live inside the string, long ones on the heap).
TEST(EventIdWindowTest, KeysStoredOnceStayFindableThroughEvictionAndMove) {
  auto id = [](int i) {
    return i % 2 ? absl::StrCat("e", i)
                 : absl::StrCat("a-long-event-id-on-the-heap-", i);
  };
  EventIdWindow w(100, absl::ZeroDuration());
  for (int i = 0; i < 1000; ++i) w.Remember(EventKey("r", id(i)), 0);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_EQ(w.Contains(EventKey("r", id(i)), id(i)), i >= 900) << i;
  }
  EventIdWindow moved(std::move(w));
  for (int i = 1000; i < 1050; ++i) moved.Remember(EventKey("r", id(i)), 0);
  for (int i = 850; i < 1050; ++i) {
    EXPECT_EQ(moved.Contains(EventKey("r", id(i)), id(i)), i >= 950) << i;
  }
  EXPECT_EQ(moved.bytes(), [&] {
    int64_t bytes = 0;
    for (int i = 950; i < 1050; ++i) {
      bytes += EventIdWindow::KeyBytes(EventKey("r", id(i)).size());
    }
    return bytes;
  }());
}

TEST(EventIdWindowTest, ForgetPrefixLeavesHolesInPlace) {
  EventIdWindow w(4, absl::ZeroDuration());
  w.Remember(EventKey("a", "1"), 0);
  w.Remember(EventKey("b", "1"), 0);
  w.Remember(EventKey("a", "2"), 0);
  w.ForgetPrefix(EventKey("a", ""));
  EXPECT_FALSE(w.Contains(EventKey("a", "1"), "1"));
  EXPECT_TRUE(w.Contains(EventKey("b", "1"), "1"));
  EXPECT_EQ(w.size(), 3u);
  EXPECT_EQ(w.key(0), "");
  EXPECT_EQ(w.bytes(), EventIdWindow::KeyBytes(EventKey("b", "1").size()));
}

FeedbackBatch IdBatch(int first, int count, int64_t micros) {
  FeedbackBatch batch;
  for (int i = first; i < first + count; ++i) {
    FeedbackEvent e;
    e.room_id = "r";
    e.arm_id = "a";
    e.views = 1;
    e.event_id = absl::StrCat("e", i);
    batch.events.push_back(e);
  }
  batch.logged_at_micros = micros;
  return batch;
}

CreateRoom RoomR() {
  CreateRoom create;
  create.room_id = "r";
  create.arm_ids = {"a"};
  return create;
}

// The case: at high traffic a count of ids covers less time than an
// outage; a retry within --event_id_window_age must still count once.
// Catches: the engine ignoring the age, or reading the wall clock (the
// records here are logged in 2023: a wall-clock window would have aged them
// all out).
TEST(EngineEventWindowTest, RetryWithinTheAgeCountsOnceBeyondTheCount) {
  EngineOptions options;
  options.event_id_window = 100;
  options.event_id_window_age = absl::Minutes(10);
  Engine engine(options);
  ASSERT_TRUE(engine.Apply(RoomR()).ok());
  const int64_t t0 = 1'700'000'000 * kSecond;
  ASSERT_EQ(engine.Apply(IdBatch(0, 10, t0))->applied_events, 10);
  // 5 minutes of heavy traffic: 10,000 other ids, 100 times the count.
  for (int b = 0; b < 100; ++b) {
    ASSERT_TRUE(
        engine.Apply(IdBatch(1000 + b * 100, 100, t0 + b * kSecond)).ok());
  }
  ApplyResult retry = *engine.Apply(IdBatch(0, 10, t0 + 300 * kSecond));
  EXPECT_EQ(retry.applied_events, 0);
  EXPECT_EQ(retry.duplicate_events, 10);
  // Past the age, the count alone holds ids: the first ones are forgotten.
  ASSERT_TRUE(engine.Apply(IdBatch(50'000, 100, t0 + 1000 * kSecond)).ok());
  EXPECT_EQ(engine.Apply(IdBatch(0, 10, t0 + 1001 * kSecond))->applied_events,
            10);
}

// Catches: a window that grows without bound under traffic, or a refusal
// that does not say which flag to change.
TEST(EngineEventWindowTest, AdmissionRefusesIdsBeyondTheMemoryBudget) {
  EngineOptions options;
  options.event_id_window = 10;
  options.event_id_window_age = absl::Hours(1);
  Engine probe(options);
  ASSERT_TRUE(probe.Apply(RoomR()).ok());
  // Room for the room and about 500 ids.
  options.memory_budget_bytes =
      probe.bytes_used() + 500 * EventIdWindow::KeyBytes(Key(9999).size());
  Engine engine(options);
  ASSERT_TRUE(engine.Apply(RoomR()).ok());
  const int64_t t0 = 1'700'000'000 * kSecond;
  absl::Status refused;
  int applied = 0;
  for (int b = 0; b < 100 && refused.ok(); ++b) {
    const FeedbackBatch batch = IdBatch(b * 10, 10, t0 + b * kSecond);
    refused = engine.Validate(batch);
    if (refused.ok()) applied += engine.Apply(batch)->applied_events;
  }
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted) << refused;
  EXPECT_NE(refused.message().find("--event_id_window_age=1h"),
            std::string::npos)
      << refused;
  EXPECT_GT(applied, 400);
  EXPECT_LE(engine.bytes_used(), options.memory_budget_bytes);
  EXPECT_EQ(engine.rejections(Limit::kMemoryBudget), 1);
}

}  // namespace
}  // namespace banditd::core
