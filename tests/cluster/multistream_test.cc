// Rooms spread over several JetStream streams (--cluster_streams): every
// replica consumes every stream and applies each room's records in its
// stream's order, so counts are exact on every replica, through a replica
// restart (snapshot positions in every stream) and a fresh replica's
// bootstrap from the published snapshot after every stream was trimmed;
// the stream count is a cluster-wide setting; read-your-writes sequences
// are the room's stream's. Real 3-node nats-server, real banditd replicas.

#include <nats/nats.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "server/cluster/nats_committer.h"
#include "server/cluster/object_store.h"
#include "server/cluster/snapshot_object.h"
#include "server/core/engine.h"
#include "tests/cluster/cluster_harness.h"
#include "tests/testing/random_mutations.h"

namespace banditd {
namespace {

namespace pb = ::banditd::v1;
using ::banditd::cluster::NatsCommitter;
using ::banditd::cluster::ObjectStore;
using ::banditd::cluster_testing::Batch;
using ::banditd::cluster_testing::ClusterTest;
using ::banditd::cluster_testing::Context;
using ::banditd::cluster_testing::CpuSeconds;
using ::banditd::cluster_testing::CreateRoom;
using ::banditd::cluster_testing::EnvInt;
using ::banditd::cluster_testing::LoadResult;
using ::banditd::cluster_testing::MakeBatch;
using ::banditd::cluster_testing::NatsClient;
using ::banditd::cluster_testing::NatsCluster;
using ::banditd::cluster_testing::Percentile;
using ::banditd::cluster_testing::ReadStats;
using ::banditd::cluster_testing::ReadWholeFile;
using ::banditd::cluster_testing::Replica;
using ::banditd::cluster_testing::RunLoad;
using ::banditd::cluster_testing::Totals;
using ::banditd::cluster_testing::WaitConverged;

constexpr int kStreams = 3;

// With the harness's event-id window (one window per stream).
std::vector<std::string> MultiStreamFlags(std::vector<std::string> more = {}) {
  std::vector<std::string> flags = {
      absl::StrCat("--cluster_streams=", kStreams)};
  flags.insert(flags.end(), more.begin(), more.end());
  return flags;
}

// Room names, `per_stream` on each stream, stream 0's first.
std::vector<std::string> RoomsOnEveryStream(int per_stream) {
  std::vector<std::string> rooms;
  std::vector<int> count(kStreams, 0);
  for (int i = 0; static_cast<int>(rooms.size()) < per_stream * kStreams; ++i) {
    const std::string room = absl::StrCat("room", i);
    int& n = count[NatsCommitter::StreamOf(room, kStreams)];
    if (n < per_stream) {
      ++n;
      rooms.push_back(room);
    }
  }
  std::stable_sort(rooms.begin(), rooms.end(),
                   [](const std::string& x, const std::string& y) {
                     return NatsCommitter::StreamOf(x, kStreams) <
                            NatsCommitter::StreamOf(y, kStreams);
                   });
  return rooms;
}

std::string StreamName(int i) {
  return NatsCommitter::StreamName("BANDITD_EVENTS", i);
}

// Writes `rounds` batches to every room through `replicas` in turn, and
// every third round one batch over two rooms of different streams.
// `records[i]`: stream i's records so far.
void Write(const std::vector<Replica*>& replicas,
           const std::vector<std::string>& rooms, int first_id, int rounds,
           std::mt19937& rng, std::map<std::string, Totals>* expected,
           std::vector<int>* records) {
  for (int round = 0; round < rounds; ++round) {
    for (size_t r = 0; r < rooms.size(); ++r) {
      Batch batch = MakeBatch(rooms[r], first_id + round, rng, 3);
      Replica* replica = replicas[(round + r) % replicas.size()];
      pb::FeedbackResponse response;
      ASSERT_TRUE(replica->stub()
                      .Feedback(Context(absl::Seconds(10)).get(), batch.request,
                                &response)
                      .ok());
      ASSERT_EQ(response.applied_events(), 3);
      ASSERT_GT(response.applied_sequence(), 0u);
      (*expected)[rooms[r]].Add(batch.totals);
      ++(*records)[NatsCommitter::StreamOf(rooms[r], kStreams)];
    }
    if (round % 3 != 0) continue;
    // The first room and the first on another stream.
    std::string other;
    for (const std::string& room : rooms) {
      if (NatsCommitter::StreamOf(room, kStreams) !=
          NatsCommitter::StreamOf(rooms.front(), kStreams)) {
        other = room;
        break;
      }
    }
    ASSERT_FALSE(other.empty());
    Batch a = MakeBatch(rooms.front(), 100000 + first_id + round, rng, 2);
    Batch b = MakeBatch(other, 100000 + first_id + round, rng, 2);
    for (const pb::FeedbackEvent& event : b.request.events()) {
      *a.request.add_events() = event;
    }
    pb::FeedbackResponse response;
    ASSERT_TRUE(
        replicas[round % replicas.size()]
            ->stub()
            .Feedback(Context(absl::Seconds(10)).get(), a.request, &response)
            .ok());
    EXPECT_EQ(response.applied_events(), 4);
    // Sequences of two streams do not compare: none is reported.
    EXPECT_EQ(response.applied_sequence(), 0u);
    (*expected)[rooms.front()].Add(a.totals);
    (*expected)[other].Add(b.totals);
    ++(*records)[NatsCommitter::StreamOf(rooms.front(), kStreams)];
    ++(*records)[NatsCommitter::StreamOf(other, kStreams)];
  }
}

// Every room converged on every replica; returns each room's sequence.
std::map<std::string, uint64_t> ExpectConverged(
    const std::vector<Replica*>& replicas,
    const std::map<std::string, Totals>& expected) {
  std::map<std::string, uint64_t> seqs;
  for (const auto& [room, totals] : expected) {
    seqs[room] = WaitConverged(replicas, room, totals, absl::Seconds(60));
    EXPECT_GT(seqs[room], 0u) << room;
  }
  return seqs;
}

// The sequences a published snapshot covers, stream by stream.
std::vector<uint64_t> PublishedSequences(ObjectStore& store) {
  std::vector<uint64_t> seqs(kStreams, 0);
  absl::StatusOr<cluster::object_layout::ObjectInfo> info =
      store.GetInfo(cluster::snapshot_object::ObjectName("BANDITD_EVENTS",
                                                         "banditd.events.>"));
  if (!info.ok()) return seqs;
  absl::SimpleAtoi(info->metadata[cluster::snapshot_object::kSequence],
                   &seqs[0]);
  int i = 1;
  for (absl::string_view entry :
       absl::StrSplit(info->metadata[cluster::snapshot_object::kMoreStreams],
                      ',', absl::SkipEmpty())) {
    std::vector<absl::string_view> parts = absl::StrSplit(entry, ':');
    if (parts.size() == 3 && i < kStreams) {
      absl::SimpleAtoi(parts[2], &seqs[i++]);
    }
  }
  return seqs;
}

// Catches: a room's records sent to another stream than the one every
// replica's hash names (counts differ, or stream record counts do), a
// stream not consumed by some replica, a restart that loses positions in
// the streams other than the first (re-applied or skipped records), and a
// fresh replica that bootstraps only the first stream.
TEST_F(ClusterTest, RoomsSpreadOverStreamsCountExactlyEverywhere) {
  Replica& a = AddReplica(MultiStreamFlags(
      {"--snapshot_every_records=50", "--cluster_snapshot_publish_every=1ms"}));
  ASSERT_TRUE(a.Start()) << "see " << a.log_path();
  Replica& b = AddReplica(MultiStreamFlags(
      {"--snapshot_every_records=50", "--cluster_snapshot_publish_every=0"}));
  ASSERT_TRUE(b.Start()) << "see " << b.log_path();
  Replica& c = AddReplica(MultiStreamFlags(
      {"--snapshot_every_records=50", "--cluster_snapshot_publish_every=0"}));
  ASSERT_TRUE(c.Start()) << "see " << c.log_path();

  const std::vector<std::string> rooms = RoomsOnEveryStream(2);
  std::vector<int> records(kStreams, 0);
  std::map<std::string, Totals> expected;
  for (const std::string& room : rooms) {
    ASSERT_TRUE(CreateRoom(a.stub(), room).ok());
    ++records[NatsCommitter::StreamOf(room, kStreams)];
    expected[room] = Totals();
  }
  ExpectConverged({&a, &b, &c}, expected);
  std::mt19937 rng(11);
  Write({&a, &b, &c}, rooms, 0, 12, rng, &expected, &records);

  // A retried batch: JetStream's message id drops it in its stream.
  Batch retry = MakeBatch(rooms[1], 0, rng, 3);
  pb::FeedbackResponse retried;
  ASSERT_TRUE(
      c.stub()
          .Feedback(Context(absl::Seconds(10)).get(), retry.request, &retried)
          .ok());
  EXPECT_EQ(retried.duplicate_events(), 3);
  EXPECT_EQ(retried.applied_events(), 0);
  ExpectConverged({&a, &b, &c}, expected);

  NatsClient client(nats_->Urls(1));
  ASSERT_NE(client.js(), nullptr);
  for (int i = 0; i < kStreams; ++i) {
    EXPECT_EQ(client.State(StreamName(i).c_str()).second,
              static_cast<uint64_t>(records[i]))
        << StreamName(i);
  }
  // JetStream places leaders at random; the replicas moved them so that
  // each of the 3 nodes leads one stream.
  std::set<std::string> leaders;
  for (int i = 0; i < kStreams; ++i) {
    jsStreamInfo* si = nullptr;
    ASSERT_EQ(js_GetStreamInfo(&si, client.js(), StreamName(i).c_str(), nullptr,
                               nullptr),
              NATS_OK);
    const std::string leader =
        si->Cluster != nullptr && si->Cluster->Leader != nullptr
            ? si->Cluster->Leader
            : "?";
    jsStreamInfo_Destroy(si);
    std::printf("stream %s leader %s records %d\n", StreamName(i).c_str(),
                leader.c_str(), records[i]);
    leaders.insert(leader);
  }
  EXPECT_EQ(leaders.size(), 3u) << "see " << a.log_path();

  // Replica c dies; a few writes go on (fewer than a snapshot period, so
  // it does not fetch the published one); it restarts from its own
  // snapshot, which holds a position in every stream.
  c.Kill();
  Write({&a, &b}, rooms, 1000, 2, rng, &expected, &records);
  ASSERT_TRUE(c.Start()) << "see " << c.log_path();
  ExpectConverged({&a, &b, &c}, expected);
  const std::string log = ReadWholeFile(c.log_path());
  const std::string started = "rooms spread over 3 streams): snapshot at seq";
  const size_t restart = log.rfind(started);
  ASSERT_NE(restart, std::string::npos) << log;
  EXPECT_NE(log.substr(restart, started.size() + 3), started + " 0,") << log;
  EXPECT_EQ(log.find("fetched the published snapshot"), std::string::npos)
      << log;

  // Every stream trimmed up to the published snapshot: a fresh replica
  // starts from it and replays each stream from its own position.
  ObjectStore::Options options;
  options.bucket = "banditd_snapshots";
  absl::StatusOr<std::unique_ptr<ObjectStore>> store =
      ObjectStore::Create(client.nc(), options);
  ASSERT_TRUE(store.ok()) << store.status();
  std::vector<uint64_t> covered;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  do {
    covered = PublishedSequences(**store);
    if (covered[1] > 1 && covered[2] > 1) break;
    absl::SleepFor(absl::Milliseconds(50));
  } while (absl::Now() < deadline);
  ASSERT_GT(covered[0], 1u) << "see " << a.log_path();
  ASSERT_GT(covered[1], 1u) << "see " << a.log_path();
  ASSERT_GT(covered[2], 1u) << "see " << a.log_path();
  Write({&a, &b}, rooms, 2000, 2, rng, &expected, &records);
  for (int i = 0; i < kStreams; ++i) {
    jsOptions purge;
    jsOptions_Init(&purge);
    purge.Stream.Purge.Sequence = covered[i] + 1;
    ASSERT_EQ(
        js_PurgeStream(client.js(), StreamName(i).c_str(), &purge, nullptr),
        NATS_OK);
    ASSERT_EQ(client.State(StreamName(i).c_str()).first, covered[i] + 1);
  }
  Replica& fresh =
      AddReplica(MultiStreamFlags({"--cluster_snapshot_publish_every=0"}));
  ASSERT_TRUE(fresh.Start()) << "see " << fresh.log_path();
  ExpectConverged({&a, &b, &c, &fresh}, expected);
  EXPECT_NE(
      ReadWholeFile(fresh.log_path()).find("fetched the published snapshot"),
      std::string::npos);
}

// The same events again, in reverse order: a retry that JetStream's
// message id (a hash of the ids in order) does not recognise, so the
// engine's event-id window must.
pb::FeedbackRequest Reversed(const pb::FeedbackRequest& request) {
  pb::FeedbackRequest out;
  for (int i = request.events_size() - 1; i >= 0; --i) {
    *out.add_events() = request.events(i);
  }
  return out;
}

// One event-id window per stream, count only (6 ids, no age) so that it
// forgets within the test: each window keeps the last 6 ids of its stream,
// on every replica, whatever order it applied the 3 streams in, through a
// SIGKILL and a restart from its own snapshot (a window per stream in it).
// Catches: one window over all streams (it would hold the last 6 ids of
// all rooms together, in each replica's own interleaving: retries of the
// last two batches of a room would count again, on some replicas), windows
// lost or merged by the snapshot, and replicas disagreeing on a retry.
TEST_F(ClusterTest, EventIdWindowPerStreamCountsRetriesOnceEverywhere) {
  const std::vector<std::string> flags = MultiStreamFlags(
      {"--event_id_window=6", "--event_id_window_age=0s",
       "--snapshot_every_records=10", "--cluster_snapshot_publish_every=0"});
  Replica& a = AddReplica(flags);
  ASSERT_TRUE(a.Start()) << "see " << a.log_path();
  Replica& b = AddReplica(flags);
  ASSERT_TRUE(b.Start()) << "see " << b.log_path();
  Replica& c = AddReplica(flags);
  ASSERT_TRUE(c.Start()) << "see " << c.log_path();
  const std::vector<std::string> rooms = RoomsOnEveryStream(1);
  std::map<std::string, Totals> expected;
  for (const std::string& room : rooms) {
    ASSERT_TRUE(CreateRoom(a.stub(), room).ok());
    expected[room] = Totals();
  }
  std::vector<Replica*> all = {&a, &b, &c};
  std::mt19937 rng(21);
  // batches[room][k]: the k-th batch of 3 events to that room.
  std::map<std::string, std::vector<Batch>> batches;
  auto feed = [&](const std::vector<Replica*>& through, int rounds) {
    for (int round = 0; round < rounds; ++round) {
      for (size_t r = 0; r < rooms.size(); ++r) {
        std::vector<Batch>& list = batches[rooms[r]];
        list.push_back(
            MakeBatch(rooms[r], static_cast<int64_t>(list.size()), rng, 3));
        pb::FeedbackResponse response;
        ASSERT_TRUE(through[(round + r) % through.size()]
                        ->stub()
                        .Feedback(Context(absl::Seconds(10)).get(),
                                  list.back().request, &response)
                        .ok());
        ASSERT_EQ(response.applied_events(), 3);
        expected[rooms[r]].Add(list.back().totals);
      }
    }
  };
  feed(all, 6);
  ExpectConverged(all, expected);
  // c dies and restarts from its snapshot while the others take writes.
  c.Kill();
  feed({&a, &b}, 4);
  ASSERT_TRUE(c.Start()) << "see " << c.log_path();
  ExpectConverged(all, expected);

  // Each stream's window holds its room's last two batches (6 ids): their
  // retries count nothing, through any replica (a client failing over).
  int turn = 0;
  for (const std::string& room : rooms) {
    const std::vector<Batch>& list = batches[room];
    for (size_t k = list.size() - 2; k < list.size(); ++k) {
      pb::FeedbackResponse response;
      ASSERT_TRUE(all[turn++ % 3]
                      ->stub()
                      .Feedback(Context(absl::Seconds(10)).get(),
                                Reversed(list[k].request), &response)
                      .ok());
      EXPECT_EQ(response.duplicate_events(), 3) << room << " batch " << k;
      EXPECT_EQ(response.applied_events(), 0) << room << " batch " << k;
    }
  }
  // An older batch left its stream's window: it counts again, alike on
  // every replica.
  for (const std::string& room : rooms) {
    pb::FeedbackResponse response;
    ASSERT_TRUE(c.stub()
                    .Feedback(Context(absl::Seconds(10)).get(),
                              Reversed(batches[room][0].request), &response)
                    .ok());
    EXPECT_EQ(response.applied_events(), 3) << room;
    expected[room].Add(batches[room][0].totals);
  }
  ExpectConverged(all, expected);
  // And a replica restarted now (after the windows moved) agrees too: the
  // first event moved last, another message id again.
  b.Kill();
  ASSERT_TRUE(b.Start()) << "see " << b.log_path();
  for (const std::string& room : rooms) {
    pb::FeedbackRequest rotated = batches[room][0].request;
    std::rotate(rotated.mutable_events()->begin(),
                rotated.mutable_events()->begin() + 1,
                rotated.mutable_events()->end());
    pb::FeedbackResponse response;
    ASSERT_TRUE(
        b.stub()
            .Feedback(Context(absl::Seconds(10)).get(), rotated, &response)
            .ok());
    EXPECT_EQ(response.duplicate_events(), 3) << room;
    EXPECT_EQ(response.applied_events(), 0) << room;
  }
  ExpectConverged(all, expected);
}

// Catches: a replica that spreads rooms over another number of streams
// than the cluster does starting anyway (its rooms' records would go to
// other streams than its peers' and be applied in another order), one with
// another event-id window than the cluster's, and an engine keeping one id
// window for several streams.
TEST_F(ClusterTest, StreamCountIsClusterWide) {
  auto open = [&](const std::string& name, int streams, int64_t window = 1000,
                  int windows = 0) {
    NatsCommitter::Options o;
    o.nats_urls = nats_->Urls(0);
    o.data_dir = (dir_ / name).string();
    o.streams = streams;
    o.event_id_window = window;
    o.event_id_window_age = absl::Minutes(10);
    o.log = false;
    core::Engine engine({.event_id_window = window,
                         .event_id_window_age = absl::Minutes(10),
                         .event_id_streams = windows > 0 ? windows : streams});
    return NatsCommitter::Open(o, &engine).status();
  };
  ASSERT_TRUE(open("a", 3).ok());  // Creates the streams, records 3.
  for (int other : {1, 2}) {
    const absl::Status refused = open(absl::StrCat("b", other), other);
    EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition) << refused;
    EXPECT_NE(
        refused.message().find(absl::StrCat("--cluster_streams=", other, ":")),
        std::string::npos)
        << refused;
    EXPECT_NE(refused.message().find("restart with --cluster_streams=3"),
              std::string::npos)
        << refused;
  }
  EXPECT_TRUE(open("c", 3).ok());
  // The window is stream-wide with several streams too.
  const absl::Status window = open("d", 3, 2000);
  EXPECT_EQ(window.code(), absl::StatusCode::kFailedPrecondition) << window;
  EXPECT_NE(window.message().find("--event_id_window=2000"), std::string::npos)
      << window;
  EXPECT_NE(window.message().find("restart with --event_id_window=1000"),
            std::string::npos)
      << window;
  const absl::Status shared = open("e", 3, 1000, /*windows=*/1);
  EXPECT_EQ(shared.code(), absl::StatusCode::kInvalidArgument) << shared;
  EXPECT_NE(shared.message().find("event-id windows"), std::string::npos)
      << shared;
  NatsClient client(nats_->Urls(1));
  ASSERT_NE(client.js(), nullptr);
  jsStreamInfo* si = nullptr;
  ASSERT_EQ(
      js_GetStreamInfo(&si, client.js(), "BANDITD_EVENTS_2", nullptr, nullptr),
      NATS_OK);
  EXPECT_STREQ(si->Config->Subjects[0], "banditd.events_2.>");
  jsStreamInfo_Destroy(si);
  // No fourth stream.
  EXPECT_EQ(client.State("BANDITD_EVENTS_3").first, 0u);
}

// A sharded replica (--cluster_rooms) of a multi-stream cluster consumes
// its rooms from every stream. Catches: the shard filter applied with the
// first stream's subject prefix only (rooms hashed to other streams never
// arrive, or every room is refused as not held).
TEST_F(ClusterTest, ShardedReplicaHoldsItsRoomsOnEveryStream) {
  auto options = [&](const std::string& name, const std::string& rooms) {
    NatsCommitter::Options o;
    o.nats_urls = nats_->Urls(0);
    o.data_dir = (dir_ / name).string();
    o.streams = kStreams;
    o.rooms_filter = rooms;
    o.log = false;
    return o;
  };
  core::Engine all_engine({.event_id_streams = kStreams});
  core::Engine eu_engine({.event_id_streams = kStreams});
  absl::StatusOr<std::unique_ptr<NatsCommitter>> all =
      NatsCommitter::Open(options("all", ""), &all_engine);
  ASSERT_TRUE(all.ok()) << all.status();
  absl::StatusOr<std::unique_ptr<NatsCommitter>> eu =
      NatsCommitter::Open(options("eu", "eu.>"), &eu_engine);
  ASSERT_TRUE(eu.ok()) << eu.status();
  // eu rooms on every stream, and one us room.
  std::vector<std::string> rooms;
  std::set<int> streams;
  for (int i = 0; streams.size() < kStreams; ++i) {
    const std::string room = absl::StrCat("eu.shop", i);
    if (streams.insert(NatsCommitter::StreamOf(room, kStreams)).second) {
      rooms.push_back(room);
    }
  }
  rooms.push_back("us.shop");
  std::map<std::string, uint64_t> seqs;
  for (const std::string& room : rooms) {
    core::CreateRoom create;
    create.room_id = room;
    create.arm_ids = {"a"};
    ASSERT_TRUE(testing::SubmitAndWait(**all, create).ok());
    core::FeedbackBatch batch;
    core::FeedbackEvent event;
    event.room_id = room;
    event.arm_id = "a";
    event.views = 2;
    batch.events.push_back(event);
    absl::StatusOr<core::ApplyResult> fed =
        testing::SubmitAndWait(**all, batch);
    ASSERT_TRUE(fed.ok()) << fed.status();
    seqs[room] = fed->sequence;
  }
  for (const std::string& room : rooms) {
    if (room == "us.shop") continue;
    EXPECT_TRUE((*eu)->CheckRoomHeld(room).ok()) << room;
    absl::Notification applied;
    (*eu)->WhenApplied(room, seqs[room], [&](absl::Status s) {
      EXPECT_TRUE(s.ok()) << s;
      applied.Notify();
    });
    applied.WaitForNotification();
    absl::StatusOr<core::Stats> stats = eu_engine.GetStats(room, "", false);
    ASSERT_TRUE(stats.ok()) << room << ": " << stats.status();
    EXPECT_EQ(stats->arms[0].counts.views, 2) << room;
  }
  EXPECT_EQ((*eu)->CheckRoomHeld("us.shop").code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(eu_engine.GetStats("us.shop", "", false).ok());
}

// Catches: min_applied_sequence compared with another stream's position
// (a read of a room on a busy stream would wait for a quiet stream to
// reach its sequence and time out), and FeedbackResponse.applied_sequence
// not being the room's stream's.
TEST_F(ClusterTest, ReadsItsWritesPerRoomStream) {
  Replica& a = AddReplica(MultiStreamFlags());
  ASSERT_TRUE(a.Start()) << "see " << a.log_path();
  Replica& b =
      AddReplica(MultiStreamFlags({"--cluster_read_wait_timeout=500ms"}));
  ASSERT_TRUE(b.Start()) << "see " << b.log_path();
  const std::vector<std::string> rooms = RoomsOnEveryStream(1);
  const std::string& quiet = rooms[0];  // stream 0
  const std::string& busy = rooms[1];   // stream 1
  for (const std::string& room : {quiet, busy}) {
    ASSERT_TRUE(CreateRoom(a.stub(), room).ok());
  }
  std::mt19937 rng(5);
  Totals busy_totals, quiet_totals;
  uint64_t busy_seq = 0;
  for (int i = 0; i < 20; ++i) {
    Batch batch = MakeBatch(busy, i, rng, 2);
    pb::FeedbackResponse response;
    ASSERT_TRUE(a.stub()
                    .Feedback(Context(absl::Seconds(10)).get(), batch.request,
                              &response)
                    .ok());
    // Stream 1 holds busy's CreateRoom and its batches only.
    EXPECT_EQ(response.applied_sequence(), static_cast<uint64_t>(i + 2));
    busy_seq = response.applied_sequence();
    busy_totals.Add(batch.totals);
  }
  Batch batch = MakeBatch(quiet, 0, rng, 2);
  pb::FeedbackResponse response;
  ASSERT_TRUE(
      a.stub()
          .Feedback(Context(absl::Seconds(10)).get(), batch.request, &response)
          .ok());
  const uint64_t quiet_seq = response.applied_sequence();
  EXPECT_EQ(quiet_seq, 2u);  // After quiet's CreateRoom on stream 0.
  quiet_totals.Add(batch.totals);

  // On replica b, each read waits for its room's stream.
  auto busy_read = ReadStats(b.stub(), busy, busy_seq);
  ASSERT_TRUE(busy_read.status.ok()) << busy_read.status.error_message();
  EXPECT_EQ(busy_read.totals, busy_totals);
  EXPECT_EQ(busy_read.applied_sequence, busy_seq);
  auto quiet_read = ReadStats(b.stub(), quiet, quiet_seq);
  ASSERT_TRUE(quiet_read.status.ok()) << quiet_read.status.error_message();
  EXPECT_EQ(quiet_read.totals, quiet_totals);
  EXPECT_EQ(quiet_read.applied_sequence, quiet_seq);
  pb::SampleRequest sample;
  sample.set_room_id(busy);
  sample.set_min_applied_sequence(busy_seq);
  pb::SampleResponse sampled;
  EXPECT_TRUE(
      b.stub().Sample(Context(absl::Seconds(10)).get(), sample, &sampled).ok());
  // Stream 0 never reaches busy's sequence: a bounded wait, then an error
  // naming the field.
  auto never = ReadStats(b.stub(), quiet, busy_seq);
  EXPECT_EQ(never.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(never.status.error_message().find("min_applied_sequence"),
            std::string::npos)
      << never.status.error_message();
}

// Records/s through 1 and through 3 streams (CLUSTER_BENCH=1,
// scripts/cluster_bench.sh): two NATS clusters of 3 nodes with 3 replicas
// each, one with --cluster_streams=1, one with 3, loaded in alternating
// rounds with single-room Feedback batches (one record each) over 12
// rooms; also the CPU per record of the replicas and of the NATS nodes.
TEST(StreamsBench, OneVsThreeStreams) {
  if (std::getenv("CLUSTER_BENCH") == nullptr) {
    GTEST_SKIP() << "set CLUSTER_BENCH=1 (scripts/cluster_bench.sh)";
  }
  const std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) /
      absl::StrCat("streams_bench_", getpid());
  std::filesystem::remove_all(dir);
  struct Setup {
    int streams = 1;
    std::unique_ptr<NatsCluster> nats;
    std::vector<std::unique_ptr<Replica>> replicas;
    std::vector<double> rates;
  };
  std::vector<Setup> setups(2);
  setups[1].streams = kStreams;
  std::vector<std::string> rooms;
  for (int i = 0; i < 12; ++i) rooms.push_back(absl::StrCat("bench", i));
  for (Setup& setup : setups) {
    const std::filesystem::path sub = dir / absl::StrCat("s", setup.streams);
    std::filesystem::create_directories(sub);
    setup.nats = std::make_unique<NatsCluster>(sub);
    ASSERT_TRUE(setup.nats->Start()) << "see " << sub;
    for (int i = 0; i < 3; ++i) {
      setup.replicas.push_back(std::make_unique<Replica>(
          sub, i, setup.nats->Urls(i),
          std::vector<std::string>{
              absl::StrCat("--cluster_streams=", setup.streams),
              "--event_id_window=0", "--snapshot_every_records=100000"}));
      ASSERT_TRUE(setup.replicas.back()->Start()) << "see " << sub;
    }
    for (const std::string& room : rooms) {
      ASSERT_TRUE(CreateRoom(setup.replicas[0]->stub(), room).ok());
    }
    std::vector<Replica*> all;
    for (auto& r : setup.replicas) all.push_back(r.get());
    for (const std::string& room : rooms) {
      ASSERT_GT(WaitConverged(all, room, Totals(), absl::Seconds(30)), 0u);
    }
  }
  const int threads = EnvInt("BENCH_THREADS", 16);
  const int batch = EnvInt("BENCH_BATCH", 10);
  const int rounds = EnvInt("BENCH_ROUNDS", 3);
  const absl::Duration duration = absl::Seconds(EnvInt("BENCH_SECONDS", 5));
  for (int round = 0; round < rounds; ++round) {
    for (int k = 0; k < 2; ++k) {
      Setup& setup = setups[(round + k) % 2];
      std::vector<Replica*> all;
      for (auto& r : setup.replicas) all.push_back(r.get());
      auto cpu = [&](bool nats) {
        double total = 0;
        for (int i = 0; i < 3; ++i) {
          total += CpuSeconds(nats ? setup.nats->node(i).pid()
                                   : setup.replicas[i]->pid());
        }
        return total;
      };
      const double replicas_cpu = cpu(false), nats_cpu = cpu(true);
      LoadResult load = RunLoad(
          all, threads, duration,
          [&](pb::BanditService::Stub& stub, std::mt19937& rng, int64_t id) {
            Batch b = MakeBatch(rooms[id % rooms.size()], 1000000 * round + id,
                                rng, batch);
            pb::FeedbackResponse response;
            return stub
                .Feedback(Context(absl::Seconds(10)).get(), b.request,
                          &response)
                .ok();
          });
      const double rate = load.calls / load.seconds;
      setup.rates.push_back(rate);
      double loadavg = 0;
      std::ifstream("/proc/loadavg") >> loadavg;
      std::printf(
          "BENCH streams=%d round %d: %.0f records/s (%.0f events/s, batch "
          "%d, %d clients, %lld errors), p50 %.2f ms, p99 %.2f ms, CPU per "
          "record: replicas %.0f us, NATS nodes %.0f us; load average %.1f\n",
          setup.streams, round, rate, rate * batch, batch, threads,
          static_cast<long long>(load.errors), Percentile(load.latency_ms, 0.5),
          Percentile(load.latency_ms, 0.99),
          1e6 * (cpu(false) - replicas_cpu) / std::max<int64_t>(1, load.calls),
          1e6 * (cpu(true) - nats_cpu) / std::max<int64_t>(1, load.calls),
          loadavg);
      std::fflush(stdout);
    }
  }
  const double one = Percentile(setups[0].rates, 0.5);
  const double three = Percentile(setups[1].rates, 0.5);
  std::printf(
      "BENCH streams: median records/s 1 stream %.0f, 3 streams %.0f (x%.2f)\n",
      one, three, three / std::max(1.0, one));
  setups.clear();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace banditd
