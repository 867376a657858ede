// Cluster test: a 3-node NATS JetStream cluster (nats-server on loopback)
// and banditd replicas in cluster mode (--cluster_nats), run as child
// processes and driven over gRPC (harness: cluster_harness.h; the
// self-bootstrap scenarios are in bootstrap_test.cc). Over 500 lines: the
// scenarios and the benchmark share one binary and its harness.
//
//  * Feedback spread across 3 replicas converges to identical stats on all.
//  * Under load, one NATS node and one banditd replica are SIGKILLed; the
//    others keep serving, the killed replica restarts from its snapshot and
//    catches up, and every event (by event_id) is counted exactly once on
//    every replica.
//  * A sharded replica (--cluster_rooms) holds only its rooms and answers
//    FAILED_PRECONDITION for the others.
//  * With CLUSTER_BENCH=1, a benchmark of Feedback and Sample throughput with
//    1 and 3 replicas and of replication lag (scripts/cluster_bench.sh).
//
// Fails when nats-server is not installed (scripts/setup.sh installs it).
// BANDITD_BINARY in the environment overrides the banditd path.

#include <fcntl.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <ostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "banditd/v1/banditd.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "server/cluster/nats_committer.h"
#include "server/core/engine.h"
#include "server/core/mutation.h"
#include "tests/cluster/cluster_harness.h"
#include "tests/testing/arm_totals.h"
#include "tests/testing/core_builders.h"

