// banditd_grpc_load: a lean gRPC load generator for banditd's Sample and
// Feedback calls (scripts/bench_grpc.sh). Unlike ghz it does not decode JSON
// or reflect over descriptors per call, so on a 2-core machine shared with
// the server it leaves most of the CPU to the server.
//
//   banditd_grpc_load --target=127.0.0.1:50151 --mode=sample
//     --concurrency=32 --duration=5s [--rate=0] [--channels=0]
//
// * Closed loop (--rate=0): --concurrency calls are kept in flight; each
//   completion starts the next call, until --duration has passed.
// * Open loop (--rate=R): calls start at R per second whatever the replies
//   do (--concurrency is then unused); latency is measured from when a call
//   was due to start, so a stalled generator does not hide queueing
//   (no coordinated omission).
// Calls still in flight at the end are waited for, not cancelled, so the
// end of a run produces no errors. Latencies are kept one per call in a
// vector and sorted at the end: exact percentiles, at a few MB per run
// (neither Abseil nor gRPC's public API has a latency histogram).
//
// --setup (default on) creates the room (100 arms, UCB1) and feeds every arm
// under 5 context items, as scripts/bench_grpc.sh did with grpcurl; an
// existing room is kept. Sample asks for k = 1 with the 5 items and UCB1;
// Feedback sends one event (one view on arm_<n mod 100>) per call.
// --mode=echo calls bench/echo_server.cc's Echo with a payload the size of
// the serialized Sample request (the transport's floor; no setup).

#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "banditd/v1/banditd.grpc.pb.h"
#include "echo.grpc.pb.h"
#include "grpcpp/grpcpp.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "banditd address.");
ABSL_FLAG(std::string, mode, "sample", "sample, feedback or echo.");
ABSL_FLAG(int, concurrency, 8, "Calls kept in flight (closed loop).");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(5), "Measured time.");
ABSL_FLAG(absl::Duration, warmup, absl::Milliseconds(500),
          "Load before the measured time (not counted).");
ABSL_FLAG(double, rate, 0,
          "Calls per second (open loop); 0: closed loop at --concurrency.");
ABSL_FLAG(int, channels, 0,
          "gRPC channels (each its own TCP connection); 0: "
          "max(1, concurrency / 8), or 1 in open loop (evenly spaced calls "
          "over several connections each pay their own wake-ups: 4 gave a "
          "p99 of 100 ms at 13,000/s where 1 gave 5 ms).");
ABSL_FLAG(std::string, room, "bench", "Room id.");
ABSL_FLAG(int, feedback_batch, 1,
          "--mode=feedback: events per Feedback call (one view each, on "
          "consecutive arms).");
ABSL_FLAG(int, arms, 100, "Arms of the room created by --setup.");
ABSL_FLAG(int, sample_context_items, 5,
          "Context items of each Sample call (0 to 5): 0 scores the whole-room "
          "counters only.");
ABSL_FLAG(bool, setup, true,
          "Create the room and feed it before the run (kept if it exists).");
ABSL_FLAG(int, server_pid, 0,
          "If set, also report the server's CPU time per call "
          "(/proc/PID/stat).");
ABSL_FLAG(std::string, label, "", "Printed at the start of the result line.");

