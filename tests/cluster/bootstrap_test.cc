// Self-bootstrap against a real 3-node NATS cluster (cluster_harness.h):
//
//  * ObjectStore writes objects in NATS's object-store layout, reads them
//    back (several chunks), and a replacement leaves only the new object's
//    chunks and meta in the bucket's stream once the collector's grace
//    has passed.
//  * Replicas write, one publishes its snapshot, the stream's head is
//    purged up to the published sequence, and a fresh replica with an empty
//    data dir starts from the published snapshot and reaches exactly the
//    others' counts at the same sequence; without a published snapshot it
//    refuses, naming what is missing.
//  * A replica whose own snapshot is more than a snapshot period behind
//    starts from the newer published one instead of replaying.
//  * With CLUSTER_BENCH=1 (scripts/cluster_bench.sh), SnapshotObjectBench:
//    put and get of a 44 MiB object (a 1M-counter snapshot) against the
//    same chunks published to and read from a plain stream.

#include <nats/nats.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "server/cluster/nats_committer.h"
#include "server/cluster/object_layout.h"
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
using ::banditd::cluster_testing::CreateRoom;
using ::banditd::cluster_testing::MakeBatch;
using ::banditd::cluster_testing::NatsClient;
using ::banditd::cluster_testing::RandomBytes;
using ::banditd::cluster_testing::ReadWholeFile;
using ::banditd::cluster_testing::Replica;
using ::banditd::cluster_testing::Totals;
using ::banditd::cluster_testing::WaitConverged;

// Catches: a wrong subject or encoding (reads find nothing), a chunk lost or
// reordered (digest), old chunks or metas left behind on replacement (the
// stream grows with every publish) or deleted before the grace.
TEST_F(ClusterTest, ObjectStoreWritesReadsAndReplaces) {
  NatsClient client(nats_->Urls(0));
  ASSERT_NE(client.js(), nullptr);
  ObjectStore::Options options;
  options.bucket = "objtest";
  options.chunk_bytes = 1000;
  // Long, so that waiting it out (instead of answering NOT_FOUND at once)
  // shows without a tight timing bound on a loaded machine.
  options.request_timeout = absl::Seconds(30);
  options.gc_grace = absl::Seconds(2);
  absl::StatusOr<std::unique_ptr<ObjectStore>> store =
      ObjectStore::Create(client.nc(), options);
  ASSERT_TRUE(store.ok()) << store.status();
  // No bucket yet: NOT_FOUND naming it, without waiting for the timeout.
  const absl::Time start = absl::Now();
  absl::StatusOr<cluster::object_layout::ObjectInfo> missing =
      (*store)->GetInfo("x");
  EXPECT_TRUE(absl::IsNotFound(missing.status())) << missing.status();
  EXPECT_NE(missing.status().message().find("objtest"), std::string::npos);
  EXPECT_LT(absl::Now() - start, absl::Seconds(15));

  // Right after NATS starts the cluster may still elect its meta leader.
  absl::Status created = (*store)->EnsureBucket();
  for (int i = 0; i < 60 && absl::IsUnavailable(created); ++i) {
    absl::SleepFor(absl::Milliseconds(250));
    created = (*store)->EnsureBucket();
  }
  ASSERT_TRUE(created.ok()) << created;
  missing = (*store)->GetInfo("x");
  // The new stream's Direct Get may not answer yet ("no responders": the
  // bucket reads as missing) on a loaded machine.
  for (int i = 0;
       i < 100 && absl::IsNotFound(missing.status()) &&
       absl::StrContains(missing.status().message(), "does not exist");
       ++i) {
    absl::SleepFor(absl::Milliseconds(100));
    missing = (*store)->GetInfo("x");
  }
  EXPECT_TRUE(absl::IsNotFound(missing.status())) << missing.status();
  EXPECT_NE(missing.status().message().find("object \"x\""), std::string::npos);

  cluster::object_layout::ObjectInfo info;
  info.name = "x";
  info.metadata = {{"k", "v"}};
  const std::string first = RandomBytes(2500, 1);
  absl::StatusOr<cluster::object_layout::ObjectInfo> put =
      (*store)->Put(info, first);
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(put->chunks, 3u);
  EXPECT_EQ(put->size, 2500u);
  absl::StatusOr<ObjectStore::Object> got = (*store)->Get("x");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->data, first);
  EXPECT_EQ(got->info.digest, cluster::object_layout::Digest(first));
  EXPECT_EQ(got->info.metadata.at("k"), "v");
  EXPECT_EQ(got->info.nuid, put->nuid);
  EXPECT_EQ(client.State("OBJ_objtest").second, 4u);  // 3 chunks + meta.

  const std::string second = RandomBytes(1500, 2);
  put = (*store)->Put(info, second);
  ASSERT_TRUE(put.ok()) << put.status();
  got = (*store)->Get("x");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->data, second);
  // The old meta rolled up; the old chunks stay for the grace (a reader
  // may be reading them): 3 old + 2 new chunks + meta.
  EXPECT_EQ(client.State("OBJ_objtest").second, 6u);
  absl::StatusOr<ObjectStore::Collected> collected = (*store)->CollectGarbage();
  ASSERT_TRUE(collected.ok()) << collected.status();
  EXPECT_EQ(collected->objects, 0);
  EXPECT_EQ(collected->kept, 1);
  absl::SleepFor(options.gc_grace + absl::Milliseconds(200));
  collected = (*store)->CollectGarbage();
  ASSERT_TRUE(collected.ok()) << collected.status();
  EXPECT_EQ(collected->objects, 1);
  EXPECT_EQ(collected->chunks, 3u);
  // Then purged: 2 chunks + meta.
  EXPECT_EQ(client.State("OBJ_objtest").second, 3u);

  // An empty object has no chunks and reads back empty.
  info.name = "empty";
  ASSERT_TRUE((*store)->Put(info, "").ok());
  got = (*store)->Get("empty");
  // Direct Get may be answered by a follower that has not stored the meta
  // yet (read-after-write is not promised).
  for (int i = 0; i < 20 && absl::IsNotFound(got.status()); ++i) {
    absl::SleepFor(absl::Milliseconds(100));
    got = (*store)->Get("empty");
  }
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->data, "");
  EXPECT_EQ(got->info.chunks, 0u);
}

