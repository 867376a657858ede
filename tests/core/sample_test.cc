#include <cmath>
#include <limits>
#include <set>
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

constexpr double kInf = std::numeric_limits<double>::infinity();

std::vector<std::string> Ids(const SampleResult& result) {
  std::vector<std::string> ids;
  for (const ScoredArm& arm : result.arms) ids.push_back(arm.arm_id);
  return ids;
}

SampleQuery Query(std::string room, int k = 0,
                  std::optional<PolicyKind> kind = std::nullopt) {
  SampleQuery q;
  q.room_id = std::move(room);
  q.k = k;
  q.policy.kind = kind;
  return q;
}

class SampleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(engine_.Apply(NewRoom("r", {"a", "b", "c"})).ok());
  }
  void Feed(std::vector<FeedbackEvent> events) {
    ASSERT_TRUE(engine_.Apply(Batch(std::move(events))).ok());
  }
  Engine engine_;
};

TEST_F(SampleTest, RanksByCtrWithScoresAndCounts) {
  Feed({Event("r", "a", 100, 5), Event("r", "b", 100, 20),
        Event("r", "c", 100, 10)});
  absl::StatusOr<SampleResult> result =
      engine_.Sample(Query("r", 3, PolicyKind::kCtr));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(Ids(*result), ::testing::ElementsAre("b", "c", "a"));
  EXPECT_DOUBLE_EQ(result->arms[0].score, 0.2);
  EXPECT_EQ(result->arms[0].counts, (Counts{100, 20, 20}));
  EXPECT_EQ(result->policy.kind, PolicyKind::kCtr);
}

TEST_F(SampleTest, Ucb1PrefersLessSeenArmWhenCtrIsClose) {
  // a: CTR 0.10 over 1000 views; b: CTR 0.09 over 10 views.
  Feed({Event("r", "a", 1000, 100), Event("r", "b", 10, 0),
        Event("r", "c", 10, 0)});
  Feed({Event("r", "b", 0, 1)});  // a late click
  absl::StatusOr<SampleResult> result = engine_.Sample(Query("r", 3));
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->policy.kind, PolicyKind::kUcb1);  // room default
  EXPECT_EQ(result->arms[0].arm_id, "b");
  const double log_n = std::log(1020.0);
  EXPECT_NEAR(result->arms[0].score, 0.1 + std::sqrt(2 * log_n / 10), 1e-12);
  EXPECT_NEAR(result->arms[2].score, 0.1 + std::sqrt(2 * log_n / 1000), 1e-12);
  // alpha = 0 turns UCB1 greedy: a and b tie at 0.1, c is last.
  SampleQuery greedy = Query("r", 3);
  greedy.policy.ucb_alpha = 0.0;
  result = engine_.Sample(greedy);
  EXPECT_EQ(result->arms[2].arm_id, "c");
  EXPECT_DOUBLE_EQ(result->policy.ucb_alpha, 0.0);
}

TEST_F(SampleTest, BucbRanksByUpperBound) {
  Feed({Event("r", "a", 1000, 100), Event("r", "b", 20, 2),
        Event("r", "c", 1000, 50)});
  absl::StatusOr<SampleResult> result =
      engine_.Sample(Query("r", 3, PolicyKind::kBucb));
  ASSERT_TRUE(result.ok());
  EXPECT_THAT(Ids(*result), ::testing::ElementsAre("b", "a", "c"));
  const double p = 3.0 / 22.0;
  EXPECT_NEAR(result->arms[0].score, 0.1 + 1.96 * std::sqrt(p * (1 - p) / 20),
              1e-12);
}

TEST_F(SampleTest, UnseenArmsComeFirstUnderDeterministicPolicies) {
  Feed({Event("r", "a", 10, 10), Event("r", "b", 10, 9)});
  for (PolicyKind kind :
       {PolicyKind::kCtr, PolicyKind::kUcb1, PolicyKind::kBucb}) {
    absl::StatusOr<SampleResult> result = engine_.Sample(Query("r", 1, kind));
    ASSERT_TRUE(result.ok());
    EXPECT_EQ(result->arms[0].arm_id, "c") << PolicyKindName(kind);
    EXPECT_EQ(result->arms[0].score, kInf);
  }
}

