// The experiment RPCs: UpdateRoom's field mask (server/service/
// room_update.cc), UpdateRoom and ResetArm through a real server, and
// GetStats' winner analysis (winner_convert.cc).

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "banditd/v1/banditd.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "server/core/engine.h"
#include "server/service/bandit_service.h"
#include "server/service/room_update.h"
#include "server/service/server.h"
#include "server/store/memory_committer.h"

namespace banditd::service {
namespace {

using ::testing::HasSubstr;

v1::UpdateRoomRequest Request(std::vector<std::string> paths) {
  v1::UpdateRoomRequest request;
  request.mutable_room()->set_room_id("r");
  for (std::string& p : paths) request.mutable_update_mask()->add_paths(p);
  return request;
}

TEST(UpdateRoomFromProtoTest, MaskedParametersOnly) {
  v1::UpdateRoomRequest request = Request({"policy.epsilon"});
  request.mutable_room()->mutable_policy()->set_epsilon(0.2);
  request.mutable_room()->mutable_policy()->set_ucb_alpha(7);  // not masked
  request.mutable_room()->mutable_decay()->set_half_life_events(9);
  absl::StatusOr<core::UpdateRoom> update = UpdateRoomFromProto(request);
  ASSERT_TRUE(update.ok()) << update.status();
  core::PolicyOverride expected;
  expected.epsilon = 0.2;
  EXPECT_EQ(update->policy, expected);
  EXPECT_FALSE(update->half_life_events.has_value());
  EXPECT_FALSE(update->half_life_seconds.has_value());
}

TEST(UpdateRoomFromProtoTest, MaskedButUnsetMeansDefault) {
  // AIP-134: a masked field absent from the request is cleared, here to the
  // documented default.
  absl::StatusOr<core::UpdateRoom> update = UpdateRoomFromProto(
      Request({"policy.bucb_z", "policy.type", "decay.half_life_seconds"}));
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_EQ(update->policy.bucb_z, 1.96);
  EXPECT_EQ(update->policy.kind, core::PolicyKind::kUcb1);
  EXPECT_EQ(update->half_life_seconds, 0);
  EXPECT_FALSE(update->half_life_events.has_value());
}

TEST(UpdateRoomFromProtoTest, WholePolicyAndStar) {
  v1::UpdateRoomRequest request = Request({"policy"});
  request.mutable_room()->mutable_policy()->set_type(v1::POLICY_TYPE_THOMPSON);
  absl::StatusOr<core::UpdateRoom> update = UpdateRoomFromProto(request);
  ASSERT_TRUE(update.ok());
  core::PolicyParams thompson;
  thompson.kind = core::PolicyKind::kThompson;
  core::PolicyParams before;
  before.ucb_alpha = 5;
  EXPECT_EQ(update->policy.ApplyTo(before), thompson);
  EXPECT_FALSE(update->half_life_events.has_value());
  update = UpdateRoomFromProto(Request({"*"}));
  ASSERT_TRUE(update.ok());
  EXPECT_EQ(update->half_life_events, 0);
  EXPECT_EQ(update->half_life_seconds, 0);
  EXPECT_EQ(update->policy.kind, core::PolicyKind::kUcb1);
}

TEST(UpdateRoomFromProtoTest, EmptyMaskMeansTheFieldsThatAreSet) {
  v1::UpdateRoomRequest request = Request({});
  request.mutable_room()->mutable_policy()->set_hot_max(3);
  absl::StatusOr<core::UpdateRoom> update = UpdateRoomFromProto(request);
  ASSERT_TRUE(update.ok());
  core::PolicyOverride expected;
  expected.hot_max = 3;
  EXPECT_EQ(update->policy, expected);
  EXPECT_FALSE(update->half_life_events.has_value());

  request.mutable_room()->mutable_decay();  // present, all zero: decay off
  update = UpdateRoomFromProto(request);
  ASSERT_TRUE(update.ok());
  EXPECT_EQ(update->half_life_events, 0);

  absl::Status none = UpdateRoomFromProto(Request({})).status();
  EXPECT_EQ(none.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(none.message(), HasSubstr("update_mask"));
}

TEST(UpdateRoomFromProtoTest, UnknownAndImmutablePathsAreNamed) {
  for (const auto& [path, why] :
       std::vector<std::pair<std::string, std::string>>{
           {"policy.nope", "not a field of Policy"},
           {"decay.half_life", "not an updatable field"},
           {"linucb.dimension", "cannot be changed"},
           {"arms", "cannot be changed"},
           {"room_id", "cannot be changed"},
           {"", "not an updatable field"}}) {
    absl::Status s =
        UpdateRoomFromProto(Request({"policy.epsilon", path})).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << path;
    EXPECT_THAT(s.message(),
                HasSubstr(absl::StrCat("update_mask.paths[1]: \"", path)));
    EXPECT_THAT(s.message(), HasSubstr(why));
  }
}

class RoomEditServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    committer_ = std::make_unique<store::MemoryCommitter>(&engine_);
    service_ = std::make_unique<BanditService>(&engine_, committer_.get());
    absl::StatusOr<std::unique_ptr<RunningServer>> running =
        StartServer({}, service_.get());
    ASSERT_TRUE(running.ok()) << running.status();
    server_ = *std::move(running);
    stub_ = v1::BanditService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                            grpc::InsecureChannelCredentials()));
    v1::CreateRoomRequest create;
    create.set_room_id("r");
    create.add_arm_ids("a");
    create.add_arm_ids("b");
    create.mutable_policy()->set_type(v1::POLICY_TYPE_BUCB);
    create.mutable_policy()->set_bucb_z(2.5);
    v1::CreateRoomResponse created;
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->CreateRoom(&context, create, &created).ok());
    v1::FeedbackRequest feedback;
    for (const char* arm : {"a", "b"}) {
      for (const char* segment : {"", "s"}) {
        v1::FeedbackEvent* e = feedback.add_events();
        e->set_room_id("r");
        e->set_arm_id(arm);
        e->set_segment(segment);
        e->set_views(10);
        e->set_clicks(2);
      }
    }
    v1::FeedbackResponse fed;
    grpc::ClientContext feed_context;
    ASSERT_TRUE(stub_->Feedback(&feed_context, feedback, &fed).ok());
  }

  void TearDown() override {
    server_->Shutdown();
    committer_->Shutdown();
  }

  double Views(const std::string& arm, const std::string& segment) {
    absl::StatusOr<core::Stats> stats = engine_.GetStats("r", segment, false);
    for (const core::ArmStat& a : stats->arms) {
      if (a.arm_id == arm) return a.counts.views;
    }
    return -1;
  }

  core::Engine engine_;
  std::unique_ptr<store::MemoryCommitter> committer_;
  std::unique_ptr<BanditService> service_;
  std::unique_ptr<RunningServer> server_;
  std::unique_ptr<v1::BanditService::Stub> stub_;
};