// Sends `batches` Feedback batches alternately to `replicas`, adding to
// `expected`.
void Write(std::vector<Replica*> replicas, int first_id, int batches,
           std::mt19937& rng, Totals* expected) {
  for (int i = 0; i < batches; ++i) {
    Batch batch = MakeBatch("boot", first_id + i, rng, 5);
    pb::FeedbackResponse response;
    grpc::Status s = replicas[i % replicas.size()]->stub().Feedback(
        Context(absl::Seconds(10)).get(), batch.request, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
    expected->Add(batch.totals);
  }
}

// The sequence the published snapshot covers (0: none).
uint64_t PublishedSequence(ObjectStore& store) {
  absl::StatusOr<cluster::object_layout::ObjectInfo> info =
      store.GetInfo(cluster::snapshot_object::ObjectName("BANDITD_EVENTS",
                                                         "banditd.events.>"));
  uint64_t seq = 0;
  if (info.ok()) {
    absl::SimpleAtoi(info->metadata[cluster::snapshot_object::kSequence], &seq);
  }
  return seq;
}

// Catches: no snapshot published, a fresh replica replaying from seq 1 (it
// would fail on the trimmed head), starting from the snapshot but
// replaying from the wrong sequence (counts off by the records around it),
// and a refusal that does not say what is missing.
TEST_F(ClusterTest, FreshReplicaStartsFromPublishedSnapshotAfterTrim) {
  Replica& publisher = AddReplica(
      {"--snapshot_every_records=50", "--cluster_snapshot_publish_every=1ms"});
  ASSERT_TRUE(publisher.Start()) << "see " << publisher.log_path();
  Replica& other = AddReplica({"--cluster_snapshot_publish_every=0"});
  ASSERT_TRUE(other.Start()) << "see " << other.log_path();
  ASSERT_TRUE(CreateRoom(publisher.stub(), "boot").ok());
  ASSERT_GT(
      WaitConverged({&publisher, &other}, "boot", Totals(), absl::Seconds(30)),
      0u);
  std::mt19937 rng(7);
  Totals expected;
  Write({&publisher, &other}, 0, 120, rng, &expected);
  ASSERT_GT(
      WaitConverged({&publisher, &other}, "boot", expected, absl::Seconds(30)),
      0u);

  NatsClient client(nats_->Urls(1));
  ASSERT_NE(client.js(), nullptr);
  ObjectStore::Options options;
  options.bucket = "banditd_snapshots";
  absl::StatusOr<std::unique_ptr<ObjectStore>> store =
      ObjectStore::Create(client.nc(), options);
  ASSERT_TRUE(store.ok()) << store.status();
  // Snapshots are due every 50 records: 121 applied -> one at >= 100.
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (PublishedSequence(**store) < 100 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_GE(PublishedSequence(**store), 100u) << "see " << publisher.log_path();
  // Records after the snapshot, to be replayed (too few for another one).
  Write({&publisher, &other}, 1000, 20, rng, &expected);
  const uint64_t last =
      WaitConverged({&publisher, &other}, "boot", expected, absl::Seconds(30));
  const uint64_t covered = PublishedSequence(**store);
  ASSERT_LT(covered, last);

  // Retention trims the head up to the snapshot.
  jsOptions purge;
  jsOptions_Init(&purge);
  purge.Stream.Purge.Sequence = covered + 1;
  ASSERT_EQ(js_PurgeStream(client.js(), "BANDITD_EVENTS", &purge, nullptr),
            NATS_OK);
  ASSERT_EQ(client.State("BANDITD_EVENTS").first, covered + 1);

  Replica& fresh = AddReplica({"--cluster_snapshot_publish_every=0"});
  ASSERT_TRUE(fresh.Start()) << "see " << fresh.log_path();
  EXPECT_EQ(WaitConverged({&publisher, &other, &fresh}, "boot", expected,
                          absl::Seconds(30)),
            last);
  const std::string log = ReadWholeFile(fresh.log_path());
  EXPECT_NE(log.find(absl::StrCat("fetched the published snapshot")),
            std::string::npos)
      << log;
  EXPECT_NE(log.find(absl::StrCat("(seq ", covered, ",")), std::string::npos)
      << log;
  // It keeps working as a replica: a write through it reaches all three.
  Write({&fresh}, 2000, 3, rng, &expected);
  EXPECT_EQ(WaitConverged({&publisher, &other, &fresh}, "boot", expected,
                          absl::Seconds(30)),
            last + 3);

  // Without a published snapshot a fresh replica cannot start, and says
  // why and what to do.
  for (const char* bucket : {"", "nothing_here"}) {
    Replica& refused =
        AddReplica({absl::StrCat("--cluster_snapshot_bucket=", bucket)});
    EXPECT_FALSE(refused.Start());
    const std::string refusal = ReadWholeFile(refused.log_path());
    EXPECT_NE(refusal.find(
                  absl::StrCat("retains records only from seq ", covered + 1)),
              std::string::npos)
        << refusal;
    EXPECT_NE(refusal.find("this replica has no snapshot"), std::string::npos)
        << refusal;
    EXPECT_NE(refusal.find(*bucket ? "nothing_here" : "bucket is empty"),
              std::string::npos)
        << refusal;
  }
}

// Catches: a lagging replica replaying everything after its own old
// snapshot although a newer one is published (the "lagging" rule), the
// fetched snapshot not kept locally, and stats that do not say so.
TEST_F(ClusterTest, LaggingReplicaStartsFromTheNewerPublishedSnapshot) {
  auto options = [&](const std::string& name) {
    NatsCommitter::Options o;
    o.nats_urls = nats_->Urls(0);
    o.data_dir = (dir_ / name).string();
    o.log = false;
    o.snapshot_every_records = 5;
    o.snapshot_publish_every = absl::ZeroDuration();
    return o;
  };
  {
    // The laggard's own snapshot: the room only (seq 1).
    core::Engine engine;
    auto laggard = NatsCommitter::Open(options("laggard"), &engine);
    ASSERT_TRUE(laggard.ok()) << laggard.status();
    core::CreateRoom create;
    create.room_id = "r";
    create.arm_ids = {"a"};
    ASSERT_TRUE(testing::SubmitAndWait(**laggard, create).ok());
    (*laggard)->Shutdown();
  }
  uint64_t published = 0;
  {
    NatsCommitter::Options o = options("publisher");
    o.snapshot_every_records = 1'000'000;  // Only SnapshotNow.
    o.snapshot_publish_every = absl::Milliseconds(1);
    core::Engine engine;
    auto publisher = NatsCommitter::Open(o, &engine);
    ASSERT_TRUE(publisher.ok()) << publisher.status();
    for (int i = 0; i < 20; ++i) {
      core::FeedbackBatch batch;
      batch.events.push_back(core::FeedbackEvent{});
      batch.events.back().room_id = "r";
      batch.events.back().arm_id = "a";
      batch.events.back().views = 1;
      batch.events.back().event_id = absl::StrCat("e", i);
      ASSERT_TRUE(testing::SubmitAndWait(**publisher, batch).ok());
    }
    ASSERT_TRUE((*publisher)->SnapshotNow().ok());
    published = (*publisher)->stats().last_published_sequence;
    EXPECT_EQ(published, 21u);
    EXPECT_EQ((*publisher)->stats().published_snapshots, 1);
    (*publisher)->Shutdown();
  }
  core::Engine engine;
  auto laggard = NatsCommitter::Open(options("laggard"), &engine);
  ASSERT_TRUE(laggard.ok()) << laggard.status();
  EXPECT_EQ((*laggard)->stats().bootstrapped_from_sequence, published);
  EXPECT_EQ((*laggard)->stats().applied_records, 0);  // Nothing replayed.
  EXPECT_EQ((*laggard)->applied_sequence(), published);
  absl::StatusOr<core::Stats> stats = engine.GetStats("r", "", false);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->arms[0].counts.views, 20);
  (*laggard)->Shutdown();
  // Kept as its own snapshot: a restart needs no fetch.
  core::Engine again;
  auto restarted = NatsCommitter::Open(options("laggard"), &again);
  ASSERT_TRUE(restarted.ok()) << restarted.status();
  EXPECT_EQ((*restarted)->stats().bootstrapped_from_sequence, 0u);
  EXPECT_EQ((*restarted)->applied_sequence(), published);
}

// Publishes `chunks` to a plain R3 stream and reads them back by Direct Get:
// the floor for ObjectStore's put and get of the same bytes. Returns the
// two times.
std::pair<absl::Duration, absl::Duration> PlainStreamRound(
    NatsClient& client, const std::vector<absl::string_view>& chunks) {
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  const char* subjects[] = {"floor.x"};
  cfg.Name = "FLOOR";
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  cfg.Storage = js_FileStorage;
  cfg.Replicas = 3;
  cfg.AllowDirect = true;
  js_DeleteStream(client.js(), "FLOOR", nullptr, nullptr);
  jsStreamInfo* si = nullptr;
  EXPECT_EQ(js_AddStream(&si, client.js(), &cfg, nullptr, nullptr), NATS_OK);
  if (si != nullptr) jsStreamInfo_Destroy(si);
  const absl::Time start = absl::Now();
  for (absl::string_view chunk : chunks) {
    jsPubAck* ack = nullptr;
    EXPECT_EQ(js_Publish(&ack, client.js(), "floor.x", chunk.data(),
                         static_cast<int>(chunk.size()), nullptr, nullptr),
              NATS_OK);
    if (ack != nullptr) jsPubAck_Destroy(ack);
  }
  const absl::Time published = absl::Now();
  for (size_t seq = 1; seq <= chunks.size(); ++seq) {
    jsDirectGetMsgOptions dg;
    jsDirectGetMsgOptions_Init(&dg);
    dg.Sequence = seq;
    natsMsg* msg = nullptr;
    EXPECT_EQ(js_DirectGetMsg(&msg, client.js(), "FLOOR", nullptr, &dg),
              NATS_OK);
    if (msg != nullptr) natsMsg_Destroy(msg);
  }
  return {published - start, absl::Now() - published};
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

class SnapshotObjectBench : public ClusterTest {
 protected:
  void SetUp() override {
    if (std::getenv("CLUSTER_BENCH") == nullptr) {
      GTEST_SKIP() << "set CLUSTER_BENCH=1 (scripts/cluster_bench.sh)";
    }
    ClusterTest::SetUp();
  }
};

// 44 MiB: store_bench's snapshot of 1M dense counters (43.9 bytes each).
TEST_F(SnapshotObjectBench, PutAndGetAgainstPlainStream) {
  NatsClient client(nats_->Urls(0));
  ObjectStore::Options options;
  options.bucket = "bench";
  options.gc_grace = absl::Seconds(8);
  absl::StatusOr<std::unique_ptr<ObjectStore>> store =
      ObjectStore::Create(client.nc(), options);
  ASSERT_TRUE(store.ok()) << store.status();
  absl::Status created = (*store)->EnsureBucket();
  for (int i = 0; i < 60 && absl::IsUnavailable(created); ++i) {
    absl::SleepFor(absl::Milliseconds(250));
    created = (*store)->EnsureBucket();
  }
  ASSERT_TRUE(created.ok()) << created;
  const std::string data = RandomBytes(44 << 20, 3);
  const std::vector<absl::string_view> chunks =
      cluster::object_layout::SplitChunks(data, options.chunk_bytes);
  cluster::object_layout::ObjectInfo info;
  info.name = "snapshot";
  std::vector<double> put, get, floor_put, floor_get;
  for (int round = 0; round < 3; ++round) {  // Alternating rounds.
    const auto [plain_put, plain_get] = PlainStreamRound(client, chunks);
    floor_put.push_back(absl::ToDoubleMilliseconds(plain_put));
    floor_get.push_back(absl::ToDoubleMilliseconds(plain_get));
    const absl::Time start = absl::Now();
    ASSERT_TRUE((*store)->Put(info, data).ok());
    const absl::Time stored = absl::Now();
    absl::StatusOr<ObjectStore::Object> object = (*store)->Get("snapshot");
    ASSERT_TRUE(object.ok()) << object.status();
    ASSERT_EQ(object->data.size(), data.size());
    put.push_back(absl::ToDoubleMilliseconds(stored - start));
    get.push_back(absl::ToDoubleMilliseconds(absl::Now() - stored));
  }
  std::printf(
      "BENCH snapshot object 44 MiB (%zu chunks, R3): put %.0f ms (plain "
      "stream %.0f ms, %.2fx), get %.0f ms (plain %.0f ms, %.2fx); medians "
      "of 3 alternating rounds\n",
      chunks.size(), Median(put), Median(floor_put),
      Median(put) / Median(floor_put), Median(get), Median(floor_get),
      Median(get) / Median(floor_get));

  // The collector (each replica's retention watch runs it every check):
  // a round that keeps the 2 replaced objects (within the grace), then one
  // that deletes them; and the bucket's bytes (per NATS node) before and
  // after.
  auto bucket_bytes = [&client] {
    jsStreamInfo* si = nullptr;
    if (js_GetStreamInfo(&si, client.js(), "OBJ_bench", nullptr, nullptr) !=
        NATS_OK) {
      return 0.0;
    }
    const double bytes = static_cast<double>(si->State.Bytes);
    jsStreamInfo_Destroy(si);
    return bytes;
  };
  const double held = bucket_bytes();
  const absl::Time last_put = absl::Now();
  absl::Time start = absl::Now();
  absl::StatusOr<ObjectStore::Collected> kept = (*store)->CollectGarbage();
  const absl::Duration keep_round = absl::Now() - start;
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ(kept->kept, 2);
  absl::SleepFor(options.gc_grace - (absl::Now() - last_put) +
                 absl::Milliseconds(500));
  start = absl::Now();
  absl::StatusOr<ObjectStore::Collected> collected = (*store)->CollectGarbage();
  const absl::Duration collect_round = absl::Now() - start;
  ASSERT_TRUE(collected.ok()) << collected.status();
  EXPECT_EQ(collected->objects, 2);
  // A read with the replaced chunks gone, against the last one above.
  start = absl::Now();
  ASSERT_TRUE((*store)->Get("snapshot").ok());
  std::printf(
      "BENCH get alone in the bucket %.0f ms (with 2 replaced: %.0f "
      "ms)\n",
      absl::ToDoubleMilliseconds(absl::Now() - start), get.back());
  std::printf(
      "BENCH snapshot collector: round keeping 2 replaced objects %.1f ms, "
      "round deleting them (%llu chunks) %.1f ms; bucket %.1f MiB per node "
      "before, %.1f MiB after\n",
      absl::ToDoubleMilliseconds(keep_round),
      static_cast<unsigned long long>(collected->chunks),
      absl::ToDoubleMilliseconds(collect_round), held / (1 << 20),
      bucket_bytes() / (1 << 20));
}

}  // namespace
}  // namespace banditd
