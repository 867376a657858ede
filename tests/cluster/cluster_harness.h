#ifndef BANDITD_TESTS_CLUSTER_CLUSTER_HARNESS_H_
#define BANDITD_TESTS_CLUSTER_CLUSTER_HARNESS_H_

// The cluster tests' harness: a 3-node NATS JetStream cluster (nats-server
// on loopback) and banditd replicas in cluster mode, run as child
// processes and driven over gRPC (tests/cluster/*_test.cc).
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
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "banditd/v1/banditd.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/testing/arm_totals.h"

namespace banditd::cluster_testing {

namespace pb = ::banditd::v1;
inline constexpr int kArms = 8;

inline std::string BanditdPath() {
  if (const char* env = std::getenv("BANDITD_BINARY")) return env;
  return BANDITD_BINARY;
}

// $NATS_SERVER, else the first nats-server-tuned (the pinned release with
// fast Raft failover, built by scripts/setup.sh into .tools/bin, which
// scripts/test.sh puts first on PATH), else the first nats-server (the
// pinned release, else Debian's).
inline std::string NatsServerPath() {
  if (const char* env = std::getenv("NATS_SERVER"); env != nullptr && *env) {
    return env;
  }
  std::vector<std::string> dirs;
  if (const char* path = std::getenv("PATH")) {
    dirs = absl::StrSplit(path, ':', absl::SkipEmpty());
  }
  for (const char* dir : {"/usr/bin", "/usr/sbin", "/usr/local/bin"}) {
    dirs.push_back(dir);
  }
  for (const char* name : {"nats-server-tuned", "nats-server"}) {
    for (const std::string& dir : dirs) {
      const std::string path = absl::StrCat(dir, "/", name);
      if (access(path.c_str(), X_OK) == 0) return path;
    }
  }
  return "";
}

// The whole file at `path` (empty when it cannot be read).
inline std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
}

// CPU seconds (user + system) process `pid` has used so far; 0 when its
// /proc/PID/stat cannot be read.
inline double CpuSeconds(pid_t pid) {
  const std::string stat = ReadWholeFile(absl::StrCat("/proc/", pid, "/stat"));
  // Fields after the command name, which ends with ')': state is field 3,
  // utime 14, stime 15.
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::vector<std::string> fields =
      absl::StrSplit(stat.substr(close + 2), ' ', absl::SkipEmpty());
  double utime = 0, stime = 0;
  if (fields.size() < 13 || !absl::SimpleAtod(fields[11], &utime) ||
      !absl::SimpleAtod(fields[12], &stime)) {
    return 0;
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// `n` pseudo-random bytes, the same for the same `seed`.
inline std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string data(n, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  return data;
}

// Whether `port` on 127.0.0.1 can be bound now.
inline bool CanBind(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const bool bound =
      bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return bound;
}

// Claims `path` for this process (a file holding its pid); a claim whose
// process is gone is taken over.
inline bool ClaimPortFile(const std::string& path) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    const int fd = open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644);
    if (fd >= 0) {
      const std::string pid = std::to_string(getpid());
      const bool written =
          write(fd, pid.data(), pid.size()) == static_cast<ssize_t>(pid.size());
      close(fd);
      return written;
    }
    std::ifstream in(path);
    long owner = 0;
    if (in >> owner && owner > 0 &&
        (kill(static_cast<pid_t>(owner), 0) == 0 || errno != ESRCH)) {
      return false;  // Its owner still runs.
    }
    unlink(path.c_str());
  }
  return false;
}

// The port files this process claimed: removed when it exits.
inline std::vector<std::string>* FreePortClaims() {
  static std::vector<std::string>* files = [] {
    auto* claims = new std::vector<std::string>();
    std::atexit([] {
      for (const std::string& file : *FreePortClaims()) unlink(file.c_str());
    });
    return claims;
  }();
  return files;
}

