// UpdateRoom and ResetArm (server/core/engine_edit.cc).

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/engine.h"
#include "tests/testing/core_builders.h"

namespace banditd::core {
namespace {

using ::banditd::testing::Batch;
using ::banditd::testing::Event;
using ::banditd::testing::NewRoom;
using ::testing::HasSubstr;

class EngineEditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PolicyParams policy;
    policy.kind = PolicyKind::kThompson;
    policy.beta_prior_a = 2;
    policy.epsilon = 0.3;
    ASSERT_TRUE(engine_.Apply(NewRoom("r", {"a", "b", "c"}, policy)).ok());
  }

  Counts ArmCounts(const std::string& arm, const std::string& segment = "",
                   const std::string& item = "") {
    absl::StatusOr<Stats> stats = engine_.GetStats("r", segment, true);
    EXPECT_TRUE(stats.ok()) << stats.status();
    for (const ArmStat& a : stats->arms) {
      if (a.arm_id != arm) continue;
      if (item.empty()) return a.counts;
      for (const ContextStat& c : a.context) {
        if (c.context_item == item) return c.counts;
      }
      return {};
    }
    ADD_FAILURE() << "no arm " << arm;
    return {};
  }

  RoomInfo Room() {
    absl::StatusOr<RoomInfo> room = engine_.GetRoom("r");
    EXPECT_TRUE(room.ok()) << room.status();
    return *room;
  }

  Engine engine_;
};

TEST_F(EngineEditTest, UpdateRoomChangesOnlyTheGivenFieldsAndKeepsCounters) {
  ASSERT_TRUE(engine_.Apply(Batch({Event("r", "a", 10, 3, "s", {"i"})})).ok());
  UpdateRoom update;
  update.room_id = "r";
  update.policy.kind = PolicyKind::kEpsilonGreedy;
  update.policy.epsilon = 0.05;
  update.half_life_events = 100;
  ASSERT_TRUE(engine_.Apply(update).ok());
  const RoomInfo room = Room();
  EXPECT_EQ(room.policy.kind, PolicyKind::kEpsilonGreedy);
  EXPECT_EQ(room.policy.epsilon, 0.05);
  EXPECT_EQ(room.policy.beta_prior_a, 2);  // not in the update: kept
  EXPECT_EQ(room.decay.half_life_events, 100);
  EXPECT_EQ(ArmCounts("a"), (Counts{10, 3, 3}));
  EXPECT_EQ(ArmCounts("a", "s", "i"), (Counts{10, 3, 3}));
}

TEST_F(EngineEditTest, UpdatedDecayAppliesToLaterEventsOnly) {
  ASSERT_TRUE(engine_.Apply(Batch({Event("r", "a", 8, 0)})).ok());
  UpdateRoom update;
  update.room_id = "r";
  update.half_life_events = 1;
  ASSERT_TRUE(engine_.Apply(update).ok());
  EXPECT_EQ(ArmCounts("a").views, 8);
  // The next event halves what was there, then adds its own view.
  ASSERT_TRUE(engine_.Apply(Batch({Event("r", "a", 1, 0)})).ok());
  EXPECT_DOUBLE_EQ(ArmCounts("a").views, 5);
  update.half_life_events = 0;  // decay off again
  ASSERT_TRUE(engine_.Apply(update).ok());
  ASSERT_TRUE(engine_.Apply(Batch({Event("r", "a", 1, 0)})).ok());
  EXPECT_DOUBLE_EQ(ArmCounts("a").views, 6);
}

