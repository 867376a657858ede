// Service tests through a real TCP channel to an in-process server. Over
// 500 lines: every RPC's translation and errors share one server fixture;
// the experiment RPCs have their own file (experiments_test.cc).

#include "server/service/bandit_service.h"

#include <atomic>
#include <cmath>
#include <memory>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "banditd/v1/banditd.grpc.pb.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "server/core/engine.h"
#include "server/service/server.h"
#include "server/store/memory_committer.h"
#include "tests/testing/health_check.h"

namespace banditd::service {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class BanditServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    core::EngineOptions options;
    options.max_batch_events = 100;
    engine_ = std::make_unique<core::Engine>(options);
    committer_ = std::make_unique<store::MemoryCommitter>(engine_.get());
    decisions_ = std::make_unique<DecisionCache>(3);
    service_ = std::make_unique<BanditService>(engine_.get(), committer_.get(),
                                               nullptr, decisions_.get());
    absl::StatusOr<std::unique_ptr<RunningServer>> running =
        StartServer({}, service_.get());
    ASSERT_TRUE(running.ok()) << running.status();
    server_ = *std::move(running);
    port_ = server_->port();
    server_->grpc().GetHealthCheckService()->SetServingStatus(true);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                   grpc::InsecureChannelCredentials());
    stub_ = v1::BanditService::NewStub(channel_);
  }

  void TearDown() override {
    server_->Shutdown();
    committer_->Shutdown();
  }

  int port_ = 0;

  grpc::Status CreateRoom(const std::string& room,
                          std::vector<std::string> arms,
                          v1::PolicyType type = v1::POLICY_TYPE_UNSPECIFIED) {
    v1::CreateRoomRequest request;
    request.set_room_id(room);
    for (auto& arm : arms) request.add_arm_ids(arm);
    request.mutable_policy()->set_type(type);
    v1::CreateRoomResponse response;
    grpc::ClientContext context;
    return stub_->CreateRoom(&context, request, &response);
  }

  static v1::FeedbackEvent Event(const std::string& room,
                                 const std::string& arm, int64_t views,
                                 int64_t clicks) {
    v1::FeedbackEvent e;
    e.set_room_id(room);
    e.set_arm_id(arm);
    e.set_views(views);
    e.set_clicks(clicks);
    return e;
  }

  grpc::Status Feedback(std::vector<v1::FeedbackEvent> events,
                        v1::FeedbackResponse* response = nullptr) {
    v1::FeedbackRequest request;
    for (auto& e : events) *request.add_events() = e;
    v1::FeedbackResponse ignored;
    grpc::ClientContext context;
    return stub_->Feedback(&context, request,
                           response != nullptr ? response : &ignored);
  }

  v1::GetStatsResponse Stats(const std::string& room,
                             const std::string& segment = "",
                             bool include_context = false) {
    v1::GetStatsRequest request;
    request.set_room_id(room);
    request.set_segment(segment);
    request.set_include_context(include_context);
    v1::GetStatsResponse response;
    grpc::ClientContext context;
    grpc::Status status = stub_->GetStats(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  std::unique_ptr<core::Engine> engine_;
  std::unique_ptr<store::MemoryCommitter> committer_;
  std::unique_ptr<DecisionCache> decisions_;
  std::unique_ptr<BanditService> service_;
  std::unique_ptr<RunningServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::BanditService::Stub> stub_;
};

TEST_F(BanditServiceTest, RoomLifecycle) {
  v1::CreateRoomRequest create;
  create.set_room_id("feed");
  create.add_arm_ids("post-1");
  create.add_arm_ids("post-2");
  create.mutable_policy()->set_type(v1::POLICY_TYPE_BUCB);
  create.mutable_policy()->set_bucb_z(2.5);
  v1::CreateRoomResponse created;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->CreateRoom(&context, create, &created).ok());
  }
  EXPECT_EQ(created.room().room_id(), "feed");
  // No echo of the arms: the BASIC view counts them.
  EXPECT_EQ(created.room().arms_size(), 0);
  EXPECT_EQ(created.room().arm_count(), 2);
  EXPECT_EQ(created.room().policy().type(), v1::POLICY_TYPE_BUCB);
  EXPECT_DOUBLE_EQ(created.room().policy().bucb_z(), 2.5);
  EXPECT_DOUBLE_EQ(created.room().policy().ucb_alpha(), 1.0);  // default

  {
    v1::AddArmsRequest add;
    add.set_room_id("feed");
    add.add_arm_ids("post-3");
    v1::AddArmsResponse added;
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->AddArms(&context, add, &added).ok());
    EXPECT_EQ(added.room().arms_size(), 0);
    EXPECT_EQ(added.room().arm_count(), 3);
  }
  {
    v1::SetArmEnabledRequest disable;
    disable.set_room_id("feed");
    disable.set_arm_id("post-1");
    disable.set_enabled(false);
    v1::SetArmEnabledResponse response;
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->SetArmEnabled(&context, disable, &response).ok());
    EXPECT_FALSE(response.arm().enabled());
  }
  ASSERT_TRUE(
      Feedback({Event("feed", "post-2", 10, 4), Event("feed", "post-3", 10, 1)})
          .ok());
  {
    v1::SampleRequest sample;
    sample.set_room_id("feed");
    sample.set_k(5);
    sample.mutable_policy()->set_type(v1::POLICY_TYPE_CTR);
    v1::SampleResponse response;
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->Sample(&context, sample, &response).ok());
    ASSERT_EQ(response.arms_size(), 2);  // post-1 is disabled
    EXPECT_EQ(response.arms(0).arm_id(), "post-2");
    EXPECT_DOUBLE_EQ(response.arms(0).score(), 0.4);
    EXPECT_DOUBLE_EQ(response.arms(0).counts().views(), 10);
    EXPECT_DOUBLE_EQ(response.arms(0).counts().clicks(), 4);
    EXPECT_EQ(response.policy().type(), v1::POLICY_TYPE_CTR);
    EXPECT_DOUBLE_EQ(response.policy().bucb_z(), 2.5);  // room's value kept
  }
  {
    v1::RemoveArmRequest remove;
    remove.set_room_id("feed");
    remove.set_arm_id("post-3");
    v1::RemoveArmResponse response;
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->RemoveArm(&context, remove, &response).ok());
  }
  v1::GetStatsResponse stats = Stats("feed");
  ASSERT_EQ(stats.arms_size(), 2);
  EXPECT_EQ(stats.arms(0).arm_id(), "post-1");
  EXPECT_FALSE(stats.arms(0).enabled());
  EXPECT_TRUE(std::isinf(stats.arms(0).ucb1()));
  EXPECT_DOUBLE_EQ(stats.arms(1).ctr(), 0.4);
  EXPECT_DOUBLE_EQ(stats.total_views(), 10);
  {
    v1::ResetRoomRequest reset;
    reset.set_room_id("feed");
    v1::ResetRoomResponse response;
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->ResetRoom(&context, reset, &response).ok());
  }
  EXPECT_DOUBLE_EQ(Stats("feed").arms(1).counts().views(), 0);
  {
    v1::DeleteRoomRequest del;
    del.set_room_id("feed");
    v1::DeleteRoomResponse response;
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->DeleteRoom(&context, del, &response).ok());
  }
  v1::GetRoomRequest get;
  get.set_room_id("feed");
  v1::GetRoomResponse room;
  grpc::ClientContext context;
  EXPECT_EQ(stub_->GetRoom(&context, get, &room).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(BanditServiceTest, ErrorsCarryCodeAndField) {
  ASSERT_TRUE(CreateRoom("r", {"a", "b"}).ok());
  struct Case {
    grpc::Status status;
    grpc::StatusCode code;
    std::string field;
  };
  std::vector<v1::FeedbackEvent> negative = {Event("r", "a", 1, 0),
                                             Event("r", "a", -1, 0)};
  v1::FeedbackEvent nan_reward = Event("r", "a", 1, 1);
  nan_reward.set_reward(std::nan(""));
  std::vector<v1::FeedbackEvent> too_many(101, Event("r", "a", 1, 0));
  std::vector<Case> cases = {
      {CreateRoom("r", {}), grpc::StatusCode::ALREADY_EXISTS, "room_id"},
      {CreateRoom("x", {"a", "a"}), grpc::StatusCode::ALREADY_EXISTS,
       "arm_ids[1]"},
      {CreateRoom("", {}), grpc::StatusCode::INVALID_ARGUMENT, "room_id"},
      {CreateRoom("bad id!", {}), grpc::StatusCode::INVALID_ARGUMENT,
       "room_id"},
      {CreateRoom("y", {}, static_cast<v1::PolicyType>(99)),
       grpc::StatusCode::INVALID_ARGUMENT, "policy.type"},
      {Feedback({Event("nope", "a", 1, 0)}), grpc::StatusCode::NOT_FOUND,
       "events[0].room_id"},
      {Feedback({Event("r", "zz", 1, 0)}), grpc::StatusCode::NOT_FOUND,
       "events[0].arm_id"},
      {Feedback(negative), grpc::StatusCode::INVALID_ARGUMENT,
       "events[1].views"},
      {Feedback({nan_reward}), grpc::StatusCode::INVALID_ARGUMENT,
       "events[0].reward"},
      {Feedback(too_many), grpc::StatusCode::INVALID_ARGUMENT, "events"},
      {Feedback({}), grpc::StatusCode::INVALID_ARGUMENT, "events"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(c.status.error_code(), c.code) << c.field;
    EXPECT_THAT(c.status.error_message(), HasSubstr(c.field));
    // The same field, as data: google.rpc.BadRequest in the status details.
    google::rpc::Status details;
    ASSERT_TRUE(details.ParseFromString(c.status.error_details())) << c.field;
    EXPECT_EQ(details.code(), c.code);
    EXPECT_EQ(details.message(), c.status.error_message());
    ASSERT_EQ(details.details_size(), 1) << c.field;
    google::rpc::BadRequest bad_request;
    ASSERT_TRUE(details.details(0).UnpackTo(&bad_request)) << c.field;
    ASSERT_EQ(bad_request.field_violations_size(), 1) << c.field;
    EXPECT_EQ(bad_request.field_violations(0).field(), c.field);
    EXPECT_EQ(absl::StrCat(c.field, ": ",
                           bad_request.field_violations(0).description()),
              c.status.error_message());
  }
  // Nothing from the failed batches was applied.
  EXPECT_DOUBLE_EQ(Stats("r").arms(0).counts().views(), 0);

  v1::SampleRequest sample;
  sample.set_room_id("r");
  sample.set_k(-1);
  v1::SampleResponse response;
  {
    grpc::ClientContext context;
    grpc::Status status = stub_->Sample(&context, sample, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), HasSubstr("k:"));
  }
  sample.set_k(1);
  for (int i = 0; i < 33; ++i) sample.add_context_items("hour=1");
  {
    grpc::ClientContext context;
    EXPECT_EQ(stub_->Sample(&context, sample, &response).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  ASSERT_TRUE(CreateRoom("empty", {}).ok());
  sample.clear_context_items();
  sample.set_room_id("empty");
  {
    grpc::ClientContext context;
    EXPECT_EQ(stub_->Sample(&context, sample, &response).error_code(),
              grpc::StatusCode::FAILED_PRECONDITION);
  }
  v1::ListRoomsRequest list;
  list.set_page_token("%%%");
  v1::ListRoomsResponse rooms;
  grpc::ClientContext context;
  grpc::Status status = stub_->ListRooms(&context, list, &rooms);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("page_token"));
}

TEST_F(BanditServiceTest, ListRoomsPagesWithOpaqueTokens) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(CreateRoom(absl::StrCat("room-", i), {"a"}).ok());
  }
  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    v1::ListRoomsRequest request;
    request.set_page_size(2);
    request.set_page_token(token);
    v1::ListRoomsResponse response;
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->ListRooms(&context, request, &response).ok());
    for (const v1::Room& room : response.rooms())
      seen.push_back(room.room_id());
    token = response.next_page_token();
    ++pages;
  } while (!token.empty());
  EXPECT_EQ(pages, 3);
  EXPECT_THAT(seen,
              ElementsAre("room-0", "room-1", "room-2", "room-3", "room-4"));
}