// A port for a NATS node, free and kept for this test process until it
// exits. A port the kernel picks (bind to port 0) is in its ephemeral range:
// while a node is down (the restart tests), any outgoing connection may take
// its port, and test processes running in parallel (ctest -j) may pick the
// same one. These come from below that range, claimed by a file per port.
inline int FreePort() {
  static absl::Mutex mu(absl::kConstInit);
  static std::mt19937* rng = new std::mt19937(std::random_device{}() ^
                                              static_cast<unsigned>(getpid()));
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / "banditd-test-ports";
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  absl::MutexLock lock(&mu);
  for (int attempt = 0; attempt < 2000; ++attempt) {
    const int port = 20000 + static_cast<int>((*rng)() % 12000);
    const std::string file = (dir / std::to_string(port)).string();
    if (!ClaimPortFile(file)) continue;
    FreePortClaims()->push_back(file);
    if (CanBind(port)) return port;
  }
  ADD_FAILURE() << "no free port claimed in 20000-31999 (" << dir << ")";
  return 0;
}

// A child process whose output goes to a log file.
class Process {
 public:
  Process(std::vector<std::string> argv, std::string log_path)
      : argv_(std::move(argv)), log_path_(std::move(log_path)) {}
  ~Process() { Kill(); }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  void Start() {
    std::error_code error;
    const auto size = std::filesystem::file_size(log_path_, error);
    log_start_ = error ? 0 : static_cast<std::streamoff>(size);
    pid_ = fork();
    if (pid_ == 0) {
      // Dies with the test, even if the test crashes.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      const int fd =
          open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(fd, 1);
      dup2(fd, 2);
      std::vector<char*> argv;
      for (std::string& a : argv_) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }

  // Waits for a log line (since the last Start) containing `text`; returns
  // it, or "" after `timeout` or if the process exits.
  std::string WaitFor(const std::string& text, absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      std::ifstream in(log_path_);
      in.seekg(log_start_);
      for (std::string line; std::getline(in, line);) {
        if (line.find(text) != std::string::npos) return line;
      }
      int status = 0;
      if (pid_ > 0 && waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return "";
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    return "";
  }

  void Kill(int sig = SIGKILL) {
    if (pid_ <= 0) return;
    kill(pid_, sig);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  const std::string& log_path() const { return log_path_; }
  pid_t pid() const { return pid_; }

 private:
  std::vector<std::string> argv_;
  const std::string log_path_;
  std::streamoff log_start_ = 0;
  pid_t pid_ = -1;
};

inline std::unique_ptr<grpc::ClientContext> Context(absl::Duration timeout) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() +
                        absl::ToChronoMilliseconds(timeout));
  return context;
}

// A 3-node NATS cluster with JetStream, on free loopback ports.
class NatsCluster {
 public:
  explicit NatsCluster(const std::filesystem::path& dir) {
    std::vector<int> route_ports;
    for (int i = 0; i < 3; ++i) {
      client_ports_.push_back(FreePort());
      route_ports.push_back(FreePort());
    }
    std::vector<std::string> routes;
    for (int port : route_ports) {
      routes.push_back(absl::StrCat("nats://127.0.0.1:", port));
    }
    for (int i = 0; i < 3; ++i) {
      const std::filesystem::path store = dir / absl::StrCat("nats", i);
      std::filesystem::create_directories(store);
      nodes_.push_back(std::make_unique<Process>(
          std::vector<std::string>{
              NatsServerPath(), "-a", "127.0.0.1", "-p",
              absl::StrCat(client_ports_[i]), "-n", absl::StrCat("nats", i),
              "-js", "-sd", store.string(), "--cluster_name", "banditd",
              "--cluster", absl::StrCat("nats://127.0.0.1:", route_ports[i]),
              "--routes", absl::StrJoin(routes, ",")},
          (dir / absl::StrCat("nats", i, ".log")).string()));
    }
  }

  bool Start() {
    for (auto& node : nodes_) node->Start();
    for (auto& node : nodes_) {
      if (node->WaitFor("Server is ready", absl::Seconds(30)).empty()) {
        return false;
      }
    }
    return true;
  }

  // URLs with node `first` first: a replica's nearest node.
  std::string Urls(int first) const {
    std::vector<std::string> urls;
    for (int i = 0; i < 3; ++i) {
      urls.push_back(
          absl::StrCat("nats://127.0.0.1:", client_ports_[(first + i) % 3]));
    }
    return absl::StrJoin(urls, ",");
  }

