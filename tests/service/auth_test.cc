// Token roles and TLS, through a real channel to an in-process server.

#include "server/service/auth.h"

#include <chrono>
#include <condition_variable>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "banditd/v1/banditd.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "gtest/gtest.h"
#include "server/core/engine.h"
#include "server/service/bandit_service.h"
#include "server/service/server.h"
#include "server/store/memory_committer.h"
#include "tests/testing/health_check.h"

namespace banditd::service {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kAdminToken[] = "admin-token-0123456789";
constexpr char kClientToken[] = "client-token-0123456789";

std::string ReadTestdata(const std::string& name) {
  std::ifstream in(absl::StrCat(BANDITD_TESTDATA_DIR, "/", name));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(ConstantTimeEqualsTest, ComparesWholeStrings) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
}

TEST(AuthenticatorTest, ParsesTokensFile) {
  auto auth = Authenticator::FromText(absl::StrCat(
      "# comment\n\nadmin ", kAdminToken, "\n  client\t", kClientToken, "\n"));
  ASSERT_TRUE(auth.ok()) << auth.status();
  const std::string admin = absl::StrCat("Bearer ", kAdminToken);
  const std::string client = absl::StrCat("Bearer ", kClientToken);
  EXPECT_TRUE((*auth)->Check(admin, Role::kAdmin).ok());
  EXPECT_TRUE((*auth)->Check(admin, Role::kClient).ok());
  EXPECT_TRUE((*auth)->Check(client, Role::kClient).ok());
  EXPECT_EQ((*auth)->Check(client, Role::kAdmin).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ((*auth)->Check("", Role::kClient).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ((*auth)->Check(kClientToken, Role::kClient).code(),
            absl::StatusCode::kUnauthenticated);  // no "Bearer "
  absl::Status wrong = (*auth)->Check("Bearer nope", Role::kClient);
  EXPECT_EQ(wrong.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(wrong.message()), Not(HasSubstr("nope")));
}

TEST(AuthenticatorTest, RejectsBadFilesWithoutEchoingTokens) {
  EXPECT_FALSE(Authenticator::FromText("").ok());
  EXPECT_FALSE(Authenticator::FromText("admin\n").ok());
  absl::StatusOr<std::unique_ptr<Authenticator>> bad_role =
      Authenticator::FromText("root secret-secret-secret-1\n");
  ASSERT_FALSE(bad_role.ok());
  EXPECT_THAT(std::string(bad_role.status().message()), HasSubstr("line 1"));
  EXPECT_THAT(std::string(bad_role.status().message()),
              Not(HasSubstr("secret")));
  EXPECT_FALSE(Authenticator::FromText("admin short\n").ok());
  EXPECT_FALSE(Authenticator::FromFile("/nonexistent/tokens").ok());
}

// A server with tokens, optionally over TLS.
class AuthServerTest : public ::testing::TestWithParam<bool> {
 protected:
  bool tls() const { return GetParam(); }

  void SetUp() override {
    auto auth = Authenticator::FromText(
        absl::StrCat("admin ", kAdminToken, "\nclient ", kClientToken, "\n"));
    ASSERT_TRUE(auth.ok()) << auth.status();
    auth_ = *std::move(auth);
    committer_ = std::make_unique<store::MemoryCommitter>(&engine_);
    service_ = std::make_unique<BanditService>(&engine_, committer_.get(),
                                               auth_.get());
    ServerOptions options;
    if (tls()) {
      options.tls_cert_pem = ReadTestdata("localhost.crt");
      options.tls_key_pem = ReadTestdata("localhost.key");
      ASSERT_FALSE(options.tls_cert_pem.empty());
    }
    absl::StatusOr<std::unique_ptr<RunningServer>> running =
        StartServer(options, service_.get());
    ASSERT_TRUE(running.ok()) << running.status();
    server_ = *std::move(running);
    server_->grpc().GetHealthCheckService()->SetServingStatus(true);
    std::shared_ptr<grpc::ChannelCredentials> credentials =
        grpc::InsecureChannelCredentials();
    if (tls()) {
      grpc::SslCredentialsOptions ssl;
      ssl.pem_root_certs = ReadTestdata("localhost.crt");
      credentials = grpc::SslCredentials(ssl);
    }
    channel_ = grpc::CreateChannel(absl::StrCat("localhost:", server_->port()),
                                   credentials);
    stub_ = v1::BanditService::NewStub(channel_);
  }

  void TearDown() override {
    server_->Shutdown();
    committer_->Shutdown();
  }

  // Sets the call's token; empty sends none.
  static void WithToken(grpc::ClientContext& context,
                        const std::string& token) {
    if (!token.empty()) {
      context.AddMetadata("authorization", absl::StrCat("Bearer ", token));
    }
  }

  grpc::Status CreateRoom(const std::string& token, const std::string& room) {
    v1::CreateRoomRequest request;
    request.set_room_id(room);
    request.add_arm_ids("a");
    v1::CreateRoomResponse response;
    grpc::ClientContext context;
    WithToken(context, token);
    return stub_->CreateRoom(&context, request, &response);
  }

  grpc::Status Feedback(const std::string& token, const std::string& room) {
    v1::FeedbackRequest request;
    v1::FeedbackEvent* event = request.add_events();
    event->set_room_id(room);
    event->set_arm_id("a");
    event->set_views(5);
    event->set_clicks(1);
    v1::FeedbackResponse response;
    grpc::ClientContext context;
    WithToken(context, token);
    return stub_->Feedback(&context, request, &response);
  }

  grpc::Status DeleteRoom(const std::string& token, const std::string& room) {
    v1::DeleteRoomRequest request;
    request.set_room_id(room);
    v1::DeleteRoomResponse response;
    grpc::ClientContext context;
    WithToken(context, token);
    return stub_->DeleteRoom(&context, request, &response);
  }

  grpc::Status Sample(const std::string& token, const std::string& room) {
    v1::SampleRequest request;
    request.set_room_id(room);
    request.set_k(1);
    v1::SampleResponse response;
    grpc::ClientContext context;
    WithToken(context, token);
    return stub_->Sample(&context, request, &response);
  }

  double Views(const std::string& room) {
    absl::StatusOr<core::Stats> stats = engine_.GetStats(room, "", false);
    return stats.ok() ? stats->total_views : -1;
  }

  core::Engine engine_;
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<store::MemoryCommitter> committer_;
  std::unique_ptr<BanditService> service_;
  std::unique_ptr<RunningServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::BanditService::Stub> stub_;
};

TEST_P(AuthServerTest,
       MissingOrInvalidTokenIsUnauthenticatedAndChangesNothing) {
  EXPECT_EQ(CreateRoom("", "r").error_code(), grpc::UNAUTHENTICATED);
  EXPECT_EQ(CreateRoom("not-a-valid-token-at-all", "r").error_code(),
            grpc::UNAUTHENTICATED);
  EXPECT_FALSE(engine_.GetRoom("r").ok());

  ASSERT_TRUE(CreateRoom(kAdminToken, "r").ok());
  EXPECT_EQ(Feedback("", "r").error_code(), grpc::UNAUTHENTICATED);
  EXPECT_EQ(Sample("", "r").error_code(), grpc::UNAUTHENTICATED);
  EXPECT_EQ(Views("r"), 0);
}

TEST_P(AuthServerTest, ClientTokenOnAdminRpcIsPermissionDenied) {
  EXPECT_EQ(CreateRoom(kClientToken, "r").error_code(),
            grpc::PERMISSION_DENIED);
  EXPECT_FALSE(engine_.GetRoom("r").ok());
  ASSERT_TRUE(CreateRoom(kAdminToken, "r").ok());
  EXPECT_EQ(DeleteRoom(kClientToken, "r").error_code(),
            grpc::PERMISSION_DENIED);
  EXPECT_TRUE(engine_.GetRoom("r").ok());
}

TEST_P(AuthServerTest, ClientAndAdminTokensCallClientRpcs) {
  ASSERT_TRUE(CreateRoom(kAdminToken, "r").ok());
  EXPECT_TRUE(Feedback(kClientToken, "r").ok());
  EXPECT_TRUE(Feedback(kAdminToken, "r").ok());
  EXPECT_TRUE(Sample(kClientToken, "r").ok());
  EXPECT_EQ(Views("r"), 10);
  EXPECT_TRUE(DeleteRoom(kAdminToken, "r").ok());
}

TEST_P(AuthServerTest, ClientTokenReadsRoomsButCannotChangeThem) {
  ASSERT_TRUE(CreateRoom(kAdminToken, "r").ok());
  {
    v1::GetRoomRequest request;
    request.set_room_id("r");
    v1::GetRoomResponse response;
    grpc::ClientContext context;
    WithToken(context, kClientToken);
    ASSERT_TRUE(stub_->GetRoom(&context, request, &response).ok());
    EXPECT_EQ(response.room().room_id(), "r");
  }
  {
    v1::ListRoomsRequest request;
    v1::ListRoomsResponse response;
    grpc::ClientContext context;
    WithToken(context, kClientToken);
    ASSERT_TRUE(stub_->ListRooms(&context, request, &response).ok());
    EXPECT_EQ(response.rooms_size(), 1);
  }
  v1::AddArmsRequest add;
  add.set_room_id("r");
  add.add_arm_ids("new");
  v1::AddArmsResponse added;
  grpc::ClientContext context;
  WithToken(context, kClientToken);
  EXPECT_EQ(stub_->AddArms(&context, add, &added).error_code(),
            grpc::PERMISSION_DENIED);
  EXPECT_EQ(engine_.GetRoom("r")->arms.size(), 1u);
}

TEST_P(AuthServerTest, HealthNeedsNoToken) {
  grpc::health::v1::HealthCheckResponse::ServingStatus serving;
  grpc::Status status = banditd::testing::CheckHealth(channel_, "", &serving);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(serving, grpc::health::v1::HealthCheckResponse::SERVING);
}

// Every BanditService method, including ones added later, checks the token:
// a call without one is UNAUTHENTICATED whatever its request.
TEST_P(AuthServerTest, EveryMethodNeedsAToken) {
  const google::protobuf::ServiceDescriptor* service =
      v1::CreateRoomRequest::descriptor()->file()->FindServiceByName(
          "BanditService");
  ASSERT_NE(service, nullptr);
  grpc::GenericStub generic(channel_);
  for (int i = 0; i < service->method_count(); ++i) {
    const std::string method = absl::StrCat("/", service->full_name(), "/",
                                            service->method(i)->name());
    grpc::Slice empty;
    grpc::ByteBuffer request(&empty, 1);
    grpc::ByteBuffer response;
    grpc::ClientContext context;
    grpc::Status status;
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    generic.UnaryCall(&context, method, grpc::StubOptions(), &request,
                      &response, [&](grpc::Status s) {
                        std::lock_guard<std::mutex> lock(mu);
                        status = s;
                        done = true;
                        cv.notify_one();
                      });
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return done; });
    EXPECT_EQ(status.error_code(), grpc::UNAUTHENTICATED) << method;
  }
}

INSTANTIATE_TEST_SUITE_P(PlaintextAndTls, AuthServerTest, ::testing::Bool(),
                         [](const auto& info) {
                           return info.param ? "Tls" : "Plaintext";
                         });

TEST(TlsServerTest, PlaintextClientCannotTalkToTlsServer) {
  core::Engine engine;
  store::MemoryCommitter committer(&engine);
  BanditService service(&engine, &committer);
  ServerOptions options;
  options.tls_cert_pem = ReadTestdata("localhost.crt");
  options.tls_key_pem = ReadTestdata("localhost.key");
  absl::StatusOr<std::unique_ptr<RunningServer>> running =
      StartServer(options, &service);
  ASSERT_TRUE(running.ok()) << running.status();
  auto stub = v1::BanditService::NewStub(
      grpc::CreateChannel(absl::StrCat("localhost:", (*running)->port()),
                          grpc::InsecureChannelCredentials()));
  v1::GetStatsRequest request;
  v1::GetStatsResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(2));
  EXPECT_FALSE(stub->GetStats(&context, request, &response).ok());
  (*running)->Shutdown();
  committer.Shutdown();
}

TEST(TlsServerTest, NeedsBothCertAndKey) {
  core::Engine engine;
  store::MemoryCommitter committer(&engine);
  BanditService service(&engine, &committer);
  ServerOptions options;
  options.tls_cert_pem = ReadTestdata("localhost.crt");
  EXPECT_EQ(StartServer(options, &service).status().code(),
            absl::StatusCode::kInvalidArgument);
  committer.Shutdown();
}

}  // namespace
}  // namespace banditd::service