namespace {

using Clock = std::chrono::steady_clock;
namespace v1 = banditd::v1;

const char* const kItems[] = {"hour=13", "device=ios", "country=fr",
                              "page=home", "plan=free"};

double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
         (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

// utime + stime of another process, in seconds; -1 when unreadable.
double ProcessCpuSeconds(int pid) {
  if (pid <= 0) return -1;
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string text((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  size_t paren = text.rfind(')');
  if (paren == std::string::npos) return -1;
  // Fields after the command: state is field 3; utime 14, stime 15.
  std::vector<std::string> fields;
  size_t pos = paren + 2;
  while (pos < text.size()) {
    size_t end = text.find(' ', pos);
    if (end == std::string::npos) end = text.size();
    fields.push_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  if (fields.size() < 13) return -1;
  const double ticks = sysconf(_SC_CLK_TCK);
  return (std::stod(fields[11]) + std::stod(fields[12])) / ticks;
}

// Everything the completions share.
class Load {
 public:
  Load(std::vector<std::unique_ptr<v1::BanditService::Stub>> stubs,
       std::vector<std::unique_ptr<banditd::bench::Echo::Stub>> echo_stubs,
       bool sample, int arms)
      : stubs_(std::move(stubs)),
        echo_stubs_(std::move(echo_stubs)),
        sample_(sample) {
    sample_request_.set_room_id(absl::GetFlag(FLAGS_room));
    sample_request_.set_k(1);
    const int items = absl::GetFlag(FLAGS_sample_context_items);
    for (int i = 0; i < items; ++i) {
      sample_request_.add_context_items(kItems[i]);
    }
    sample_request_.mutable_policy()->set_type(v1::POLICY_TYPE_UCB1);
    for (int i = 0; i < arms; ++i) {
      v1::FeedbackRequest& request = feedback_requests_.emplace_back();
      for (int j = 0; j < absl::GetFlag(FLAGS_feedback_batch); ++j) {
        v1::FeedbackEvent* event = request.add_events();
        event->set_room_id(absl::GetFlag(FLAGS_room));
        event->set_arm_id(absl::StrCat("arm_", (i + j) % arms));
        event->set_views(1);
      }
    }
    echo_request_.set_payload(std::string(sample_request_.ByteSizeLong(), 'x'));
  }

  // Starts call number `n` (used for the channel and the arm), due at `due`.
  void Start(uint64_t n, Clock::time_point due, bool closed_loop) {
    in_flight_.fetch_add(1, std::memory_order_relaxed);
    auto* call = new Call;
    call->due = due;
    call->n = n;
    call->closed_loop = closed_loop;
    auto done = [this, call](grpc::Status status) { Finish(call, status); };
    if (!echo_stubs_.empty()) {
      echo_stubs_[n % echo_stubs_.size()]->async()->Echo(
          &call->context, &echo_request_, &call->echo_response,
          std::move(done));
      return;
    }
    v1::BanditService::Stub* stub = stubs_[n % stubs_.size()].get();
    if (sample_) {
      stub->async()->Sample(&call->context, &sample_request_,
                            &call->sample_response, std::move(done));
    } else {
      stub->async()->Feedback(
          &call->context, &feedback_requests_[n % feedback_requests_.size()],
          &call->feedback_response, std::move(done));
    }
  }

  void set_phase(Clock::time_point measure_from, Clock::time_point stop_at) {
    measure_from_ = measure_from;
    stop_at_ = stop_at;
  }

  // Waits until no call is in flight.
  void Drain() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](std::atomic<int64_t>* n) { return n->load() == 0; }, &in_flight_));
  }

  std::vector<int64_t> TakeLatencies() {
    absl::MutexLock lock(&mu_);
    return std::move(latencies_ns_);
  }
  std::map<int, int64_t> errors() {
    absl::MutexLock lock(&mu_);
    return errors_;
  }
  int64_t max_in_flight() const { return max_in_flight_.load(); }

 private:
  struct Call {
    grpc::ClientContext context;
    v1::SampleResponse sample_response;
    v1::FeedbackResponse feedback_response;
    banditd::bench::EchoMessage echo_response;
    Clock::time_point due;
    uint64_t n;
    bool closed_loop;
  };

  void Finish(Call* call, const grpc::Status& status) {
    const Clock::time_point now = Clock::now();
    const bool measured = call->due >= measure_from_ && call->due < stop_at_;
    {
      absl::MutexLock lock(&mu_);
      if (measured) {
        if (status.ok()) {
          latencies_ns_.push_back(
              std::chrono::duration_cast<std::chrono::nanoseconds>(now -
                                                                   call->due)
                  .count());
        } else {
          ++errors_[status.error_code()];
        }
      }
    }
    const bool again = call->closed_loop && now < stop_at_;
    delete call;
    // Start the next call before this one leaves the in-flight count, so
    // Drain cannot see zero in between.
    if (again) Start(next_call_.fetch_add(1), now, true);
    int64_t before = in_flight_.load(std::memory_order_relaxed);
    int64_t seen = max_in_flight_.load(std::memory_order_relaxed);
    while (before > seen &&
           !max_in_flight_.compare_exchange_weak(seen, before)) {
    }
    if (in_flight_.fetch_sub(1) == 1) {
      absl::MutexLock lock(&mu_);  // wakes Drain
    }
  }

 public:
  std::atomic<uint64_t> next_call_{0};

 private:
  std::vector<std::unique_ptr<v1::BanditService::Stub>> stubs_;
  std::vector<std::unique_ptr<banditd::bench::Echo::Stub>> echo_stubs_;
  const bool sample_;
  v1::SampleRequest sample_request_;
  std::vector<v1::FeedbackRequest> feedback_requests_;
  banditd::bench::EchoMessage echo_request_;
  Clock::time_point measure_from_ = Clock::time_point::max();
  Clock::time_point stop_at_ = Clock::time_point::max();
  std::atomic<int64_t> in_flight_{0};
  std::atomic<int64_t> max_in_flight_{0};
  absl::Mutex mu_;
  std::vector<int64_t> latencies_ns_ ABSL_GUARDED_BY(mu_);
  std::map<int, int64_t> errors_ ABSL_GUARDED_BY(mu_);
};

bool Setup(v1::BanditService::Stub* stub, int arms) {
  const std::string room = absl::GetFlag(FLAGS_room);
  v1::CreateRoomRequest create;
  create.set_room_id(room);
  for (int i = 0; i < arms; ++i) create.add_arm_ids(absl::StrCat("arm_", i));
  create.mutable_policy()->set_type(v1::POLICY_TYPE_UCB1);
  v1::CreateRoomResponse created;
  grpc::ClientContext create_context;
  create_context.set_wait_for_ready(true);
  create_context.set_deadline(std::chrono::system_clock::now() +
                              std::chrono::seconds(10));
  grpc::Status status = stub->CreateRoom(&create_context, create, &created);
  if (status.error_code() == grpc::StatusCode::ALREADY_EXISTS) return true;
  if (!status.ok()) {
    absl::FPrintF(stderr, "CreateRoom: %d %s\n", status.error_code(),
                  status.error_message());
    return false;
  }
  // Every arm seen in the whole room and under each of the 5 items, so
  // Sample reads 6 counter tables.
  std::mt19937 random(1);
  v1::FeedbackRequest feedback;
  for (int i = 0; i < arms; ++i) {
    v1::FeedbackEvent* event = feedback.add_events();
    event->set_room_id(room);
    event->set_arm_id(absl::StrCat("arm_", i));
    for (const char* item : kItems) event->add_context_items(item);
    const int views = std::uniform_int_distribution<int>(100, 1000)(random);
    event->set_views(views);
    event->set_clicks(
        std::uniform_int_distribution<int>(0, views / 10)(random));
  }
  v1::FeedbackResponse fed;
  grpc::ClientContext feedback_context;
  status = stub->Feedback(&feedback_context, feedback, &fed);
  if (!status.ok()) {
    absl::FPrintF(stderr, "Feedback: %d %s\n", status.error_code(),
                  status.error_message());
    return false;
  }
  return true;
}

double Percentile(const std::vector<int64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t index = static_cast<size_t>(p / 100.0 * (sorted.size() - 1) + 0.5);
  return sorted[std::min(index, sorted.size() - 1)] / 1e6;  // ms
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "banditd_grpc_load --target=HOST:PORT --mode=sample|feedback|echo "
      "[--concurrency=N | --rate=R] [--duration=5s] [--channels=C]");
  absl::ParseCommandLine(argc, argv);
  // gRPC's locks are absl::Mutex: drop the deadlock detector (a debugging
  // aid that Debian's Abseil leaves on), as banditd does.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  const std::string mode = absl::GetFlag(FLAGS_mode);
  if (mode != "sample" && mode != "feedback" && mode != "echo") {
    absl::FPrintF(stderr, "--mode must be sample, feedback or echo\n");
    return 2;
  }
  const int items = absl::GetFlag(FLAGS_sample_context_items);
  if (items < 0 || items > static_cast<int>(std::size(kItems))) {
    absl::FPrintF(stderr, "--sample_context_items must be 0 to %d\n",
                  std::size(kItems));
    return 2;
  }
  const double rate = absl::GetFlag(FLAGS_rate);
  const bool closed_loop = rate <= 0;
  const int concurrency = std::max(1, absl::GetFlag(FLAGS_concurrency));
  int channels = absl::GetFlag(FLAGS_channels);
  if (channels <= 0) channels = closed_loop ? std::max(1, concurrency / 8) : 1;
  const int arms = std::max(1, absl::GetFlag(FLAGS_arms));

