// The server's calls on gRPC's asynchronous API (server.cc, unary_call.cc):
// calls whose client went away, shutdown with calls in flight, many calls
// over several queues and threads.

#include "server/service/server.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "banditd/v1/banditd.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "server/core/engine.h"
#include "server/service/bandit_service.h"
#include "tests/testing/holding_committer.h"

namespace banditd::service {
namespace {

using ::banditd::testing::HoldingCommitter;
using ::testing::HasSubstr;

// Every queue holds calls_per_method requested calls of each of the 14
// unary methods, and one ExportDecisions call.
int64_t IdleCalls(const ServerOptions& options) {
  return int64_t{options.completion_queues} *
         (14 * options.calls_per_method + 1);
}

class ServerTest : public ::testing::Test {
 protected:
  void Start(const ServerOptions& options) {
    engine_ = std::make_unique<core::Engine>();
    committer_ = std::make_unique<HoldingCommitter>(engine_.get());
    service_ = std::make_unique<BanditService>(engine_.get(), committer_.get());
    absl::StatusOr<std::unique_ptr<RunningServer>> running =
        StartServer(options, service_.get());
    ASSERT_TRUE(running.ok()) << running.status();
    server_ = *std::move(running);
    stub_ = NewStub();
    v1::CreateRoomRequest create;
    create.set_room_id("r");
    create.add_arm_ids("a");
    create.add_arm_ids("b");
    v1::CreateRoomResponse created;
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->CreateRoom(&context, create, &created).ok());
  }

  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
    if (committer_ != nullptr) committer_->Shutdown();
  }

  // A stub on a connection of its own.
  std::unique_ptr<v1::BanditService::Stub> NewStub(int connection = 0) {
    grpc::ChannelArguments args;
    args.SetInt("banditd.test.connection", connection);
    return v1::BanditService::NewStub(
        grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                  grpc::InsecureChannelCredentials(), args));
  }

  static v1::FeedbackRequest OneView(const std::string& arm) {
    v1::FeedbackRequest request;
    v1::FeedbackEvent* event = request.add_events();
    event->set_room_id("r");
    event->set_arm_id(arm);
    event->set_views(1);
    return request;
  }

  double Views(const std::string& arm) {
    v1::GetStatsRequest request;
    request.set_room_id("r");
    v1::GetStatsResponse response;
    grpc::ClientContext context;
    EXPECT_TRUE(stub_->GetStats(&context, request, &response).ok());
    for (const auto& a : response.arms()) {
      if (a.arm_id() == arm) return a.counts().views();
    }
    return -1;
  }

  // Waits (bounded) until the server holds `n` calls.
  void WaitForCalls(int64_t n) {
    const absl::Time give_up = absl::Now() + absl::Seconds(30);
    while (server_->calls_alive() != n && absl::Now() < give_up) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    EXPECT_EQ(server_->calls_alive(), n);
  }

  void WaitForHeld(int n) {
    const absl::Time give_up = absl::Now() + absl::Seconds(30);
    while (committer_->held() != n && absl::Now() < give_up) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    ASSERT_EQ(committer_->held(), n);
  }

  std::unique_ptr<core::Engine> engine_;
  std::unique_ptr<HoldingCommitter> committer_;
  std::unique_ptr<BanditService> service_;
  std::unique_ptr<RunningServer> server_;
  std::unique_ptr<v1::BanditService::Stub> stub_;
};

TEST_F(ServerTest, ACallWhoseClientLeftIsFreedWhenItsHandlerReplies) {
  ServerOptions options;
  Start(options);
  WaitForCalls(IdleCalls(options));
  committer_->Hold();
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::milliseconds(200));
  v1::FeedbackResponse response;
  EXPECT_EQ(stub_->Feedback(&context, OneView("a"), &response).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  // The call waits for its write (and its method's next call is
  // requested): one more call than idle.
  ASSERT_EQ(committer_->held(), 1);
  EXPECT_EQ(server_->calls_alive(), IdleCalls(options) + 1);
  committer_->Release();
  WaitForCalls(IdleCalls(options));
  // The write was accepted before the client left: it is applied.
  EXPECT_EQ(Views("a"), 1);
}

TEST_F(ServerTest, ShutdownWaitsForHandlersStillRunning) {
  ServerOptions options;
  Start(options);
  committer_->Hold();
  grpc::Status status;
  std::thread client([&] {
    grpc::ClientContext context;
    v1::FeedbackResponse response;
    status = stub_->Feedback(&context, OneView("b"), &response);
  });
  WaitForHeld(1);
  std::atomic<bool> released{false};
  std::thread shutdown([&] {
    server_->Shutdown();
    // The handler replied before the queues stopped.
    EXPECT_TRUE(released.load());
  });
  // Room for a Shutdown that did not wait to return (and fail above).
  absl::SleepFor(absl::Milliseconds(100));
  released.store(true);
  committer_->Release();
  shutdown.join();
  client.join();
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(server_->calls_alive(), 0);
  EXPECT_EQ(engine_->GetStats("r", "", false).value().total_views, 1);
}

