// DurableCommitter tests on a real SQLite file: ordering, durability
// modes, snapshots, recovery, replay after lowered limits, and a seeded
// random-mutation workload replayed bit for bit. Over 500 lines: the cases
// share one fixture that opens, kills and reopens committers.

#include "server/store/durable_committer.h"

#include <sqlite3.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "server/store/engine_state.h"
#include "server/store/log_codec.h"
#include "server/store/sqlite_log_store.h"
#include "tests/testing/core_builders.h"
#include "tests/testing/fake_log_store.h"
#include "tests/testing/random_mutations.h"

namespace banditd::store {
namespace {

using ::banditd::testing::FakeLogContents;
using ::banditd::testing::FakeLogStore;
using ::banditd::testing::RandomMutations;
using ::banditd::testing::SubmitAndWait;

DurableCommitter::Options QuietOptions() {
  DurableCommitter::Options options;
  options.log_recovery = false;
  options.snapshot_every_records = 0;
  options.snapshot_interval = absl::Hours(1);
  return options;
}

std::unique_ptr<DurableCommitter> OpenFake(
    std::shared_ptr<FakeLogContents> contents, core::Engine* engine,
    DurableCommitter::Options options = QuietOptions()) {
  auto committer = DurableCommitter::Create(
      options, std::make_unique<FakeLogStore>(std::move(contents)), engine);
  EXPECT_TRUE(committer.ok()) << committer.status();
  return committer.ok() ? *std::move(committer) : nullptr;
}

core::CreateRoom Room(std::string id, std::vector<std::string> arms) {
  core::CreateRoom create;
  create.room_id = std::move(id);
  create.arm_ids = std::move(arms);
  return create;
}

core::FeedbackBatch OneEvent(std::string room, std::string arm,
                             std::string event_id = "") {
  core::FeedbackEvent e;
  e.room_id = std::move(room);
  e.arm_id = std::move(arm);
  e.views = 1;
  e.clicks = 1;
  e.event_id = std::move(event_id);
  return core::FeedbackBatch{{std::move(e)}};
}

double Views(const core::Engine& engine, const std::string& room,
             const std::string& arm) {
  absl::StatusOr<core::Stats> stats = engine.GetStats(room, "", false);
  if (!stats.ok()) return -1;
  for (const core::ArmStat& a : stats->arms) {
    if (a.arm_id == arm) return a.counts.views;
  }
  return -1;
}

// Submits `ms` from `threads` threads at once (each thread a slice, in
// order) and waits for every reply.
void SubmitConcurrently(Committer& committer,
                        const std::vector<core::Mutation>& ms, int threads) {
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (size_t i = t; i < ms.size(); i += threads) {
        (void)SubmitAndWait(committer, ms[i]);
      }
    });
  }
  for (std::thread& w : workers) w.join();
}

TEST(DurableCommitterTest, ReplayRebuildsTheSameState) {
  auto contents = std::make_shared<FakeLogContents>();
  {
    absl::MutexLock lock(&contents->mu);
    contents->append_delay = absl::Microseconds(300);
  }
  core::Engine engine;
  auto committer = OpenFake(contents, &engine);
  SubmitConcurrently(*committer, RandomMutations(3000, 11), 8);
  committer->Shutdown();
  const EngineState before = CaptureState(engine);
  ASSERT_FALSE(before.rooms.empty());
  // How many of the random mutations are valid depends on how the 8
  // threads interleave (about 950 to 1,100 on a loaded machine): this only
  // checks that the test did real work.
  EXPECT_GT(contents->log_size(), 500u);
  // Group commit: with a slow disk, 8 clients share appends.
  {
    absl::MutexLock lock(&contents->mu);
    EXPECT_LT(contents->appends * 2,
              static_cast<int64_t>(contents->log.size()));
  }

  core::Engine recovered;
  auto again = OpenFake(contents, &recovered);
  EXPECT_EQ(again->recovery().records_replayed,
            static_cast<int64_t>(contents->log_size()));
  EXPECT_EQ(CaptureState(recovered), before);
}

