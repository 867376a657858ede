// banditd_neighbour: is a small room's Feedback held hostage by a big room?
// (scripts/bench_neighbour.sh; issue 12, "Writes are not held hostage by one
// big room").
//
//   banditd_neighbour --target=127.0.0.1:50181 --big_arms=1000000
//     --rounds=3 --phase=5s --feedback_interval=2ms --neighbours=1
//
// Setup: a room of --big_arms arms, every arm fed once (a room without
// counts is sampled without a scan), and a small room of 10 arms.
// Then --rounds rounds of two phases each, alternating so that both see the
// same machine: "floor", Feedback alone; "neighbour", the same Feedback
// while --neighbours pairs of clients loop Sample (--sample_k) and GetStats on
// the big room (GetStats pages of --stats_page_size through the whole room,
// as a client exporting the stats would; and, with --big_feedback_interval,
// one writes to it). Feedback:
// one event to the small room every --feedback_interval (paced, one call at a
// time; the latency of each call is recorded). Prints p50/p99/max of Feedback
// per phase over all rounds, the ratio of the neighbour p99 to the floor p99,
// and the neighbours' call counts.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "banditd/v1/banditd.grpc.pb.h"
#include "grpcpp/grpcpp.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "banditd address.");
ABSL_FLAG(int, big_arms, 1'000'000, "Arms of the big room.");
ABSL_FLAG(int, rounds, 3, "Rounds of (floor, neighbour) phases.");
ABSL_FLAG(absl::Duration, phase, absl::Seconds(5), "Length of each phase.");
ABSL_FLAG(absl::Duration, feedback_interval, absl::Milliseconds(2),
          "Time between the starts of two Feedback calls.");
ABSL_FLAG(int, neighbours, 1,
          "Pairs of clients on the big room: one loops Sample, one GetStats.");
ABSL_FLAG(absl::Duration, big_feedback_interval, absl::ZeroDuration(),
          "When > 0, another client also sends the big room one Feedback "
          "event per interval during the neighbour phase.");
ABSL_FLAG(int, sample_k, 10, "k of the big room's Sample loop.");
ABSL_FLAG(bool, setup, true, "Create and feed the rooms first.");
ABSL_FLAG(int, stats_page_size, 10'000,
          "GetStats page size of the stats reader (the server's maximum).");
ABSL_FLAG(bool, stats_whole_room, true,
          "The stats reader pages through the whole big room (one pass = "
          "big_arms / stats_page_size calls); else it reads the first page "
          "over and over.");

namespace {

using banditd::v1::BanditService;

std::shared_ptr<grpc::Channel> Connect(const std::string& target) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  // A channel of its own per client: no shared HTTP/2 connection.
  args.SetInt("banditd.bench.channel",
              static_cast<int>(absl::ToUnixNanos(absl::Now())));
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(),
                                   args);
}

void Check(const grpc::Status& status, const char* what) {
  if (!status.ok()) {
    absl::FPrintF(stderr, "%s: %s\n", what, status.error_message());
    std::exit(1);
  }
}