TEST_F(SampleTest, TiesAreBrokenAtRandom) {
  // All three arms are unseen: every one of them must come first sometimes,
  // with and without a seed.
  std::set<std::string> first_seeded, first_unseeded;
  for (uint64_t seed = 0; seed < 60; ++seed) {
    SampleQuery q = Query("r");
    q.seed = seed;
    first_seeded.insert(engine_.Sample(q)->arms[0].arm_id);
    first_unseeded.insert(engine_.Sample(Query("r"))->arms[0].arm_id);
  }
  EXPECT_EQ(first_seeded.size(), 3u);
  EXPECT_EQ(first_unseeded.size(), 3u);
}

TEST_F(SampleTest, SeedMakesThompsonReproducible) {
  Feed({Event("r", "a", 50, 10), Event("r", "b", 50, 11),
        Event("r", "c", 50, 9)});
  SampleQuery q = Query("r", 3, PolicyKind::kThompson);
  q.seed = 42;
  absl::StatusOr<SampleResult> first = engine_.Sample(q);
  absl::StatusOr<SampleResult> second = engine_.Sample(q);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(Ids(*first), Ids(*second));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(first->arms[i].score, second->arms[i].score);
    EXPECT_GT(first->arms[i].score, 0.0);
    EXPECT_LT(first->arms[i].score, 1.0);
  }
  // Different seeds give different draws.
  std::set<double> draws;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    q.seed = seed;
    draws.insert(engine_.Sample(q)->arms[0].score);
  }
  EXPECT_GT(draws.size(), 15u);
}

// P(X_i is the largest) for independent X_j ~ Beta(a_j, b_j), by numerical
// integration of f_i(x) * prod_{j != i} F_j(x) on a fine grid: a reference
// that shares nothing with the server's samplers.
std::vector<double> BetaWinProbabilities(
    const std::vector<std::pair<double, double>>& params) {
  constexpr int kGrid = 200000;
  const size_t n = params.size();
  std::vector<std::vector<double>> pdf(n, std::vector<double>(kGrid + 1));
  for (size_t j = 0; j < n; ++j) {
    const auto [a, b] = params[j];
    const double log_norm =
        std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b);
    for (int g = 1; g < kGrid; ++g) {
      const double x = static_cast<double>(g) / kGrid;
      pdf[j][g] =
          std::exp(log_norm + (a - 1) * std::log(x) + (b - 1) * std::log1p(-x));
    }
  }
  std::vector<double> cdf(n, 0.0), win(n, 0.0);
  const double dx = 1.0 / kGrid;
  for (int g = 1; g <= kGrid; ++g) {
    for (size_t j = 0; j < n; ++j) {
      cdf[j] += 0.5 * (pdf[j][g - 1] + pdf[j][g]) * dx;
    }
    for (size_t i = 0; i < n; ++i) {
      double others = 1;
      for (size_t j = 0; j < n; ++j) {
        if (j != i) others *= cdf[j];
      }
      win[i] += pdf[i][g] * others * dx;
    }
  }
  return win;
}

// Catches a Thompson sampler that does not draw from the Beta posterior:
// a greedy CTR ranking (always "a"), draws with the wrong prior or the wrong
// parameters (views instead of views - clicks), or a biased tie-break. The
// posteriors overlap, so the winner shares are far from 0 and 1.
TEST_F(SampleTest, ThompsonFollowsThePosterior) {
  // Posteriors with the default Beta(1, 1) prior: a ~ Beta(4, 18) (mean
  // 0.18), b ~ Beta(4, 28) (mean 0.125), c ~ Beta(3, 199) (mean 0.015).
  Feed({Event("r", "a", 20, 3), Event("r", "b", 30, 3),
        Event("r", "c", 200, 2)});
  const std::vector<double> expected =
      BetaWinProbabilities({{4, 18}, {4, 28}, {3, 199}});
  ASSERT_GT(expected[0], 0.6);
  ASSERT_LT(expected[0], 0.9);
  constexpr int kDraws = 40000;
  int wins[3] = {0, 0, 0};
  SampleQuery q = Query("r", 1, PolicyKind::kThompson);
  for (uint64_t seed = 0; seed < kDraws; ++seed) {
    q.seed = seed;
    const std::string arm = engine_.Sample(q)->arms[0].arm_id;
    ++wins[arm == "a" ? 0 : arm == "b" ? 1 : 2];
  }
  for (int i = 0; i < 3; ++i) {
    const double p = expected[i];
    // 4.5 standard errors: a false alarm about once in 150,000 runs; at
    // 40,000 draws it detects a bias of 1.5 percentage points or more.
    const double tolerance = 4.5 * std::sqrt(p * (1 - p) / kDraws) + 1e-4;
    EXPECT_NEAR(static_cast<double>(wins[i]) / kDraws, p, tolerance)
        << "arm " << i;
  }
}