TEST_F(BanditServiceTest, SegmentsAndContextThroughTheApi) {
  ASSERT_TRUE(CreateRoom("r", {"a", "b"}).ok());
  v1::FeedbackEvent e = Event("r", "a", 10, 2);
  e.set_segment("country=PL");
  e.add_context_items("hour=13");
  e.set_reward(7.5);
  ASSERT_TRUE(Feedback({e, Event("r", "b", 5, 0)}).ok());
  v1::GetStatsResponse pl = Stats("r", "country=PL", true);
  EXPECT_EQ(pl.segment(), "country=PL");
  EXPECT_DOUBLE_EQ(pl.arms(0).counts().reward_sum(), 7.5);
  ASSERT_EQ(pl.arms(0).context_size(), 1);
  EXPECT_EQ(pl.arms(0).context(0).context_item(), "hour=13");
  EXPECT_DOUBLE_EQ(pl.arms(0).context(0).ctr(), 0.2);
  EXPECT_DOUBLE_EQ(pl.arms(1).counts().views(), 0);
  v1::GetStatsResponse all = Stats("r");
  EXPECT_DOUBLE_EQ(all.total_views(), 15);
}

TEST_F(BanditServiceTest, EventIdsMakeRetriesSafe) {
  ASSERT_TRUE(CreateRoom("r", {"a"}).ok());
  v1::FeedbackEvent e = Event("r", "a", 1, 1);
  e.set_event_id("click-123");
  v1::FeedbackResponse first, retry;
  ASSERT_TRUE(Feedback({e}, &first).ok());
  ASSERT_TRUE(Feedback({e}, &retry).ok());
  EXPECT_EQ(first.applied_events(), 1);
  EXPECT_EQ(first.duplicate_events(), 0);
  EXPECT_EQ(retry.applied_events(), 0);
  EXPECT_EQ(retry.duplicate_events(), 1);
  EXPECT_DOUBLE_EQ(Stats("r").arms(0).counts().clicks(), 1);
}

