#include "server/store/engine_state.h"

#include <string>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "banditd/internal/v1/log.pb.h"
#include "gtest/gtest.h"
#include "server/store/snapshot_codec.h"
#include "tests/testing/random_mutations.h"

namespace banditd::store {
namespace {

void ApplyAll(core::Engine& engine, const std::vector<core::Mutation>& ms) {
  for (const core::Mutation& m : ms) (void)engine.Apply(m);
}

TEST(EngineStateTest, CaptureRestoreRoundTrip) {
  core::Engine engine;
  // Seed 10: its workload ends with a LinUCB room and a decayed one (with
  // seed 1 both happen to be deleted or reset by then).
  ApplyAll(engine, testing::RandomMutations(3000, 10));
  EngineState state = CaptureState(engine);
  ASSERT_FALSE(state.rooms.empty());
  ASSERT_GT(state.event_id_count(), 0u);
  // The workload covers LinUCB models and decayed counters.
  bool linucb = false, decayed = false;
  for (const RoomState& room : state.rooms) {
    linucb |= !room.linucb_arms.empty();
    decayed |= room.counter_scale != 1.0;
  }
  EXPECT_TRUE(linucb);
  EXPECT_TRUE(decayed);

  core::Engine restored;
  RestoreState(state, &restored);
  EXPECT_EQ(CaptureState(restored), state);
}

TEST(EngineStateTest, RestoredEngineBehavesLikeTheOriginal) {
  // Snapshot half way, then apply the rest to both: same state, same
  // duplicate detection (the event-id window is part of the snapshot).
  const std::vector<core::Mutation> ms = testing::RandomMutations(4000, 3);
  const size_t half = ms.size() / 2;
  core::Engine original;
  ApplyAll(original, {ms.begin(), ms.begin() + half});
  absl::StatusOr<EngineState> decoded =
      DecodeSnapshot(EncodeSnapshot(CaptureState(original), 4096));
  ASSERT_TRUE(decoded.ok());
  core::Engine restored;
  RestoreState(*std::move(decoded), &restored);
  for (size_t i = half; i < ms.size(); ++i) {
    absl::StatusOr<core::ApplyResult> a = original.Apply(ms[i]);
    absl::StatusOr<core::ApplyResult> b = restored.Apply(ms[i]);
    ASSERT_EQ(a.ok(), b.ok()) << i;
    if (a.ok()) {
      EXPECT_EQ(a->applied_events, b->applied_events);
      EXPECT_EQ(a->duplicate_events, b->duplicate_events);
    }
  }
  EXPECT_EQ(CaptureState(original), CaptureState(restored));
}

TEST(EngineStateTest, TwoStepCaptureEqualsCaptureState) {
  core::Engine engine;
  const std::vector<core::Mutation> ms = testing::RandomMutations(2000, 5);
  ApplyAll(engine, ms);
  EngineState draft = CaptureDraft(engine);
  // Feedback in between is fine: only counters and event ids change.
  for (const core::Mutation& m : testing::RandomMutations(500, 6)) {
    if (std::holds_alternative<core::FeedbackBatch>(m)) (void)engine.Apply(m);
  }
  ASSERT_TRUE(FinishDraft(engine, &draft));
  EXPECT_EQ(draft, CaptureState(engine));
  EXPECT_GT(draft.event_id_count(), 0u);

  // A room created in between is noticed.
  EngineState stale = CaptureDraft(engine);
  core::CreateRoom create;
  create.room_id = "aaa-new";
  create.arm_ids = {"x"};
  ASSERT_TRUE(engine.Apply(create).ok());
  EXPECT_FALSE(FinishDraft(engine, &stale));
}

// The event-id window is copied in the draft and only the ids added since in
// the pause: the result must equal a full copy whether few ids or more than
// the whole window arrived in between.
TEST(EngineStateTest, TwoStepCaptureOfTheEventIdWindow) {
  for (int between : {0, 3, 10, 25}) {
    core::Engine engine({.event_id_window = 10});
    core::CreateRoom create;
    create.room_id = "r";
    create.arm_ids = {"a"};
    ASSERT_TRUE(engine.Apply(create).ok());
    int next_id = 0;
    auto feed = [&](int events) {
      core::FeedbackBatch batch;
      for (int i = 0; i < events; ++i) {
        core::FeedbackEvent e;
        e.room_id = "r";
        e.arm_id = "a";
        e.views = 1;
        e.event_id = absl::StrCat("id", next_id++);
        batch.events.push_back(e);
      }
      ASSERT_TRUE(engine.Apply(batch).ok());
    };
    feed(7);
    EngineState draft = CaptureDraft(engine);
    if (between > 0) feed(between);
    ASSERT_TRUE(FinishDraft(engine, &draft));
    EXPECT_EQ(draft, CaptureState(engine)) << between;
    ASSERT_EQ(draft.event_windows.size(), 1u);
    EXPECT_EQ(draft.event_windows[0].keys.back(),
              core::EventKey("r", absl::StrCat("id", next_id - 1)));
    EXPECT_EQ(draft.event_windows[0].keys.size(), std::min(next_id, 10))
        << between;
  }
}

// The window keeps ids for an age of log time beyond its count: the two-step
// copy must drop exactly the draft's ids that aged out meanwhile, and the
// snapshot must keep each id's log time, so that a restored engine forgets
// what the original forgets.
// Catches: a merge that trims the draft to the count (losing ids the age
// keeps), snapshots without log times, or a load that evicts.
TEST(EngineStateTest, AgedWindowSurvivesTwoStepCopyAndSnapshot) {
  core::EngineOptions options;
  options.event_id_window = 10;
  options.event_id_window_age = absl::Seconds(60);
  constexpr int64_t kSecond = 1'000'000;
  const int64_t t0 = 1'700'000'000 * kSecond;
  for (int between_seconds : {0, 30, 70, 500}) {
    core::Engine engine(options);
    core::CreateRoom create;
    create.room_id = "r";
    create.arm_ids = {"a"};
    ASSERT_TRUE(engine.Apply(create).ok());
    int next_id = 0;
    auto feed = [&](int events, int64_t micros) {
      core::FeedbackBatch batch;
      for (int i = 0; i < events; ++i) {
        core::FeedbackEvent e;
        e.room_id = "r";
        e.arm_id = "a";
        e.views = 1;
        e.event_id = absl::StrCat("id", next_id++);
        batch.events.push_back(e);
      }
      batch.logged_at_micros = micros;
      ASSERT_TRUE(engine.Apply(batch).ok());
    };
    for (int s = 0; s < 40; ++s) feed(5, t0 + s * kSecond);  // 200 ids.
    EngineState draft = CaptureDraft(engine);
    EXPECT_GT(draft.event_id_count(), 10u);  // The age keeps more.
    feed(5, t0 + (40 + between_seconds) * kSecond);
    ASSERT_TRUE(FinishDraft(engine, &draft));
    const EngineState full = CaptureState(engine);
    EXPECT_EQ(draft, full) << between_seconds;
    ASSERT_EQ(full.event_windows[0].micros.size(),
              full.event_windows[0].keys.size());

    absl::StatusOr<EngineState> decoded =
        DecodeSnapshot(EncodeSnapshot(full, 100));
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, full);
    core::Engine restored(options);
    RestoreState(*decoded, &restored);
    EXPECT_EQ(CaptureState(restored), full);
    // Both forget alike from here on.
    const int64_t later = t0 + (100 + between_seconds) * kSecond;
    core::FeedbackBatch retry;
    for (int i = 0; i < next_id; ++i) {
      core::FeedbackEvent e;
      e.room_id = "r";
      e.arm_id = "a";
      e.views = 1;
      e.event_id = absl::StrCat("id", i);
      retry.events.push_back(e);
    }
    retry.logged_at_micros = later;
    absl::StatusOr<core::ApplyResult> a = engine.Apply(retry);
    absl::StatusOr<core::ApplyResult> b = restored.Apply(retry);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->duplicate_events, b->duplicate_events) << between_seconds;
    EXPECT_EQ(CaptureState(engine), CaptureState(restored));
  }
}

