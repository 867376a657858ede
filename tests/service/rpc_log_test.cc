// Request ids and the failed-call log line, through a real server.

#include "server/service/rpc_log.h"

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "banditd/v1/banditd.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/core/engine.h"
#include "server/log/log.h"
#include "server/service/auth.h"
#include "server/service/server.h"
#include "server/store/memory_committer.h"
#include "spdlog/sinks/ostream_sink.h"

namespace banditd::service {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;

constexpr char kClientToken[] = "client-s3cret-TOKEN";
constexpr char kAdminToken[] = "admin-s3cret-TOKEN";
// Distinctive request content that must never reach the log.
constexpr char kPayloadRoom[] = "payload-room-XYZZY";

class RpcLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    logging::Options log_options;
    log_options.format = logging::Format::kJson;
    log_options.sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log_);
    logging::Init(log_options);
    engine_ = std::make_unique<core::Engine>(core::EngineOptions{});
    committer_ = std::make_unique<store::MemoryCommitter>(engine_.get());
    auto auth = Authenticator::FromText(
        absl::StrCat("client ", kClientToken, "\nadmin ", kAdminToken, "\n"));
    ASSERT_TRUE(auth.ok()) << auth.status();
    auth_ = *std::move(auth);
    service_ = std::make_unique<BanditService>(engine_.get(), committer_.get(),
                                               auth_.get());
    ServerOptions options;
    options.rpc_log.failed_per_second = 1000;
    absl::StatusOr<std::unique_ptr<RunningServer>> running =
        StartServer(options, service_.get());
    ASSERT_TRUE(running.ok()) << running.status();
    server_ = *std::move(running);
    port_ = server_->port();
    stub_ = v1::BanditService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                            grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    server_->Shutdown();
    committer_->Shutdown();
    logging::Init({});
  }

  struct Call {
    grpc::Status status;
    std::string request_id;  // as returned in the initial metadata
  };

  Call Sample(const std::string& room, const std::string& token,
              const std::string& request_id = "") {
    v1::SampleRequest request;
    request.set_room_id(room);
    v1::SampleResponse response;
    grpc::ClientContext context;
    context.AddMetadata("authorization", absl::StrCat("Bearer ", token));
    if (!request_id.empty()) context.AddMetadata("x-request-id", request_id);
    Call call;
    call.status = stub_->Sample(&context, request, &response);
    const auto& metadata = context.GetServerInitialMetadata();
    if (auto it = metadata.find("x-request-id"); it != metadata.end()) {
      call.request_id.assign(it->second.data(), it->second.size());
    }
    return call;
  }

  std::vector<nlohmann::json> Lines() const {
    std::vector<nlohmann::json> lines;
    for (absl::string_view line :
         absl::StrSplit(log_.str(), '\n', absl::SkipEmpty())) {
      lines.push_back(nlohmann::json::parse(line));
    }
    return lines;
  }

  std::ostringstream log_;
  int port_ = 0;
  std::unique_ptr<core::Engine> engine_;
  std::unique_ptr<store::MemoryCommitter> committer_;
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<BanditService> service_;
  std::unique_ptr<RunningServer> server_;
  std::unique_ptr<v1::BanditService::Stub> stub_;
};

