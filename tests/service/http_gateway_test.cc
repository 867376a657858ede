// The HTTP gateway against a BanditService it calls directly (no gRPC):
// what the gateway itself does around the service's handlers (tokens from
// the Authorization header, request ids, metrics and the failed-call log
// under the gRPC method, the reply size limit, drain and cancellation).
// Every route's translation is tested against the real binary in tests/http.

#include "server/service/http_gateway.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "server/core/engine.h"
#include "server/ops/metrics.h"
#include "server/service/auth.h"
#include "server/service/bandit_service.h"
#include "server/service/rpc_log.h"
#include "server/store/memory_committer.h"
#include "tests/testing/holding_committer.h"

namespace banditd::service {
namespace {

using ::banditd::testing::HoldingCommitter;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;

constexpr char kAdmin[] = "admin-token-0123456789";
constexpr char kClient[] = "client-token-0123456789";

// Bodies from this size on make the worker release its thread cache.
constexpr size_t kReleaseAfterBytes = 4096;

std::atomic<int> thread_cache_releases{0};
void CountRelease() { thread_cache_releases.fetch_add(1); }

class HttpGatewayTest : public ::testing::Test {
 protected:
  void Start(const Authenticator* auth = nullptr,
             size_t max_response_bytes = 64 << 20,
             void (*release_thread_cache)() = nullptr) {
    core::EngineOptions options;
    engine_ = std::make_unique<core::Engine>(options);
    committer_ = std::make_unique<HoldingCommitter>(engine_.get());
    service_ =
        std::make_unique<BanditService>(engine_.get(), committer_.get(), auth);
    HttpGatewayOptions gateway_options;
    gateway_options.threads = 4;
    gateway_options.max_response_bytes = max_response_bytes;
    gateway_options.release_thread_cache = release_thread_cache;
    gateway_options.release_thread_cache_body_bytes = kReleaseAfterBytes;
    absl::StatusOr<std::unique_ptr<HttpGateway>> started = HttpGateway::Start(
        gateway_options, service_.get(), &metrics_, &rpc_log_);
    ASSERT_TRUE(started.ok()) << started.status();
    gateway_ = *std::move(started);
  }

  void TearDown() override {
    if (gateway_ != nullptr) gateway_->Stop();
    if (committer_ != nullptr) {
      committer_->Release();
      committer_->Shutdown();
    }
  }

  struct Reply {
    int status = 0;
    nlohmann::json body;
    std::string request_id;
  };

  Reply Call(const std::string& method, const std::string& path,
             const std::string& body = "",
             httplib::Headers headers = {}) const {
    httplib::Client client("127.0.0.1", gateway_->port());
    client.set_read_timeout(10, 0);
    httplib::Result result =
        method == "GET"
            ? client.Get(path.c_str(), headers)
            : client.Post(path.c_str(), headers, body, "application/json");
    Reply reply;
    if (!result) return reply;
    reply.status = result->status;
    reply.body = nlohmann::json::parse(result->body, nullptr, false);
    reply.request_id = result->get_header_value("X-Request-Id");
    return reply;
  }

  static httplib::Headers Bearer(const std::string& token) {
    return {{"Authorization", absl::StrCat("Bearer ", token)}};
  }