// Several streams (cluster mode, --cluster_streams > 1): one window per
// stream. The two-step copy, the snapshot and the restore keep each window
// apart, with its order and log times; single-stream snapshots are written
// as before (no event_streams), so older binaries read them.
// Catches: windows merged or dropped by the copy, the encoding or the load;
// a stream index lost across chunk boundaries.
TEST(EngineStateTest, PerStreamWindowsRoundTrip) {
  core::EngineOptions options;
  options.event_id_window = 5;
  options.event_id_window_age = absl::Seconds(30);
  options.event_id_streams = 3;
  constexpr int64_t kSecond = 1'000'000;
  const int64_t t0 = 1'700'000'000 * kSecond;
  core::Engine engine(options);
  for (int r = 0; r < 3; ++r) {
    core::CreateRoom create;
    create.room_id = absl::StrCat("r", r);  // Room r<s> is in stream s.
    create.arm_ids = {"a"};
    ASSERT_TRUE(engine.Apply(create).ok());
  }
  // One view on room r<stream>'s arm, with event id id<id>.
  auto event = [](int stream, int id) {
    core::FeedbackEvent e;
    e.room_id = absl::StrCat("r", stream);
    e.arm_id = "a";
    e.views = 1;
    e.event_id = absl::StrCat("id", id);
    return e;
  };
  int next_id = 0;
  auto feed = [&](int stream, int events, int64_t micros) {
    core::FeedbackBatch batch;
    for (int i = 0; i < events; ++i) {
      batch.events.push_back(event(stream, next_id++));
    }
    batch.logged_at_micros = micros;
    batch.stream = stream;
    return *engine.Apply(batch);
  };
  // Stream 0 busy over a minute, stream 1 a few ids, stream 2 none.
  for (int s = 0; s < 60; ++s) feed(0, 3, t0 + s * kSecond);
  feed(1, 4, t0);
  EngineState draft = CaptureDraft(engine);
  ASSERT_EQ(draft.event_windows.size(), 3u);
  feed(0, 20, t0 + 100 * kSecond);  // Ages stream 0's draft ids out.
  feed(1, 3, t0 + 5 * kSecond);
  ASSERT_TRUE(FinishDraft(engine, &draft));
  const EngineState full = CaptureState(engine);
  EXPECT_EQ(draft, full);
  EXPECT_EQ(full.event_windows[0].keys.size(), 20u);
  EXPECT_EQ(full.event_windows[1].keys.size(), 7u);
  EXPECT_TRUE(full.event_windows[2].keys.empty());

  for (size_t chunk_bytes : {size_t{50}, size_t{1} << 20}) {
    const std::vector<std::string> chunks = EncodeSnapshot(full, chunk_bytes);
    int named = 0;
    for (const std::string& bytes : chunks) {
      internal::v1::SnapshotChunk chunk;
      ASSERT_TRUE(chunk.ParseFromString(bytes));
      EXPECT_EQ(chunk.event_streams_size(), chunk.event_keys_size());
      named += chunk.event_streams_size();
    }
    EXPECT_EQ(named, 27);
    absl::StatusOr<EngineState> decoded = DecodeSnapshot(chunks);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, full) << chunk_bytes;
    core::Engine restored(options);
    RestoreState(*std::move(decoded), &restored);
    EXPECT_EQ(CaptureState(restored), full);
    // Retries of every id in its own stream: the same ids found again.
    for (int stream : {0, 1}) {
      core::FeedbackBatch retry;
      for (int i = 0; i < next_id; ++i)
        retry.events.push_back(event(stream, i));
      // Each just after its stream's last record: its own ids stay held.
      retry.logged_at_micros = t0 + (stream == 0 ? 101 : 6) * kSecond;
      retry.stream = stream;
      const int64_t expected = stream == 0 ? 20 : 7;
      EXPECT_EQ(restored.Apply(retry)->duplicate_events, expected) << stream;
    }
  }

  // One stream: no stream index is written.
  core::Engine single({.event_id_window = 5});
  core::CreateRoom create;
  create.room_id = "r0";
  create.arm_ids = {"a"};
  ASSERT_TRUE(single.Apply(create).ok());
  core::FeedbackBatch batch;
  core::FeedbackEvent e;
  e.room_id = "r0";
  e.arm_id = "a";
  e.views = 1;
  e.event_id = "x";
  batch.events.push_back(e);
  ASSERT_TRUE(single.Apply(batch).ok());
  for (const std::string& bytes : EncodeSnapshot(CaptureState(single))) {
    internal::v1::SnapshotChunk chunk;
    ASSERT_TRUE(chunk.ParseFromString(bytes));
    EXPECT_EQ(chunk.event_streams_size(), 0);
  }
}