TEST_F(EngineEditTest, UpdateRoomRejectsBadResultAndChangesNothing) {
  UpdateRoom bad_epsilon;
  bad_epsilon.room_id = "r";
  bad_epsilon.policy.kind = PolicyKind::kCtr;
  bad_epsilon.policy.epsilon = 1.5;
  absl::Status s = engine_.Apply(bad_epsilon).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("room.policy.epsilon"));
  EXPECT_EQ(Room().policy.kind, PolicyKind::kThompson);

  UpdateRoom events;
  events.room_id = "r";
  events.half_life_events = 10;
  ASSERT_TRUE(engine_.Apply(events).ok());
  // Seconds on top of events is two half-lives: the result is checked.
  UpdateRoom seconds;
  seconds.room_id = "r";
  seconds.half_life_seconds = 5;
  s = engine_.Apply(seconds).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("room.decay"));
  // Switching from one to the other in one update is fine.
  seconds.half_life_events = 0;
  ASSERT_TRUE(engine_.Apply(seconds).ok());
  EXPECT_EQ(Room().decay, (DecayConfig{0, 5}));

  UpdateRoom missing;
  missing.room_id = "nope";
  EXPECT_EQ(engine_.Apply(missing).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(EngineEditTest, ResetArmEverywhere) {
  ASSERT_TRUE(engine_.Apply(SetArmEnabled{"r", "c", false}).ok());
  ASSERT_TRUE(engine_
                  .Apply(Batch({Event("r", "a", 10, 1, "s", {"i"}),
                                Event("r", "b", 20, 2, "s", {"i"}),
                                Event("r", "c", 5, 1, "s")}))
                  .ok());
  ASSERT_TRUE(engine_.Apply(ResetArm{"r", "a", std::nullopt}).ok());
  EXPECT_EQ(ArmCounts("a"), (Counts{}));
  EXPECT_EQ(ArmCounts("a", "s"), (Counts{}));
  EXPECT_EQ(ArmCounts("a", "s", "i"), (Counts{}));
  EXPECT_EQ(ArmCounts("b", "s", "i"), (Counts{20, 2, 2}));
  EXPECT_EQ(ArmCounts("b"), (Counts{20, 2, 2}));
  // N of UCB1 drops by the arm's views (c is disabled and never counted).
  EXPECT_EQ(engine_.GetStats("r", "", false)->total_views, 20);
  EXPECT_EQ(engine_.GetStats("r", "s", false)->total_views, 20);
  // Resetting the disabled arm leaves N alone, and later enabling it adds 0.
  ASSERT_TRUE(engine_.Apply(ResetArm{"r", "c", std::nullopt}).ok());
  ASSERT_TRUE(engine_.Apply(SetArmEnabled{"r", "c", true}).ok());
  EXPECT_EQ(engine_.GetStats("r", "", false)->total_views, 20);
}

TEST_F(EngineEditTest, ResetArmInOneSegment) {
  ASSERT_TRUE(engine_
                  .Apply(Batch({Event("r", "a", 10, 1, "s", {"i"}),
                                Event("r", "a", 7, 2, "t")}))
                  .ok());
  ASSERT_TRUE(engine_.Apply(ResetArm{"r", "a", "s"}).ok());
  EXPECT_EQ(ArmCounts("a", "s"), (Counts{}));
  EXPECT_EQ(ArmCounts("a", "s", "i"), (Counts{}));
  EXPECT_EQ(ArmCounts("a", "t"), (Counts{7, 2, 2}));
  EXPECT_EQ(ArmCounts("a"), (Counts{17, 3, 3}));  // whole room kept
  EXPECT_EQ(ArmCounts("a", "", "i"), (Counts{10, 1, 1}));
  // "" is the whole-room segment itself.
  ASSERT_TRUE(engine_.Apply(ResetArm{"r", "a", ""}).ok());
  EXPECT_EQ(ArmCounts("a"), (Counts{}));
  EXPECT_EQ(ArmCounts("a", "", "i"), (Counts{}));
  EXPECT_EQ(ArmCounts("a", "t"), (Counts{7, 2, 2}));
  // A segment with no counters yet is a no-op, not an error.
  EXPECT_TRUE(engine_.Apply(ResetArm{"r", "a", "unseen"}).ok());
}

TEST_F(EngineEditTest, ResetArmErrorsNameTheField) {
  absl::Status s = engine_.Apply(ResetArm{"r", "zz", std::nullopt}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr("arm_id"));
  s = engine_.Apply(ResetArm{"r", "a", "bad segment!"}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("segment"));
  EXPECT_EQ(engine_.Apply(ResetArm{"x", "a", std::nullopt}).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(EngineEditTest, ResetArmClearsItsLinUcbModelOnly) {
  CreateRoom create = NewRoom("lin", {"a", "b"});
  create.policy.kind = PolicyKind::kLinUcb;
  create.linucb.dimension = 2;
  ASSERT_TRUE(engine_.Apply(create).ok());
  FeedbackEvent e = Event("lin", "a", 1, 1);
  e.features = {1, 0};
  FeedbackEvent f = Event("lin", "b", 1, 1);
  f.features = {1, 0};
  ASSERT_TRUE(engine_.Apply(Batch({e, e, f, f})).ok());
  SampleQuery query;
  query.room_id = "lin";
  query.k = 2;
  query.features = {1, 0};
  absl::StatusOr<SampleResult> before = engine_.Sample(query);
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_TRUE(engine_.Apply(ResetArm{"lin", "a", std::nullopt}).ok());
  absl::StatusOr<SampleResult> after = engine_.Sample(query);
  ASSERT_TRUE(after.ok());
  // a's model is back to its prior (theta 0: mean 0, bonus 1/sqrt(lambda));
  // b's is untouched.
  for (const ScoredArm& arm : after->arms) {
    if (arm.arm_id == "a") {
      EXPECT_DOUBLE_EQ(arm.score, 1.0);
    }
    if (arm.arm_id == "b") {
      for (const ScoredArm& old : before->arms) {
        if (old.arm_id == "b") {
          EXPECT_DOUBLE_EQ(arm.score, old.score);
        }
      }
    }
  }
}

}  // namespace
}  // namespace banditd::core
