// Propensities and the exploration floor (server/core/propensity.cc): exact
// values where a closed form exists, and agreement with the frequencies at
// which unseeded calls actually return each arm (within 5 standard errors).

#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
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

class PropensityTest : public ::testing::Test {
 protected:
  void Room(PolicyKind kind, std::vector<std::pair<int, int>> views_clicks,
            double epsilon = 0.1) {
    PolicyParams policy;
    policy.kind = kind;
    policy.epsilon = epsilon;
    std::vector<std::string> arms;
    for (size_t i = 0; i < views_clicks.size(); ++i) {
      arms.push_back(std::string(1, static_cast<char>('a' + i)));
    }
    ASSERT_TRUE(engine_.Apply(NewRoom("r", arms, policy)).ok());
    std::vector<FeedbackEvent> events;
    for (size_t i = 0; i < arms.size(); ++i) {
      if (views_clicks[i].first == 0) continue;
      events.push_back(
          Event("r", arms[i], views_clicks[i].first, views_clicks[i].second));
    }
    if (!events.empty()) {
      ASSERT_TRUE(engine_.Apply(Batch(events)).ok());
    }
  }

  SampleQuery Query(int k = 1) {
    SampleQuery q;
    q.room_id = "r";
    q.k = k;
    q.propensities = true;
    return q;
  }

  // Propensity reported for each arm (whenever returned) and how often each
  // arm was returned, over `calls` unseeded calls.
  struct Observed {
    std::map<std::string, double> propensity;
    std::map<std::string, int> returned;
  };
  Observed Run(const SampleQuery& q, int calls) {
    Observed out;
    for (int c = 0; c < calls; ++c) {
      absl::StatusOr<SampleResult> r = engine_.Sample(q);
      EXPECT_TRUE(r.ok()) << r.status();
      if (!r.ok()) break;
      for (const ScoredArm& arm : r->arms) {
        EXPECT_TRUE(arm.propensity.has_value());
        ++out.returned[arm.arm_id];
        auto [it, added] = out.propensity.emplace(arm.arm_id, *arm.propensity);
        // Exact propensities do not change from call to call.
        if (!added && r->propensity_draws == 0) {
          EXPECT_DOUBLE_EQ(it->second, *arm.propensity) << arm.arm_id;
        }
      }
    }
    return out;
  }

  static void ExpectFrequency(int returned, int calls, double p) {
    const double se = std::sqrt(p * (1 - p) / calls);
    EXPECT_NEAR(static_cast<double>(returned) / calls, p, 5 * se + 1e-12);
  }

  Engine engine_;
};

TEST_F(PropensityTest, UnseenArmsTieUnderCtr) {
  Room(PolicyKind::kCtr, {{0, 0}, {0, 0}, {0, 0}, {0, 0}});
  Observed top1 = Run(Query(1), 4000);
  for (const auto& [arm, p] : top1.propensity) {
    EXPECT_DOUBLE_EQ(p, 0.25) << arm;
    ExpectFrequency(top1.returned[arm], 4000, 0.25);
  }
  EXPECT_EQ(top1.propensity.size(), 4u);
  Observed top3 = Run(Query(3), 2000);
  for (const auto& [arm, p] : top3.propensity) {
    EXPECT_DOUBLE_EQ(p, 0.75) << arm;
    ExpectFrequency(top3.returned[arm], 2000, 0.75);
  }
}

TEST_F(PropensityTest, TiesAtTheKthScoreShareTheRemainingPlaces) {
  // a leads; b, c and d tie at CTR 0.2; e trails.
  Room(PolicyKind::kCtr, {{10, 5}, {10, 2}, {20, 4}, {5, 1}, {10, 1}});
  Observed o = Run(Query(2), 3000);
  EXPECT_DOUBLE_EQ(o.propensity["a"], 1.0);
  EXPECT_EQ(o.returned["a"], 3000);
  for (const char* tied : {"b", "c", "d"}) {
    EXPECT_DOUBLE_EQ(o.propensity[tied], 1.0 / 3) << tied;
    ExpectFrequency(o.returned[tied], 3000, 1.0 / 3);
  }
  EXPECT_EQ(o.returned.count("e"), 0u);
}

TEST_F(PropensityTest, EpsilonGreedyMixesGreedyAndUniform) {
  Room(PolicyKind::kEpsilonGreedy, {{10, 5}, {10, 3}, {10, 2}, {10, 1}}, 0.3);
  const int calls = 20000;
  Observed o = Run(Query(1), calls);
  EXPECT_DOUBLE_EQ(o.propensity["a"], 0.7 + 0.3 / 4);
  for (const char* other : {"b", "c", "d"}) {
    EXPECT_DOUBLE_EQ(o.propensity[other], 0.3 / 4) << other;
  }
  for (const auto& [arm, p] : o.propensity) {
    ExpectFrequency(o.returned[arm], calls, p);
  }
  // Top 2: a always in the greedy ranking, b too; c and d only by chance.
  Observed top2 = Run(Query(2), calls);
  EXPECT_DOUBLE_EQ(top2.propensity["a"], 0.7 + 0.3 * 2 / 4);
  EXPECT_DOUBLE_EQ(top2.propensity["c"], 0.3 * 2 / 4);
}

