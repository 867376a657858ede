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
};

class SimulationTest : public ::testing::TestWithParam<SimulationCase> {};

TEST_P(SimulationTest, PicksBestArmInMostOfTheLastThousandRounds) {
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
    if (round >= kRounds - kTail && index == 2) ++best_in_tail;
  }
  EXPECT_GT(best_in_tail, kTail / 2)
      << PolicyKindName(GetParam().policy) << " seed " << GetParam().seed;
}

INSTANTIATE_TEST_SUITE_P(
    Policies, SimulationTest,
    ::testing::Values(SimulationCase{PolicyKind::kUcb1, 1},
                      SimulationCase{PolicyKind::kUcb1, 2},
                      SimulationCase{PolicyKind::kBucb, 1},
                      SimulationCase{PolicyKind::kBucb, 2},
                      SimulationCase{PolicyKind::kThompson, 1},
                      SimulationCase{PolicyKind::kThompson, 2}),
    [](const ::testing::TestParamInfo<SimulationCase>& info) {
      return PolicyKindName(info.param.policy) + "_seed" +
             std::to_string(info.param.seed);
    });

}  // namespace
}  // namespace banditd::core
