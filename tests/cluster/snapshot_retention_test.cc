// Published snapshots against retention and concurrency, on a real 3-node
// NATS cluster (cluster_harness.h):
//
//  * Two writers replace the same object at the same time while a reader
//    reads it and a collector runs: every read is a whole object that was
//    written, every publish succeeds, and after the grace the bucket holds
//    only the current object's chunks and its meta.
//  * A stream with a small max_bytes is trimmed by retention while records
//    arrive; the replicas publish snapshots early enough that the head
//    never passes the published one, and a fresh replica joins with exact
//    counts.
//  * In process: the retention watch's figures in stats() and on
//    /metrics (ClusterCollector), early publishes, and a negative headroom
//    once the head passes the published snapshot.

#include <nats/nats.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "server/cluster/cluster_collector.h"
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
namespace ol = ::banditd::cluster::object_layout;
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

std::unique_ptr<ObjectStore> Store(NatsClient& client,
                                   absl::Duration gc_grace) {
  ObjectStore::Options options;
  options.bucket = "race";
  options.chunk_bytes = 1000;
  options.gc_grace = gc_grace;
  absl::StatusOr<std::unique_ptr<ObjectStore>> store =
      ObjectStore::Create(client.nc(), options);
  return store.ok() ? *std::move(store) : nullptr;
}

