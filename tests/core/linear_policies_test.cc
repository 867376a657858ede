// LinTS and decay of the linear models (issue 13), with hand-computed values.

#include <cmath>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "server/core/engine.h"
#include "server/core/linucb.h"
#include "tests/testing/core_builders.h"

namespace banditd::core {
namespace {

using ::banditd::testing::Batch;
using ::banditd::testing::Event;
using ::banditd::testing::NewRoom;

CreateRoom LinearRoom(DecayConfig decay) {
  CreateRoom create = NewRoom("lin", {"a"});
  create.linucb = {.dimension = 1, .lambda = 1.0};
  create.decay = decay;
  return create;
}

FeedbackEvent LinearEvent(int64_t views, int64_t clicks, double x) {
  FeedbackEvent e = Event("lin", "a", views, clicks);
  e.features = {x};
  return e;
}

absl::StatusOr<SampleResult> SampleLinear(const Engine& engine, PolicyKind kind,
                                          uint64_t seed = 0) {
  SampleQuery q;
  q.room_id = "lin";
  q.policy.kind = kind;
  q.features = {1.0};
  q.seed = seed;
  return engine.Sample(q);
}

TEST(LinUcbArmTest, RescaleFoldsTheScaleIn) {
  LinUcbArm model(1, 1.0);
  model.AddImpression(std::vector<double>{1.0}, 3);  // A = 4
  model.AddReward(std::vector<double>{1.0}, 2);      // b = 2
  model.Rescale(0.5);  // true A = 0.5 * 4 = 2, b = 1
  EXPECT_DOUBLE_EQ(model.a_inverse()[0], 0.5);
  EXPECT_DOUBLE_EQ(model.b()[0], 1.0);
  EXPECT_DOUBLE_EQ(model.theta()[0], 0.5);  // unchanged: 2 / 4 = 1 / 2
  EXPECT_DOUBLE_EQ(model.Variance(std::vector<double>{2.0}), 4 * 0.5);
}

// Half-life of one event, lambda 1, x = 1:
//   event 1 (scale 1/2): A = 1/2 + 1 = 3/2, b = 1;
//   event 2 (scale 1/4): A = 1/4 + 1/2 + 1 = 7/4, b = 1/2.
// theta = 2/7, x^T A^-1 x = 4/7.
TEST(LinearDecayTest, ModelsForgetWithTheRoomsHalfLife) {
  Engine engine;
  ASSERT_TRUE(engine.Apply(LinearRoom({.half_life_events = 1})).ok());
  ASSERT_TRUE(engine.Apply(Batch({LinearEvent(1, 1, 1.0)})).ok());
  ASSERT_TRUE(engine.Apply(Batch({LinearEvent(1, 0, 1.0)})).ok());
  absl::StatusOr<SampleResult> ucb = SampleLinear(engine, PolicyKind::kLinUcb);
  ASSERT_TRUE(ucb.ok()) << ucb.status();
  EXPECT_NEAR(ucb->arms[0].score, 2.0 / 7 + std::sqrt(4.0 / 7), 1e-12);
}

TEST(LinearDecayTest, WithoutDecayNothingChanges) {
  Engine engine;
  ASSERT_TRUE(engine.Apply(LinearRoom({})).ok());
  ASSERT_TRUE(engine.Apply(Batch({LinearEvent(1, 1, 1.0)})).ok());
  ASSERT_TRUE(engine.Apply(Batch({LinearEvent(1, 0, 1.0)})).ok());
  // A = 3, b = 1.
  EXPECT_NEAR(SampleLinear(engine, PolicyKind::kLinUcb)->arms[0].score,
              1.0 / 3 + std::sqrt(1.0 / 3), 1e-12);
}

TEST(LinearDecayTest, RenormalisationKeepsTheScores) {
  // 600 events at a half-life of one event drive the scale below 1e-150
  // (2^-500), where the room folds it into the stored values; the score
  // must be what the same events give without the fold: the fixed point
  // A = 1/2 A + 1 (= 2), b = 1/2 b + 1 (= 2) for clicks each time.
  Engine engine;
  ASSERT_TRUE(engine.Apply(LinearRoom({.half_life_events = 1})).ok());
  for (int i = 0; i < 600; ++i) {
    ASSERT_TRUE(engine.Apply(Batch({LinearEvent(1, 1, 1.0)})).ok());
  }
  EXPECT_NEAR(SampleLinear(engine, PolicyKind::kLinUcb)->arms[0].score,
              1.0 + std::sqrt(0.5), 1e-9);
}

absl::StatusOr<SampleResult> SampleLinTs(const Engine& engine, uint64_t seed,
                                         std::optional<double> scale) {
  SampleQuery q;
  q.room_id = "lin";
  q.policy.kind = PolicyKind::kLinTs;
  q.policy.linucb_alpha = scale;
  q.features = {1.0};
  q.seed = seed;
  return engine.Sample(q);
}

// Mean and variance of `draws` LinTS scores of the "lin" room's arm.
std::pair<double, double> LinTsMoments(const Engine& engine, int draws,
                                       std::optional<double> scale) {
  double sum = 0, sq = 0;
  for (int s = 0; s < draws; ++s) {
    const double x = SampleLinTs(engine, s, scale)->arms[0].score;
    sum += x;
    sq += x * x;
  }
  const double mean = sum / draws;
  return {mean, sq / draws - mean * mean};
}

// LinTS: Normal(x^T theta, v^2 x^T A^-1 x); here A = 3, b = 1, so the draws
// have mean 1/3 and variance v^2 / 3.
TEST(LinTsTest, DrawsAroundTheRidgeEstimate) {
  Engine engine;
  ASSERT_TRUE(engine.Apply(LinearRoom({})).ok());
  ASSERT_TRUE(engine.Apply(Batch({LinearEvent(1, 1, 1.0)})).ok());
  ASSERT_TRUE(engine.Apply(Batch({LinearEvent(1, 0, 1.0)})).ok());
  constexpr int kDraws = 20000;
  const auto [mean, variance] = LinTsMoments(engine, kDraws, 1.0);
  EXPECT_NEAR(mean, 1.0 / 3, 4 * std::sqrt(1.0 / 3 / kDraws));
  EXPECT_NEAR(variance, 1.0 / 3, 0.03 * (1.0 / 3) * 2);
  // Seeded draws repeat.
  EXPECT_EQ(SampleLinTs(engine, 5, 1.0)->arms[0].score,
            SampleLinTs(engine, 5, 1.0)->arms[0].score);
}

// The room's policy is UCB1 (linucb_alpha 1.0, a LinUCB weight): a call
// switching to LIN_TS without a scale draws with LIN_TS's own default, not
// with the room's weight read as a scale (which explored like random).
TEST(LinTsTest, ACallSwitchingToLinTsGetsItsDefaultScale) {
  Engine engine;
  ASSERT_TRUE(engine.Apply(LinearRoom({})).ok());
  ASSERT_TRUE(engine.Apply(Batch({LinearEvent(1, 1, 1.0)})).ok());
  ASSERT_TRUE(engine.Apply(Batch({LinearEvent(1, 0, 1.0)})).ok());
  constexpr int kDraws = 20000;
  const double v = kLinTsDefaultScale;
  const auto [mean, variance] = LinTsMoments(engine, kDraws, std::nullopt);
  EXPECT_NEAR(mean, 1.0 / 3, 4 * std::sqrt(v * v / 3 / kDraws));
  EXPECT_NEAR(variance, v * v / 3, 0.06 * v * v / 3);
}

TEST(LinTsTest, DefaultsDependOnTheKindOnlyWhereTheMeaningDoes) {
  EXPECT_EQ(DefaultPolicyParams(PolicyKind::kLinTs).linucb_alpha,
            kLinTsDefaultScale);
  EXPECT_EQ(DefaultPolicyParams(PolicyKind::kLinUcb).linucb_alpha, 1.0);
  PolicyParams ts_room = DefaultPolicyParams(PolicyKind::kLinTs);
  ts_room.linucb_alpha = 0.3;
  PolicyOverride to_ucb;
  to_ucb.kind = PolicyKind::kLinUcb;
  EXPECT_EQ(to_ucb.ForCall(ts_room).linucb_alpha, 1.0);
  // A logged update keeps the room's value whatever the kind (replay).
  EXPECT_EQ(to_ucb.ApplyTo(ts_room).linucb_alpha, 0.3);
  PolicyOverride same_kind;
  same_kind.kind = PolicyKind::kLinTs;
  EXPECT_EQ(same_kind.ForCall(ts_room).linucb_alpha, 0.3);
  PolicyOverride set_scale = same_kind;
  set_scale.linucb_alpha = 0.7;
  EXPECT_EQ(
      set_scale.ForCall(DefaultPolicyParams(PolicyKind::kLinUcb)).linucb_alpha,
      0.7);
}

TEST(LinTsTest, NeedsFeaturesAndALinearRoom) {
  Engine engine;
  ASSERT_TRUE(engine.Apply(NewRoom("plain", {"a"})).ok());
  SampleQuery q;
  q.room_id = "plain";
  q.policy.kind = PolicyKind::kLinTs;
  absl::Status status = engine.Sample(q).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(std::string(status.message()).find("LIN_TS needs a room"),
            std::string::npos);
}

}  // namespace
}  // namespace banditd::core