TEST_F(RpcLogTest, FailedCallLogsOneLineWithTheClientsRequestId) {
  const Call call = Sample(kPayloadRoom, kClientToken, "trace-42");
  EXPECT_EQ(call.status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(call.request_id, "trace-42");
  const std::vector<nlohmann::json> lines = Lines();
  ASSERT_EQ(lines.size(), 1u) << log_.str();
  EXPECT_EQ(lines[0]["msg"], "rpc failed");
  EXPECT_EQ(lines[0]["level"], "warning");
  EXPECT_EQ(lines[0]["method"], "/banditd.v1.BanditService/Sample");
  EXPECT_EQ(lines[0]["code"], "NOT_FOUND");
  EXPECT_EQ(lines[0]["request_id"], "trace-42");
  EXPECT_EQ(lines[0]["field"], "room_id");
  EXPECT_GE(lines[0]["duration_ms"].get<double>(), 0.0);
  EXPECT_THAT(lines[0]["peer"].get<std::string>(), HasSubstr("127.0.0.1"));
  // Neither the token nor the request's content.
  EXPECT_THAT(log_.str(), Not(HasSubstr(kClientToken)));
  EXPECT_THAT(log_.str(), Not(HasSubstr(kPayloadRoom)));
}

// grpcurl asks every server for reflection v1 before v1alpha: a method the
// server lacks is the caller's mistake, not the server's.
TEST_F(RpcLogTest, UnknownMethodIsAWarningNotAnError) {
  grpc::GenericStub generic(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", port_), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  grpc::Slice empty("");
  grpc::ByteBuffer request(&empty, 1);
  grpc::ByteBuffer response;
  grpc::Status status;
  absl::Notification done;
  generic.UnaryCall(&context, "/banditd.v1.BanditService/NoSuchMethod",
                    grpc::StubOptions(), &request, &response,
                    [&](grpc::Status s) {
                      status = std::move(s);
                      done.Notify();
                    });
  done.WaitForNotification();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  const std::vector<nlohmann::json> lines = Lines();
  ASSERT_EQ(lines.size(), 1u) << log_.str();
  EXPECT_EQ(lines[0]["code"], "UNIMPLEMENTED");
  EXPECT_EQ(lines[0]["level"], "warning");
}

TEST_F(RpcLogTest, GeneratesAnIdWhenTheClientSendsNoneOrAnUnusableOne) {
  const Call none = Sample("r", kClientToken);
  EXPECT_THAT(none.request_id, MatchesRegex("[0-9a-f]{32}"));
  const Call spaced = Sample("r", kClientToken, "has space");
  EXPECT_THAT(spaced.request_id, MatchesRegex("[0-9a-f]{32}"));
  EXPECT_NE(none.request_id, spaced.request_id);
  const std::vector<nlohmann::json> lines = Lines();
  ASSERT_EQ(lines.size(), 2u) << log_.str();
  EXPECT_EQ(lines[0]["request_id"], none.request_id);
  EXPECT_EQ(lines[1]["request_id"], spaced.request_id);
  EXPECT_THAT(log_.str(), Not(HasSubstr("has space")));
}

TEST_F(RpcLogTest, RejectedTokensAreNotLoggedAndSuccessIsQuiet) {
  const Call wrong = Sample("r", "wrong-TOKEN-value");
  EXPECT_EQ(wrong.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // A client token on an admin RPC.
  v1::CreateRoomRequest create;
  create.set_room_id(kPayloadRoom);
  create.add_arm_ids("a");
  v1::CreateRoomResponse created;
  {
    grpc::ClientContext context;
    context.AddMetadata("authorization", absl::StrCat("Bearer ", kClientToken));
    EXPECT_EQ(stub_->CreateRoom(&context, create, &created).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    grpc::ClientContext context;
    context.AddMetadata("authorization", absl::StrCat("Bearer ", kAdminToken));
    ASSERT_TRUE(stub_->CreateRoom(&context, create, &created).ok());
  }
  const Call ok = Sample(kPayloadRoom, kClientToken, "fine-1");
  EXPECT_TRUE(ok.status.ok()) << ok.status.error_message();
  EXPECT_EQ(ok.request_id, "fine-1");
  const std::vector<nlohmann::json> lines = Lines();
  ASSERT_EQ(lines.size(), 2u) << log_.str();
  EXPECT_EQ(lines[0]["code"], "UNAUTHENTICATED");
  EXPECT_EQ(lines[1]["code"], "PERMISSION_DENIED");
  EXPECT_EQ(lines[1]["method"], "/banditd.v1.BanditService/CreateRoom");
  for (const char* secret :
       {"wrong-TOKEN-value", kClientToken, kAdminToken, kPayloadRoom}) {
    EXPECT_THAT(log_.str(), Not(HasSubstr(secret))) << secret;
  }
}

// BanditService's unary calls report from their handler, other services'
// calls (here gRPC health) through the interceptor: both alike.
TEST_F(RpcLogTest, OtherServicesGetRequestIdsAndLogLinesToo) {
  auto health = grpc::health::v1::Health::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", port_), grpc::InsecureChannelCredentials()));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service("no.such.Service");
  grpc::health::v1::HealthCheckResponse response;
  grpc::ClientContext context;
  context.AddMetadata("x-request-id", "health-7");
  EXPECT_EQ(health->Check(&context, request, &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
  const auto& metadata = context.GetServerInitialMetadata();
  auto it = metadata.find("x-request-id");
  ASSERT_NE(it, metadata.end());
  EXPECT_EQ(std::string(it->second.data(), it->second.size()), "health-7");
  const std::vector<nlohmann::json> lines = Lines();
  ASSERT_EQ(lines.size(), 1u) << log_.str();
  EXPECT_EQ(lines[0]["method"], "/grpc.health.v1.Health/Check");
  EXPECT_EQ(lines[0]["code"], "NOT_FOUND");
  EXPECT_EQ(lines[0]["request_id"], "health-7");
}

}  // namespace
}  // namespace banditd::service