// Catches: a replacement purging the previous object's chunks at once (a
// concurrent reader then finds them gone: DATA_LOSS), a collector deleting
// the chunks of a publish in progress (that Put fails: its chunks are gone
// after its meta) or of the current object (reads fail), and orphans left
// by simultaneous publishes (the stream keeps more than one object).
TEST_F(ClusterTest, ConcurrentPublishesLeaveNoOrphansAndReadsStayWhole) {
  constexpr absl::Duration kGrace = absl::Seconds(6);
  constexpr int kPuts = 12;
  NatsClient writer0(nats_->Urls(0)), writer1(nats_->Urls(1)),
      reader(nats_->Urls(2)), collector(nats_->Urls(0));
  std::unique_ptr<ObjectStore> stores[] = {
      Store(writer0, kGrace), Store(writer1, kGrace), Store(reader, kGrace),
      Store(collector, kGrace)};
  for (auto& store : stores) ASSERT_NE(store, nullptr);
  absl::Status created = stores[0]->EnsureBucket();
  for (int i = 0; i < 60 && absl::IsUnavailable(created); ++i) {
    absl::SleepFor(absl::Milliseconds(250));
    created = stores[0]->EnsureBucket();
  }
  ASSERT_TRUE(created.ok()) << created;

  // Every payload any writer stores (about 20 chunks each).
  std::set<std::string> digests;
  std::vector<std::vector<std::string>> payloads(2);
  for (int w = 0; w < 2; ++w) {
    for (int k = 0; k < kPuts; ++k) {
      payloads[w].push_back(RandomBytes(20'000 + 37 * k + w, 100 * w + k));
      digests.insert(ol::Digest(payloads[w].back()));
    }
  }
  absl::Notification go;
  std::atomic<int> writing{2};
  absl::Mutex mu;
  std::vector<std::string> errors;
  auto error = [&](std::string what) {
    absl::MutexLock lock(&mu);
    errors.push_back(std::move(what));
  };
  std::vector<std::thread> threads;
  for (int w = 0; w < 2; ++w) {
    threads.emplace_back([&, w] {
      go.WaitForNotification();
      for (int k = 0; k < kPuts; ++k) {
        ol::ObjectInfo info;
        info.name = "snap";
        absl::StatusOr<ol::ObjectInfo> put =
            stores[w]->Put(info, payloads[w][k]);
        if (!put.ok()) error(absl::StrCat("put: ", put.status().ToString()));
      }
      writing.fetch_sub(1);
    });
  }
  std::atomic<int> reads{0};
  threads.emplace_back([&] {
    go.WaitForNotification();
    while (writing.load() > 0) {
      absl::StatusOr<ObjectStore::Object> got = stores[2]->Get("snap");
      if (absl::IsNotFound(got.status())) continue;  // before the first put
      if (!got.ok()) {
        error(absl::StrCat("read: ", got.status().ToString()));
      } else if (digests.count(ol::Digest(got->data)) == 0) {
        error("read an object no writer wrote");
      } else {
        reads.fetch_add(1);
      }
    }
  });
  // Collection rounds that ended within the grace of the first put, and
  // what later rounds (when the puts take longer, as on a loaded machine)
  // deleted.
  std::atomic<int> rounds_in_grace{0};
  std::atomic<uint64_t> collected_in_grace{0};
  std::atomic<int> objects_after_grace{0};
  absl::Time started;
  threads.emplace_back([&] {
    go.WaitForNotification();
    while (writing.load() > 0) {
      absl::StatusOr<ObjectStore::Collected> c = stores[3]->CollectGarbage();
      if (!c.ok()) {
        error(absl::StrCat("collect: ", c.status().ToString()));
      } else if (absl::Now() < started + kGrace) {
        ++rounds_in_grace;
        collected_in_grace += c->chunks;
      } else {
        objects_after_grace += c->objects;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
  });
  started = absl::Now();
  go.Notify();
  for (std::thread& t : threads) t.join();
  EXPECT_TRUE(errors.empty()) << errors.front();
  EXPECT_GT(reads.load(), 0);
  // Within the grace nothing replaced was deleted.
  EXPECT_GT(rounds_in_grace.load(), 0);
  EXPECT_EQ(collected_in_grace.load(), 0u);
  NatsClient client(nats_->Urls(1));
  if (objects_after_grace.load() == 0) {
    EXPECT_GT(client.State("OBJ_race").second, 2 * 21u);
  }

  absl::SleepFor(kGrace + absl::Seconds(1));
  absl::StatusOr<ObjectStore::Collected> c = stores[3]->CollectGarbage();
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(objects_after_grace.load() + c->objects, 2 * kPuts - 1);
  EXPECT_EQ(c->kept, 0);
  absl::StatusOr<ObjectStore::Object> current = stores[2]->Get("snap");
  ASSERT_TRUE(current.ok()) << current.status();
  // Only the current object's chunks and its meta remain.
  EXPECT_EQ(client.State("OBJ_race").second, current->info.chunks + 1u);
  EXPECT_TRUE(current->data == payloads[0].back() ||
              current->data == payloads[1].back());
}

// The first stream sequence and the published snapshot's sequence.
struct Positions {
  uint64_t first = 0;
  uint64_t published = 0;
};

Positions Read(NatsClient& client, ObjectStore& store) {
  Positions p;
  p.first = client.State("BANDITD_EVENTS").first;
  absl::StatusOr<ol::ObjectInfo> info =
      store.GetInfo(cluster::snapshot_object::ObjectName("BANDITD_EVENTS",
                                                         "banditd.events.>"));
  if (info.ok()) {
    absl::SimpleAtoi(info->metadata[cluster::snapshot_object::kSequence],
                     &p.published);
  }
  return p;
}

// Catches: retention trimming records after the published snapshot
// (publishing only by period: here 1 h, so without the early publish no
// snapshot is published at all and the fresh replica refuses), a pressure
// measured against the wrong limit, and a fresh replica that cannot start
// from the early-published snapshot (counts differ).
TEST_F(ClusterTest, FreshReplicaJoinsWhileRetentionTrimsTheStream) {
  const std::vector<std::string> common = {
      "--cluster_max_bytes=98304", "--snapshot_every_records=1000000",
      "--cluster_retention_check_every=50ms", "--cluster_snapshot_gc_grace=20s",
      "--cluster_snapshot_publish_at=0.3"};
  std::vector<std::string> publisher_flags = common;
  publisher_flags.push_back("--cluster_snapshot_publish_every=1h");
  Replica& publisher = AddReplica(publisher_flags);
  ASSERT_TRUE(publisher.Start()) << "see " << publisher.log_path();
  std::vector<std::string> other_flags = common;
  other_flags.push_back("--cluster_snapshot_publish_every=0");
  Replica& other = AddReplica(other_flags);
  ASSERT_TRUE(other.Start()) << "see " << other.log_path();
  ASSERT_TRUE(CreateRoom(publisher.stub(), "ret").ok());

  NatsClient client(nats_->Urls(1));
  ASSERT_NE(client.js(), nullptr);
  ObjectStore::Options options;
  options.bucket = "banditd_snapshots";
  absl::StatusOr<std::unique_ptr<ObjectStore>> store =
      ObjectStore::Create(client.nc(), options);
  ASSERT_TRUE(store.ok()) << store.status();

  std::mt19937 rng(11);
  Totals expected;
  uint64_t min_headroom_seen = UINT64_MAX;
  Replica* replicas[] = {&publisher, &other};
  constexpr int kBatches = 900;
  for (int i = 0; i < kBatches; ++i) {
    Batch batch = MakeBatch("ret", i, rng, 5);
    pb::FeedbackResponse response;
    grpc::Status s = replicas[i % 2]->stub().Feedback(
        Context(absl::Seconds(10)).get(), batch.request, &response);
    ASSERT_TRUE(s.ok()) << i << ": " << s.error_message();
    expected.Add(batch.totals);
    if (i % 25 == 0) {
      const Positions p = Read(client, **store);
      // Retention must never trim a record after the published snapshot.
      ASSERT_LE(p.first, p.published + 1)
          << "batch " << i << "; see " << publisher.log_path();
      if (p.published > 0) {
        min_headroom_seen =
            std::min(min_headroom_seen, p.published + 1 - p.first);
      }
    }
  }
  const uint64_t last =
      WaitConverged({&publisher, &other}, "ret", expected, absl::Seconds(30));
  ASSERT_GT(last, 0u);
  const Positions end = Read(client, **store);
  // Retention did trim (the stream holds a fraction of the records), and
  // snapshots were published as it did.
  EXPECT_GT(end.first, 200u);
  EXPECT_GT(end.published, 0u);
  EXPECT_LE(end.first, end.published + 1);
  const std::string log = ReadWholeFile(publisher.log_path());
  int early = 0;
  for (size_t at = log.find("published snapshot at seq");
       at != std::string::npos;
       at = log.find("published snapshot at seq", at + 1)) {
    ++early;
  }
  // Retention trimmed several times the records one snapshot covers.
  EXPECT_GE(early, 3) << log;
  EXPECT_NE(log.find("publishing a snapshot early"), std::string::npos);
  std::printf(
      "stream first seq %llu, published seq %llu, last %llu, %d "
      "publishes, least headroom seen %llu\n",
      static_cast<unsigned long long>(end.first),
      static_cast<unsigned long long>(end.published),
      static_cast<unsigned long long>(last), early,
      static_cast<unsigned long long>(min_headroom_seen));
  EXPECT_EQ(log.find("retention trimmed records after the published"),
            std::string::npos);

  Replica& fresh = AddReplica(other_flags);
  ASSERT_TRUE(fresh.Start()) << "see " << fresh.log_path();
  EXPECT_EQ(WaitConverged({&publisher, &other, &fresh}, "ret", expected,
                          absl::Seconds(30)),
            last);
  EXPECT_NE(
      ReadWholeFile(fresh.log_path()).find("fetched the published snapshot"),
      std::string::npos);
}

// The value of the series of `name` (labelled stream="BANDITD_EVENTS").
std::optional<double> Gauge(const cluster::ClusterCollector& collector,
                            const std::string& name) {
  for (const prometheus::MetricFamily& family : collector.Collect()) {
    if (family.name != name) continue;
    for (const prometheus::ClientMetric& metric : family.metric) {
      for (const prometheus::ClientMetric::Label& label : metric.label) {
        if (label.name == "stream" && label.value == "BANDITD_EVENTS") {
          return metric.gauge.value;
        }
      }
    }
  }
  return std::nullopt;
}

// Stats once the watch's last look shows `stream` with `last` records and
// (`publishes`) the pressure below the publish threshold (it publishes
// until so), or the last stats after 20 s.
NatsCommitter::Stats Settled(NatsCommitter& committer, size_t stream,
                             uint64_t last, bool publishes = true) {
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  NatsCommitter::Stats stats = committer.stats();
  while (absl::Now() < deadline) {
    const NatsCommitter::StreamStats& s = stats.streams[stream];
    if (s.published_sequence + s.records_since_published == last &&
        (!publishes || s.retention_pressure < 0.5)) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(50));
    stats = committer.stats();
  }
  return stats;
}

core::FeedbackBatch Event(int i) {
  core::FeedbackBatch batch;
  batch.events.push_back(core::FeedbackEvent{});
  batch.events.back().room_id = "r";
  batch.events.back().arm_id = "a";
  batch.events.back().views = 1;
  batch.events.back().event_id = absl::StrCat("e", i);
  return batch;
}

// Catches: figures not reported (or reported from the wrong stream
// sequence), no early publish below the period, and a head that passed the
// published snapshot not shown as negative headroom.
TEST_F(ClusterTest, RetentionWatchReportsHeadroomAndPublishesEarly) {
  auto options = [&](const std::string& name) {
    NatsCommitter::Options o;
    o.nats_urls = nats_->Urls(0);
    o.data_dir = (dir_ / name).string();
    o.log = false;
    o.max_bytes = 32 << 10;
    o.snapshot_every_records = 1'000'000;  // Never by count.
    o.snapshot_publish_every = absl::Hours(1);
    o.retention.check_every = absl::Milliseconds(50);
    o.snapshot_gc_grace = absl::Seconds(20);
    return o;
  };
  core::Engine engine;
  auto publisher = NatsCommitter::Open(options("publisher"), &engine);
  ASSERT_TRUE(publisher.ok()) << publisher.status();
  cluster::ClusterCollector collector(publisher->get());
  core::CreateRoom create;
  create.room_id = "r";
  create.arm_ids = {"a"};
  ASSERT_TRUE(testing::SubmitAndWait(**publisher, create).ok());
  for (int i = 0; i < 400; ++i) {
    ASSERT_TRUE(testing::SubmitAndWait(**publisher, Event(i)).ok());
  }
  NatsCommitter::Stats stats = Settled(**publisher, 0, 401);
  const NatsCommitter::StreamStats& stream = stats.streams[0];
  EXPECT_GE(stats.early_publishes, 2);
  EXPECT_EQ(stats.early_publishes, stats.published_snapshots);
  EXPECT_GT(stream.published_sequence, 0u);
  EXPECT_EQ(stream.published_sequence + stream.records_since_published, 401u);
  EXPECT_GE(stream.trim_headroom, 0);
  EXPECT_LT(stream.retention_pressure, 0.5);
  EXPECT_EQ(stream.retention_limit, "max_bytes");
  NatsClient client(nats_->Urls(1));
  // Retention did trim the stream, never past the published snapshot.
  const uint64_t first = client.State("BANDITD_EVENTS").first;
  EXPECT_GT(first, 1u);
  EXPECT_EQ(Gauge(collector, "banditd_cluster_trim_headroom_records"),
            static_cast<double>(stream.trim_headroom));
  EXPECT_EQ(Gauge(collector, "banditd_cluster_published_snapshot_sequence"),
            static_cast<double>(stream.published_sequence));
  EXPECT_EQ(Gauge(collector, "banditd_cluster_retention_pressure"),
            stream.retention_pressure);
  (*publisher)->Shutdown();

  // A replica that does not publish sees the head pass the published
  // snapshot (purged past it) as negative headroom.
  NatsCommitter::Options o = options("publisher");  // its own snapshot
  o.snapshot_publish_every = absl::ZeroDuration();
  core::Engine watcher_engine;
  auto watcher = NatsCommitter::Open(o, &watcher_engine);
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  for (int i = 400; i < 410; ++i) {
    ASSERT_TRUE(testing::SubmitAndWait(**watcher, Event(i)).ok());
  }
  // Published since the look above, maybe: read it now.
  const uint64_t published = Settled(**watcher, 0, 411, /*publishes=*/false)
                                 .streams[0]
                                 .published_sequence;
  ASSERT_GT(published, 0u);
  jsOptions purge;
  jsOptions_Init(&purge);
  purge.Stream.Purge.Sequence = published + 4;  // removes up to S + 3
  ASSERT_EQ(js_PurgeStream(client.js(), "BANDITD_EVENTS", &purge, nullptr),
            NATS_OK);
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  do {
    absl::SleepFor(absl::Milliseconds(50));
    stats = (*watcher)->stats();
  } while (stats.streams[0].trim_headroom >= 0 && absl::Now() < deadline);
  EXPECT_EQ(stats.streams[0].published_sequence, published);
  EXPECT_EQ(stats.streams[0].trim_headroom, -3);
  EXPECT_EQ(stats.streams[0].retention_pressure, 1.0);
  EXPECT_EQ(stats.published_snapshots, 0);
}

// Catches: the published positions of streams 1.. read from the wrong
// metadata entry (their headroom would be that of no snapshot, and early
// publishes would not stop), and pressure in one stream not triggering a
// publish that covers it.
TEST_F(ClusterTest, RetentionWatchFollowsEveryStream) {
  NatsCommitter::Options o;
  o.nats_urls = nats_->Urls(0);
  o.data_dir = (dir_ / "r").string();
  o.log = false;
  o.streams = 2;
  o.max_bytes = 32 << 10;
  o.snapshot_every_records = 1'000'000;
  o.snapshot_publish_every = absl::Hours(1);
  o.retention.check_every = absl::Milliseconds(50);
  o.snapshot_gc_grace = absl::Seconds(20);
  core::Engine engine;
  auto committer = NatsCommitter::Open(o, &engine);
  ASSERT_TRUE(committer.ok()) << committer.status();
  // One room in each stream; all writes go to stream 1's room.
  std::string rooms[2];
  for (int i = 0; rooms[0].empty() || rooms[1].empty(); ++i) {
    const std::string room = absl::StrCat("room", i);
    std::string& slot = rooms[NatsCommitter::StreamOf(room, 2)];
    if (slot.empty()) slot = room;
  }
  for (const std::string& room : rooms) {
    core::CreateRoom create;
    create.room_id = room;
    create.arm_ids = {"a"};
    // A stream leader moved by SpreadLeaders at Open may still be taking
    // over: UNAVAILABLE is a client's to retry.
    absl::StatusOr<core::ApplyResult> created =
        testing::SubmitAndWait(**committer, create);
    for (int i = 0; i < 20 && (absl::IsUnavailable(created.status()) ||
                               absl::IsDeadlineExceeded(created.status()));
         ++i) {
      absl::SleepFor(absl::Milliseconds(250));
      created = testing::SubmitAndWait(**committer, create);
    }
    // A timed-out first try may have been stored after all.
    ASSERT_TRUE(created.ok() || absl::IsAlreadyExists(created.status()))
        << created.status();
  }
  for (int i = 0; i < 400; ++i) {
    core::FeedbackBatch batch = Event(i);
    batch.events.back().room_id = rooms[1];
    ASSERT_TRUE(testing::SubmitAndWait(**committer, batch).ok());
  }
  const NatsCommitter::Stats stats = Settled(**committer, 1, 401);
  ASSERT_EQ(stats.streams.size(), 2u);
  EXPECT_GE(stats.early_publishes, 2);
  EXPECT_EQ(stats.streams[0].published_sequence, 1u);  // its CreateRoom
  EXPECT_EQ(stats.streams[0].records_since_published, 0u);
  EXPECT_GT(stats.streams[1].published_sequence, 1u);
  EXPECT_EQ(stats.streams[1].published_sequence +
                stats.streams[1].records_since_published,
            401u);
  NatsClient client(nats_->Urls(1));
  EXPECT_GT(client.State("BANDITD_EVENTS_1").first, 1u);  // trimmed
  EXPECT_GE(stats.streams[1].trim_headroom, 0);
  EXPECT_LT(stats.streams[1].retention_pressure, 0.5);
}

}  // namespace
}  // namespace banditd
