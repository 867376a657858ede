// Re-publishing unacknowledged records (--cluster_republish_interval): a
// call in flight to a NATS node that stops answering is published again,
// with the same message id, through the node the replica fails over to, and
// answered within the publish timeout; JetStream stores each record once.
// (The re-send scheduling itself: in_flight_table_test.cc.)

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "server/cluster/nats_committer.h"
#include "server/core/engine.h"
#include "tests/cluster/cluster_harness.h"

namespace banditd {
namespace {

namespace pb = ::banditd::v1;
using ::banditd::cluster::NatsCommitter;
using ::banditd::cluster_testing::Batch;
using ::banditd::cluster_testing::ClusterTest;
using ::banditd::cluster_testing::Context;
using ::banditd::cluster_testing::CpuSeconds;
using ::banditd::cluster_testing::CreateRoom;
using ::banditd::cluster_testing::EnvInt;
using ::banditd::cluster_testing::FeedbackCall;
using ::banditd::cluster_testing::FeedbackRetried;
using ::banditd::cluster_testing::LoadResult;
using ::banditd::cluster_testing::MakeBatch;
using ::banditd::cluster_testing::NatsClient;
using ::banditd::cluster_testing::Percentile;
using ::banditd::cluster_testing::Replica;
using ::banditd::cluster_testing::RunLoad;
using ::banditd::cluster_testing::Totals;
using ::banditd::cluster_testing::WaitConverged;

// The last line of the file at `path` with `text` ("" if none).
std::string LastLine(const std::string& path, const std::string& text) {
  std::ifstream in(path);
  std::string last;
  for (std::string line; std::getline(in, line);) {
    if (line.find(text) != std::string::npos) last = line;
  }
  return last;
}

bool LogHas(const std::string& path, const std::string& text) {
  return !LastLine(path, text).empty();
}

// Closed-loop writers (one call at a time each, as most clients) on replica
// 0 while replica 0's NATS node is paused, and calls made right after the
// pause: those are lost in the paused node's socket. They are re-sent once
// the replica has moved to another node and answered while the node is
// still paused, never failed by the publish timeout (4 s here); when the
// node resumes, its stale copies are dropped by JetStream. Catches: no
// re-send (the calls made in the pause fail by the timeout), a re-send
// without the message id (stored twice), and a re-sent record reported as
// duplicates.
TEST_F(ClusterTest, CallInFlightToAPausedNodeIsRepublished) {
  Replica& writer = AddReplica({"--cluster_republish_interval=250ms"});
  ASSERT_TRUE(writer.Start()) << "see " << writer.log_path();
  Replica& other = AddReplica();
  ASSERT_TRUE(other.Start()) << "see " << other.log_path();
  const std::string room = "resend";
  ASSERT_TRUE(CreateRoom(writer.stub(), room).ok());
  ASSERT_GT(WaitConverged({&writer, &other}, room, Totals(), absl::Seconds(30)),
            0u);

  ASSERT_FALSE(
      writer.WaitForLog("connected to NATS at", absl::Seconds(5)).empty())
      << "see " << writer.log_path();

  std::atomic<bool> stop{false};
  absl::Mutex mu;
  std::vector<Batch> done, failed;
  std::vector<std::string> errors;
  // One call of client `c`, batch `b`, on the writer.
  auto call = [&](int c, int64_t b, std::mt19937& rng) {
    Batch batch =
        MakeBatch(room, c * 1000000 + b, rng, 1 + static_cast<int>(b % 3));
    pb::FeedbackResponse response;
    grpc::Status s = writer.stub().Feedback(Context(absl::Seconds(10)).get(),
                                            batch.request, &response);
    absl::MutexLock lock(&mu);
    if (s.ok()) {
      // The call's own events, even when a re-sent copy was the duplicate
      // of its first.
      EXPECT_EQ(response.applied_events(), batch.request.events_size())
          << "client " << c << " batch " << b;
      EXPECT_EQ(response.duplicate_events(), 0)
          << "client " << c << " batch " << b;
      done.push_back(std::move(batch));
    } else {
      errors.push_back(s.error_message());
      failed.push_back(std::move(batch));
    }
  };
  auto answered = [&] {
    absl::MutexLock lock(&mu);
    return done.size() + failed.size();
  };
  // Waits until `n` calls have been answered (false after 30 s).
  auto wait_answered = [&](size_t n) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (answered() < n) {
      if (absl::Now() > deadline) return false;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return true;
  };
  std::vector<std::thread> clients;
  for (int c = 0; c < 8; ++c) {
    clients.emplace_back([&, c] {
      std::mt19937 rng(7 + c);
      for (int64_t b = 0; !stop.load(); ++b) call(c, b, rng);
    });
  }
  EXPECT_TRUE(wait_answered(40)) << "no traffic; see " << writer.log_path();
  // The writer's node: the first it lists (node 0) unless that one did not
  // answer in time at its start (a loaded machine), or the last it moved
  // to.
  int node = nats_->NodeOf(LastLine(writer.log_path(), "connected to NATS at"));
  EXPECT_GE(node, 0) << "see " << writer.log_path();
  node = std::max(node, 0);
  kill(nats_->node(node).pid(), SIGSTOP);
  const absl::Time paused = absl::Now();
  // The clients' calls in flight now may all be past their ack, waiting for
  // their apply (which the pause holds back too, and which needs no
  // re-send): under load the apply lags. Calls made now surely go unacked:
  // the replica publishes them to the paused node until its pings go
  // unanswered (about 1 s).
  std::vector<std::thread> paused_calls;
  for (int c = 8; c < 16; ++c) {
    paused_calls.emplace_back([&, c] {
      std::mt19937 rng(7 + c);
      call(c, 0, rng);
    });
  }
  // Each is answered (or fails by the timeout) while the node is paused.
  for (std::thread& t : paused_calls) t.join();
  kill(nats_->node(node).pid(), SIGCONT);
  std::printf("node %d (pid %d) paused for %.0f ms\n", node,
              static_cast<int>(nats_->node(node).pid()),
              absl::ToDoubleMilliseconds(absl::Now() - paused));
  // Traffic goes on after the node resumes.
  const size_t resumed = answered();
  EXPECT_TRUE(wait_answered(resumed + 40))
      << "no traffic after the resume; see " << writer.log_path();
  stop = true;
  for (std::thread& t : clients) t.join();

  // Fast failures (no responders while the stream elects a leader) are a
  // client's to retry; a call failed by the publish timeout is the bug.
  for (const std::string& e : errors) {
    EXPECT_EQ(e.find("imeout"), std::string::npos) << e;
  }
  // Logged by the re-send thread after the copies went out.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!LogHas(writer.log_path(), "re-published") && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_TRUE(LogHas(writer.log_path(), "re-published"))
      << "nothing was re-sent; see " << writer.log_path();
  Totals expected;
  for (const Batch& b : failed) {
    pb::FeedbackResponse response;
    grpc::Status s = FeedbackRetried(other.stub(), b.request, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
    expected.Add(b.totals);
  }
  for (const Batch& b : done) expected.Add(b.totals);
  ASSERT_GT(WaitConverged({&writer, &other}, room, expected, absl::Seconds(30)),
            0u);
  // One record per batch and the room's creation: no copy stored twice
  // (asked through the paused node, which has read its stale copies by
  // now).
  NatsClient nats(nats_->Urls(node));
  EXPECT_EQ(nats.State("BANDITD_EVENTS").second,
            1 + done.size() + failed.size());
  std::printf("%zu calls answered, %zu failed fast and retried\n", done.size(),
              failed.size());
}

// Catches: an interval that can never re-send within the publish timeout,
// or one so short that it floods NATS, accepted silently.
TEST(RepublishFlagTest, IntervalMustFitThePublishTimeout) {
  for (absl::Duration interval :
       {absl::Milliseconds(5), absl::Seconds(2), absl::Seconds(3)}) {
    core::Engine engine;
    NatsCommitter::Options options;
    options.nats_urls = "nats://127.0.0.1:1";
    options.publish_timeout = absl::Seconds(2);
    options.republish_interval = interval;
    options.data_dir = ::testing::TempDir();
    options.log = false;
    auto committer = NatsCommitter::Open(options, &engine);
    ASSERT_FALSE(committer.ok()) << interval;
    EXPECT_EQ(committer.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(committer.status().message().find("--cluster_republish_interval"),
              std::string::npos)
        << committer.status();
  }
}

// Healthy-path cost (CLUSTER_BENCH=1, scripts/cluster_bench.sh): Feedback
// throughput, latency and replica CPU per call with re-publishing on (the
// default) and off, alternating rounds on one NATS cluster, and the copies
// re-sent without any fault (expected 0: a busy cluster acknowledges in
// order, which never triggers a re-send).
int64_t Resent(const std::string& log_path) {
  std::ifstream in(log_path);
  int64_t n = 0;
  for (std::string line; std::getline(in, line);) {
    const size_t at = line.find("re-published ");
    int64_t v = 0;
    if (at != std::string::npos &&
        absl::SimpleAtoi(
            line.substr(at + 13, line.find(' ', at + 13) - at - 13), &v)) {
      n += v;
    }
  }
  return n;
}

class RepublishBench : public ClusterTest {
 protected:
  void SetUp() override {
    if (std::getenv("CLUSTER_BENCH") == nullptr) {
      GTEST_SKIP() << "set CLUSTER_BENCH=1 (scripts/cluster_bench.sh)";
    }
    ClusterTest::SetUp();
  }
};

TEST_F(RepublishBench, HealthyPathWithAndWithout) {
  const int threads = EnvInt("BENCH_THREADS", 16);
  const int batch = EnvInt("BENCH_BATCH", 10);
  const int rounds = EnvInt("BENCH_ROUNDS", 3);
  const absl::Duration duration = absl::Seconds(EnvInt("BENCH_SECONDS", 5));
  for (int round = 0; round < rounds; ++round) {
    for (const char* interval : {"250ms", "0"}) {
      std::vector<Replica*> replicas;
      const size_t first = replicas_.size();
      for (int i = 0; i < 3; ++i) {
        Replica& r =
            AddReplica({absl::StrCat("--cluster_republish_interval=", interval),
                        "--cluster_publish_timeout=2s"});
        ASSERT_TRUE(r.Start()) << "see " << r.log_path();
        replicas.push_back(&r);
      }
      const std::string room = absl::StrCat("bench-", round, "-", interval);
      ASSERT_TRUE(CreateRoom(replicas[0]->stub(), room).ok());
      WaitConverged(replicas, room, Totals(), absl::Seconds(10));
      std::vector<double> cpu0;
      for (Replica* r : replicas) cpu0.push_back(CpuSeconds(r->pid()));
      LoadResult feedback =
          RunLoad(replicas, threads, duration, FeedbackCall(room, batch));
      double cpu = 0;
      for (size_t i = 0; i < replicas.size(); ++i) {
        cpu += CpuSeconds(replicas[i]->pid()) - cpu0[i];
      }
      absl::SleepFor(absl::Milliseconds(1500));  // Re-sends get logged.
      int64_t resent = 0;
      for (Replica* r : replicas) resent += Resent(r->log_path());
      const double rate = feedback.calls / feedback.seconds;
      std::printf(
          "BENCH republish=%s round %d: Feedback %.0f calls/s (batch %d, %d "
          "clients, %lld errors), p50 %.2f ms, p99 %.2f ms, max %.1f ms, "
          "replica CPU %.0f us/call, re-sent copies %lld\n",
          interval, round, rate, batch, threads,
          static_cast<long long>(feedback.errors),
          Percentile(feedback.latency_ms, 0.5),
          Percentile(feedback.latency_ms, 0.99),
          Percentile(feedback.latency_ms, 1.0),
          1e6 * cpu / std::max<int64_t>(1, feedback.calls),
          static_cast<long long>(resent));
      fflush(stdout);
      EXPECT_EQ(feedback.errors, 0);
      for (size_t i = first; i < replicas_.size(); ++i) replicas_[i]->Kill();
    }
  }
}

}  // namespace
}  // namespace banditd