  ops::Metrics metrics_;
  RpcLog rpc_log_{RpcLogOptions{}};
  std::unique_ptr<core::Engine> engine_;
  std::unique_ptr<HoldingCommitter> committer_;
  std::unique_ptr<BanditService> service_;
  std::unique_ptr<HttpGateway> gateway_;
};

TEST_F(HttpGatewayTest, RunsTheServiceAndRecordsEachCallUnderItsGrpcMethod) {
  Start();
  EXPECT_EQ(
      Call("POST", "/v1/rooms", R"({"roomId": "r", "armIds": ["a"]})").status,
      200);
  Reply fed =
      Call("POST", "/v1/feedback",
           R"({"events": [{"roomId": "r", "armId": "a", "views": 3}]})");
  EXPECT_EQ(fed.status, 200);
  EXPECT_EQ(fed.body["appliedEvents"], "1");
  Reply sampled = Call("POST", "/v1/rooms/r:sample", "{}");
  ASSERT_EQ(sampled.status, 200);
  EXPECT_EQ(sampled.body["arms"][0]["armId"], "a");
  EXPECT_EQ(sampled.body["arms"][0]["counts"]["views"], 3);
  EXPECT_EQ(Call("POST", "/v1/rooms/missing:sample", "{}").status, 404);

  const std::string text = metrics_.Render();
  EXPECT_THAT(
      text,
      HasSubstr(
          R"(banditd_rpc_requests_total{code="OK",method="Sample",service="banditd.v1.BanditService"} 1)"));
  EXPECT_THAT(
      text,
      HasSubstr(
          R"(banditd_rpc_requests_total{code="NOT_FOUND",method="Sample",service="banditd.v1.BanditService"} 1)"));
  EXPECT_THAT(
      text,
      HasSubstr(
          R"(banditd_rpc_requests_total{code="OK",method="Feedback",service="banditd.v1.BanditService"} 1)"));
}

TEST_F(HttpGatewayTest, BigBodiesReleaseTheWorkersThreadCache) {
  Start(nullptr, 64 << 20, &CountRelease);
  thread_cache_releases.store(0);
  ASSERT_EQ(
      Call("POST", "/v1/rooms", R"({"roomId": "r", "armIds": ["a"]})").status,
      200);
  // Small calls (every usual one) release nothing.
  EXPECT_EQ(thread_cache_releases.load(), 0);
  std::string events;
  while (events.size() < kReleaseAfterBytes) {
    absl::StrAppend(&events, events.empty() ? "" : ",",
                    R"({"roomId": "r", "armId": "a", "views": 1})");
  }
  Reply fed = Call("POST", "/v1/feedback",
                   absl::StrCat(R"({"events": [)", events, "]}"));
  ASSERT_EQ(fed.status, 200);
  EXPECT_EQ(thread_cache_releases.load(), 1);
  // A big body released even when the call failed.
  EXPECT_EQ(Call("POST", "/v1/feedback",
                 absl::StrCat(R"({"events": [)", events, R"(], "x": 1})"))
                .status,
            400);
  EXPECT_EQ(thread_cache_releases.load(), 2);
}

TEST_F(HttpGatewayTest, TokensComeFromTheAuthorizationHeader) {
  absl::StatusOr<std::unique_ptr<Authenticator>> auth = Authenticator::FromText(
      absl::StrCat("admin ", kAdmin, "\nclient ", kClient, "\n"));
  ASSERT_TRUE(auth.ok());
  Start(auth->get());
  const std::string create = R"({"roomId": "r", "armIds": ["a"]})";

  Reply anonymous = Call("POST", "/v1/rooms", create);
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(anonymous.body["code"], 16);
  EXPECT_THAT(anonymous.body["message"].get<std::string>(),
              HasSubstr("bearer token"));
  EXPECT_EQ(Call("POST", "/v1/rooms", create, Bearer("wrong-token-0000000000"))
                .body["code"],
            16);
  Reply client = Call("POST", "/v1/rooms", create, Bearer(kClient));
  EXPECT_EQ(client.status, 403);
  EXPECT_EQ(client.body["code"], 7);
  EXPECT_EQ(engine_->ArmCount("r"), 0);  // a refused call changes nothing

  EXPECT_EQ(Call("POST", "/v1/rooms", create, Bearer(kAdmin)).status, 200);
  EXPECT_EQ(Call("POST", "/v1/rooms/r:sample", "{}", Bearer(kClient)).status,
            200);
  // "bearer" as gRPC metadata may spell it.
  EXPECT_EQ(Call("GET", "/v1/rooms/r", "",
                 {{"Authorization", absl::StrCat("bearer ", kClient)}})
                .status,
            200);
}

TEST_F(HttpGatewayTest, RequestIdsAreTheClientsWhenValidElseNew) {
  Start();
  EXPECT_EQ(
      Call("GET", "/v1/rooms", "", {{"X-Request-Id", "mine-1"}}).request_id,
      "mine-1");
  EXPECT_THAT(Call("GET", "/v1/rooms").request_id,
              MatchesRegex("[0-9a-f]{32}"));
  EXPECT_THAT(
      Call("GET", "/v1/rooms", "", {{"X-Request-Id", "has spaces"}}).request_id,
      MatchesRegex("[0-9a-f]{32}"));
}

TEST_F(HttpGatewayTest, ErrorsCarryTheFieldAtFaultAsBadRequest) {
  Start();
  Call("POST", "/v1/rooms", R"({"roomId": "r", "armIds": ["a"]})");
  Reply bad = Call("POST", "/v1/feedback",
                   R"({"events": [{"roomId": "r", "armId": "a", "views": 1},
                                  {"roomId": "r", "armId": "a", "views": -2}]})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body["code"], 3);
  ASSERT_EQ(bad.body["details"].size(), 1u);
  EXPECT_EQ(bad.body["details"][0]["@type"],
            "type.googleapis.com/google.rpc.BadRequest");
  EXPECT_EQ(bad.body["details"][0]["fieldViolations"][0]["field"],
            "events[1].views");
  // Percent-decoding can make bytes no gRPC request can carry.
  Reply utf8 = Call("POST", "/v1/rooms/%FF:sample", "{}");
  EXPECT_EQ(utf8.status, 400);
  EXPECT_THAT(utf8.body["message"].get<std::string>(), HasSubstr("UTF-8"));
}