TEST_F(BanditServiceTest, ConcurrentFeedbackGivesExactTotals) {
  ASSERT_TRUE(CreateRoom("r1", {"a", "b"}).ok());
  ASSERT_TRUE(CreateRoom("r2", {"a"}).ok());
  constexpr int kThreads = 8;
  constexpr int kCalls = 200;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto stub = v1::BanditService::NewStub(channel_);
      for (int i = 0; i < kCalls; ++i) {
        v1::FeedbackRequest request;
        *request.add_events() = Event("r1", t % 2 == 0 ? "a" : "b", 3, 1);
        *request.add_events() = Event("r2", "a", 1, 0);
        v1::FeedbackResponse response;
        grpc::ClientContext context;
        if (!stub->Feedback(&context, request, &response).ok()) ++failures;
        // Reads interleave with writes.
        v1::SampleRequest sample;
        sample.set_room_id("r1");
        v1::SampleResponse sampled;
        grpc::ClientContext sample_context;
        if (!stub->Sample(&sample_context, sample, &sampled).ok()) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  v1::GetStatsResponse r1 = Stats("r1");
  EXPECT_DOUBLE_EQ(r1.arms(0).counts().views(), 3.0 * kCalls * kThreads / 2);
  EXPECT_DOUBLE_EQ(r1.arms(1).counts().clicks(), 1.0 * kCalls * kThreads / 2);
  EXPECT_DOUBLE_EQ(r1.total_views(), 3.0 * kCalls * kThreads);
  EXPECT_DOUBLE_EQ(Stats("r2").arms(0).counts().views(), kCalls * kThreads);
}

TEST_F(BanditServiceTest, SampleHonoursCandidatesAndSeed) {
  ASSERT_TRUE(CreateRoom("r", {"a", "b", "c", "d"}).ok());
  v1::SampleRequest sample;
  sample.set_room_id("r");
  sample.set_k(4);
  sample.add_candidate_arm_ids("b");
  sample.add_candidate_arm_ids("d");
  sample.add_excluded_arm_ids("d");
  sample.set_seed(7);
  v1::SampleResponse first, second;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->Sample(&context, sample, &first).ok());
  }
  ASSERT_EQ(first.arms_size(), 1);
  EXPECT_EQ(first.arms(0).arm_id(), "b");
  sample.clear_candidate_arm_ids();
  sample.clear_excluded_arm_ids();
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->Sample(&context, sample, &first).ok());
  }
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->Sample(&context, sample, &second).ok());
  }
  ASSERT_EQ(first.arms_size(), 4);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(first.arms(i).arm_id(), second.arms(i).arm_id());
  }
}

