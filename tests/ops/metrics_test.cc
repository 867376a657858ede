// Metrics exposition (checked by promtool), the RPC interceptor, and the
// HTTP endpoints that serve /metrics and the dashboard API.

#include "server/ops/metrics.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "banditd/v1/banditd.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "server/core/engine.h"
#include "server/ops/engine_collector.h"
#include "server/ops/http_server.h"
#include "server/service/bandit_service.h"
#include "server/service/server.h"
#include "server/store/memory_committer.h"

namespace banditd::ops {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Runs promtool's linter over `text`; returns its exit code and output.
std::pair<int, std::string> PromtoolCheck(const std::string& text) {
  const std::string path =
      absl::StrCat(::testing::TempDir(), "/metrics_", ::getpid(), ".txt");
  std::ofstream(path) << text;
  const std::string command =
      absl::StrCat(BANDITD_PROMTOOL, " check metrics < ", path, " 2>&1");
  FILE* pipe = popen(command.c_str(), "r");
  std::string output;
  char buffer[512];
  while (pipe != nullptr && fgets(buffer, sizeof buffer, pipe) != nullptr) {
    output += buffer;
  }
  const int status = pipe == nullptr ? -1 : pclose(pipe);
  std::remove(path.c_str());
  return {status, output};
}

void CreateRoom(core::Engine& engine, const std::string& room) {
  core::CreateRoom create;
  create.room_id = room;
  create.arm_ids = {"a", "b"};
  ASSERT_TRUE(engine.Apply(create).ok());
}

void AddViews(core::Engine& engine, const std::string& room,
              const std::string& arm, double views, double clicks) {
  core::FeedbackBatch batch;
  core::FeedbackEvent event;
  event.room_id = room;
  event.arm_id = arm;
  event.views = views;
  event.clicks = clicks;
  batch.events.push_back(event);
  ASSERT_TRUE(engine.Apply(batch).ok());
}

class MetricsTest : public ::testing::Test {
 protected:
  core::Engine engine_;
  Metrics metrics_;
};

// RecordRpc caches each method's series: repeated calls, several codes,
// several methods, threads at once and an out-of-range code all land on
// their own series with exact counts.
TEST_F(MetricsTest, RpcSeriesCountEveryCallOnItsLabels) {
  constexpr int kThreads = 4;
  constexpr int kCalls = 500;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this] {
      for (int i = 0; i < kCalls; ++i) {
        metrics_.RecordRpc("/banditd.v1.BanditService/Sample",
                           i % 5 == 0 ? 3 : 0, 0.001);
        metrics_.RecordRpc("/banditd.v1.BanditService/Feedback", 0, 0.002);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  metrics_.RecordRpc("/banditd.v1.BanditService/Sample", 99, 0.001);
  metrics_.RecordRpc("NoSlash", 0, 0.001);

  const std::string text = metrics_.Render();
  const std::string sample =
      "method=\"Sample\",service=\"banditd.v1.BanditService\"} ";
  EXPECT_THAT(text, HasSubstr("banditd_rpc_requests_total{code=\"OK\"," +
                              sample + "1600"));
  EXPECT_THAT(
      text, HasSubstr("banditd_rpc_requests_total{code=\"INVALID_ARGUMENT\"," +
                      sample + "400"));
  EXPECT_THAT(text, HasSubstr("banditd_rpc_requests_total{code=\"UNKNOWN\"," +
                              sample + "1"));
  EXPECT_THAT(
      text, HasSubstr("banditd_rpc_duration_seconds_count{" + sample + "2001"));
  EXPECT_THAT(text, HasSubstr("banditd_rpc_requests_total{code=\"OK\",method="
                              "\"Feedback\",service=\"banditd.v1."
                              "BanditService\"} 2000"));
  EXPECT_THAT(text, HasSubstr("banditd_rpc_requests_total{code=\"OK\",method="
                              "\"NoSlash\",service=\"\"} 1"));
}

TEST_F(MetricsTest, RendersEverythingAndPassesPromtool) {
  ProcessCollector process;
  EngineCollector engine_collector(&engine_, /*per_room=*/true);
  metrics_.AddCollectable(&process);
  metrics_.AddCollectable(&engine_collector);
  CreateRoom(engine_, "room-1");
  AddViews(engine_, "room-1", "a", 30, 3);
  AddViews(engine_, "room-1", "b", 10, 2);
  metrics_.RecordRpc("/banditd.v1.BanditService/Sample", 0, 0.0002);
  metrics_.RecordRpc("/banditd.v1.BanditService/Sample", 16, 0.00001);
  metrics_.RecordCommit(absl::Milliseconds(2), 7);
  metrics_.RecordSnapshot(absl::Seconds(1));
  metrics_.RecordRecovery(absl::Milliseconds(1500), 42);

  const std::string text = metrics_.Render();
  EXPECT_THAT(text, HasSubstr("banditd_rpc_requests_total{code=\"OK\","
                              "method=\"Sample\",service=\"banditd.v1."
                              "BanditService\"} 1"));
  EXPECT_THAT(text, HasSubstr("code=\"UNAUTHENTICATED\""));
  EXPECT_THAT(text, HasSubstr("banditd_rpc_duration_seconds_count{method="
                              "\"Sample\",service=\"banditd.v1."
                              "BanditService\"} 2"));
  EXPECT_THAT(text, HasSubstr("banditd_store_commit_group_size_sum 7"));
  EXPECT_THAT(text,
              HasSubstr("banditd_store_snapshot_duration_seconds_count 1"));
  EXPECT_THAT(text, HasSubstr("banditd_store_recovery_duration_seconds 1.5"));
  EXPECT_THAT(text, HasSubstr("banditd_store_recovery_replayed_records 42"));
  EXPECT_THAT(text, HasSubstr("banditd_rooms 1"));
  EXPECT_THAT(text, HasSubstr("banditd_arms{state=\"enabled\"} 2"));
  EXPECT_THAT(text, HasSubstr("process_resident_memory_bytes "));
  EXPECT_THAT(text, HasSubstr("banditd_room_arm_views{room=\"room-1\","
                              "arm=\"a\"} 30"));
  EXPECT_THAT(text, HasSubstr("banditd_room_arm_view_share{room=\"room-1\","
                              "arm=\"a\"} 0.75"));

  auto [status, output] = PromtoolCheck(text);
  EXPECT_EQ(status, 0) << output << "\n--- exposition ---\n" << text;
}

TEST_F(MetricsTest, PerRoomSeriesOnlyWhenAsked) {
  EngineCollector engine_collector(&engine_, /*per_room=*/false);
  metrics_.AddCollectable(&engine_collector);
  CreateRoom(engine_, "r");
  const std::string text = metrics_.Render();
  EXPECT_THAT(text, HasSubstr("banditd_rooms 1"));
  EXPECT_THAT(text, Not(HasSubstr("banditd_room_arm_views")));
  auto [status, output] = PromtoolCheck(text);
  EXPECT_EQ(status, 0) << output;
}

TEST_F(MetricsTest, InterceptorCountsRpcsByMethodAndCode) {
  store::MemoryCommitter committer(&engine_);
  service::BanditService service(&engine_, &committer);
  service::ServerOptions options;
  options.metrics = &metrics_;
  absl::StatusOr<std::unique_ptr<service::RunningServer>> running =
      service::StartServer(options, &service);
  ASSERT_TRUE(running.ok()) << running.status();
  auto stub = v1::BanditService::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*running)->port()),
                          grpc::InsecureChannelCredentials()));
  for (int i = 0; i < 3; ++i) {
    v1::GetStatsRequest request;
    request.set_room_id("missing");
    v1::GetStatsResponse response;
    grpc::ClientContext context;
    EXPECT_EQ(stub->GetStats(&context, request, &response).error_code(),
              grpc::NOT_FOUND);
  }
  {
    v1::CreateRoomRequest request;
    request.set_room_id("r");
    request.add_arm_ids("a");
    v1::CreateRoomResponse response;
    grpc::ClientContext context;
    EXPECT_TRUE(stub->CreateRoom(&context, request, &response).ok());
  }
  {  // another service's call: counted by the interceptor
    auto health = grpc::health::v1::Health::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*running)->port()),
                            grpc::InsecureChannelCredentials()));
    grpc::health::v1::HealthCheckRequest request;
    request.set_service("no.such.Service");
    grpc::health::v1::HealthCheckResponse response;
    grpc::ClientContext context;
    EXPECT_EQ(health->Check(&context, request, &response).error_code(),
              grpc::NOT_FOUND);
  }
  (*running)->Shutdown();
  committer.Shutdown();
  const std::string text = metrics_.Render();
  EXPECT_THAT(text, HasSubstr("banditd_rpc_requests_total{code=\"NOT_FOUND\","
                              "method=\"GetStats\",service=\"banditd.v1."
                              "BanditService\"} 3"));
  EXPECT_THAT(text, HasSubstr("banditd_rpc_requests_total{code=\"OK\","
                              "method=\"CreateRoom\",service=\"banditd.v1."
                              "BanditService\"} 1"));
  EXPECT_THAT(text, HasSubstr("banditd_rpc_requests_total{code=\"NOT_FOUND\","
                              "method=\"Check\",service=\"grpc.health.v1."
                              "Health\"} 1"));
}