TEST_F(SampleTest, EpsilonGreedyExploresAtTheGivenRate) {
  Feed({Event("r", "a", 100, 50), Event("r", "b", 100, 10),
        Event("r", "c", 100, 5)});
  SampleQuery q = Query("r", 1, PolicyKind::kEpsilonGreedy);
  q.policy.epsilon = 0.0;
  for (int i = 0; i < 20; ++i)
    EXPECT_EQ(engine_.Sample(q)->arms[0].arm_id, "a");
  q.policy.epsilon = 0.3;
  int not_a = 0;
  for (uint64_t seed = 0; seed < 3000; ++seed) {
    q.seed = seed;
    not_a += engine_.Sample(q)->arms[0].arm_id != "a";
  }
  // Exploring picks a uniformly: 0.3 * 2/3 = 20% not "a".
  EXPECT_NEAR(not_a / 3000.0, 0.2, 0.03);
}

TEST_F(SampleTest, ContextScoreIsMeanWithSegmentFallback) {
  // a has hour=13 counters; b has device=ios counters.
  Feed({Event("r", "a", 100, 10, "", {"hour=13"}), Event("r", "a", 100, 2),
        Event("r", "b", 50, 10, "", {"device=ios"}), Event("r", "c", 1, 0)});
  SampleQuery q = Query("r", 3, PolicyKind::kCtr);
  q.context_items = {"hour=13", "device=ios"};
  absl::StatusOr<SampleResult> result = engine_.Sample(q);
  ASSERT_TRUE(result.ok());
  // a: hour=13 -> 10/100; device=ios has no views for a -> segment 12/200.
  // b: hour=13 falls back to 10/50; device=ios -> 10/50.
  EXPECT_THAT(Ids(*result), ::testing::ElementsAre("b", "a", "c"));
  EXPECT_DOUBLE_EQ(result->arms[0].score, 0.2);
  EXPECT_DOUBLE_EQ(result->arms[1].score, (0.1 + 0.06) / 2);
  EXPECT_DOUBLE_EQ(result->arms[2].score, 0.0);
  // Counts reported are the segment's.
  EXPECT_EQ(result->arms[1].counts, (Counts{200, 12, 12}));

  // UCB1: N is the item's enabled views for a table hit, the segment's for a
  // fallback.
  q.policy.kind = PolicyKind::kUcb1;
  result = engine_.Sample(q);
  const double a_hour = 0.1 + std::sqrt(2 * std::log(100.0) / 100);
  const double a_fallback = 0.06 + std::sqrt(2 * std::log(251.0) / 200);
  for (const ScoredArm& arm : result->arms) {
    if (arm.arm_id == "a") {
      EXPECT_NEAR(arm.score, (a_hour + a_fallback) / 2, 1e-12);
    }
  }
  // Unknown items fall back entirely; duplicates count once.
  q.policy.kind = PolicyKind::kCtr;
  q.context_items = {"zzz", "zzz"};
  result = engine_.Sample(q);
  EXPECT_DOUBLE_EQ(result->arms[1].score, 0.06);
}

TEST_F(SampleTest, SegmentsAreScoredFromTheirOwnCounters) {
  Feed({Event("r", "a", 100, 50, "country=PL"), Event("r", "b", 100, 10),
        Event("r", "c", 100, 5, "country=PL"),
        Event("r", "b", 100, 20, "country=PL")});
  SampleQuery q = Query("r", 1, PolicyKind::kCtr);
  q.segment = "country=PL";
  EXPECT_EQ(engine_.Sample(q)->arms[0].arm_id, "a");
  // A segment with no traffic yet: everything unseen, all arms tie at +inf.
  q.segment = "country=FR";
  absl::StatusOr<SampleResult> fresh = engine_.Sample(q);
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(fresh->arms[0].score, kInf);
  EXPECT_EQ(fresh->arms[0].counts, (Counts{}));
}