TEST(DurableCommitterTest, UpdateRoomAndResetArmSurviveReplayAndSnapshot) {
  for (bool snapshot : {false, true}) {
    auto contents = std::make_shared<FakeLogContents>();
    core::Engine engine;
    auto committer = OpenFake(contents, &engine);
    ASSERT_TRUE(SubmitAndWait(*committer, Room("r", {"a", "b"})).ok());
    ASSERT_TRUE(SubmitAndWait(*committer, OneEvent("r", "a")).ok());
    ASSERT_TRUE(SubmitAndWait(*committer, OneEvent("r", "b")).ok());
    core::UpdateRoom update;
    update.room_id = "r";
    update.policy.kind = core::PolicyKind::kEpsilonGreedy;
    update.policy.epsilon = 0.25;
    update.half_life_events = 4;
    ASSERT_TRUE(SubmitAndWait(*committer, update).ok());
    ASSERT_TRUE(
        SubmitAndWait(*committer, core::ResetArm{"r", "a", std::nullopt}).ok());
    if (snapshot) {
      ASSERT_TRUE(committer->SnapshotNow().ok());
    }
    // Decays the room's counters by the updated half-life.
    ASSERT_TRUE(SubmitAndWait(*committer, OneEvent("r", "b")).ok());
    committer->Shutdown();

    core::Engine recovered;
    auto again = OpenFake(contents, &recovered);
    EXPECT_EQ(CaptureState(recovered), CaptureState(engine));
    absl::StatusOr<core::RoomInfo> room = recovered.GetRoom("r");
    ASSERT_TRUE(room.ok());
    EXPECT_EQ(room->policy.kind, core::PolicyKind::kEpsilonGreedy);
    EXPECT_EQ(room->policy.epsilon, 0.25);
    EXPECT_EQ(room->decay.half_life_events, 4);
    EXPECT_EQ(Views(recovered, "r", "a"), 0);
    EXPECT_DOUBLE_EQ(Views(recovered, "r", "b"), 1 + std::exp2(-0.25));
  }
}

TEST(DurableCommitterTest, SnapshotPlusReplayEqualsState) {
  auto contents = std::make_shared<FakeLogContents>();
  core::Engine engine;
  DurableCommitter::Options options = QuietOptions();
  options.snapshot_every_records = 300;
  options.snapshot_chunk_bytes = 512;  // Many chunks, written across groups.
  auto committer = OpenFake(contents, &engine, options);
  const std::vector<core::Mutation> ms = RandomMutations(4000, 12);
  SubmitConcurrently(*committer,
                     std::vector<core::Mutation>(ms.begin(), ms.begin() + 3000),
                     4);
  ASSERT_TRUE(committer->SnapshotNow().ok());
  SubmitConcurrently(
      *committer, std::vector<core::Mutation>(ms.begin() + 3000, ms.end()), 4);
  const DurableCommitter::Stats stats = committer->stats();
  committer->Shutdown();
  EXPECT_GE(stats.snapshots, 1);
  EXPECT_GT(stats.last_snapshot_seq, 0);
  // The log before the snapshot was trimmed.
  EXPECT_LT(static_cast<int64_t>(contents->log_size()), stats.last_seq);

  core::Engine recovered;
  auto again = OpenFake(contents, &recovered);
  EXPECT_EQ(again->recovery().snapshot_seq, stats.last_snapshot_seq);
  EXPECT_EQ(CaptureState(recovered), CaptureState(engine));
  // And the recovered engine goes on exactly like the original: each record
  // the committer logs, applied to the original, gives the same result.
  const std::vector<core::Mutation> more = RandomMutations(500, 13);
  for (const core::Mutation& m : more) {
    const int64_t before = again->stats().last_seq;
    absl::StatusOr<core::ApplyResult> b = SubmitAndWait(*again, m);
    if (again->stats().last_seq == before) {
      EXPECT_FALSE(b.ok());  // Rejected before logging.
      continue;
    }
    std::string record;
    {
      absl::MutexLock lock(&contents->mu);
      record = contents->log.rbegin()->second;
    }
    absl::StatusOr<core::Mutation> logged = DecodeMutation(record);
    ASSERT_TRUE(logged.ok());
    absl::StatusOr<core::ApplyResult> a = engine.Apply(*logged);
    ASSERT_EQ(a.ok(), b.ok());
    if (a.ok()) {
      EXPECT_EQ(a->duplicate_events, b->duplicate_events);
    }
  }
  EXPECT_EQ(CaptureState(recovered), CaptureState(engine));
}