  std::vector<std::unique_ptr<v1::BanditService::Stub>> stubs;
  std::vector<std::unique_ptr<banditd::bench::Echo::Stub>> echo_stubs;
  for (int i = 0; i < channels; ++i) {
    grpc::ChannelArguments args;
    // A subchannel pool per channel: each channel opens its own connection
    // instead of sharing the global pool's one.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("banditd.load.channel", i);
    std::shared_ptr<grpc::Channel> channel = grpc::CreateCustomChannel(
        absl::GetFlag(FLAGS_target), grpc::InsecureChannelCredentials(), args);
    if (mode == "echo") {
      echo_stubs.push_back(banditd::bench::Echo::NewStub(channel));
    } else {
      stubs.push_back(v1::BanditService::NewStub(channel));
    }
  }
  if (mode != "echo" && absl::GetFlag(FLAGS_setup) &&
      !Setup(stubs[0].get(), arms)) {
    return 1;
  }
  if (mode == "echo") {
    // Waits for the server, as Setup's wait_for_ready does for banditd.
    for (auto& stub : echo_stubs) {
      banditd::bench::EchoMessage ping, pong;
      grpc::ClientContext context;
      context.set_wait_for_ready(true);
      context.set_deadline(std::chrono::system_clock::now() +
                           std::chrono::seconds(10));
      grpc::Status status = stub->Echo(&context, ping, &pong);
      if (!status.ok()) {
        absl::FPrintF(stderr, "Echo: %d %s\n", status.error_code(),
                      status.error_message());
        return 1;
      }
    }
  }