TEST_F(RoomEditServiceTest, UpdateRoomRepliesWithTheUpdatedRoom) {
  v1::UpdateRoomRequest request = Request({"policy.type", "decay"});
  request.mutable_room()->mutable_policy()->set_type(v1::POLICY_TYPE_UCB1);
  request.mutable_room()->mutable_decay()->set_half_life_seconds(60);
  v1::UpdateRoomResponse response;
  grpc::ClientContext context;
  grpc::Status status = stub_->UpdateRoom(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.room().policy().type(), v1::POLICY_TYPE_UCB1);
  EXPECT_EQ(response.room().policy().bucb_z(), 2.5);  // kept
  EXPECT_EQ(response.room().decay().half_life_seconds(), 60);
  EXPECT_EQ(response.room().arms_size(), 0);  // BASIC view: counted
  EXPECT_EQ(response.room().arm_count(), 2);
  EXPECT_EQ(Views("a", ""), 20);  // counters kept
}

TEST_F(RoomEditServiceTest, UpdateRoomErrors) {
  v1::UpdateRoomRequest bad = Request({"policy.epsilon"});
  bad.mutable_room()->mutable_policy()->set_epsilon(2);
  v1::UpdateRoomResponse response;
  {
    grpc::ClientContext context;
    grpc::Status s = stub_->UpdateRoom(&context, bad, &response);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("room.policy.epsilon"));
  }
  {
    grpc::ClientContext context;
    grpc::Status s =
        stub_->UpdateRoom(&context, Request({"linucb"}), &response);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("update_mask.paths[0]"));
  }
  {
    v1::UpdateRoomRequest missing = Request({"policy.epsilon"});
    missing.mutable_room()->set_room_id("nope");
    grpc::ClientContext context;
    grpc::Status s = stub_->UpdateRoom(&context, missing, &response);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_THAT(s.error_message(), HasSubstr("room.room_id"));
  }
  EXPECT_EQ(engine_.GetRoom("r")->policy.kind, core::PolicyKind::kBucb);
}

