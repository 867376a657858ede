// Crash test: runs the real banditd binary, drives concurrent Feedback from
// several clients, SIGKILLs the server at a random moment, restarts it on the
// same data directory and checks that every acknowledged event is counted
// exactly once, and nothing beyond the events that were in flight.
//
// The binary is BANDITD_BINARY (compiled in by CMake, overridable by the
// environment variable of the same name). CRASH_ROUNDS sets the number of
// kill/restart rounds (default 5); scripts/crash_test.sh runs 50.

#include <fcntl.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "banditd/v1/banditd.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/testing/arm_totals.h"

namespace banditd {
namespace {

namespace pb = ::banditd::v1;

constexpr int kArms = 8;
constexpr int kClients = 6;
constexpr char kRoom[] = "crash";

std::string BinaryPath() {
  if (const char* env = std::getenv("BANDITD_BINARY")) return env;
  return BANDITD_BINARY;
}

int Rounds(int fallback) {
  const char* env = std::getenv("CRASH_ROUNDS");
  int rounds = 0;
  if (env != nullptr && absl::SimpleAtoi(env, &rounds) && rounds > 0) {
    return rounds;
  }
  return fallback;
}

using Totals = ::banditd::testing::ArmTotals<kArms>;
using ::banditd::testing::Describe;

struct Batch {
  pb::FeedbackRequest request;
  Totals totals;
};

// A banditd child process.
class ServerProcess {
 public:
  ServerProcess(std::string data_dir, std::string log_path,
                std::vector<std::string> flags)
      : data_dir_(std::move(data_dir)),
        log_path_(std::move(log_path)),
        flags_(std::move(flags)) {}
  ~ServerProcess() { Kill(); }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Starts the server and waits until it answers; returns its port.
  int Start() {
    const std::streamoff log_start = LogSize();
    pid_ = fork();
    if (pid_ == 0) {
      const int fd =
          open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(fd, 1);
      dup2(fd, 2);
      std::vector<std::string> args = {BinaryPath(), "--port=0",
                                       "--data_dir=" + data_dir_};
      args.insert(args.end(), flags_.begin(), flags_.end());
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    // The server prints "serving on HOST:PORT" once recovery is done.
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (absl::Now() < deadline) {
      std::ifstream in(log_path_);
      in.seekg(log_start);
      std::string line;
      while (std::getline(in, line)) {
        const size_t at = line.find("serving on ");
        if (at == std::string::npos) continue;
        const size_t colon = line.find(':', at + 11);
        int port = 0;
        const size_t end = line.find(' ', colon);
        if (absl::SimpleAtoi(line.substr(colon + 1, end - colon - 1), &port)) {
          return port;
        }
      }
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        ADD_FAILURE() << "banditd exited during startup; see " << log_path_;
        return 0;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    ADD_FAILURE() << "banditd did not start; see " << log_path_;
    return 0;
  }

  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

 private:
  std::streamoff LogSize() {
    std::error_code error;
    const auto size = std::filesystem::file_size(log_path_, error);
    return error ? 0 : static_cast<std::streamoff>(size);
  }

  const std::string data_dir_;
  const std::string log_path_;
  const std::vector<std::string> flags_;
  pid_t pid_ = -1;
};

std::unique_ptr<pb::BanditService::Stub> Connect(int port) {
  return pb::BanditService::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
}

std::unique_ptr<grpc::ClientContext> Context(absl::Duration timeout) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() +
                        absl::ToChronoMilliseconds(timeout));
  return context;
}

Totals ReadTotals(pb::BanditService::Stub& stub) {
  Totals totals;
  pb::GetStatsRequest request;
  request.set_room_id(kRoom);
  pb::GetStatsResponse response;
  grpc::Status status =
      stub.GetStats(Context(absl::Seconds(10)).get(), request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  for (const pb::ArmStats& arm : response.arms()) {
    int index = 0;
    EXPECT_TRUE(absl::SimpleAtoi(arm.arm_id().substr(1), &index));
    totals.views[index] = static_cast<int64_t>(arm.counts().views());
    totals.clicks[index] = static_cast<int64_t>(arm.counts().clicks());
  }
  return totals;
}

// Sends `batch`; returns the status and fills `response`.
grpc::Status Send(pb::BanditService::Stub& stub, const Batch& batch,
                  pb::FeedbackResponse* response) {
  return stub.Feedback(Context(absl::Seconds(10)).get(), batch.request,
                       response);
}

void RunCrashRounds(const std::string& name, int rounds,
                    std::vector<std::string> flags) {
  const std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) /
      absl::StrCat("crash_test_", name, "_", getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string data_dir = (dir / "data").string();
  const std::string log_path = (dir / "server.log").string();
  flags.push_back("--snapshot_every_records=300");
  flags.push_back("--event_id_window=5000000");
  ServerProcess server(data_dir, log_path, flags);

  std::mt19937 rng(std::random_device{}());
  Totals expected;  // Exact totals after the previous round.
  int64_t next_batch = 0;
  for (int round = 0; round < rounds; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round, " (log ", log_path, ")"));
    const int port = server.Start();
    ASSERT_NE(port, 0);
    auto stub = Connect(port);
    if (round == 0) {
      pb::CreateRoomRequest create;
      create.set_room_id(kRoom);
      for (int i = 0; i < kArms; ++i) create.add_arm_ids(absl::StrCat("a", i));
      pb::CreateRoomResponse created;
      grpc::Status s =
          stub->CreateRoom(Context(absl::Seconds(10)).get(), create, &created);
      ASSERT_TRUE(s.ok()) << s.error_message();
    }
    // The previous round's restart state survived this restart exactly.
    ASSERT_EQ(ReadTotals(*stub), expected) << "expected" << Describe(expected);

    // Load, then SIGKILL at a random moment.
    std::atomic<bool> stop{false};
    absl::Mutex mu;
    std::vector<Batch> acked, unknown;
    std::atomic<int64_t> batch_ids{next_batch};
    std::vector<std::thread> clients;
    for (int c = 0; c < kClients; ++c) {
      clients.emplace_back([&, c] {
        std::mt19937 crng(rng() + c);
        auto client = Connect(port);
        while (!stop.load()) {
          Batch batch;
          const int64_t id = batch_ids.fetch_add(1);
          const int events = 1 + static_cast<int>(crng() % 20);
          for (int e = 0; e < events; ++e) {
            const int arm = static_cast<int>(crng() % kArms);
            const int clicks = static_cast<int>(crng() % 2);
            pb::FeedbackEvent* event = batch.request.add_events();
            event->set_room_id(kRoom);
            event->set_arm_id(absl::StrCat("a", arm));
            event->set_views(1);
            event->set_clicks(clicks);
            event->set_event_id(absl::StrCat("b", id, "e", e));
            batch.totals.views[arm] += 1;
            batch.totals.clicks[arm] += clicks;
          }
          pb::FeedbackResponse response;
          grpc::Status status = Send(*client, batch, &response);
          absl::MutexLock lock(&mu);
          if (status.ok()) {
            EXPECT_EQ(response.applied_events(), events);
            EXPECT_EQ(response.duplicate_events(), 0);
            acked.push_back(std::move(batch));
          } else {
            unknown.push_back(std::move(batch));
          }
        }
      });
    }
    absl::SleepFor(absl::Milliseconds(100 + rng() % 1500));
    // Calls started after this are not in flight at the kill.
    stop = true;
    server.Kill();
    for (std::thread& t : clients) t.join();
    next_batch = batch_ids.load();
    ASSERT_FALSE(acked.empty()) << "no Feedback was acknowledged";

    Totals acked_totals, unknown_totals;
    for (const Batch& b : acked) acked_totals.Add(b.totals);
    for (const Batch& b : unknown) unknown_totals.Add(b.totals);

    const int port2 = server.Start();
    ASSERT_NE(port2, 0);
    stub = Connect(port2);
    const Totals recovered = ReadTotals(*stub);
    for (int i = 0; i < kArms; ++i) {
      const int64_t low_v = expected.views[i] + acked_totals.views[i];
      const int64_t low_c = expected.clicks[i] + acked_totals.clicks[i];
      EXPECT_GE(recovered.views[i], low_v)
          << "lost acknowledged views, arm " << i;
      EXPECT_GE(recovered.clicks[i], low_c) << "lost acknowledged clicks";
      EXPECT_LE(recovered.views[i], low_v + unknown_totals.views[i])
          << "more views than were sent, arm " << i;
      EXPECT_LE(recovered.clicks[i], low_c + unknown_totals.clicks[i]);
    }

    // Retrying the unacknowledged batches with the same event_ids counts
    // each event exactly once, whether or not it had landed.
    for (const Batch& b : unknown) {
      pb::FeedbackResponse response;
      grpc::Status s = Send(*stub, b, &response);
      ASSERT_TRUE(s.ok()) << s.error_message();
      EXPECT_EQ(response.applied_events() + response.duplicate_events(),
                b.request.events_size());
    }
    // Acknowledged batches are all recognized as duplicates.
    for (size_t i = 0; i < acked.size(); i += 1 + acked.size() / 200) {
      pb::FeedbackResponse response;
      grpc::Status s = Send(*stub, acked[i], &response);
      ASSERT_TRUE(s.ok()) << s.error_message();
      EXPECT_EQ(response.applied_events(), 0);
      EXPECT_EQ(response.duplicate_events(), acked[i].request.events_size());
    }
    expected.Add(acked_totals);
    expected.Add(unknown_totals);
    const Totals after_retry = ReadTotals(*stub);
    EXPECT_EQ(after_retry, expected)
        << "got" << Describe(after_retry) << "\nexpected" << Describe(expected);
    expected = after_retry;
    std::printf(
        "round %d: %zu batches acknowledged, %zu in flight at the "
        "kill\n",
        round, acked.size(), unknown.size());
    server.Kill();
    if (::testing::Test::HasFailure()) return;
  }
  // Show what recovery did (snapshot used, records replayed, time).
  std::ifstream in(log_path);
  for (std::string line; std::getline(in, line);) {
    if (line.find("recovered") != std::string::npos) {
      std::printf("%s\n", line.c_str());
    }
  }
  std::filesystem::remove_all(dir);
}

TEST(CrashTest, SyncDurabilityLosesNoAcknowledgedEvent) {
  RunCrashRounds("sync", Rounds(5), {"--durability=sync"});
}

TEST(CrashTest, AsyncDurabilitySurvivesProcessCrash) {
  // Async acknowledges before the disk sync, but the write has reached the
  // OS, so a process crash (unlike a power loss) still loses nothing.
  RunCrashRounds("async", std::max(2, Rounds(5) / 2),
                 {"--durability=async", "--flush_interval=50ms"});
}

}  // namespace
}  // namespace banditd