TEST_F(HttpGatewayTest, RepliesOverTheSendLimitAreResourceExhausted) {
  Start(nullptr, /*max_response_bytes=*/200);
  std::string arms;
  for (int i = 0; i < 50; ++i)
    absl::StrAppend(&arms, i ? "," : "", "\"a", i, "\"");
  ASSERT_EQ(Call("POST", "/v1/rooms",
                 absl::StrCat(R"({"roomId": "r", "armIds": [)", arms, "]}"))
                .status,
            200);
  Reply big = Call("GET", "/v1/rooms/r");
  EXPECT_EQ(big.status, 429);
  EXPECT_EQ(big.body["code"], 8);
  EXPECT_EQ(Call("GET", "/v1/rooms/r?view=ROOM_VIEW_BASIC").status, 200);
}

TEST_F(HttpGatewayTest, StopRefusesNewCallsAndCancelsWaitingOnes) {
  Start();
  Call("POST", "/v1/rooms", R"({"roomId": "r", "armIds": ["a"]})");
  committer_->Hold();
  Reply waiting;
  std::thread feedback([&] {
    waiting =
        Call("POST", "/v1/feedback",
             R"({"events": [{"roomId": "r", "armId": "a", "views": 1}]})");
  });
  while (committer_->held() == 0) absl::SleepFor(absl::Milliseconds(1));

  gateway_->Drain();
  Reply refused = Call("GET", "/v1/rooms");
  EXPECT_EQ(refused.status, 503);
  EXPECT_EQ(refused.body["code"], 14);

  gateway_->Stop(absl::Now() + absl::Milliseconds(100));
  feedback.join();
  EXPECT_EQ(waiting.status, 499);
  EXPECT_EQ(waiting.body["code"], 1);
  // The write still completes; its late reply goes nowhere.
  committer_->Release();
  absl::StatusOr<core::Stats> stats = engine_->GetStats("r", "", false);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->total_views, 1);
}

// A client's Grpc-Timeout bounds its wait, as gRPC's deadline does: 504 at
// the deadline (the write still lands), nothing for calls that finish in
// time, 400 for a header that is not gRPC's format.
TEST_F(HttpGatewayTest, GrpcTimeoutAnswersDeadlineExceededAtTheDeadline) {
  Start();
  Call("POST", "/v1/rooms", R"({"roomId": "r", "armIds": ["a"]})");
  committer_->Hold();
  const absl::Time start = absl::Now();
  Reply late =
      Call("POST", "/v1/feedback",
           R"({"events": [{"roomId": "r", "armId": "a", "views": 1}]})",
           {{"Grpc-Timeout", "200m"}});
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(200));
  EXPECT_EQ(late.status, 504);
  EXPECT_EQ(late.body["code"], 4);
  committer_->Release();
  absl::StatusOr<core::Stats> stats = engine_->GetStats("r", "", false);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->total_views, 1);

  EXPECT_EQ(Call("GET", "/v1/rooms/r", "", {{"Grpc-Timeout", "5S"}}).status,
            200);
  Reply bad = Call("GET", "/v1/rooms/r", "", {{"Grpc-Timeout", "soon"}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body["code"], 3);
  EXPECT_NE(bad.body["message"].get<std::string>().find("Grpc-Timeout"),
            std::string::npos);
}

TEST_F(HttpGatewayTest, StopWaitsForCallsThatFinishBeforeTheDeadline) {
  Start();
  Call("POST", "/v1/rooms", R"({"roomId": "r", "armIds": ["a"]})");
  committer_->Hold();
  Reply waiting;
  std::thread feedback([&] {
    waiting =
        Call("POST", "/v1/feedback",
             R"({"events": [{"roomId": "r", "armId": "a", "views": 1}]})");
  });
  while (committer_->held() == 0) absl::SleepFor(absl::Milliseconds(1));
  std::thread release([&] {
    absl::SleepFor(absl::Milliseconds(50));
    committer_->Release();
  });
  gateway_->Stop(absl::Now() + absl::Seconds(30));
  feedback.join();
  release.join();
  EXPECT_EQ(waiting.status, 200);
  EXPECT_EQ(waiting.body["appliedEvents"], "1");
}

}  // namespace
}  // namespace banditd::service