TEST_F(PropensityTest, UcbAndBucbAreDeterministic) {
  for (PolicyKind kind : {PolicyKind::kUcb1, PolicyKind::kBucb}) {
    engine_.Apply(DeleteRoom{"r"}).IgnoreError();
    Room(kind, {{100, 10}, {100, 30}, {100, 20}});
    absl::StatusOr<SampleResult> r = engine_.Sample(Query(2));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->arms[0].arm_id, "b");
    EXPECT_EQ(r->arms[0].propensity, 1.0);
    EXPECT_EQ(r->arms[1].propensity, 1.0);
    EXPECT_EQ(r->propensity_draws, 0);
  }
}

// A room of `arms` arms "a0", "a1", ...: the first views_clicks.size() arms
// get those counters, the others none.
void BigRoom(Engine& engine, PolicyKind kind, int arms,
             const std::vector<std::pair<int, int>>& views_clicks) {
  PolicyParams policy;
  policy.kind = kind;
  std::vector<std::string> ids;
  for (int i = 0; i < arms; ++i) ids.push_back(absl::StrCat("a", i));
  ASSERT_TRUE(engine.Apply(NewRoom("r", ids, policy)).ok());
  std::vector<FeedbackEvent> events;
  for (size_t i = 0; i < views_clicks.size(); ++i) {
    events.push_back(
        Event("r", ids[i], views_clicks[i].first, views_clicks[i].second));
  }
  ASSERT_TRUE(engine.Apply(Batch(events)).ok());
}

TEST_F(PropensityTest, ColdRoomTieCountsEveryEligibleUnseenArm) {
  // 5 seen arms, 199,995 unseen ones tied at +infinity, 2 of them excluded.
  BigRoom(engine_, PolicyKind::kUcb1, 200'000,
          {{100, 10}, {100, 30}, {100, 20}, {50, 5}, {10, 1}});
  SampleQuery q = Query(3);
  q.excluded_arm_ids = {"a7", "a199999"};
  const double unseen = 200'000 - 5 - 2;
  // The scan's count of unseen arms, and the counting pass the reference
  // scan falls back to beyond the widened ranking, agree.
  for (bool full_scan : {false, true}) {
    q.full_scan = full_scan;
    for (int call = 0; call < 5; ++call) {
      absl::StatusOr<SampleResult> r = engine_.Sample(q);
      ASSERT_TRUE(r.ok()) << r.status();
      ASSERT_EQ(r->arms.size(), 3u);
      for (const ScoredArm& arm : r->arms) {
        EXPECT_EQ(arm.score, std::numeric_limits<double>::infinity());
        EXPECT_EQ(*arm.propensity, 3 / unseen) << arm.arm_id;
      }
    }
  }
  // Under epsilon-greedy the tie share is the greedy part's.
  q.full_scan = false;
  q.policy.kind = PolicyKind::kEpsilonGreedy;
  q.policy.epsilon = 0.25;
  absl::StatusOr<SampleResult> r = engine_.Sample(q);
  ASSERT_TRUE(r.ok()) << r.status();
  const double uniform = 0.25 * 3 / (unseen + 5);
  for (const ScoredArm& arm : r->arms) {
    // Exploring may return a seen arm (odds ~2e-5): greedy share 0.
    const bool seen = arm.arm_id.size() == 2 && arm.arm_id[1] < '5';
    EXPECT_DOUBLE_EQ(*arm.propensity, (seen ? 0 : 0.75 * 3 / unseen) + uniform)
        << arm.arm_id;
  }
}

TEST_F(PropensityTest, WarmTiesBeyondTheWidenedRankingAreCounted) {
  // a0 and a1 lead; 5,998 arms tie at CTR 0.1, more than the ranking widens
  // to, and the call returns one of them third.
  std::vector<std::pair<int, int>> counters(6000, {10, 1});
  counters[0] = {10, 9};
  counters[1] = {10, 8};
  BigRoom(engine_, PolicyKind::kCtr, 6000, counters);
  for (int call = 0; call < 5; ++call) {
    absl::StatusOr<SampleResult> r = engine_.Sample(Query(3));
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->arms.size(), 3u);
    EXPECT_EQ(*r->arms[0].propensity, 1.0);
    EXPECT_EQ(*r->arms[1].propensity, 1.0);
    EXPECT_EQ(*r->arms[2].propensity, 1.0 / 5998) << r->arms[2].arm_id;
  }
  // Top 1: a0 alone, no tie.
  absl::StatusOr<SampleResult> r = engine_.Sample(Query(1));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->arms[0].arm_id, "a0");
  EXPECT_EQ(*r->arms[0].propensity, 1.0);
}