void Setup(BanditService::Stub& stub, int big_arms) {
  auto create = [&](const std::string& room, int arms) {
    banditd::v1::CreateRoomRequest request;
    request.set_room_id(room);
    request.mutable_policy()->set_type(banditd::v1::POLICY_TYPE_UCB1);
    for (int i = 0; i < std::min(arms, 100'000); ++i) {
      request.add_arm_ids(absl::StrCat("arm_", i));
    }
    banditd::v1::CreateRoomResponse response;
    grpc::ClientContext context;
    Check(stub.CreateRoom(&context, request, &response), "CreateRoom");
    for (int first = 100'000; first < arms; first += 100'000) {
      banditd::v1::AddArmsRequest add;
      add.set_room_id(room);
      for (int i = first; i < std::min(arms, first + 100'000); ++i) {
        add.add_arm_ids(absl::StrCat("arm_", i));
      }
      banditd::v1::AddArmsResponse added;
      grpc::ClientContext add_context;
      Check(stub.AddArms(&add_context, add, &added), "AddArms");
    }
    // Every arm fed once, with a few clicks, so Sample scores them all.
    for (int first = 0; first < arms; first += 10'000) {
      banditd::v1::FeedbackRequest feedback;
      for (int i = first; i < std::min(arms, first + 10'000); ++i) {
        banditd::v1::FeedbackEvent* e = feedback.add_events();
        e->set_room_id(room);
        e->set_arm_id(absl::StrCat("arm_", i));
        e->set_views(10 + i % 7);
        e->set_clicks(i % 3);
      }
      banditd::v1::FeedbackResponse fed;
      grpc::ClientContext feed_context;
      Check(stub.Feedback(&feed_context, feedback, &fed), "Feedback");
    }
  };
  create("neighbour-big", big_arms);
  create("neighbour-small", 10);
}

struct Percentiles {
  double p50 = 0, p99 = 0, max = 0;
  size_t n = 0;
};

Percentiles Summarize(std::vector<double> ms) {
  Percentiles p;
  p.n = ms.size();
  if (ms.empty()) return p;
  std::sort(ms.begin(), ms.end());
  auto at = [&](double q) {
    return ms[std::min(ms.size() - 1, static_cast<size_t>(q * ms.size()))];
  };
  p.p50 = at(0.50);
  p.p99 = at(0.99);
  p.max = ms.back();
  return p;
}

// Paced Feedback calls to the small room for `length`; appends latencies.
void FeedbackPhase(BanditService::Stub& stub, absl::Duration length,
                   absl::Duration interval, std::vector<double>* ms) {
  const absl::Time end = absl::Now() + length;
  absl::Time next = absl::Now();
  int n = 0;
  while (next < end) {
    absl::SleepFor(next - absl::Now());
    banditd::v1::FeedbackRequest request;
    banditd::v1::FeedbackEvent* e = request.add_events();
    e->set_room_id("neighbour-small");
    e->set_arm_id(absl::StrCat("arm_", n++ % 10));
    e->set_views(1);
    banditd::v1::FeedbackResponse response;
    grpc::ClientContext context;
    const absl::Time start = absl::Now();
    Check(stub.Feedback(&context, request, &response), "Feedback");
    ms->push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
    next += interval;
  }
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string target = absl::GetFlag(FLAGS_target);
  auto stub = BanditService::NewStub(Connect(target));
  if (absl::GetFlag(FLAGS_setup)) {
    const absl::Time start = absl::Now();
    Setup(*stub, absl::GetFlag(FLAGS_big_arms));
    absl::PrintF("setup: %d-arm room fed in %.1f s\n",
                 absl::GetFlag(FLAGS_big_arms),
                 absl::ToDoubleSeconds(absl::Now() - start));
  }
  std::vector<double> floor_ms, neighbour_ms;
  std::atomic<int64_t> samples{0}, stats{0}, stats_arms{0}, big_writes{0};
  for (int round = 0; round < absl::GetFlag(FLAGS_rounds); ++round) {
    FeedbackPhase(*stub, absl::GetFlag(FLAGS_phase),
                  absl::GetFlag(FLAGS_feedback_interval), &floor_ms);
    std::atomic<bool> stop{false};
    std::vector<std::thread> neighbours;
    for (int i = 0; i < absl::GetFlag(FLAGS_neighbours); ++i) {
      // One client sampling, one reading the stats, concurrently.
      neighbours.emplace_back([&, target] {
        auto big = BanditService::NewStub(Connect(target));
        while (!stop.load()) {
          banditd::v1::SampleRequest sample;
          sample.set_room_id("neighbour-big");
          sample.set_k(absl::GetFlag(FLAGS_sample_k));
          banditd::v1::SampleResponse sampled;
          grpc::ClientContext context;
          Check(big->Sample(&context, sample, &sampled), "Sample");
          ++samples;
        }
      });
      neighbours.emplace_back([&, target] {
        auto big = BanditService::NewStub(Connect(target));
        const bool whole = absl::GetFlag(FLAGS_stats_whole_room);
        std::string token;
        while (!stop.load()) {
          banditd::v1::GetStatsRequest get;
          get.set_room_id("neighbour-big");
          get.set_page_size(absl::GetFlag(FLAGS_stats_page_size));
          if (whole) get.set_page_token(token);
          banditd::v1::GetStatsResponse got;
          grpc::ClientContext context;
          Check(big->GetStats(&context, get, &got), "GetStats");
          token = got.next_page_token();
          stats_arms += got.arms_size();
          ++stats;
        }
      });
    }
    if (const absl::Duration every = absl::GetFlag(FLAGS_big_feedback_interval);
        every > absl::ZeroDuration()) {
      // The big room is live too: its writes queue on the one writer.
      neighbours.emplace_back([&, target, every] {
        auto big = BanditService::NewStub(Connect(target));
        int n = 0;
        while (!stop.load()) {
          banditd::v1::FeedbackRequest request;
          banditd::v1::FeedbackEvent* e = request.add_events();
          e->set_room_id("neighbour-big");
          e->set_arm_id(absl::StrCat("arm_", (n++ * 7919) % 1000));
          e->set_views(1);
          banditd::v1::FeedbackResponse response;
          grpc::ClientContext context;
          Check(big->Feedback(&context, request, &response), "Feedback big");
          ++big_writes;
          absl::SleepFor(every);
        }
      });
    }
    // Let the neighbours start their first scans.
    absl::SleepFor(absl::Milliseconds(200));
    FeedbackPhase(*stub, absl::GetFlag(FLAGS_phase),
                  absl::GetFlag(FLAGS_feedback_interval), &neighbour_ms);
    stop = true;
    for (std::thread& t : neighbours) t.join();
  }
  const Percentiles f = Summarize(floor_ms);
  const Percentiles n = Summarize(neighbour_ms);
  absl::PrintF("%-10s %8s %9s %9s %9s\n", "phase", "calls", "p50_ms", "p99_ms",
               "max_ms");
  absl::PrintF("%-10s %8d %9.3f %9.3f %9.3f\n", "floor", f.n, f.p50, f.p99,
               f.max);
  absl::PrintF("%-10s %8d %9.3f %9.3f %9.3f\n", "neighbour", n.n, n.p50, n.p99,
               n.max);
  absl::PrintF("p99 ratio (neighbour / floor): %.2f\n",
               f.p99 > 0 ? n.p99 / f.p99 : 0.0);
  absl::PrintF(
      "neighbour calls: %d Sample, %d GetStats (%d arms read), %d Feedback "
      "(big room)\n",
      samples.load(), stats.load(), stats_arms.load(), big_writes.load());
  return 0;
}