TEST_F(ServerTest, ManyCallsOverSeveralQueuesAndThreads) {
  ServerOptions options;
  options.cq_threads = 4;
  options.completion_queues = 2;
  options.calls_per_method = 2;
  Start(options);
  constexpr int kConnections = 8;
  constexpr int kCalls = 100;
  std::atomic<int> failures{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kConnections; ++c) {
    clients.emplace_back([&, c] {
      std::unique_ptr<v1::BanditService::Stub> stub = NewStub(c + 1);
      for (int i = 0; i < kCalls; ++i) {
        grpc::ClientContext context;
        v1::FeedbackResponse response;
        if (!stub->Feedback(&context, OneView(c % 2 == 0 ? "a" : "b"),
                            &response)
                 .ok()) {
          ++failures;
        }
        v1::SampleRequest sample;
        sample.set_room_id("r");
        v1::SampleResponse sampled;
        grpc::ClientContext sample_context;
        if (!stub->Sample(&sample_context, sample, &sampled).ok()) ++failures;
      }
    });
  }
  for (std::thread& client : clients) client.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(Views("a"), kCalls * kConnections / 2);
  EXPECT_EQ(Views("b"), kCalls * kConnections / 2);
  WaitForCalls(IdleCalls(options));
}

// Catches: a client holding a thread per open health (or reflection)
// stream without bound, or a full pool of those threads stopping the
// service's own calls.
TEST_F(ServerTest, SyncStreamsAreBoundedByTheirThreads) {
  ServerOptions options;
  options.sync_max_threads = 6;
  options.health_max_watchers = 1000;  // the threads are the limit here
  Start(options);
  auto channel =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                          grpc::InsecureChannelCredentials());
  auto health = grpc::health::v1::Health::NewStub(channel);
  constexpr int kWatches = 20;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<
      grpc::ClientReader<grpc::health::v1::HealthCheckResponse>>>
      watches;
  int open = 0;
  int refused = 0;
  for (int i = 0; i < kWatches; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    contexts.back()->set_deadline(std::chrono::system_clock::now() +
                                  std::chrono::seconds(30));
    grpc::health::v1::HealthCheckRequest request;
    watches.push_back(health->Watch(contexts.back().get(), request));
    grpc::health::v1::HealthCheckResponse first;
    if (watches.back()->Read(&first)) {
      ++open;  // holds a thread until cancelled
    } else {
      grpc::Status status = watches.back()->Finish();
      EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
          << status.error_message();
      ++refused;
    }
  }
  EXPECT_GT(open, 0);
  EXPECT_LT(open, options.sync_max_threads);
  EXPECT_EQ(open + refused, kWatches);
  // The service's calls do not need those threads.
  EXPECT_EQ(Views("a"), 0);
  for (int i = 0; i < kWatches; ++i) contexts[i]->TryCancel();
  watches.clear();
}

// Catches: Watch streams beyond --health_max_watchers accepted (each holds
// a thread), or refused without naming the flag.
TEST_F(ServerTest, HealthWatchersBeyondTheLimitAreRefused) {
  ServerOptions options;
  options.sync_max_threads = 32;
  options.health_max_watchers = 2;
  Start(options);
  auto health = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                          grpc::InsecureChannelCredentials()));
  grpc::ClientContext contexts[3];
  std::unique_ptr<grpc::ClientReader<grpc::health::v1::HealthCheckResponse>>
      watches[3];
  for (int i = 0; i < 3; ++i) {
    contexts[i].set_deadline(std::chrono::system_clock::now() +
                             std::chrono::seconds(30));
    watches[i] = health->Watch(&contexts[i], {});
    grpc::health::v1::HealthCheckResponse first;
    const bool read = watches[i]->Read(&first);
    EXPECT_EQ(read, i < 2) << "watch " << i;
  }
  grpc::Status refused = watches[2]->Finish();
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(refused.error_message(), HasSubstr("--health_max_watchers"));
  for (grpc::ClientContext& context : contexts) context.TryCancel();
}

TEST(ServerOptionsTest, QueuesNeedAThreadEach) {
  core::Engine engine;
  HoldingCommitter committer(&engine);
  BanditService service(&engine, &committer);
  ServerOptions options;
  options.cq_threads = 0;
  absl::StatusOr<std::unique_ptr<RunningServer>> running =
      StartServer(options, &service);
  ASSERT_FALSE(running.ok());
  EXPECT_EQ(running.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(running.status().message(), HasSubstr("cq_threads (0)"));
  committer.Shutdown();
}

}  // namespace
}  // namespace banditd::service