TEST(DurableCommitterTest, InvalidMutationsAreNotLogged) {
  auto contents = std::make_shared<FakeLogContents>();
  core::Engine engine;
  auto committer = OpenFake(contents, &engine);
  EXPECT_EQ(SubmitAndWait(*committer, OneEvent("nope", "a")).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(contents->log_size(), 0u);
  ASSERT_TRUE(SubmitAndWait(*committer, Room("r", {"a"})).ok());
  EXPECT_EQ(SubmitAndWait(*committer, Room("r", {"a"})).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(contents->log_size(), 1u);
}

TEST(DurableCommitterTest, FailedAppendChangesNothingAndWritesResume) {
  auto contents = std::make_shared<FakeLogContents>();
  core::Engine engine;
  auto committer = OpenFake(contents, &engine);
  ASSERT_TRUE(SubmitAndWait(*committer, Room("r", {"a"})).ok());
  ASSERT_TRUE(SubmitAndWait(*committer, OneEvent("r", "a", "e1")).ok());

  contents->SetWriteError(absl::ResourceExhaustedError("disk full"));
  EXPECT_EQ(SubmitAndWait(*committer, OneEvent("r", "a", "e2")).status().code(),
            absl::StatusCode::kResourceExhausted);
  contents->SetWriteError(absl::UnavailableError("I/O error"));
  EXPECT_EQ(
      SubmitAndWait(*committer, core::AddArms{"r", {"b"}}).status().code(),
      absl::StatusCode::kUnavailable);
  // Nothing was applied: reads still work and show only acknowledged data,
  // and the failed event's id was not remembered.
  EXPECT_EQ(Views(engine, "r", "a"), 1);
  EXPECT_EQ(Views(engine, "r", "b"), -1);

  contents->SetWriteError(absl::OkStatus());
  absl::StatusOr<core::ApplyResult> retry =
      SubmitAndWait(*committer, OneEvent("r", "a", "e2"));
  ASSERT_TRUE(retry.ok());
  EXPECT_EQ(retry->applied_events, 1);
  EXPECT_EQ(Views(engine, "r", "a"), 2);
  committer->Shutdown();

  core::Engine recovered;
  auto again = OpenFake(contents, &recovered);
  EXPECT_EQ(CaptureState(recovered), CaptureState(engine));
}

TEST(DurableCommitterTest, RefusesACorruptOrGappedLog) {
  auto contents = std::make_shared<FakeLogContents>();
  {
    core::Engine engine;
    auto committer = OpenFake(contents, &engine);
    ASSERT_TRUE(SubmitAndWait(*committer, Room("r", {"a"})).ok());
    ASSERT_TRUE(SubmitAndWait(*committer, OneEvent("r", "a")).ok());
    ASSERT_TRUE(SubmitAndWait(*committer, OneEvent("r", "a")).ok());
  }
  {
    absl::MutexLock lock(&contents->mu);
    contents->log[2] = "\xff\xff garbage";
  }
  core::Engine engine;
  auto committer = DurableCommitter::Create(
      QuietOptions(), std::make_unique<FakeLogStore>(contents), &engine);
  ASSERT_FALSE(committer.ok());
  EXPECT_EQ(committer.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(committer.status().message().find("log record 2"),
            std::string::npos)
      << committer.status();

  {
    absl::MutexLock lock(&contents->mu);
    contents->log.erase(2);
  }
  core::Engine engine2;
  committer = DurableCommitter::Create(
      QuietOptions(), std::make_unique<FakeLogStore>(contents), &engine2);
  ASSERT_FALSE(committer.ok());
  EXPECT_NE(committer.status().message().find("gap"), std::string::npos)
      << committer.status();
}

TEST(DurableCommitterTest, FullQueueRefusesFast) {
  auto contents = std::make_shared<FakeLogContents>();
  core::Engine engine;
  DurableCommitter::Options options = QuietOptions();
  options.max_queued_events = 2;
  auto committer = OpenFake(contents, &engine, options);
  ASSERT_TRUE(SubmitAndWait(*committer, Room("r", {"a"})).ok());
  // Stall the writer inside a task, queue past the limit, then release it.
  absl::Notification release, stalled;
  std::thread stall([&] {
    committer->RunOnWriter([&](LogStore*) {
      stalled.Notify();
      release.WaitForNotification();
    });
  });
  stalled.WaitForNotification();
  absl::Mutex mu;
  std::vector<absl::Status> statuses;
  for (int i = 0; i < 4; ++i) {
    committer->Submit(OneEvent("r", "a"),
                      [&](absl::StatusOr<core::ApplyResult> r) {
                        absl::MutexLock lock(&mu);
                        statuses.push_back(r.status());
                      });
  }
  {
    absl::MutexLock lock(&mu);
    ASSERT_EQ(statuses.size(), 2u);  // Refused at once, not queued.
    EXPECT_EQ(statuses[0].code(), absl::StatusCode::kResourceExhausted);
  }
  release.Notify();
  stall.join();
  committer->Shutdown();
  absl::MutexLock lock(&mu);
  ASSERT_EQ(statuses.size(), 4u);
  EXPECT_TRUE(statuses[2].ok() && statuses[3].ok());
  EXPECT_EQ(Views(engine, "r", "a"), 2);
}

TEST(DurableCommitterTest, ShutdownRejectsLaterSubmits) {
  auto contents = std::make_shared<FakeLogContents>();
  core::Engine engine;
  auto committer = OpenFake(contents, &engine);
  committer->Shutdown();
  EXPECT_EQ(SubmitAndWait(*committer, Room("r", {})).status().code(),
            absl::StatusCode::kUnavailable);
}

// What waits in the write queue counts against the memory budget: while the
// first batch of new context items is being logged (a slow disk), a second
// one that fits beside the applied state but not beside the first is
// refused; once the first is applied, nothing stays reserved.
TEST(DurableCommitterTest, QueuedWritesHoldTheirMemoryReservation) {
  std::vector<std::string> arms;
  for (int i = 0; i < 50; ++i) arms.push_back(absl::StrCat("arm", i));
  auto new_items = [&](const std::string& tag) {
    return ::banditd::testing::NewItemsBatch(arms, tag);
  };
  int64_t used = 0;
  int64_t estimate = 0;
  {
    core::Engine probe;
    ASSERT_TRUE(probe.Apply(Room("r", arms)).ok());
    used = probe.bytes_used();
    ASSERT_TRUE(probe.Validate(new_items("x"), &estimate).ok());
  }
  core::Engine engine({.memory_budget_bytes = used + estimate + estimate / 2});
  auto contents = std::make_shared<FakeLogContents>();
  auto committer = OpenFake(contents, &engine);
  ASSERT_TRUE(SubmitAndWait(*committer, Room("r", arms)).ok());
  ASSERT_EQ(engine.bytes_used(), used);
  {
    absl::MutexLock lock(&contents->mu);
    contents->append_delay = absl::Seconds(1);
  }
  absl::Notification first_done;
  absl::StatusOr<core::ApplyResult> first;
  committer->Submit(new_items("a"), [&](absl::StatusOr<core::ApplyResult> r) {
    first = std::move(r);
    first_done.Notify();
  });
  // Refused at once, on this thread: the first still holds its estimate.
  absl::StatusOr<core::ApplyResult> second =
      SubmitAndWait(*committer, new_items("b"));
  EXPECT_EQ(second.status().code(), absl::StatusCode::kResourceExhausted)
      << second.status();
  first_done.WaitForNotification();
  EXPECT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(engine.reserved_bytes(), 0);
  {
    absl::MutexLock lock(&contents->mu);
    contents->append_delay = absl::ZeroDuration();
  }
  // Counting into existing entries needs nothing reserved.
  EXPECT_TRUE(SubmitAndWait(*committer, OneEvent("r", "arm0")).ok());
  EXPECT_EQ(engine.reserved_bytes(), 0);
  EXPECT_LE(engine.bytes_used(), used + estimate);
  committer->Shutdown();
}

class DurableCommitterSqliteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           absl::StrCat(
               "durable_committer_test_", getpid(), "_",
               ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  DurableCommitter::Options Options() {
    DurableCommitter::Options options = QuietOptions();
    options.data_dir = dir_.string();
    return options;
  }

  std::filesystem::path dir_;
};

TEST_F(DurableCommitterSqliteTest, EventIdsSurviveRestartAndSnapshot) {
  for (bool snapshot : {false, true}) {
    SCOPED_TRACE(snapshot ? "with snapshot" : "log only");
    std::filesystem::remove_all(dir_);
    {
      core::Engine engine;
      auto committer = DurableCommitter::Open(Options(), &engine);
      ASSERT_TRUE(committer.ok()) << committer.status();
      ASSERT_TRUE(SubmitAndWait(**committer, Room("r", {"a"})).ok());
      for (int i = 0; i < 10; ++i) {
        ASSERT_TRUE(
            SubmitAndWait(**committer, OneEvent("r", "a", absl::StrCat("e", i)))
                .ok());
      }
      if (snapshot) {
        ASSERT_TRUE((*committer)->SnapshotNow().ok());
      }
    }
    core::Engine engine;
    auto committer = DurableCommitter::Open(Options(), &engine);
    ASSERT_TRUE(committer.ok()) << committer.status();
    EXPECT_EQ(Views(engine, "r", "a"), 10);
    absl::StatusOr<core::ApplyResult> retry =
        SubmitAndWait(**committer, OneEvent("r", "a", "e3"));
    ASSERT_TRUE(retry.ok());
    EXPECT_EQ(retry->duplicate_events, 1);
    EXPECT_EQ(retry->applied_events, 0);
    EXPECT_EQ(Views(engine, "r", "a"), 10);
  }
}

// Limits shape what is admitted, never how the log reads back: records
// admitted under generous limits replay in full after a restart with every
// limit lowered below what they use.
TEST_F(DurableCommitterSqliteTest, ReplayIgnoresLimitsLoweredAtRestart) {
  core::EngineOptions generous;
  generous.max_batch_events = 1000;
  generous.max_context_items = 32;
  generous.max_linucb_dimension = 16;
  core::EngineOptions lowered;
  lowered.max_batch_events = 1;
  lowered.max_context_items = 1;
  lowered.max_linucb_dimension = 1;
  lowered.max_rooms = 1;
  lowered.max_arms_per_room = 1;
  lowered.max_segments_per_room = 0;
  lowered.max_context_items_per_segment = 1;
  EngineState before;
  {
    core::Engine engine(generous);
    auto committer = DurableCommitter::Open(Options(), &engine);
    ASSERT_TRUE(committer.ok()) << committer.status();
    core::CreateRoom linucb = Room("lin", {"a", "b", "c"});
    linucb.policy.kind = core::PolicyKind::kLinUcb;
    linucb.linucb.dimension = 8;
    linucb.linucb.lambda = 1;
    ASSERT_TRUE(SubmitAndWait(**committer, linucb).ok());
    ASSERT_TRUE(SubmitAndWait(**committer, Room("r", {"a", "b"})).ok());
    ASSERT_TRUE(
        SubmitAndWait(**committer, core::AddArms{"r", {"c", "d"}}).ok());
    core::FeedbackBatch batch;
    for (int i = 0; i < 200; ++i) {
      core::FeedbackEvent e;
      e.room_id = i % 2 == 0 ? "r" : "lin";
      e.arm_id = i % 3 == 0 ? "a" : "c";
      e.segment = absl::StrCat("seg", i % 5);
      for (int j = 0; j < 32; ++j) {
        e.context_items.push_back(absl::StrCat("item", (i + j) % 40));
      }
      if (e.room_id == "lin") e.features.assign(8, 0.5);
      e.views = 1;
      e.clicks = i % 2;
      e.event_id = absl::StrCat("e", i);
      batch.events.push_back(std::move(e));
    }
    absl::StatusOr<core::ApplyResult> applied =
        SubmitAndWait(**committer, batch);
    ASSERT_TRUE(applied.ok()) << applied.status();
    ASSERT_EQ(applied->applied_events, 200);
    // Refused under the lowered limits, as the restart below shows.
    core::Engine strict(lowered);
    EXPECT_EQ(strict.Validate(batch).code(),
              absl::StatusCode::kInvalidArgument);
    (*committer)->Shutdown();
    before = CaptureState(engine);
  }
  core::Engine engine(lowered);
  auto committer = DurableCommitter::Open(Options(), &engine);
  ASSERT_TRUE(committer.ok()) << committer.status();
  EXPECT_EQ((*committer)->recovery().records_rejected, 0);
  EXPECT_EQ(CaptureState(engine), before);
  EXPECT_EQ(Views(engine, "r", "a"), 34);
  // The lowered limits do apply to new requests.
  EXPECT_EQ(SubmitAndWait(**committer, Room("third", {"a"})).status().code(),
            absl::StatusCode::kResourceExhausted);
}

TEST_F(DurableCommitterSqliteTest, DiskFullLosesNothingAcknowledged) {
  core::Engine engine;
  auto opened = DurableCommitter::Open(Options(), &engine);
  ASSERT_TRUE(opened.ok()) << opened.status();
  DurableCommitter& committer = **opened;
  ASSERT_TRUE(SubmitAndWait(committer, Room("r", {"a"})).ok());
  committer.RunOnWriter([](LogStore* log) {
    auto* sqlite = static_cast<SqliteLogStore*>(log);
    ASSERT_TRUE(sqlite->SetMaxPageCount(*sqlite->PageCount() + 3).ok());
  });

  // Batches of 50 events until the disk is "full".
  int64_t acked = 0;
  absl::Status failure;
  for (int b = 0; b < 10000 && failure.ok(); ++b) {
    core::FeedbackBatch batch;
    for (int i = 0; i < 50; ++i) {
      batch.events.push_back(
          OneEvent("r", "a", absl::StrCat("b", b, "e", i)).events[0]);
    }
    absl::StatusOr<core::ApplyResult> result = SubmitAndWait(committer, batch);
    if (result.ok()) {
      acked += result->applied_events;
    } else {
      failure = result.status();
    }
  }
  ASSERT_EQ(failure.code(), absl::StatusCode::kResourceExhausted) << failure;
  EXPECT_GT(acked, 0);
  // Nothing half-applied; reads keep working.
  EXPECT_EQ(Views(engine, "r", "a"), acked);
  core::SampleQuery query;
  query.room_id = "r";
  EXPECT_TRUE(engine.Sample(query).ok());
  // A snapshot cannot be written either, and says so.
  EXPECT_FALSE(committer.SnapshotNow().ok());

  // Space comes back: writes succeed again.
  committer.RunOnWriter([](LogStore* log) {
    ASSERT_TRUE(static_cast<SqliteLogStore*>(log)->SetMaxPageCount(0).ok());
  });
  ASSERT_TRUE(SubmitAndWait(committer, OneEvent("r", "a", "after")).ok());
  ++acked;
  EXPECT_EQ(Views(engine, "r", "a"), acked);
  opened->reset();  // Closes the database.

  core::Engine recovered;
  auto again = DurableCommitter::Open(Options(), &recovered);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(Views(recovered, "r", "a"), acked);
  EXPECT_EQ(CaptureState(recovered), CaptureState(engine));
}

TEST_F(DurableCommitterSqliteTest, AsyncDurabilityKeepsEverythingOnShutdown) {
  DurableCommitter::Options options = Options();
  options.durability = DurableCommitter::Durability::kAsync;
  options.flush_interval = absl::Milliseconds(5);
  core::Engine engine;
  {
    auto committer = DurableCommitter::Open(options, &engine);
    ASSERT_TRUE(committer.ok()) << committer.status();
    SubmitConcurrently(**committer, RandomMutations(1000, 21), 4);
  }
  core::Engine recovered;
  auto again = DurableCommitter::Open(options, &recovered);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(CaptureState(recovered), CaptureState(engine));
}

TEST_F(DurableCommitterSqliteTest, RefusesNewerDatabase) {
  {
    core::Engine engine;
    ASSERT_TRUE(DurableCommitter::Open(Options(), &engine).ok());
  }
  sqlite3* db = nullptr;
  const std::string path = (dir_ / DurableCommitter::kDatabaseFile).string();
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(
      sqlite3_exec(db, "PRAGMA user_version=99", nullptr, nullptr, nullptr),
      SQLITE_OK);
  sqlite3_close(db);
  core::Engine engine;
  auto committer = DurableCommitter::Open(Options(), &engine);
  ASSERT_FALSE(committer.ok());
  EXPECT_EQ(committer.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(committer.status().message().find("newer"), std::string::npos);
}

// Exactly once across restarts: the position of a Kafka partition is in the
// same log record (and snapshot) as the counts it produced, so recovery
// restores both together, and a batch replayed by a consumer that resumed
// from an older position is fenced.
TEST(DurableCommitterTest, SourceOffsetsRecoverWithTheCounts) {
  for (bool snapshot : {false, true}) {
    auto contents = std::make_shared<FakeLogContents>();
    {
      core::Engine engine;
      auto committer = OpenFake(contents, &engine);
      ASSERT_TRUE(SubmitAndWait(*committer, Room("r", {"a"})).ok());
      for (int64_t from = 0; from < 50; from += 10) {
        core::FeedbackBatch batch = OneEvent("r", "a");
        batch.source = core::SourceRange{"clicks", 1, from, from + 10};
        ASSERT_TRUE(SubmitAndWait(*committer, batch).ok());
        if (snapshot && from == 20) {
          ASSERT_TRUE(committer->SnapshotNow().ok());
        }
      }
      committer->Shutdown();
    }
    core::Engine recovered;
    auto again = OpenFake(contents, &recovered);
    EXPECT_EQ(recovered.source_offsets().Get("clicks", 1), 50) << snapshot;
    EXPECT_EQ(Views(recovered, "r", "a"), 5) << snapshot;
    core::FeedbackBatch replayed = OneEvent("r", "a");
    replayed.source = core::SourceRange{"clicks", 1, 40, 50};
    EXPECT_EQ(SubmitAndWait(*again, replayed).status().code(),
              absl::StatusCode::kAborted);
    EXPECT_EQ(Views(recovered, "r", "a"), 5);
  }
}

}  // namespace
}  // namespace banditd::store