  Process& node(int i) { return *nodes_[i]; }
  // The node whose client URL ends `url`'s text (e.g. a log line), or -1.
  int NodeOf(absl::string_view url) const {
    for (int i = 0; i < 3; ++i) {
      if (absl::EndsWith(absl::StripTrailingAsciiWhitespace(url),
                         absl::StrCat("127.0.0.1:", client_ports_[i]))) {
        return i;
      }
    }
    return -1;
  }

 private:
  std::vector<int> client_ports_;
  std::vector<std::unique_ptr<Process>> nodes_;
};

// A banditd replica in cluster mode.
class Replica {
 public:
  Replica(const std::filesystem::path& dir, int index, std::string urls,
          std::vector<std::string> flags = {}) {
    const std::filesystem::path data = dir / absl::StrCat("banditd", index);
    std::filesystem::create_directories(data);
    // Empty `urls`: the default single process with its SQLite log.
    std::vector<std::string> argv = {
        BanditdPath(), "--port=0", absl::StrCat("--data_dir=", data.string()),
        "--event_id_window=5000000", "--snapshot_every_records=300"};
    if (!urls.empty()) {
      argv.push_back(absl::StrCat("--cluster_nats=", urls));
      argv.push_back("--cluster_publish_timeout=4s");
    }
    argv.insert(argv.end(), flags.begin(), flags.end());
    process_ = std::make_unique<Process>(
        std::move(argv),
        (dir / absl::StrCat("banditd", index, ".log")).string());
  }

  // Starts and waits until the replica serves (it has caught up).
  bool Start() {
    process_->Start();
    const std::string line =
        process_->WaitFor("serving on ", absl::Seconds(90));
    if (line.empty()) return false;
    const size_t at = line.find("serving on ");
    const size_t colon = line.find(':', at + 11);
    const size_t end = line.find(' ', colon);
    if (!absl::SimpleAtoi(line.substr(colon + 1, end - colon - 1), &port_)) {
      return false;
    }
    stub_ = pb::BanditService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", port_), grpc::InsecureChannelCredentials()));
    return true;
  }
  void Kill(int sig = SIGKILL) { process_->Kill(sig); }
  pid_t pid() const { return process_->pid(); }
  // The first line of its log with `text` ("" after `timeout`).
  std::string WaitForLog(const std::string& text, absl::Duration timeout) {
    return process_->WaitFor(text, timeout);
  }

  pb::BanditService::Stub& stub() { return *stub_; }
  const std::string& log_path() const { return process_->log_path(); }

 private:
  std::unique_ptr<Process> process_;
  int port_ = 0;
  std::unique_ptr<pb::BanditService::Stub> stub_;
};

// A NATS connection and JetStream context for the test's own calls.
class NatsClient {
 public:
  explicit NatsClient(const std::string& urls) {
    natsConnection_ConnectTo(&nc_, urls.c_str());
    if (nc_ != nullptr) natsConnection_JetStream(&js_, nc_, nullptr);
  }
  ~NatsClient() {
    if (js_ != nullptr) jsCtx_Destroy(js_);
    if (nc_ != nullptr) natsConnection_Destroy(nc_);
  }
  natsConnection* nc() { return nc_; }
  jsCtx* js() { return js_; }

  // The stream's first sequence and message count (0, 0 if unreadable).
  std::pair<uint64_t, uint64_t> State(const char* stream) {
    jsStreamInfo* si = nullptr;
    if (js_GetStreamInfo(&si, js_, stream, nullptr, nullptr) != NATS_OK) {
      return {0, 0};
    }
    std::pair<uint64_t, uint64_t> state = {si->State.FirstSeq, si->State.Msgs};
    jsStreamInfo_Destroy(si);
    return state;
  }