// Kafka positions are engine state: a snapshot holds them, a restore brings
// them back, and the two-step capture sees ranges applied in between.
TEST(EngineStateTest, SourceOffsetsRoundTripAndFollowTheTwoStepCapture) {
  core::Engine engine;
  ApplyAll(engine, testing::RandomMutations(500, 5));
  auto consume = [&](int32_t partition, int64_t from, int64_t next) {
    core::FeedbackBatch batch;
    batch.source = core::SourceRange{"clicks", partition, from, next};
    ASSERT_TRUE(engine.Apply(batch).ok());
  };
  consume(0, 0, 10);
  consume(2, 5, 6);
  EngineState draft = CaptureDraft(engine);
  consume(0, 10, 25);  // Applied while the snapshot thread encodes.
  ASSERT_TRUE(FinishDraft(engine, &draft));
  EXPECT_EQ(draft, CaptureState(engine));
  ASSERT_EQ(draft.source_offsets.size(), 2u);
  EXPECT_EQ(draft.source_offsets[0], (core::SourceOffset{"clicks", 0, 25}));

  for (size_t chunk_bytes : {size_t{1}, size_t{1} << 20}) {
    absl::StatusOr<EngineState> decoded =
        DecodeSnapshot(EncodeSnapshot(draft, chunk_bytes));
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, draft);
    core::Engine restored;
    RestoreState(*std::move(decoded), &restored);
    EXPECT_EQ(restored.source_offsets().Get("clicks", 0), 25);
    EXPECT_EQ(restored.source_offsets().Get("clicks", 2), 6);
  }
}

}  // namespace
}  // namespace banditd::store
