#include "server/store/snapshot_codec.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "banditd/internal/v1/log.pb.h"
#include "gtest/gtest.h"
#include "server/store/engine_state.h"
#include "tests/testing/random_mutations.h"

namespace banditd::store {
namespace {

void ApplyAll(core::Engine& engine, const std::vector<core::Mutation>& ms) {
  for (const core::Mutation& m : ms) (void)engine.Apply(m);
}

TEST(SnapshotCodecTest, EncodeDecodeRoundTripWithTinyChunks) {
  core::Engine engine;
  ApplyAll(engine, testing::RandomMutations(3000, 2));
  const EngineState state = CaptureState(engine);
  // Tiny chunks force rooms and tables to be split into many slices.
  for (size_t chunk_bytes : {size_t{1}, size_t{100}, size_t{1} << 20}) {
    std::vector<std::string> chunks = EncodeSnapshot(state, chunk_bytes);
    absl::StatusOr<EngineState> decoded = DecodeSnapshot(chunks);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, state) << "chunk_bytes " << chunk_bytes;
  }
}

// Snapshots written before event ids were scoped to rooms hold global ids
// (SnapshotChunk.event_ids): they load as keys that match in any room. New
// snapshots keep the holes DeleteRoom leaves, so the window evicts in the
// same order after a restart.
TEST(SnapshotCodecTest, EventIdsOfOldAndNewSnapshots) {
  internal::v1::SnapshotChunk old_chunk;
  old_chunk.add_event_ids("e1");
  old_chunk.add_event_ids("e2");
  absl::StatusOr<EngineState> old_state =
      DecodeSnapshot({old_chunk.SerializeAsString()});
  ASSERT_TRUE(old_state.ok()) << old_state.status();
  ASSERT_EQ(old_state->event_windows.size(), 1u);
  EXPECT_EQ(old_state->event_windows[0].keys,
            (std::vector<std::string>{core::EventKey("", "e1"),
                                      core::EventKey("", "e2")}));

  core::Engine engine({.event_id_window = 10});
  for (const char* id : {"a", "b"}) {
    core::CreateRoom create;
    create.room_id = id;
    create.arm_ids = {"x"};
    ASSERT_TRUE(engine.Apply(create).ok());
  }
  core::FeedbackBatch batch;
  for (const char* room : {"a", "b", "a"}) {
    core::FeedbackEvent e;
    e.room_id = room;
    e.arm_id = "x";
    e.views = 1;
    e.event_id = absl::StrCat("id", batch.events.size());
    batch.events.push_back(e);
  }
  ApplyAll(engine, {batch, core::DeleteRoom{"a"}});
  const EngineState state = CaptureState(engine);
  EXPECT_EQ(state.event_windows[0].keys,
            (std::vector<std::string>{"", core::EventKey("b", "id1"), ""}));
  absl::StatusOr<EngineState> decoded =
      DecodeSnapshot(EncodeSnapshot(state, 1 << 20));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, state);
}

// Catches: a stream list that does not match the keys read as something.
TEST(SnapshotCodecTest, MismatchedEventStreamsAreCorrupt) {
  internal::v1::SnapshotChunk chunk;
  chunk.add_event_keys(core::EventKey("r", "a"));
  chunk.add_event_keys(core::EventKey("r", "b"));
  chunk.add_event_streams(1);
  absl::StatusOr<EngineState> decoded =
      DecodeSnapshot({chunk.SerializeAsString()});
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kDataLoss)
      << decoded.status();
}

// Tables that few arms have counters in are stored sparse; a snapshot keeps
// the layout, and dense tables of an older snapshot load sparse when few
// arms have counts, with the same counts.
TEST(SnapshotCodecTest, SparseTablesRoundTripAndOldDenseOnesSparsify) {
  core::Engine engine;
  core::CreateRoom create;
  create.room_id = "r";
  for (int i = 0; i < 100; ++i) create.arm_ids.push_back(absl::StrCat("a", i));
  ASSERT_TRUE(engine.Apply(create).ok());
  core::FeedbackBatch batch;
  for (int i : {3, 50, 97}) {
    core::FeedbackEvent e;
    e.room_id = "r";
    e.arm_id = absl::StrCat("a", i);
    e.segment = "s";
    e.context_items = {"item"};
    e.views = i;
    e.clicks = 1;
    batch.events.push_back(e);
  }
  ASSERT_TRUE(engine.Apply(batch).ok());
  const EngineState state = CaptureState(engine);
  ASSERT_TRUE(state.rooms[0].segments.at("s").arms.sparse());
  ASSERT_TRUE(state.rooms[0].segments.at("s").context.at("item").sparse());
  absl::StatusOr<EngineState> decoded =
      DecodeSnapshot(EncodeSnapshot(state, 64));  // many slices
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, state);
  const core::CounterTable& item =
      decoded->rooms[0].segments.at("s").context.at("item");
  EXPECT_TRUE(item.sparse());
  EXPECT_EQ(item.entries(), 3u);
  EXPECT_EQ(item.Get(50).views, 50);

  // The same state with every table dense, as older snapshots wrote it.
  EngineState dense = state;
  for (auto& [name, segment] : dense.rooms[0].segments) {
    segment.arms = segment.arms.Dense();
    for (auto& [key, table] : segment.context) table = table.Dense();
  }
  decoded = DecodeSnapshot(EncodeSnapshot(dense, 1 << 20));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, state);
  EXPECT_TRUE(decoded->rooms[0].segments.at("s").context.at("item").sparse());
  EXPECT_FALSE(decoded->rooms[0].segments.at("").arms.sparse());
}

TEST(SnapshotCodecTest, EmptyEngine) {
  core::Engine engine;
  absl::StatusOr<EngineState> decoded =
      DecodeSnapshot(EncodeSnapshot(CaptureState(engine)));
  ASSERT_TRUE(decoded.ok());
  EXPECT_TRUE(decoded->rooms.empty());
}

TEST(SnapshotCodecTest, CorruptChunksAreDataLoss) {
  core::Engine engine;
  ApplyAll(engine, testing::RandomMutations(500, 4));
  std::vector<std::string> chunks = EncodeSnapshot(CaptureState(engine), 256);
  ASSERT_GT(chunks.size(), 3u);
  std::vector<std::string> missing = chunks;
  missing.erase(missing.begin() + 1);
  EXPECT_EQ(DecodeSnapshot(missing).status().code(),
            absl::StatusCode::kDataLoss);
  std::vector<std::string> garbage = chunks;
  garbage[0] = "\xff\xff\xff";
  EXPECT_EQ(DecodeSnapshot(garbage).status().code(),
            absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace banditd::store