  Load load(std::move(stubs), std::move(echo_stubs), mode == "sample", arms);
  const Clock::time_point start = Clock::now();
  const Clock::time_point measure_from =
      start + absl::ToChronoNanoseconds(absl::GetFlag(FLAGS_warmup));
  const Clock::time_point stop_at =
      measure_from + absl::ToChronoNanoseconds(absl::GetFlag(FLAGS_duration));
  load.set_phase(measure_from, stop_at);

  double cpu_before = 0, server_before = 0;
  auto mark_start = [&] {
    cpu_before = CpuSeconds();
    server_before = ProcessCpuSeconds(absl::GetFlag(FLAGS_server_pid));
  };
  bool marked = false;
  if (closed_loop) {
    for (int i = 0; i < concurrency; ++i) {
      load.Start(load.next_call_.fetch_add(1), Clock::now(), true);
    }
    std::this_thread::sleep_until(measure_from);
    mark_start();
    std::this_thread::sleep_until(stop_at);
  } else {
    // Calls are due at start + i / rate; the pacing thread sleeps until the
    // next is due and starts every call that is due by then.
    const auto interval = std::chrono::duration<double>(1.0 / rate);
    for (uint64_t i = 0;; ++i) {
      const Clock::time_point due =
          start + std::chrono::duration_cast<Clock::duration>(interval * i);
      if (due >= stop_at) break;
      if (!marked && due >= measure_from) {
        std::this_thread::sleep_until(measure_from);
        mark_start();
        marked = true;
      }
      if (due > Clock::now()) std::this_thread::sleep_until(due);
      load.Start(i, due, false);
    }
  }
  load.Drain();
  const double cpu = CpuSeconds() - cpu_before;
  const double server_cpu =
      server_before < 0
          ? -1
          : ProcessCpuSeconds(absl::GetFlag(FLAGS_server_pid)) - server_before;
  // The calls counted are those due in the measured window; those running
  // past its end are waited for (and their CPU counted), which the rate
  // ignores: a bias of at most concurrency / duration calls.
  std::vector<int64_t> latencies = load.TakeLatencies();
  std::sort(latencies.begin(), latencies.end());
  std::map<int, int64_t> errors = load.errors();
  int64_t failed = 0;
  std::string error_text;
  for (const auto& [code, count] : errors) {
    failed += count;
    absl::StrAppend(&error_text, error_text.empty() ? "" : ",", "code", code,
                    "=", count);
  }
  const double seconds = absl::ToDoubleSeconds(absl::GetFlag(FLAGS_duration));
  const int64_t calls = static_cast<int64_t>(latencies.size()) + failed;
  const double per_call = 1e6 / std::max<int64_t>(calls, 1);
  std::string label = absl::GetFlag(FLAGS_label);
  if (label.empty()) {
    label = closed_loop
                ? absl::StrCat(mode, "_c", concurrency)
                : absl::StrCat(mode, "_", static_cast<int64_t>(rate), "rps");
  }
  absl::PrintF(
      "%-26s %8.0f/s  p50 %6.3f  p90 %6.3f  p99 %6.3f  max %7.3f ms  "
      "calls %7d  errors %d%s%s  client CPU %5.1f us/call",
      label, latencies.size() / seconds, Percentile(latencies, 50),
      Percentile(latencies, 90), Percentile(latencies, 99),
      latencies.empty() ? 0.0 : latencies.back() / 1e6, calls, failed,
      error_text.empty() ? "" : " ", error_text, cpu * per_call);
  if (server_cpu >= 0) {
    absl::PrintF("  server CPU %5.1f us/call", server_cpu * per_call);
  }
  absl::PrintF("  (channels %d%s)\n", channels,
               closed_loop
                   ? ""
                   : absl::StrCat(", max in flight ", load.max_in_flight()));
  return failed == 0 ? 0 : 3;
}