 private:
  natsConnection* nc_ = nullptr;
  jsCtx* js_ = nullptr;
};

using Totals = ::banditd::testing::ArmTotals<kArms>;
using ::banditd::testing::Describe;

struct Batch {
  pb::FeedbackRequest request;
  Totals totals;
};

inline Batch MakeBatch(const std::string& room, int64_t id, std::mt19937& rng,
                       int events) {
  Batch batch;
  for (int e = 0; e < events; ++e) {
    const int arm = static_cast<int>(rng() % kArms);
    const int clicks = static_cast<int>(rng() % 2);
    pb::FeedbackEvent* event = batch.request.add_events();
    event->set_room_id(room);
    event->set_arm_id(absl::StrCat("a", arm));
    event->set_views(1);
    event->set_clicks(clicks);
    event->set_event_id(absl::StrCat(room, "-b", id, "e", e));
    batch.totals.views[arm] += 1;
    batch.totals.clicks[arm] += clicks;
  }
  return batch;
}

// Creates `room` as a client should: UNAVAILABLE (no stream leader for a
// moment, as at a cluster's start or a leader move) is retried for up to
// 10 s, and ALREADY_EXISTS after such a retry means an earlier attempt was
// stored after all.
inline grpc::Status CreateRoom(pb::BanditService::Stub& stub,
                               const std::string& room) {
  pb::CreateRoomRequest create;
  create.set_room_id(room);
  for (int i = 0; i < kArms; ++i) create.add_arm_ids(absl::StrCat("a", i));
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  bool retried = false;
  while (true) {
    pb::CreateRoomResponse created;
    grpc::Status status =
        stub.CreateRoom(Context(absl::Seconds(10)).get(), create, &created);
    if (retried && status.error_code() == grpc::StatusCode::ALREADY_EXISTS) {
      return grpc::Status::OK;
    }
    if (status.error_code() != grpc::StatusCode::UNAVAILABLE ||
        absl::Now() > deadline) {
      return status;
    }
    retried = true;
    absl::SleepFor(absl::Milliseconds(200));
  }
}

// Sends `request` as a client retrying a failed call does: UNAVAILABLE (no
// stream leader for a moment, as right after a node resumes) is retried
// for up to 10 s; the event_ids make a retry of a call that landed after
// all count once.
inline grpc::Status FeedbackRetried(pb::BanditService::Stub& stub,
                                    const pb::FeedbackRequest& request,
                                    pb::FeedbackResponse* response) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (true) {
    grpc::Status status =
        stub.Feedback(Context(absl::Seconds(10)).get(), request, response);
    if (status.error_code() != grpc::StatusCode::UNAVAILABLE ||
        absl::Now() > deadline) {
      return status;
    }
    absl::SleepFor(absl::Milliseconds(200));
  }
}

struct Read {
  grpc::Status status;
  Totals totals;
  uint64_t applied_sequence = 0;
};

inline Read ReadStats(pb::BanditService::Stub& stub, const std::string& room,
                      uint64_t min_applied_sequence = 0) {
  Read read;
  pb::GetStatsRequest request;
  request.set_room_id(room);
  request.set_min_applied_sequence(min_applied_sequence);
  pb::GetStatsResponse response;
  read.status =
      stub.GetStats(Context(absl::Seconds(10)).get(), request, &response);
  read.applied_sequence = response.applied_sequence();
  for (const pb::ArmStats& arm : response.arms()) {
    int index = 0;
    if (absl::SimpleAtoi(arm.arm_id().substr(1), &index)) {
      read.totals.views[index] = static_cast<int64_t>(arm.counts().views());
      read.totals.clicks[index] = static_cast<int64_t>(arm.counts().clicks());
    }
  }
  return read;
}

// Waits until every replica reports `expected` for `room` at the same
// applied sequence; returns that sequence (0 on timeout).
inline uint64_t WaitConverged(std::vector<Replica*> replicas,
                              const std::string& room, const Totals& expected,
                              absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  std::vector<Read> reads;
  while (absl::Now() < deadline) {
    reads.clear();
    bool same = true;
    for (Replica* r : replicas) {
      reads.push_back(ReadStats(r->stub(), room));
      same = same && reads.back().status.ok() &&
             reads.back().totals == expected &&
             reads.back().applied_sequence == reads.front().applied_sequence;
    }
    if (same) return reads.front().applied_sequence;
    absl::SleepFor(absl::Milliseconds(50));
  }
  for (size_t i = 0; i < reads.size(); ++i) {
    ADD_FAILURE() << "replica " << i << ": " << reads[i].status.error_message()
                  << " seq " << reads[i].applied_sequence
                  << Describe(reads[i].totals) << "\nexpected"
                  << Describe(expected);
  }
  return 0;
}