TEST_F(SampleTest, CandidatesExclusionsAndDisabledArms) {
  Feed({Event("r", "a", 100, 50), Event("r", "b", 100, 10),
        Event("r", "c", 100, 5)});
  SampleQuery q = Query("r", 10, PolicyKind::kCtr);
  q.candidate_arm_ids = {"c", "b", "c"};
  EXPECT_THAT(Ids(*engine_.Sample(q)), ::testing::ElementsAre("b", "c"));
  q.excluded_arm_ids = {"b", "unknown-is-ignored"};
  EXPECT_THAT(Ids(*engine_.Sample(q)), ::testing::ElementsAre("c"));
  q.candidate_arm_ids = {};
  q.excluded_arm_ids = {"a", "a"};
  EXPECT_THAT(Ids(*engine_.Sample(q)), ::testing::ElementsAre("b", "c"));

  ASSERT_TRUE(engine_.Apply(SetArmEnabled{"r", "a", false}).ok());
  EXPECT_THAT(Ids(*engine_.Sample(Query("r", 10, PolicyKind::kCtr))),
              ::testing::ElementsAre("b", "c"));
  q = Query("r", 1);
  q.candidate_arm_ids = {"a"};
  EXPECT_EQ(engine_.Sample(q).status().code(),
            absl::StatusCode::kFailedPrecondition);
  q.candidate_arm_ids = {"nope"};
  absl::Status status = engine_.Sample(q).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(status.message()),
              ::testing::HasSubstr("candidate_arm_ids[0]"));
}

TEST_F(SampleTest, RoomWithNoEnabledArmIsFailedPrecondition) {
  ASSERT_TRUE(engine_.Apply(NewRoom("empty", {})).ok());
  EXPECT_EQ(engine_.Sample(Query("empty")).status().code(),
            absl::StatusCode::kFailedPrecondition);
  for (std::string arm : {"a", "b", "c"}) {
    ASSERT_TRUE(engine_.Apply(SetArmEnabled{"r", arm, false}).ok());
  }
  absl::Status status = engine_.Sample(Query("r")).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(status.message()),
              ::testing::HasSubstr("no enabled arm"));
}

TEST_F(SampleTest, KDefaultsToOneAndIsBounded) {
  EXPECT_EQ(engine_.Sample(Query("r", 0))->arms.size(), 1u);
  EXPECT_EQ(engine_.Sample(Query("r", 2))->arms.size(), 2u);
  EXPECT_EQ(engine_.Sample(Query("r", 50))->arms.size(), 3u);
  absl::Status status = engine_.Sample(Query("r", -1)).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), ::testing::HasSubstr("k:"));
  EXPECT_EQ(engine_.Sample(Query("r", 10001)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(SampleTest, BadRequestsNameTheField) {
  auto expect = [&](const SampleQuery& q, absl::StatusCode code,
                    const std::string& field) {
    absl::Status status = engine_.Sample(q).status();
    EXPECT_EQ(status.code(), code) << field;
    EXPECT_THAT(std::string(status.message()), ::testing::StartsWith(field));
  };
  expect(Query("nope"), absl::StatusCode::kNotFound, "room_id");
  expect(Query(""), absl::StatusCode::kInvalidArgument, "room_id");
  SampleQuery q = Query("r");
  q.segment = "a b";
  expect(q, absl::StatusCode::kInvalidArgument, "segment");
  q = Query("r");
  q.context_items = std::vector<std::string>(33, "x");
  expect(q, absl::StatusCode::kInvalidArgument, "context_items");
  q.context_items = {"ok", "n\xc3\xb6"};
  expect(q, absl::StatusCode::kInvalidArgument, "context_items[1]");
  q = Query("r");
  q.policy.ucb_alpha = -1;
  expect(q, absl::StatusCode::kInvalidArgument, "policy.ucb_alpha");
  q = Query("r");
  q.policy.beta_prior_b = 0;
  expect(q, absl::StatusCode::kInvalidArgument, "policy.beta_prior_b");
}

}  // namespace
}  // namespace banditd::core