TEST_F(PropensityTest, ThompsonMonteCarloMatchesExactAndEmpirical) {
  // a ~ Beta(3, 9), b ~ Beta(5, 8) under the default prior; P(b first)
  // from the closed form for integer parameters.
  Room(PolicyKind::kThompson, {{10, 2}, {11, 4}});
  auto log_beta = [](double x, double y) {
    return std::lgamma(x) + std::lgamma(y) - std::lgamma(x + y);
  };
  double p_b = 0;
  for (int i = 0; i < 5; ++i) {
    p_b += std::exp(log_beta(3 + i, 9 + 8) - std::log(8.0 + i) -
                    log_beta(1 + i, 8) - log_beta(3, 9));
  }
  SampleQuery q = Query(1);
  q.propensity_draws = 1000;
  const int calls = 60;
  Observed o;
  double sum_b = 0;
  int reported_b = 0;
  for (int c = 0; c < calls; ++c) {
    absl::StatusOr<SampleResult> r = engine_.Sample(q);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->propensity_draws, 1000);
    const ScoredArm& arm = r->arms[0];
    ++o.returned[arm.arm_id];
    if (arm.arm_id == "b") {
      sum_b += *arm.propensity;
      ++reported_b;
    } else {
      sum_b += 1 - *arm.propensity;
      ++reported_b;
    }
  }
  // Each estimate has standard error sqrt(p (1 - p) / 1001); their mean
  // over 60 calls one sqrt(60) times smaller.
  const double se = std::sqrt(p_b * (1 - p_b) / 1001);
  EXPECT_NEAR(sum_b / reported_b, p_b, 5 * se / std::sqrt(calls));
  ExpectFrequency(o.returned["b"], calls, p_b);
}

TEST_F(PropensityTest, FloorKeepsEveryArmReachable) {
  Room(PolicyKind::kCtr, {{10, 5}, {10, 3}, {10, 2}, {10, 1}});
  SampleQuery q = Query(1);
  q.policy.exploration_floor = 0.1;
  // q = min(1, 0.1 * 4 / 1) = 0.4 of calls rank uniformly.
  const int calls = 20000;
  Observed o = Run(q, calls);
  EXPECT_DOUBLE_EQ(o.propensity["a"], 0.6 + 0.4 * 0.25);
  for (const char* other : {"b", "c", "d"}) {
    EXPECT_DOUBLE_EQ(o.propensity[other], 0.1) << other;
  }
  for (const auto& [arm, p] : o.propensity) {
    ExpectFrequency(o.returned[arm], calls, p);
  }
  // The floor applies without propensities too, and the reply's policy is
  // the call's.
  q.propensities = false;
  absl::StatusOr<SampleResult> r = engine_.Sample(q);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->policy.kind, PolicyKind::kCtr);
  EXPECT_DOUBLE_EQ(r->floor_probability, 0.4);
  EXPECT_FALSE(r->arms[0].propensity.has_value());
  // Seeded calls stay reproducible.
  q.seed = 11;
  std::string first;
  for (int i = 0; i < 5; ++i) {
    absl::StatusOr<SampleResult> s = engine_.Sample(q);
    if (i == 0) first = s->arms[0].arm_id;
    EXPECT_EQ(s->arms[0].arm_id, first);
  }
}

TEST_F(PropensityTest, RoomFloorAndErrors) {
  Room(PolicyKind::kCtr, {{10, 5}, {10, 3}});
  UpdateRoom update;
  update.room_id = "r";
  update.policy.exploration_floor = 0.2;
  ASSERT_TRUE(engine_.Apply(update).ok());
  absl::StatusOr<SampleResult> r = engine_.Sample(Query(1));
  ASSERT_TRUE(r.ok());
  EXPECT_DOUBLE_EQ(r->floor_probability, 0.4);
  update.policy.exploration_floor = 1.5;
  absl::Status s = engine_.Apply(update).status();
  EXPECT_THAT(s.message(), HasSubstr("room.policy.exploration_floor"));
  SampleQuery q = Query(1);
  q.policy.exploration_floor = -0.1;
  s = engine_.Sample(q).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("policy.exploration_floor"));
  q = Query(1);
  q.propensity_draws = -1;
  EXPECT_THAT(engine_.Sample(q).status().message(),
              HasSubstr("propensity_draws"));
}

}  // namespace
}  // namespace banditd::core