TEST_F(BanditServiceTest, HealthServiceReportsServing) {
  grpc::health::v1::HealthCheckResponse::ServingStatus serving;
  grpc::Status status = banditd::testing::CheckHealth(channel_, "", &serving);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(serving, grpc::health::v1::HealthCheckResponse::SERVING);
  status = banditd::testing::CheckHealth(channel_, "banditd.v1.BanditService",
                                         &serving);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(serving, grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST_F(BanditServiceTest, ASecondServerOnTheSamePortFails) {
  ServerOptions options;
  options.address = absl::StrCat("127.0.0.1:", port_);
  // A service serves one server (gRPC's asynchronous API).
  BanditService second_service(engine_.get(), committer_.get());
  absl::StatusOr<std::unique_ptr<RunningServer>> second =
      StartServer(options, &second_service);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(second.status().message(),
              HasSubstr(absl::StrCat("127.0.0.1:", port_)));
  // The first server keeps every connection.
  EXPECT_TRUE(CreateRoom("still-here", {"a"}).ok());
}

TEST_F(BanditServiceTest, HealthWatchEndsAtShutdown) {
  auto health = grpc::health::v1::Health::NewStub(channel_);
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  grpc::ClientContext watch_context;
  std::unique_ptr<grpc::ClientReader<grpc::health::v1::HealthCheckResponse>>
      watch = health->Watch(&watch_context, request);
  ASSERT_TRUE(watch->Read(&response));
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  server_->grpc().GetHealthCheckService()->SetServingStatus(false);
  ASSERT_TRUE(watch->Read(&response));
  EXPECT_EQ(response.status(),
            grpc::health::v1::HealthCheckResponse::NOT_SERVING);

  server_->grpc().GetHealthCheckService()->Shutdown();
  EXPECT_FALSE(watch->Read(&response));
  grpc::Status ended = watch->Finish();
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(ended.error_message(), HasSubstr("shutting down"));

  // A Watch opened after Shutdown gets NOT_SERVING and ends; SERVING cannot
  // come back; Check still answers, and NOT_FOUND for an unknown service.
  server_->grpc().GetHealthCheckService()->SetServingStatus(true);
  grpc::ClientContext late_context;
  auto late = health->Watch(&late_context, request);
  ASSERT_TRUE(late->Read(&response));
  EXPECT_EQ(response.status(),
            grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  EXPECT_FALSE(late->Read(&response));
  EXPECT_EQ(late->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  grpc::health::v1::HealthCheckResponse::ServingStatus status;
  EXPECT_TRUE(testing::CheckHealth(channel_, "", &status).ok());
  EXPECT_EQ(status, grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(
      testing::CheckHealth(channel_, "no.such.Service", &status).error_code(),
      grpc::StatusCode::NOT_FOUND);
}

TEST_F(BanditServiceTest, FeedbackCitingADecisionIsCreditedToIt) {
  ASSERT_TRUE(CreateRoom("r", {"a", "b", "c"}).ok());
  v1::SampleRequest sample;
  sample.set_room_id("r");
  sample.set_segment("country=PL");
  sample.add_context_items("hour=13");
  sample.set_seed(1);
  v1::SampleResponse one;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->Sample(&context, sample, &one).ok());
  }
  ASSERT_EQ(one.decision_id().size(), 32u);
  // A later click names only the decision.
  v1::FeedbackEvent click;
  click.set_decision_id(one.decision_id());
  click.set_views(1);
  click.set_clicks(1);
  ASSERT_TRUE(Feedback({click}).ok());
  const std::string arm = one.arms(0).arm_id();
  v1::GetStatsResponse pl = Stats("r", "country=PL", true);
  for (const v1::ArmStats& a : pl.arms()) {
    EXPECT_DOUBLE_EQ(a.counts().clicks(), a.arm_id() == arm ? 1 : 0);
    if (a.arm_id() == arm) {
      ASSERT_EQ(a.context_size(), 1);
      EXPECT_EQ(a.context(0).context_item(), "hour=13");
    }
  }

  // With k = 2 the arm must be named, and must be one of the decision's.
  sample.set_k(2);
  v1::SampleResponse two;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->Sample(&context, sample, &two).ok());
  }
  v1::FeedbackEvent e;
  e.set_decision_id(two.decision_id());
  e.set_clicks(1);
  grpc::Status status = Feedback({e});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("events[0].arm_id"));
  std::string missing = "a";
  for (const std::string id : {"a", "b", "c"}) {
    if (id != two.arms(0).arm_id() && id != two.arms(1).arm_id()) missing = id;
  }
  e.set_arm_id(missing);
  EXPECT_EQ(Feedback({e}).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  e.set_arm_id(two.arms(1).arm_id());
  e.set_room_id("other");
  status = Feedback({e});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("events[0].room_id"));
  e.clear_room_id();
  EXPECT_TRUE(Feedback({e}).ok());

  v1::FeedbackEvent unknown;
  unknown.set_decision_id("0123456789abcdef0123456789abcdef");
  unknown.set_clicks(1);
  status = Feedback({Event("r", "a", 1, 0), unknown});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(), HasSubstr("events[1].decision_id"));
  EXPECT_DOUBLE_EQ(Stats("r").arms(0).counts().views(), 0);  // nothing applied

  // The cache holds three decisions: two more samples evict the first.
  for (int i = 0; i < 2; ++i) {
    v1::SampleResponse ignored;
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->Sample(&context, sample, &ignored).ok());
  }
  EXPECT_EQ(Feedback({click}).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(BanditServiceTest, RoomConfigAndNewPoliciesThroughTheApi) {
  v1::CreateRoomRequest create;
  create.set_room_id("lin");
  create.add_arm_ids("a");
  create.add_arm_ids("b");
  create.mutable_policy()->set_type(v1::POLICY_TYPE_LINUCB);
  create.mutable_decay()->set_half_life_events(1000);
  create.mutable_linucb()->set_dimension(2);
  v1::CreateRoomResponse created;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->CreateRoom(&context, create, &created).ok());
  }
  EXPECT_EQ(created.room().linucb().dimension(), 2);
  EXPECT_DOUBLE_EQ(created.room().linucb().lambda(), 1.0);
  EXPECT_DOUBLE_EQ(created.room().decay().half_life_events(), 1000);
  {
    v1::GetRoomRequest get;
    get.set_room_id("lin");
    v1::GetRoomResponse room;
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->GetRoom(&context, get, &room).ok());
    EXPECT_EQ(room.room().linucb().dimension(), 2);
    EXPECT_EQ(room.room().policy().type(), v1::POLICY_TYPE_LINUCB);
  }
  v1::SampleRequest sample;
  sample.set_room_id("lin");
  sample.add_features(1.0);
  sample.add_features(0.0);
  sample.mutable_policy()->set_linucb_alpha(0.0);
  v1::SampleResponse response;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->Sample(&context, sample, &response).ok());
  }
  // Reward 3 for arm b at x = (1, 0): theta_b = 3/2 with lambda 1.
  v1::FeedbackEvent e = Event("lin", "b", 1, 1);
  e.set_reward(3.0);
  e.add_features(1.0);
  e.add_features(0.0);
  ASSERT_TRUE(Feedback({e}).ok());
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->Sample(&context, sample, &response).ok());
  }
  // The room decays (half-life 1000 events), linear models included: the
  // prior lambda I has aged one event, A = 2^(-1/1000) + 1, theta = 3 / A.
  EXPECT_EQ(response.arms(0).arm_id(), "b");
  EXPECT_DOUBLE_EQ(response.arms(0).score(),
                   3.0 / (std::exp2(-1.0 / 1000) + 1));
  // Wrong feature count names the field.
  sample.add_features(2.0);
  grpc::ClientContext context;
  grpc::Status status = stub_->Sample(&context, sample, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("features"));

  v1::GetStatsResponse stats = Stats("lin");
  EXPECT_DOUBLE_EQ(stats.arms(1).reward_mean(), 3.0);
  ASSERT_TRUE(CreateRoom("feed", {"x", "y"}, v1::POLICY_TYPE_HOT_COLD).ok());
  ASSERT_TRUE(CreateRoom("shop", {"x"}, v1::POLICY_TYPE_REWARD_THOMPSON).ok());
}

}  // namespace
}  // namespace banditd::service