TEST_F(RoomEditServiceTest, ResetArmInOneSegmentOrEverywhere) {
  v1::ResetArmRequest request;
  request.set_room_id("r");
  request.set_arm_id("a");
  request.set_segment("s");
  v1::ResetArmResponse response;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->ResetArm(&context, request, &response).ok());
  }
  EXPECT_EQ(Views("a", "s"), 0);
  EXPECT_EQ(Views("a", ""), 20);
  request.clear_segment();
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->ResetArm(&context, request, &response).ok());
  }
  EXPECT_EQ(Views("a", ""), 0);
  EXPECT_EQ(Views("b", ""), 20);
  EXPECT_EQ(Views("b", "s"), 10);
  request.set_arm_id("zz");
  grpc::ClientContext context;
  grpc::Status s = stub_->ResetArm(&context, request, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(s.error_message(), HasSubstr("arm_id"));
}

TEST_F(RoomEditServiceTest, GetStatsWinnerAnalysisIsOptIn) {
  v1::GetStatsRequest request;
  request.set_room_id("r");
  request.set_segment("s");
  v1::GetStatsResponse plain;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->GetStats(&context, request, &plain).ok());
  }
  EXPECT_FALSE(plain.has_winner());
  EXPECT_FALSE(plain.arms(0).has_winner());

  // In s, a has 10 views and 2 clicks; b gets 210 views, 102 clicks.
  v1::FeedbackRequest feedback;
  v1::FeedbackEvent* e = feedback.add_events();
  e->set_room_id("r");
  e->set_arm_id("b");
  e->set_segment("s");
  e->set_views(200);
  e->set_clicks(100);
  v1::FeedbackResponse fed;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->Feedback(&context, feedback, &fed).ok());
  }
  request.mutable_winner_analysis()->set_draws(5000);
  request.mutable_winner_analysis()->set_seed(3);
  request.mutable_winner_analysis()->set_loss_threshold(0.01);
  v1::GetStatsResponse a, b;
  for (v1::GetStatsResponse* out : {&a, &b}) {
    grpc::ClientContext context;
    grpc::Status s = stub_->GetStats(&context, request, out);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  EXPECT_EQ(a.winner().best_arm_id(), "b");
  EXPECT_EQ(a.winner().draws(), 5000);
  EXPECT_EQ(a.winner().posterior(), "beta");
  EXPECT_TRUE(a.winner().can_stop());
  EXPECT_GT(a.arms(1).winner().prob_best(), 0.9);
  EXPECT_NEAR(a.arms(0).winner().prob_best() + a.arms(1).winner().prob_best(),
              1.0, 1e-12);
  // a's loss is about the gap in posterior means: 103 / 212 - 3 / 12.
  EXPECT_NEAR(a.arms(0).winner().expected_loss(), 103.0 / 212 - 3.0 / 12, 0.02);
  // Seeded: the same answer twice.
  EXPECT_EQ(a.arms(0).winner().expected_loss(),
            b.arms(0).winner().expected_loss());

  request.mutable_winner_analysis()->set_loss_threshold(-1);
  grpc::ClientContext context;
  grpc::Status s = stub_->GetStats(&context, request, &b);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("winner_analysis.loss_threshold"));
}

}  // namespace
}  // namespace banditd::service
