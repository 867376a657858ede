// The engine's event-id windows, one per log stream (FeedbackBatch::stream):
// in cluster mode with several streams every replica interleaves the
// streams' records differently, and de-duplication must still decide alike.

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/engine.h"

namespace banditd::core {
namespace {

using ::testing::ElementsAre;

constexpr int64_t kSecond = 1'000'000;
constexpr int64_t kT0 = 1'700'000'000 * kSecond;
constexpr int kStreams = 3;
constexpr int kRooms = 6;  // Room "r<i>" is in stream i % kStreams.

FeedbackEvent IdEvent(const std::string& room, const std::string& id) {
  FeedbackEvent e;
  e.room_id = room;
  e.arm_id.assign(1, 'a');  // (= "a" trips GCC 12's -Wrestrict here.)
  e.views = 1;
  e.event_id = id;
  return e;
}

FeedbackBatch StreamBatch(int stream, int64_t micros,
                          std::vector<FeedbackEvent> events) {
  FeedbackBatch batch;
  batch.events = std::move(events);
  batch.logged_at_micros = micros;
  batch.stream = stream;
  return batch;
}

void CreateRooms(Engine& engine, int rooms) {
  for (int r = 0; r < rooms; ++r) {
    CreateRoom create;
    create.room_id = absl::StrCat("r", r);
    create.arm_ids = {"a"};
    ASSERT_TRUE(engine.Apply(create).ok());
  }
}

// Each stream's records in its own order: 1 to 3 events to the stream's
// rooms, ids drawn from a small pool (so both retries within the window and
// ids it has forgotten come up), log times moving 0 to 2 s per record, each
// stream with its own clock offset (they are stamped by different replicas).
std::vector<std::vector<FeedbackBatch>> StreamRecords(uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::vector<FeedbackBatch>> streams(kStreams);
  for (int s = 0; s < kStreams; ++s) {
    int64_t t = kT0 + s * 7 * kSecond;
    for (int i = 0; i < 60; ++i) {
      t += static_cast<int64_t>(rng() % 3) * kSecond;
      std::vector<FeedbackEvent> events;
      const int n = 1 + static_cast<int>(rng() % 3);
      for (int e = 0; e < n; ++e) {
        const int room = s + kStreams * static_cast<int>(rng() % 2);
        events.push_back(
            IdEvent(absl::StrCat("r", room), absl::StrCat("e", rng() % 10)));
      }
      streams[s].push_back(StreamBatch(s, t, std::move(events)));
    }
  }
  return streams;
}

// A merge of the streams keeping each stream's order: `order[k]` is the
// stream of the k-th record applied.
std::vector<int> Interleaving(const std::vector<std::vector<FeedbackBatch>>& r,
                              uint32_t seed) {
  std::vector<int> order;
  for (int s = 0; s < kStreams; ++s) order.insert(order.end(), r[s].size(), s);
  std::shuffle(order.begin(), order.end(), std::mt19937(seed));
  return order;
}

struct Outcome {
  // Duplicates found per record, by stream and position in the stream.
  std::vector<std::vector<int64_t>> duplicates;
  std::vector<double> views;  // Per room.
  std::vector<std::vector<std::string>> windows;
};

// Applies the records in `order`; with `one_window`, as a single window
// over every stream (the engine before windows were per stream).
Outcome ApplyInOrder(const std::vector<std::vector<FeedbackBatch>>& records,
                     const std::vector<int>& order, bool one_window) {
  Engine engine({.event_id_window = 4,
                 .event_id_window_age = absl::Seconds(5),
                 .event_id_streams = one_window ? 1 : kStreams});
  CreateRooms(engine, kRooms);
  Outcome out;
  out.duplicates.resize(kStreams);
  std::vector<size_t> next(kStreams, 0);
  for (int s : order) {
    FeedbackBatch batch = records[s][next[s]++];
    if (one_window) batch.stream = 0;
    out.duplicates[s].push_back(engine.Apply(batch)->duplicate_events);
  }
  for (int r = 0; r < kRooms; ++r) {
    out.views.push_back(
        engine.GetStats(absl::StrCat("r", r), "", false)->arms[0].counts.views);
  }
  for (int s = 0; s < engine.event_id_streams(); ++s) {
    out.windows.push_back(engine.CopyEventIds(s).keys);
  }
  return out;
}

// The drift: replicas apply several streams in different
// interleavings. With a window per stream, every record finds the same
// duplicates and the windows end equal, whatever the interleaving.
// Catches: windows shared between streams, or an eviction that reads
// another stream's records (count or log time). The single-window run shows
// the data would expose it: there, the interleavings disagree.
TEST(EngineEventIdsTest, PerStreamWindowsDecideAlikeInAnyInterleaving) {
  for (uint32_t seed : {1u, 2u, 3u}) {
    const std::vector<std::vector<FeedbackBatch>> records = StreamRecords(seed);
    const std::vector<int> first = Interleaving(records, 100 + seed);
    const Outcome a = ApplyInOrder(records, first, /*one_window=*/false);
    int64_t duplicates = 0;
    for (const auto& stream : a.duplicates) {
      for (int64_t d : stream) duplicates += d;
    }
    EXPECT_GT(duplicates, 10) << "the pool must repeat ids; seed " << seed;
    bool one_window_drifts = false;
    for (uint32_t other : {200u, 300u, 400u}) {
      const std::vector<int> order = Interleaving(records, other + seed);
      const Outcome b = ApplyInOrder(records, order, /*one_window=*/false);
      EXPECT_EQ(a.duplicates, b.duplicates) << seed << "/" << other;
      EXPECT_EQ(a.views, b.views) << seed << "/" << other;
      EXPECT_EQ(a.windows, b.windows) << seed << "/" << other;
      one_window_drifts |= ApplyInOrder(records, first, true).duplicates !=
                           ApplyInOrder(records, order, true).duplicates;
    }
    EXPECT_TRUE(one_window_drifts) << "seed " << seed;
  }
}

// A busy stream neither pushes a quiet stream's ids out by count nor ages
// them by its log times: each window counts and ages by its own records.
// Catches: a count or a horizon shared between windows.
TEST(EngineEventIdsTest, EachWindowCountsAndAgesByItsOwnStream) {
  Engine engine({.event_id_window = 3,
                 .event_id_window_age = absl::Seconds(10),
                 .event_id_streams = 2});
  CreateRooms(engine, 2);  // r0 in stream 0 (busy), r1 in stream 1 (quiet).
  auto quiet = [&](const std::string& id, int64_t micros) {
    return *engine.Apply(StreamBatch(1, micros, {IdEvent("r1", id)}));
  };
  EXPECT_EQ(quiet("once", kT0).applied_events, 1);
  // 100 ids in the busy stream, logged 100 s later: far beyond the count
  // and the age of a single window holding both streams.
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(engine
                    .Apply(StreamBatch(0, kT0 + 100 * kSecond,
                                       {IdEvent("r0", absl::StrCat("b", i))}))
                    .ok());
  }
  EXPECT_EQ(quiet("once", kT0 + kSecond).duplicate_events, 1);
  // Its own stream's count is exceeded, but "once" is younger than 10 s.
  for (const char* id : {"q1", "q2", "q3"}) quiet(id, kT0 + 2 * kSecond);
  EXPECT_EQ(quiet("once", kT0 + 3 * kSecond).duplicate_events, 1);
  // Beyond the count and 10 s older than its stream's newest record: gone.
  quiet("q4", kT0 + 20 * kSecond);
  EXPECT_EQ(quiet("once", kT0 + 21 * kSecond).applied_events, 1);
  // The busy stream's ids were logged together: its age keeps all 100.
  EXPECT_EQ(engine.CopyEventIds(0).keys.size(), 100u);
  EXPECT_THAT(engine.CopyEventIds(1).keys,
              ElementsAre(EventKey("r1", "q3"), EventKey("r1", "q4"),
                          EventKey("r1", "once")));
}

// Catches: memory accounting of one window only, DeleteRoom holes in the
// wrong window, or a snapshot load that drops windows beyond the first.
TEST(EngineEventIdsTest, WindowsAreAccountedForgottenAndRestoredPerStream) {
  // `twin` gets the same records without a window: the difference is what
  // the windows hold.
  Engine engine({.event_id_window = 10, .event_id_streams = 2});
  Engine twin({.event_id_window = 0, .event_id_streams = 2});
  const int64_t key_bytes = EventIdWindow::KeyBytes(EventKey("r0", "x").size());
  for (Engine* e : {&engine, &twin}) {
    CreateRooms(*e, 4);  // r0, r2 in stream 0; r1, r3 in stream 1.
    ASSERT_TRUE(
        e->Apply(StreamBatch(0, kT0, {IdEvent("r0", "x"), IdEvent("r2", "y")}))
            .ok());
    ASSERT_TRUE(
        e->Apply(StreamBatch(1, kT0, {IdEvent("r1", "x"), IdEvent("r3", "z")}))
            .ok());
  }
  EXPECT_EQ(engine.bytes_used() - twin.bytes_used(), 4 * key_bytes);
  ASSERT_TRUE(engine.Apply(DeleteRoom{"r1"}).ok());
  ASSERT_TRUE(twin.Apply(DeleteRoom{"r1"}).ok());
  EXPECT_THAT(engine.CopyEventIds(0).keys,
              ElementsAre(EventKey("r0", "x"), EventKey("r2", "y")));
  EXPECT_THAT(engine.CopyEventIds(1).keys,
              ElementsAre("", EventKey("r3", "z")));
  EXPECT_EQ(engine.bytes_used() - twin.bytes_used(), 3 * key_bytes);

  // A copy of each window restores into its own window.
  Engine restored({.event_id_window = 10, .event_id_streams = 2});
  auto rooms = [] {
    std::vector<std::unique_ptr<Room>> out;
    for (const char* id : {"r0", "r2", "r3"}) {
      auto room = std::make_unique<Room>(id);
      absl::MutexLock lock(&room->mu);
      room->MutableSegment("");
      room->AddArms({"a"});
      out.push_back(std::move(room));
    }
    return out;
  };
  restored.ReplaceRooms(rooms(), {});
  const int64_t restored_rooms = restored.bytes_used();
  restored.ReplaceRooms(rooms(),
                        {engine.CopyEventIds(0), engine.CopyEventIds(1)});
  EXPECT_EQ(restored.CopyEventIds(1).keys, engine.CopyEventIds(1).keys);
  EXPECT_EQ(restored.bytes_used() - restored_rooms, 3 * key_bytes);
  EXPECT_EQ(restored.Apply(StreamBatch(1, kT0, {IdEvent("r3", "z")}))
                ->duplicate_events,
            1);
  EXPECT_EQ(restored.Apply(StreamBatch(0, kT0, {IdEvent("r2", "y")}))
                ->duplicate_events,
            1);
}

}  // namespace
}  // namespace banditd::core