// Benchmarks (CLUSTER_BENCH=1): closed-loop load and its figures.
inline double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

struct LoadResult {
  int64_t calls = 0;
  int64_t errors = 0;
  double seconds = 0;
  std::vector<double> latency_ms;
};

// `threads` closed-loop clients, client c on replica c % size, for
// `seconds`; `call` makes one call and returns whether it succeeded.
inline LoadResult RunLoad(
    std::vector<Replica*> replicas, int threads, absl::Duration duration,
    const std::function<bool(pb::BanditService::Stub&, std::mt19937&, int64_t)>&
        call) {
  LoadResult result;
  absl::Mutex mu;
  std::atomic<int64_t> next{0};
  const absl::Time start = absl::Now();
  const absl::Time end = start + duration;
  std::vector<std::thread> clients;
  for (int c = 0; c < threads; ++c) {
    clients.emplace_back([&, c] {
      std::mt19937 rng(c);
      pb::BanditService::Stub& stub = replicas[c % replicas.size()]->stub();
      std::vector<double> latency;
      int64_t calls = 0, errors = 0;
      while (absl::Now() < end) {
        const absl::Time t0 = absl::Now();
        if (call(stub, rng, next.fetch_add(1))) {
          ++calls;
          latency.push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
        } else {
          ++errors;
        }
      }
      absl::MutexLock lock(&mu);
      result.calls += calls;
      result.errors += errors;
      result.latency_ms.insert(result.latency_ms.end(), latency.begin(),
                               latency.end());
    });
  }
  for (std::thread& t : clients) t.join();
  result.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  return result;
}

// A RunLoad call: one Feedback batch of `events` events (MakeBatch) into
// `room`; whether it succeeded.
inline std::function<bool(pb::BanditService::Stub&, std::mt19937&, int64_t)>
FeedbackCall(const std::string& room, int events) {
  return [room, events](pb::BanditService::Stub& stub, std::mt19937& rng,
                        int64_t id) {
    Batch b = MakeBatch(room, id, rng, events);
    pb::FeedbackResponse response;
    return stub.Feedback(Context(absl::Seconds(10)).get(), b.request, &response)
        .ok();
  };
}

inline int EnvInt(const char* name, int fallback) {
  const char* env = std::getenv(name);
  int value = 0;
  return env != nullptr && absl::SimpleAtoi(env, &value) && value > 0
             ? value
             : fallback;
}

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A failure, not a skip: CI must not pass without the cluster tests.
    ASSERT_FALSE(NatsServerPath().empty())
        << "nats-server is not installed: run scripts/setup.sh";
    dir_ = std::filesystem::path(::testing::TempDir()) /
           absl::StrCat(
               "cluster_test_", getpid(), "_",
               ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    nats_ = std::make_unique<NatsCluster>(dir_);
    ASSERT_TRUE(nats_->Start()) << "NATS did not start; logs in " << dir_;
  }

  void TearDown() override {
    replicas_.clear();
    nats_.reset();
    if (!HasFailure() && !dir_.empty()) std::filesystem::remove_all(dir_);
  }

  Replica& AddReplica(std::vector<std::string> flags = {}) {
    const int index = static_cast<int>(replicas_.size());
    replicas_.push_back(std::make_unique<Replica>(
        dir_, index, nats_->Urls(index % 3), std::move(flags)));
    return *replicas_.back();
  }

  std::filesystem::path dir_;
  std::unique_ptr<NatsCluster> nats_;
  std::vector<std::unique_ptr<Replica>> replicas_;
};

}  // namespace banditd::cluster_testing

#endif  // BANDITD_TESTS_CLUSTER_CLUSTER_HARNESS_H_