TEST(JsonQuoteTest, EscapesQuotesControlAndHtml) {
  EXPECT_EQ(JsonQuote("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
  EXPECT_EQ(JsonQuote("</script>"), "\"\\u003c/script\\u003e\"");
  EXPECT_EQ(JsonQuote(std::string("\x01", 1)), "\"\\u0001\"");
}

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    metrics_.AddCollectable(&collector_);
    CreateRoom(engine_, "feed");
    absl::StatusOr<std::unique_ptr<HttpServer>> http =
        HttpServer::Start({}, &metrics_, &engine_);
    ASSERT_TRUE(http.ok()) << http.status();
    http_ = *std::move(http);
    client_ = std::make_unique<httplib::Client>("127.0.0.1", http_->port());
  }

  std::string Get(const std::string& path, int want_status = 200) {
    httplib::Result result = client_->Get(path.c_str());
    EXPECT_TRUE(result) << path;
    if (!result) return "";
    EXPECT_EQ(result->status, want_status) << path;
    return result->body;
  }

  core::Engine engine_;
  Metrics metrics_;
  EngineCollector collector_{&engine_, false};
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(HttpServerTest, ServesMetrics) {
  httplib::Result result = client_->Get("/metrics");
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 200);
  EXPECT_THAT(result->get_header_value("Content-Type"),
              HasSubstr("text/plain"));
  EXPECT_THAT(result->body, HasSubstr("banditd_rooms 1"));
}