namespace banditd {
namespace {

namespace pb = ::banditd::v1;
using ::banditd::cluster_testing::Batch;
using ::banditd::cluster_testing::ClusterTest;
using ::banditd::cluster_testing::Context;
using ::banditd::cluster_testing::CreateRoom;
using ::banditd::cluster_testing::Describe;
using ::banditd::cluster_testing::EnvInt;
using ::banditd::cluster_testing::FeedbackCall;
using ::banditd::cluster_testing::kArms;
using ::banditd::cluster_testing::LoadResult;
using ::banditd::cluster_testing::MakeBatch;
using ::banditd::cluster_testing::NatsCluster;
using ::banditd::cluster_testing::Percentile;
using ::banditd::cluster_testing::Process;
using ::banditd::cluster_testing::Read;
using ::banditd::cluster_testing::ReadStats;
using ::banditd::cluster_testing::Replica;
using ::banditd::cluster_testing::RunLoad;
using ::banditd::cluster_testing::Totals;
using ::banditd::cluster_testing::WaitConverged;
using cluster::NatsCommitter;

TEST(SubjectTest, RoomSubjectsAndFilters) {
  EXPECT_EQ(*NatsCommitter::RoomSubject("banditd.events", "eu.shop-1"),
            "banditd.events.eu.shop-1");
  EXPECT_FALSE(NatsCommitter::RoomSubject("p", "a..b").ok());
  EXPECT_FALSE(NatsCommitter::RoomSubject("p", ".a").ok());
  EXPECT_TRUE(NatsCommitter::SubjectMatches("p.>", "p.a.b"));
  EXPECT_FALSE(NatsCommitter::SubjectMatches("p.>", "p"));
  EXPECT_TRUE(NatsCommitter::SubjectMatches("p.eu.*", "p.eu.x"));
  EXPECT_FALSE(NatsCommitter::SubjectMatches("p.eu.*", "p.eu.x.y"));
  EXPECT_FALSE(NatsCommitter::SubjectMatches("p.eu.*", "p.us.x"));
  EXPECT_TRUE(NatsCommitter::SubjectMatches("p.room", "p.room"));
  EXPECT_FALSE(NatsCommitter::SubjectMatches("p.room", "p.room2"));
}

TEST_F(ClusterTest, ConvergesAndSurvivesNodeAndReplicaKill) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(AddReplica().Start()) << "see " << replicas_[i]->log_path();
  }
  std::vector<Replica*> all = {replicas_[0].get(), replicas_[1].get(),
                               replicas_[2].get()};
  const std::string room = "conv";
  {
    grpc::Status s = CreateRoom(all[0]->stub(), room);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  // Every replica validates Feedback against its own state: wait until all
  // hold the room (a loaded machine applied it late: "room not found").
  ASSERT_GT(WaitConverged(all, room, Totals(), absl::Seconds(30)), 0u);

  // Phase 1: Feedback spread over the 3 replicas converges everywhere.
  Totals expected;
  {
    absl::Mutex mu;
    std::vector<std::thread> clients;
    for (int c = 0; c < 6; ++c) {
      clients.emplace_back([&, c] {
        std::mt19937 rng(c);
        Replica* target = all[c % 3];
        for (int b = 0; b < 40; ++b) {
          Batch batch = MakeBatch(room, c * 1000 + b, rng, 1 + b % 10);
          pb::FeedbackResponse response;
          grpc::Status s = target->stub().Feedback(
              Context(absl::Seconds(10)).get(), batch.request, &response);
          ASSERT_TRUE(s.ok()) << s.error_message();
          EXPECT_EQ(response.applied_events(), batch.request.events_size());
          // Read-your-writes on the replica that took the write.
          if (b == 39) {
            Read read = ReadStats(target->stub(), room);
            EXPECT_GT(read.applied_sequence, 0u);
          }
          absl::MutexLock lock(&mu);
          expected.Add(batch.totals);
        }
      });
    }
    for (std::thread& t : clients) t.join();
  }
  ASSERT_FALSE(HasFailure());
  const uint64_t seq1 = WaitConverged(all, room, expected, absl::Seconds(30));
  ASSERT_GT(seq1, 0u);
  std::printf("phase 1: converged at stream seq %llu\n",
              static_cast<unsigned long long>(seq1));

  // Phase 2: under load from clients on every replica, SIGKILL NATS node 0
  // (replica 0's own node: it must fail over) and banditd replica 2.
  std::atomic<bool> stop{false};
  absl::Mutex mu;
  std::vector<Batch> acked, unknown;
  std::vector<std::string> errors;
  std::atomic<int64_t> next_id{100000};
  std::atomic<bool> replica2_down{false};
  std::vector<std::thread> clients;
  // Stops and joins the clients however the test leaves this scope.
  struct Joiner {
    std::atomic<bool>* stop;
    std::vector<std::thread>* threads;
    ~Joiner() {
      *stop = true;
      for (std::thread& t : *threads) {
        if (t.joinable()) t.join();
      }
    }
  } joiner{&stop, &clients};
  for (int c = 0; c < 6; ++c) {
    clients.emplace_back([&, c] {
      std::mt19937 rng(100 + c);
      int target = c % 3;
      while (!stop.load()) {
        if (target == 2 && replica2_down.load()) target = c % 2;
        Batch batch = MakeBatch(room, next_id.fetch_add(1), rng, 1 + rng() % 8);
        pb::FeedbackResponse response;
        grpc::Status s = all[target]->stub().Feedback(
            Context(absl::Seconds(8)).get(), batch.request, &response);
        absl::ReleasableMutexLock lock(&mu);
        if (s.ok()) {
          EXPECT_EQ(response.applied_events() + response.duplicate_events(),
                    batch.request.events_size());
          acked.push_back(std::move(batch));
        } else {
          unknown.push_back(std::move(batch));
          if (errors.size() < 5) {
            errors.push_back(
                absl::StrCat("replica ", target, ": ", s.error_message()));
          }
          // Traffic moves on to the next replica, after a pause.
          target = (target + 1) % 3;
          lock.Release();
          absl::SleepFor(absl::Milliseconds(20));
        }
      }
    });
  }
  absl::SleepFor(absl::Milliseconds(800));
  nats_->node(0).Kill(SIGKILL);
  replica2_down = true;
  replicas_[2]->Kill(SIGKILL);
  std::printf("killed NATS node 0 and replica 2 under load\n");
  // Traffic continues on replicas 0 and 1.
  size_t acked_at_kill;
  {
    absl::MutexLock lock(&mu);
    acked_at_kill = acked.size();
  }
  // Traffic continues once NATS has moved the stream's leadership (when
  // node 0 led it) and replica 0 has reconnected to another node.
  const absl::Time killed = absl::Now();
  absl::Duration resumed = absl::InfiniteDuration();
  while (absl::Now() - killed < absl::Seconds(30)) {
    {
      absl::MutexLock lock(&mu);
      if (acked.size() > acked_at_kill + 100) {
        resumed = absl::Now() - killed;
        break;
      }
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_LT(resumed, absl::Seconds(30))
      << "traffic did not continue on the surviving replicas";
  std::printf("traffic resumed %.1f s after the kill\n",
              absl::ToDoubleSeconds(resumed));
  absl::SleepFor(absl::Seconds(2));
  // The killed replica restarts (from its snapshot) and catches up while
  // the load goes on.
  ASSERT_TRUE(replicas_[2]->Start()) << "see " << replicas_[2]->log_path();
  absl::SleepFor(absl::Seconds(1));
  stop = true;
  for (std::thread& t : clients) t.join();
  clients.clear();

  // Calls that failed may or may not have landed: retried with the same
  // event_ids they count once.
  for (const Batch& b : unknown) {
    pb::FeedbackResponse response;
    grpc::Status s = all[0]->stub().Feedback(Context(absl::Seconds(10)).get(),
                                             b.request, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(response.applied_events() + response.duplicate_events(),
              b.request.events_size());
  }
  // Acknowledged batches are recognized as duplicates on every replica.
  for (size_t i = 0; i < acked.size(); i += 1 + acked.size() / 30) {
    pb::FeedbackResponse response;
    grpc::Status s = all[i % 3]->stub().Feedback(
        Context(absl::Seconds(10)).get(), acked[i].request, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(response.applied_events(), 0);
    EXPECT_EQ(response.duplicate_events(), acked[i].request.events_size());
  }
  for (const Batch& b : acked) expected.Add(b.totals);
  for (const Batch& b : unknown) expected.Add(b.totals);
  const uint64_t seq2 = WaitConverged(all, room, expected, absl::Seconds(60));
  EXPECT_GT(seq2, seq1);
  std::printf(
      "phase 2: %zu batches acknowledged, %zu failed and retried; all 3 "
      "replicas converged at seq %llu\n",
      acked.size(), unknown.size(), static_cast<unsigned long long>(seq2));
  for (const std::string& e : errors) std::printf("  error: %s\n", e.c_str());
  std::ifstream in(replicas_[2]->log_path());
  for (std::string line; std::getline(in, line);) {
    if (line.find("cluster replica of") != std::string::npos) {
      std::printf("replica 2: %s\n", line.c_str());
    }
  }
}

TEST_F(ClusterTest, ShardedReplicaHoldsOnlyItsRooms) {
  Replica& all_rooms = AddReplica();
  ASSERT_TRUE(all_rooms.Start()) << "see " << all_rooms.log_path();
  Replica& eu = AddReplica({"--cluster_rooms=eu.>"});
  ASSERT_TRUE(eu.Start()) << "see " << eu.log_path();
  ASSERT_TRUE(CreateRoom(all_rooms.stub(), "eu.shop").ok());
  ASSERT_TRUE(CreateRoom(all_rooms.stub(), "us.shop").ok());
  std::mt19937 rng(1);
  // One batch over both rooms: split per room, both applied.
  Batch batch = MakeBatch("eu.shop", 1, rng, 5);
  Batch other = MakeBatch("us.shop", 2, rng, 3);
  for (const pb::FeedbackEvent& e : other.request.events()) {
    *batch.request.add_events() = e;
  }
  pb::FeedbackResponse response;
  grpc::Status s = all_rooms.stub().Feedback(Context(absl::Seconds(10)).get(),
                                             batch.request, &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(response.applied_events(), 8);

  const Totals eu_totals = batch.totals;  // `other` added events only.
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  Read read;
  while (absl::Now() < deadline) {
    read = ReadStats(eu.stub(), "eu.shop");
    if (read.status.ok() && read.totals == eu_totals) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(read.totals, eu_totals) << Describe(read.totals);

  // Rooms outside the shard: FAILED_PRECONDITION naming the cause.
  pb::SampleRequest sample;
  sample.set_room_id("us.shop");
  sample.set_k(1);
  pb::SampleResponse sampled;
  s = eu.stub().Sample(Context(absl::Seconds(10)).get(), sample, &sampled);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(s.error_message().find("not held by this replica"),
            std::string::npos)
      << s.error_message();
  s = eu.stub().Feedback(Context(absl::Seconds(10)).get(), other.request,
                         &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReadStats(eu.stub(), "us.shop").status.error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  // Its own rooms serve as usual.
  sample.set_room_id("eu.shop");
  s = eu.stub().Sample(Context(absl::Seconds(10)).get(), sample, &sampled);
  EXPECT_TRUE(s.ok()) << s.error_message();
}

// Read-your-writes on another replica: FeedbackResponse.applied_sequence
// passed as min_applied_sequence makes Sample and GetStats on any replica
// reflect the write; a sequence the stream has not reached fails after the
// bounded wait with UNAVAILABLE naming the field.
TEST_F(ClusterTest, ReadsItsWritesOnAnotherReplica) {
  Replica& a = AddReplica();
  ASSERT_TRUE(a.Start()) << "see " << a.log_path();
  Replica& b = AddReplica({"--cluster_read_wait_timeout=300ms"});
  ASSERT_TRUE(b.Start()) << "see " << b.log_path();
  ASSERT_TRUE(CreateRoom(a.stub(), "ryw").ok());
  std::mt19937 rng(3);
  Totals expected;
  uint64_t last = 0;
  for (int i = 0; i < 20; ++i) {
    Batch batch = MakeBatch("ryw", i, rng, 3);
    pb::FeedbackResponse response;
    grpc::Status s = a.stub().Feedback(Context(absl::Seconds(10)).get(),
                                       batch.request, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_GT(response.applied_sequence(), last);
    last = response.applied_sequence();
    for (int arm = 0; arm < kArms; ++arm) {
      expected.views[arm] += batch.totals.views[arm];
      expected.clicks[arm] += batch.totals.clicks[arm];
    }
    // Immediately on the other replica, no polling.
    const Read read = ReadStats(b.stub(), "ryw", last);
    ASSERT_TRUE(read.status.ok()) << read.status.error_message();
    EXPECT_GE(read.applied_sequence, last);
    EXPECT_EQ(read.totals, expected)
        << "after write " << i << Describe(read.totals);
  }
  pb::SampleRequest sample;
  sample.set_room_id("ryw");
  sample.set_min_applied_sequence(last);
  pb::SampleResponse sampled;
  grpc::Status s =
      b.stub().Sample(Context(absl::Seconds(10)).get(), sample, &sampled);
  EXPECT_TRUE(s.ok()) << s.error_message();

  sample.set_min_applied_sequence(last + 1000);
  const absl::Time start = absl::Now();
  s = b.stub().Sample(Context(absl::Seconds(10)).get(), sample, &sampled);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(s.error_message().find("min_applied_sequence"), std::string::npos)
      << s.error_message();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));  // Bounded, not hung.
}

// Replicas sharing --decision_id_key_file resolve each other's decision ids
// (a load balancer need not be sticky); a replica without the key refuses
// them as INVALID_ARGUMENT naming the field, and forged ids are refused.
TEST_F(ClusterTest, DecisionIdsResolveOnAnyReplicaWithTheKey) {
  const std::string keys = (dir_ / "decision_keys").string();
  std::ofstream(keys) << std::string(64, 'c') << "\n";
  const std::string key_flag = absl::StrCat("--decision_id_key_file=", keys);
  Replica& a = AddReplica({key_flag});
  ASSERT_TRUE(a.Start()) << "see " << a.log_path();
  Replica& b = AddReplica({key_flag});
  ASSERT_TRUE(b.Start()) << "see " << b.log_path();
  Replica& keyless = AddReplica();
  ASSERT_TRUE(keyless.Start()) << "see " << keyless.log_path();
  ASSERT_TRUE(CreateRoom(a.stub(), "sticky").ok());

  pb::SampleRequest sample;
  sample.set_room_id("sticky");
  sample.add_context_items("hour=13");
  pb::SampleResponse sampled;
  grpc::Status s =
      a.stub().Sample(Context(absl::Seconds(10)).get(), sample, &sampled);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(sampled.arms_size(), 1);
  const std::string arm = sampled.arms(0).arm_id();

  pb::FeedbackRequest feedback;
  pb::FeedbackEvent* event = feedback.add_events();
  event->set_decision_id(sampled.decision_id());
  event->set_views(1);
  event->set_clicks(1);
  event->set_event_id("sticky-1");
  pb::FeedbackResponse fed;
  s = b.stub().Feedback(Context(absl::Seconds(10)).get(), feedback, &fed);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(fed.applied_events(), 1);

  // The event landed on the decision's arm and context item, seen from A.
  pb::GetStatsRequest stats;
  stats.set_room_id("sticky");
  stats.set_include_context(true);
  stats.set_min_applied_sequence(fed.applied_sequence());
  pb::GetStatsResponse got;
  s = a.stub().GetStats(Context(absl::Seconds(10)).get(), stats, &got);
  ASSERT_TRUE(s.ok()) << s.error_message();
  for (const pb::ArmStats& stat : got.arms()) {
    EXPECT_EQ(stat.counts().views(), stat.arm_id() == arm ? 1 : 0)
        << stat.arm_id();
    if (stat.arm_id() != arm) continue;
    ASSERT_EQ(stat.context_size(), 1);
    EXPECT_EQ(stat.context(0).context_item(), "hour=13");
    EXPECT_EQ(stat.context(0).counts().clicks(), 1);
  }

  event->set_event_id("sticky-2");
  s = keyless.stub().Feedback(Context(absl::Seconds(10)).get(), feedback, &fed);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("events[0].decision_id"), std::string::npos)
      << s.error_message();

  // One character of the signature changed: refused, nothing counted.
  std::string forged = sampled.decision_id();
  char& c = forged[forged.size() - 5];  // a full 6 bits of the MAC
  c = c == 'A' ? 'B' : 'A';
  event->set_decision_id(forged);
  event->set_event_id("sticky-3");
  s = b.stub().Feedback(Context(absl::Seconds(10)).get(), feedback, &fed);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << s.error_message();
}

// In process: a replica restarts from its snapshot; one whose snapshot is
// older than the stream's retained history refuses to start, naming the
// cause and the fix.
TEST_F(ClusterTest, RestartsFromSnapshotAndRefusesTrimmedHistory) {
  auto options = [&](const std::string& name) {
    NatsCommitter::Options o;
    o.nats_urls = nats_->Urls(0);
    o.data_dir = (dir_ / name).string();
    o.log = false;
    // No published snapshot: a replica behind the trimmed head must refuse
    // (bootstrap_test.cc covers starting from a published one).
    o.snapshot_bucket = "";
    return o;
  };
  auto submit = [](NatsCommitter& c, core::Mutation m) {
    absl::Notification done;
    absl::StatusOr<core::ApplyResult> result;
    c.Submit(std::move(m), [&](absl::StatusOr<core::ApplyResult> r) {
      result = std::move(r);
      done.Notify();
    });
    done.WaitForNotification();
    return result;
  };
  auto feedback = [](const std::string& id) {
    core::FeedbackBatch batch;
    core::FeedbackEvent event;
    event.room_id = "r";
    event.arm_id = "a";
    event.views = 1;
    event.clicks = 1;
    event.event_id = id;
    batch.events.push_back(event);
    return batch;
  };
  uint64_t a_seq = 0;
  {
    core::Engine engine;
    absl::StatusOr<std::unique_ptr<NatsCommitter>> a =
        NatsCommitter::Open(options("a"), &engine);
    ASSERT_TRUE(a.ok()) << a.status();
    core::CreateRoom create;
    create.room_id = "r";
    create.arm_ids = {"a", "b"};
    ASSERT_TRUE(submit(**a, create).ok());
    for (int i = 0; i < 5; ++i) {
      absl::StatusOr<core::ApplyResult> r =
          submit(**a, feedback(absl::StrCat("a", i)));
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_EQ(r->applied_events, 1);
    }
    // Same event id again: counted once, and JetStream itself dropped the
    // retry (same Nats-Msg-Id), so the stream holds no second record.
    absl::StatusOr<core::ApplyResult> again = submit(**a, feedback("a0"));
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->duplicate_events, 1);
    EXPECT_EQ(again->applied_events, 0);
    EXPECT_EQ((*a)->stats().duplicate_publishes, 1);
    a_seq = (*a)->applied_sequence();
    EXPECT_EQ(a_seq, 6u);
    (*a)->Shutdown();  // Saves a snapshot at a_seq.
  }
  {
    // Restart: the snapshot holds everything, nothing is replayed.
    core::Engine engine;
    absl::StatusOr<std::unique_ptr<NatsCommitter>> a =
        NatsCommitter::Open(options("a"), &engine);
    ASSERT_TRUE(a.ok()) << a.status();
    EXPECT_EQ((*a)->applied_sequence(), a_seq);
    EXPECT_EQ((*a)->stats().applied_records, 0);
    absl::StatusOr<core::Stats> stats = engine.GetStats("r", "", false);
    ASSERT_TRUE(stats.ok());
    EXPECT_EQ(stats->arms[0].counts.views, 5);
  }
  {
    // Another replica writes more, then the stream's history is removed
    // (as retention would) past replica a's snapshot.
    core::Engine engine;
    absl::StatusOr<std::unique_ptr<NatsCommitter>> b =
        NatsCommitter::Open(options("b"), &engine);
    ASSERT_TRUE(b.ok()) << b.status();
    ASSERT_TRUE(submit(**b, feedback("b0")).ok());
    ASSERT_TRUE((*b)->SnapshotNow().ok());
    (*b)->Shutdown();
    natsConnection* nc = nullptr;
    ASSERT_EQ(natsConnection_ConnectTo(&nc, nats_->Urls(0).c_str()), NATS_OK);
    jsCtx* js = nullptr;
    ASSERT_EQ(natsConnection_JetStream(&js, nc, nullptr), NATS_OK);
    EXPECT_EQ(js_PurgeStream(js, "BANDITD_EVENTS", nullptr, nullptr), NATS_OK);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
  }
  {
    core::Engine engine;
    absl::StatusOr<std::unique_ptr<NatsCommitter>> a =
        NatsCommitter::Open(options("a"), &engine);
    EXPECT_EQ(a.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_NE(a.status().message().find("retains records only from seq"),
              std::string::npos)
        << a.status();
    EXPECT_NE(a.status().message().find("copy cluster.db"), std::string::npos);
  }
  {
    // Replica b's snapshot covers the whole stream: it starts.
    core::Engine engine;
    absl::StatusOr<std::unique_ptr<NatsCommitter>> b =
        NatsCommitter::Open(options("b"), &engine);
    ASSERT_TRUE(b.ok()) << b.status();
    absl::StatusOr<core::Stats> stats = engine.GetStats("r", "", false);
    ASSERT_TRUE(stats.ok());
    EXPECT_EQ(stats->arms[0].counts.views, 6);
  }
}

// The event-id window (count and age) is the stream's, not each replica's: a
// replica with another value would count retried events differently, so it
// refuses to start and says which value to use.
TEST_F(ClusterTest, EventIdWindowIsStreamWide) {
  auto open = [&](const std::string& name, int64_t window,
                  absl::Duration age = absl::Minutes(10)) {
    NatsCommitter::Options o;
    o.nats_urls = nats_->Urls(0);
    o.data_dir = (dir_ / name).string();
    o.event_id_window = window;
    o.event_id_window_age = age;
    o.log = false;
    core::Engine engine;
    return NatsCommitter::Open(o, &engine).status();
  };
  ASSERT_TRUE(open("a", 1000).ok());  // Creates the stream.
  const absl::Status other = open("b", 2000);
  EXPECT_EQ(other.code(), absl::StatusCode::kFailedPrecondition) << other;
  EXPECT_NE(other.message().find("--event_id_window=2000"), std::string::npos)
      << other;
  EXPECT_NE(other.message().find("restart with --event_id_window=1000"),
            std::string::npos)
      << other;
  EXPECT_TRUE(open("c", 1000).ok());
  // The window's age is stream-wide too (it changes what Apply computes).
  const absl::Status age = open("d", 1000, absl::Minutes(5));
  EXPECT_EQ(age.code(), absl::StatusCode::kFailedPrecondition) << age;
  EXPECT_NE(age.message().find("--event_id_window_age=5m"), std::string::npos)
      << age;
  EXPECT_NE(age.message().find("restart with --event_id_window_age=10m"),
            std::string::npos)
      << age;
  // The same duration spelled otherwise is the same setting.
  EXPECT_TRUE(open("e", 1000, absl::Seconds(600)).ok());
}

// Admission reserves the memory budget until the record is applied here,
// as the local store does: a batch admitted while another waits for
// JetStream counts that one's estimate, and a record is never refused when
// applied. Catches: NatsCommitter validating without a reservation (two
// batches would pass a budget that holds one).
TEST_F(ClusterTest, InFlightRecordsHoldTheirMemoryReservation) {
  std::vector<std::string> arms;
  for (int i = 0; i < 50; ++i) arms.push_back(absl::StrCat("arm", i));
  core::CreateRoom create;
  create.room_id = "r";
  create.arm_ids = arms;
  // Ten events, each with eight new context items: new counter entries.
  auto new_items = [&](const std::string& tag) {
    return ::banditd::testing::NewItemsBatch(arms, tag);
  };
  int64_t used = 0, estimate = 0;
  {
    core::Engine probe;
    ASSERT_TRUE(probe.Apply(create).ok());
    used = probe.bytes_used();
    ASSERT_TRUE(probe.Validate(new_items("x"), &estimate).ok());
    ASSERT_GT(estimate, 0);
  }
  core::Engine engine({.memory_budget_bytes = used + estimate + estimate / 2});
  NatsCommitter::Options o;
  o.nats_urls = nats_->Urls(0);
  o.data_dir = (dir_ / "a").string();
  o.log = false;
  // Nothing but the held callback below may complete a call.
  o.fetch_after = absl::Minutes(1);
  o.apply_timeout = absl::Minutes(1);
  absl::StatusOr<std::unique_ptr<NatsCommitter>> c =
      NatsCommitter::Open(o, &engine);
  ASSERT_TRUE(c.ok()) << c.status();
  auto submit = [&](core::Mutation m) {
    absl::Notification done;
    absl::StatusOr<core::ApplyResult> result;
    (*c)->Submit(std::move(m), [&](absl::StatusOr<core::ApplyResult> r) {
      result = std::move(r);
      done.Notify();
    });
    done.WaitForNotification();
    return result;
  };
  ASSERT_TRUE(submit(create).ok());
  ASSERT_EQ(engine.bytes_used(), used);
  // A call whose callback blocks the thread that completes calls (the
  // consumer's or the acknowledgements'): what is published next stays in
  // flight until it returns.
  absl::Notification holding, release;
  core::FeedbackBatch one;
  one.events.push_back(new_items("h").events.front());
  one.events.front().context_items.clear();
  (*c)->Submit(one, [&](absl::StatusOr<core::ApplyResult> r) {
    EXPECT_TRUE(r.ok()) << r.status();
    holding.Notify();
    release.WaitForNotification();
  });
  holding.WaitForNotification();
  absl::Notification first_done;
  absl::StatusOr<core::ApplyResult> first;
  (*c)->Submit(new_items("a"), [&](absl::StatusOr<core::ApplyResult> r) {
    first = std::move(r);
    first_done.Notify();
  });
  EXPECT_EQ(engine.reserved_bytes(), estimate);
  // Refused at once, on this thread: the first holds its estimate.
  absl::StatusOr<core::ApplyResult> second = submit(new_items("b"));
  EXPECT_EQ(second.status().code(), absl::StatusCode::kResourceExhausted)
      << second.status();
  EXPECT_NE(second.status().message().find("--memory_budget_bytes"),
            std::string::npos)
      << second.status();
  release.Notify();
  first_done.WaitForNotification();
  EXPECT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->applied_events, 10);
  EXPECT_EQ(engine.reserved_bytes(), 0);
  EXPECT_GT(engine.bytes_used(), used);
  EXPECT_LE(engine.bytes_used(), used + estimate);
  (*c)->Shutdown();
}

// The real binary: a replica started with another --event_id_window_age than
// the stream's exits at startup, naming the flag and the value to use.
// Catches: the flag not reaching the cluster options (the replica would
// start and de-duplicate differently from its peers).
TEST_F(ClusterTest, ReplicaWithAnotherWindowAgeRefusesToStart) {
  Replica& first = AddReplica();
  ASSERT_TRUE(first.Start()) << "see " << first.log_path();
  Replica& other = AddReplica({"--event_id_window_age=5m"});
  EXPECT_FALSE(other.Start());
  std::ifstream in(other.log_path());
  const std::string log((std::istreambuf_iterator<char>(in)),
                        std::istreambuf_iterator<char>());
  EXPECT_NE(log.find("--event_id_window_age=5m"), std::string::npos) << log;
  EXPECT_NE(log.find("restart with --event_id_window_age=10m"),
            std::string::npos)
      << log;
}

// ---------------------------------------------------------------- benchmark

class ClusterBench : public ClusterTest {
 protected:
  void SetUp() override {
    if (std::getenv("CLUSTER_BENCH") == nullptr) {
      GTEST_SKIP() << "set CLUSTER_BENCH=1 (scripts/cluster_bench.sh)";
    }
    ClusterTest::SetUp();
  }

  // Feedback and Sample throughput over `replicas`; replication lag while
  // Feedback runs. Prints one line per measurement.
  void Measure(const std::string& label, std::vector<Replica*> replicas) {
    const int threads = EnvInt("BENCH_THREADS", 16);
    const int batch = EnvInt("BENCH_BATCH", 10);
    const absl::Duration duration = absl::Seconds(EnvInt("BENCH_SECONDS", 5));
    const std::string room = absl::StrCat("bench-", label);
    ASSERT_TRUE(CreateRoom(replicas[0]->stub(), room).ok());
    // Every replica has the room before the load starts.
    WaitConverged(replicas, room, Totals(), absl::Seconds(10));

    // Replication lag: every 20 ms, how far each replica's applied
    // sequence trails the highest one seen.
    std::atomic<bool> stop{false};
    std::vector<double> spread;
    std::thread poller;
    if (replicas.size() > 1) {
      poller = std::thread([&] {
        while (!stop.load()) {
          uint64_t lo = UINT64_MAX, hi = 0;
          for (Replica* r : replicas) {
            const uint64_t seq = ReadStats(r->stub(), room).applied_sequence;
            lo = std::min(lo, seq);
            hi = std::max(hi, seq);
          }
          spread.push_back(static_cast<double>(hi - lo));
          absl::SleepFor(absl::Milliseconds(20));
        }
      });
    }
    LoadResult feedback =
        RunLoad(replicas, threads, duration, FeedbackCall(room, batch));
    stop = true;
    if (poller.joinable()) poller.join();
    // Time from the end of the load until every replica has applied all.
    const absl::Time t0 = absl::Now();
    Totals unused;
    uint64_t final_seq = 0;
    while (absl::Now() - t0 < absl::Seconds(30)) {
      uint64_t lo = UINT64_MAX, hi = 0;
      for (Replica* r : replicas) {
        const uint64_t seq = ReadStats(r->stub(), room).applied_sequence;
        lo = std::min(lo, seq);
        hi = std::max(hi, seq);
      }
      final_seq = hi;
      if (lo == hi) break;
      absl::SleepFor(absl::Milliseconds(5));
    }
    const double converge_ms = absl::ToDoubleMilliseconds(absl::Now() - t0);

    LoadResult sample = RunLoad(
        replicas, threads, duration,
        [&](pb::BanditService::Stub& stub, std::mt19937& rng, int64_t id) {
          pb::SampleRequest request;
          request.set_room_id(room);
          request.set_k(3);
          pb::SampleResponse response;
          return stub
              .Sample(Context(absl::Seconds(10)).get(), request, &response)
              .ok();
        });
    const double rate = feedback.calls / feedback.seconds;
    std::printf(
        "BENCH %s: Feedback %.0f calls/s (%.0f events/s, batch %d, %d "
        "clients, %lld errors), p50 %.2f ms, p99 %.2f ms\n",
        label.c_str(), rate, rate * batch, batch, threads,
        static_cast<long long>(feedback.errors),
        Percentile(feedback.latency_ms, 0.5),
        Percentile(feedback.latency_ms, 0.99));
    std::printf(
        "BENCH %s: Sample %.0f calls/s (k 3, %d arms, %d clients), p50 %.2f "
        "ms, p99 %.2f ms\n",
        label.c_str(), sample.calls / sample.seconds, kArms, threads,
        Percentile(sample.latency_ms, 0.5),
        Percentile(sample.latency_ms, 0.99));
    if (!spread.empty()) {
      double sum = 0;
      for (double v : spread) sum += v;
      const double mean = sum / spread.size();
      std::printf(
          "BENCH %s: replication lag under Feedback load (records behind the "
          "most advanced replica, %zu polls): mean %.1f, p99 %.0f, max %.0f "
          "(about %.1f / %.1f ms at %.0f records/s); all replicas equal %.1f "
          "ms after the load stopped (seq %llu)\n",
          label.c_str(), spread.size(), mean, Percentile(spread, 0.99),
          Percentile(spread, 1.0), 1000 * mean / rate,
          1000 * Percentile(spread, 0.99) / rate, rate, converge_ms,
          static_cast<unsigned long long>(final_seq));
    }
    fflush(stdout);
  }
};

TEST_F(ClusterBench, OneAndThreeReplicas) {
  {
    // For reference: the default single process (SQLite, sync durability).
    Replica single(dir_, 9, "");
    ASSERT_TRUE(single.Start()) << "see " << single.log_path();
    Measure("default-sqlite", {&single});
  }
  Replica& r0 = AddReplica();
  ASSERT_TRUE(r0.Start()) << "see " << r0.log_path();
  Measure("1-replica", {&r0});
  Replica& r1 = AddReplica();
  ASSERT_TRUE(r1.Start()) << "see " << r1.log_path();
  Replica& r2 = AddReplica();
  ASSERT_TRUE(r2.Start()) << "see " << r2.log_path();
  Measure("3-replicas", {&r0, &r1, &r2});
}

}  // namespace
}  // namespace banditd
