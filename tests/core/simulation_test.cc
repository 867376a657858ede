// Seeded end-to-end learning check: each adaptive policy, run against three
// arms with true click rates 0.02, 0.05 and 0.10, must settle on the best arm.

#include <random>
#include <string>

#include "gtest/gtest.h"
#include "server/core/engine.h"
#include "tests/testing/core_builders.h"

namespace banditd::core {
namespace {

using ::banditd::testing::Batch;
using ::banditd::testing::Event;
using ::banditd::testing::NewRoom;

struct SimulationCase {
  PolicyKind policy;
  uint64_t seed;
  // Pulls of the best arm in the last 1,000 rounds, at least.
  int min_best_in_tail;
  // Expected clicks lost against always playing the best arm, at most.
  double max_regret;
};

class SimulationTest : public ::testing::TestWithParam<SimulationCase> {};

// Catches a policy that learns too slowly or not at all: one that explores
// at random half of the time, scores arms by something other than their
// click rate, or stops updating. Uniform random play has a regret of
// 20,000 * (0.08 + 0.05) / 3 = 867 clicks and picks the best arm a third of
// the time; every adaptive policy here must do far better on both counts.
// The thresholds sit well outside the spread measured over seeds 1 to 10
// (2026-12-03: UCB1 regret 226-304, BUCB 2-29, Thompson 15-37,
// epsilon-greedy 83-139; best arm in the tail at least 813, 998, 991, 915).
TEST_P(SimulationTest, SettlesOnTheBestArmWithLowRegret) {
  constexpr int kRounds = 20000;
  constexpr int kTail = 1000;
  const std::vector<std::string> arms = {"p02", "p05", "p10"};
  const double true_rates[] = {0.02, 0.05, 0.10};

  Engine engine;
  PolicyParams policy;
  policy.kind = GetParam().policy;
  ASSERT_TRUE(engine.Apply(NewRoom("sim", arms, policy)).ok());
  std::mt19937_64 world(GetParam().seed);
  std::bernoulli_distribution clicked[] = {
      std::bernoulli_distribution(true_rates[0]),
      std::bernoulli_distribution(true_rates[1]),
      std::bernoulli_distribution(true_rates[2])};

  int best_in_tail = 0;
  double regret = 0;
  for (int round = 0; round < kRounds; ++round) {
    SampleQuery query;
    query.room_id = "sim";
    query.seed = GetParam().seed * 1'000'003 + round;
    absl::StatusOr<SampleResult> decision = engine.Sample(query);
    ASSERT_TRUE(decision.ok()) << decision.status();
    const std::string& arm = decision->arms[0].arm_id;
    const int index = arm == "p02" ? 0 : arm == "p05" ? 1 : 2;
    const int click = clicked[index](world) ? 1 : 0;
    ASSERT_TRUE(engine.Apply(Batch({Event("sim", arm, 1, click)})).ok());
    regret += true_rates[2] - true_rates[index];
    if (round >= kRounds - kTail && index == 2) ++best_in_tail;
  }
  const SimulationCase& c = GetParam();
  EXPECT_GE(best_in_tail, c.min_best_in_tail)
      << PolicyKindName(c.policy) << " seed " << c.seed;
  EXPECT_LE(regret, c.max_regret)
      << PolicyKindName(c.policy) << " seed " << c.seed;
}

INSTANTIATE_TEST_SUITE_P(
    Policies, SimulationTest,
    ::testing::Values(SimulationCase{PolicyKind::kUcb1, 1, 700, 420},
                      SimulationCase{PolicyKind::kUcb1, 2, 700, 420},
                      SimulationCase{PolicyKind::kUcb1, 3, 700, 420},
                      SimulationCase{PolicyKind::kBucb, 1, 950, 150},
                      SimulationCase{PolicyKind::kBucb, 2, 950, 150},
                      SimulationCase{PolicyKind::kBucb, 3, 950, 150},
                      SimulationCase{PolicyKind::kThompson, 1, 970, 120},
                      SimulationCase{PolicyKind::kThompson, 2, 970, 120},
                      SimulationCase{PolicyKind::kThompson, 3, 970, 120},
                      SimulationCase{PolicyKind::kEpsilonGreedy, 1, 880, 250},
                      SimulationCase{PolicyKind::kEpsilonGreedy, 2, 880, 250},
                      SimulationCase{PolicyKind::kEpsilonGreedy, 3, 880, 250}),
    [](const ::testing::TestParamInfo<SimulationCase>& info) {
      return PolicyKindName(info.param.policy) + "_seed" +
             std::to_string(info.param.seed);
    });

}  // namespace
}  // namespace banditd::core