TEST_F(HttpServerTest, HealthzIs503UnlessServing) {
  EXPECT_EQ(Get("/healthz", 503), "recovering\n");
  http_->SetState(HttpServer::State::kServing);
  EXPECT_EQ(Get("/healthz"), "ok\n");
  http_->SetState(HttpServer::State::kDraining);
  EXPECT_EQ(Get("/healthz", 503), "draining\n");
  // Metrics stay readable while draining.
  EXPECT_THAT(Get("/metrics"), HasSubstr("banditd_rooms 1"));
}

TEST_F(HttpServerTest, RefusesAPortInUse) {
  HttpServerOptions options;
  options.port = http_->port();
  absl::StatusOr<std::unique_ptr<HttpServer>> second =
      HttpServer::Start(options, &metrics_, &engine_);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(second.status().message(),
              HasSubstr(absl::StrCat(":", http_->port())));
  // The first one still answers.
  EXPECT_THAT(Get("/metrics"), HasSubstr("banditd_rooms 1"));
}

TEST_F(HttpServerTest, ServesDashboardAndJson) {
  EXPECT_THAT(Get("/"), HasSubstr("dashboard.js"));
  EXPECT_THAT(Get("/dashboard.js"), HasSubstr("api/stats"));
  EXPECT_FALSE(Get("/dashboard.css").empty());
  EXPECT_THAT(Get("/api/rooms"),
              HasSubstr("{\"room_id\":\"feed\",\"arms\":2,\"policy\":"));
  AddViews(engine_, "feed", "a", 4, 1);
  const std::string stats = Get("/api/stats?room=feed&segment=");
  EXPECT_THAT(stats, HasSubstr("\"arm_id\":\"a\",\"enabled\":true,"
                               "\"views\":4,\"clicks\":1,\"ctr\":0.25"));
  // Unseen arms score +inf, which JSON spells null here.
  EXPECT_THAT(stats, HasSubstr("\"arm_id\":\"b\""));
  EXPECT_THAT(stats, HasSubstr("\"ucb1\":null"));
  EXPECT_THAT(stats, HasSubstr("\"share_history\":["));
  EXPECT_THAT(stats, HasSubstr("\"cold_threshold\":100"));
  EXPECT_THAT(stats, HasSubstr("\"hot_steepness\":50"));
  EXPECT_THAT(Get("/api/stats?room=nope", 404), HasSubstr("error"));
}

// Catches: a big room showing its first 200 arms (the arms that matter,
// added late, missing) or no winner analysis, a winner taken among the
// wrong arms, or a reply that grows with the room.
TEST_F(HttpServerTest, DashboardStatsOfABigRoomShowTheMostViewedArms) {
  core::CreateRoom create;
  create.room_id = "big";
  for (int i = 0; i < 500; ++i)
    create.arm_ids.push_back(absl::StrCat("arm", i));
  ASSERT_TRUE(engine_.Apply(create).ok());
  // Every arm seen a little; the contenders are arms 300 to 499, and the
  // best of them is arm 450 (the most clicks per view, not the most views).
  for (int i = 0; i < 500; ++i) {
    AddViews(engine_, "big", absl::StrCat("arm", i), i >= 300 ? 400 : 2, 0);
  }
  AddViews(engine_, "big", "arm320", 200, 20);  // 600 views, 20 clicks.
  AddViews(engine_, "big", "arm450", 100, 60);  // 500 views, 60 clicks.
  const std::string stats = Get("/api/stats?room=big&segment=");
  EXPECT_THAT(stats, HasSubstr("\"arm_count\":500,\"arms_shown\":200,"
                               "\"arm_selection\":\"top_views\","));
  EXPECT_THAT(stats, HasSubstr("\"arm_id\":\"arm450\""));
  EXPECT_THAT(stats, HasSubstr("\"arm_id\":\"arm499\""));
  EXPECT_THAT(stats, Not(HasSubstr("\"arm_id\":\"arm0\"")));
  EXPECT_THAT(stats, Not(HasSubstr("\"arm_id\":\"arm299\"")));
  // Most viewed first.
  EXPECT_LT(stats.find("\"arm_id\":\"arm320\""),
            stats.find("\"arm_id\":\"arm450\""));
  // The room's totals still count every arm.
  EXPECT_THAT(stats, HasSubstr("\"total_views\":80900"));
  // The winner analysis over the arms shown names the real winner.
  EXPECT_THAT(stats, HasSubstr("\"winner\":{\"best_arm_id\":\"arm450\","));
  EXPECT_THAT(stats, HasSubstr("\"arms_analysed\":200,"));
  // A room the page shows whole keeps its order.
  AddViews(engine_, "feed", "b", 4, 1);
  const std::string small = Get("/api/stats?room=feed&segment=");
  EXPECT_THAT(small, HasSubstr("\"arm_count\":2,\"arms_shown\":2,"
                               "\"arm_selection\":\"room_order\","));
  EXPECT_LT(small.find("\"arm_id\":\"a\""), small.find("\"arm_id\":\"b\""));
  EXPECT_THAT(small, HasSubstr("\"arms_analysed\":2,"));
}

TEST_F(HttpServerTest, StopsCleanly) {
  http_->Stop();
  http_->Stop();
  EXPECT_FALSE(client_->Get("/metrics"));
}

}  // namespace
}  // namespace banditd::ops
