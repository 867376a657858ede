// The policies and room features beyond counting: hot/cold feed score,
// reward-valued arms, decay, cold start across segments and LinUCB.

#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/engine.h"
#include "server/core/revenue.h"
#include "server/core/scoring.h"
#include "tests/testing/core_builders.h"

namespace banditd::core {
namespace {

using ::banditd::testing::Batch;
using ::banditd::testing::Event;
using ::banditd::testing::NewRoom;
using ::testing::ElementsAre;

std::vector<std::string> Ids(const SampleResult& result) {
  std::vector<std::string> ids;
  for (const ScoredArm& arm : result.arms) ids.push_back(arm.arm_id);
  return ids;
}

SampleQuery Query(std::string room, int k, PolicyKind kind) {
  SampleQuery q;
  q.room_id = std::move(room);
  q.k = k;
  q.policy.kind = kind;
  return q;
}

ArmStat StatOf(const Engine& engine, const std::string& room,
               const std::string& arm, const std::string& segment = "") {
  absl::StatusOr<Stats> stats = engine.GetStats(room, segment, false);
  EXPECT_TRUE(stats.ok()) << stats.status();
  for (const ArmStat& a : stats->arms) {
    if (a.arm_id == arm) return a;
  }
  ADD_FAILURE() << "no arm " << arm;
  return {};
}

TEST(HotColdTest, FormulaMatchesHandComputedValues) {
  PolicyParams p;  // defaults: 1, 0.05, 100, 1, 50, 0.05
  auto score = [&](double v, double c) {
    return HotColdScore(v, c, p.cold_max, p.cold_steepness, p.cold_threshold,
                        p.hot_max, p.hot_steepness, p.hot_threshold);
  };
  EXPECT_NEAR(score(0, 0), 1.0691653290969587, 1e-12);
  EXPECT_NEAR(score(200, 20), 0.9308346709030413, 1e-12);
  EXPECT_NEAR(score(200, 2), 0.12589577294640228, 1e-12);
  EXPECT_NEAR(score(50, 1), 1.1065673437851127, 1e-12);
}

TEST(HotColdTest, SampleReturnsARankedFeed) {
  Engine engine;
  std::vector<std::string> posts;
  for (int i = 0; i < 60; ++i) posts.push_back("post-" + std::to_string(i));
  ASSERT_TRUE(engine.Apply(NewRoom("feed", posts)).ok());
  // post-0..9: shown a lot, clicked well (hot); post-10..19: shown a lot,
  // rarely clicked (stale); the rest are new.
  std::vector<FeedbackEvent> events;
  for (int i = 0; i < 20; ++i) {
    events.push_back(Event("feed", posts[i], 1000, i < 10 ? 150 : 5));
  }
  ASSERT_TRUE(engine.Apply(Batch(events)).ok());
  absl::StatusOr<SampleResult> feed =
      engine.Sample(Query("feed", 50, PolicyKind::kHotCold));
  ASSERT_TRUE(feed.ok()) << feed.status();
  ASSERT_EQ(feed->arms.size(), 50u);
  // New posts (score ~1.069) first, then the hot ones (~1.0), and only the
  // stale ones fill the tail.
  for (int i = 0; i < 40; ++i) {
    const int index = std::stoi(feed->arms[i].arm_id.substr(5));
    if (i < 40 - 10) {
      EXPECT_GE(index, 20) << i;
    }
  }
  for (int i = 40; i < 50; ++i) {
    const int index = std::stoi(feed->arms[i].arm_id.substr(5));
    EXPECT_LT(index, 10) << "hot posts rank above stale ones";
  }
  for (size_t i = 1; i < feed->arms.size(); ++i) {
    EXPECT_GE(feed->arms[i - 1].score, feed->arms[i].score);
  }
  // Parameters override per request: with no cold boost, hot posts lead.
  SampleQuery q = Query("feed", 10, PolicyKind::kHotCold);
  q.policy.cold_max = 0.0;
  absl::StatusOr<SampleResult> hot_first = engine.Sample(q);
  ASSERT_TRUE(hot_first.ok());
  for (const ScoredArm& arm : hot_first->arms) {
    EXPECT_LT(std::stoi(arm.arm_id.substr(5)), 10);
  }
}

TEST(RewardTest, StatsReportMeanAndVariancePerView) {
  Engine engine;
  ASSERT_TRUE(engine.Apply(NewRoom("shop", {"a"})).ok());
  // Two views, one conversion worth 30: mean 15, variance 900/2 - 225.
  ASSERT_TRUE(engine
                  .Apply(Batch({Event("shop", "a", 1, 1, "", {}, 30.0),
                                Event("shop", "a", 1, 0)}))
                  .ok());
  ArmStat a = StatOf(engine, "shop", "a");
  EXPECT_DOUBLE_EQ(a.counts.reward_sum, 30);
  EXPECT_DOUBLE_EQ(a.scores.reward_mean, 15);
  EXPECT_DOUBLE_EQ(a.scores.reward_variance, 225);
  // A batch of 2 clicks worth 40 in all counts as two conversions of 20.
  ASSERT_TRUE(
      engine.Apply(Batch({Event("shop", "a", 2, 2, "", {}, 40.0)})).ok());
  a = StatOf(engine, "shop", "a");
  // views 4, sum 70, squares 900 + 2 * 400 = 1700: mean 17.5.
  EXPECT_DOUBLE_EQ(a.scores.reward_mean, 17.5);
  EXPECT_DOUBLE_EQ(a.scores.reward_variance, 1700.0 / 4 - 17.5 * 17.5);
  // Clicks without a reward are worth 1 each.
  EXPECT_DOUBLE_EQ(RewardSquareIncrement(3, 3), 3);
}

TEST(RewardTest, RewardPoliciesRankByExpectedRewardPerView) {
  Engine engine;
  ASSERT_TRUE(engine.Apply(NewRoom("shop", {"cheap", "premium"})).ok());
  // cheap: CTR 0.2 at 2 per conversion = 0.4 per view;
  // premium: CTR 0.1 at 10 per conversion = 1.0 per view.
  ASSERT_TRUE(
      engine
          .Apply(Batch({Event("shop", "cheap", 5000, 1000, "", {}, 2000.0),
                        Event("shop", "premium", 5000, 500, "", {}, 5000.0)}))
          .ok());
  EXPECT_EQ(engine.Sample(Query("shop", 1, PolicyKind::kCtr))->arms[0].arm_id,
            "cheap");
  absl::StatusOr<SampleResult> ucb =
      engine.Sample(Query("shop", 2, PolicyKind::kRewardUcb));
  ASSERT_TRUE(ucb.ok());
  EXPECT_THAT(Ids(*ucb), ElementsAre("premium", "cheap"));
  // premium: KL-UCB of 500 / 5000 times the value bound, with the room's
  // prior pooled over 1,500 conversions worth 7,000 (squares 4,000 + 50,000).
  const double log_n = std::log(10000.0);
  EXPECT_NEAR(
      ucb->arms[0].score,
      KlUcbUpper(5000, 500, KlUcbBudget(5000, log_n)) *
          MeanValueUpper(PosteriorValue(RoomValuePrior(1500, 7000, 54000), 500,
                                        5000, 50000),
                         KlUcbBudget(5000, log_n)),
      1e-12);
  for (uint64_t seed = 0; seed < 20; ++seed) {
    SampleQuery q = Query("shop", 1, PolicyKind::kRewardThompson);
    q.seed = seed;
    EXPECT_EQ(engine.Sample(q)->arms[0].arm_id, "premium");
  }
}

TEST(RewardTest, UnseenArmsAreTriedFirstUnderRewardUcb) {
  Engine engine;
  ASSERT_TRUE(engine.Apply(NewRoom("shop", {"a", "new"})).ok());
  ASSERT_TRUE(
      engine.Apply(Batch({Event("shop", "a", 10, 5, "", {}, 50.0)})).ok());
  EXPECT_EQ(
      engine.Sample(Query("shop", 1, PolicyKind::kRewardUcb))->arms[0].arm_id,
      "new");
}

CreateRoom DecayingRoom(DecayConfig decay) {
  CreateRoom create = NewRoom("d", {"a", "b"});
  create.decay = decay;
  return create;
}

TEST(DecayTest, EventHalfLifeHalvesOlderCounters) {
  Engine engine;
  ASSERT_TRUE(engine.Apply(DecayingRoom({.half_life_events = 2})).ok());
  ASSERT_TRUE(engine.Apply(Batch({Event("d", "a", 8, 4)})).ok());
  EXPECT_DOUBLE_EQ(StatOf(engine, "d", "a").counts.views, 8);
  // Two more events in the room: one half-life.
  ASSERT_TRUE(
      engine.Apply(Batch({Event("d", "b", 1, 0), Event("d", "b", 1, 0)})).ok());
  const ArmStat a = StatOf(engine, "d", "a");
  EXPECT_NEAR(a.counts.views, 4, 1e-12);
  EXPECT_NEAR(a.counts.clicks, 2, 1e-12);
  EXPECT_NEAR(a.scores.ctr, 0.5, 1e-12);  // ratios are unchanged
  // b: the first view has decayed by one event's worth, 2^-1/2.
  EXPECT_NEAR(StatOf(engine, "d", "b").counts.views, 1 + std::sqrt(0.5), 1e-12);
}

TEST(DecayTest, TimeHalfLifeUsesTheLoggedTime) {
  Engine engine;
  ASSERT_TRUE(engine.Apply(DecayingRoom({.half_life_seconds = 10})).ok());
  FeedbackBatch first = Batch({Event("d", "a", 8, 0)});
  first.logged_at_micros = 1'000'000'000;
  ASSERT_TRUE(engine.Apply(first).ok());
  FeedbackBatch later = Batch({Event("d", "b", 1, 0)});
  later.logged_at_micros = first.logged_at_micros + 20'000'000;  // 20 s
  ASSERT_TRUE(engine.Apply(later).ok());
  EXPECT_NEAR(StatOf(engine, "d", "a").counts.views, 2, 1e-12);
  EXPECT_NEAR(StatOf(engine, "d", "b").counts.views, 1, 1e-12);
  // A clock stepping back does not decay (nor un-decay).
  FeedbackBatch earlier = Batch({Event("d", "b", 1, 0)});
  earlier.logged_at_micros = first.logged_at_micros;
  ASSERT_TRUE(engine.Apply(earlier).ok());
  EXPECT_NEAR(StatOf(engine, "d", "a").counts.views, 2, 1e-12);
}

// Catches a renormalisation that misses a table (a segment, a context item,
// the enabled-views total) or scales by the wrong factor, and any drift
// between the stored-divided-by-scale counters and the true decayed value:
// every counter is checked against a reference that halves plain long
// doubles at every event, with no scale and no renormalisation.
TEST(DecayTest, CountersMatchPlainHalvingAcrossRenormalisation) {
  // Half-life of one event: the scale passes 1e-150 after ~500 events, so
  // the tables are renormalised once in 700 events.
  Engine engine;
  ASSERT_TRUE(engine.Apply(DecayingRoom({.half_life_events = 1})).ok());
  // Reference, keyed "segment/item/arm" (item empty for the arm table).
  std::map<std::string, std::pair<long double, long double>> reference;
  std::mt19937_64 gen(5);
  for (int i = 0; i < 700; ++i) {
    const std::string arm = gen() % 2 ? "a" : "b";
    const int64_t views = 1 + gen() % 3;
    const int64_t clicks = gen() % 2;
    const std::string segment = i % 3 ? "" : "seg";
    FeedbackBatch b =
        Batch({Event("d", arm, views, clicks, segment, {"ctx=1"})});
    b.logged_at_micros = i;
    ASSERT_TRUE(engine.Apply(b).ok());
    for (auto& [key, counts] : reference) {
      counts.first /= 2;
      counts.second /= 2;
    }
    for (const std::string& seg : {std::string(), segment}) {
      for (const char* item : {"", "ctx=1"}) {
        auto& counts = reference[seg + "/" + std::string(item) + "/" + arm];
        counts.first += views;
        counts.second += clicks;
      }
      if (segment.empty()) break;  // "" counted once
    }
  }
  int checked = 0;
  for (const std::string segment : {"", "seg"}) {
    absl::StatusOr<Stats> stats = engine.GetStats("d", segment, true);
    ASSERT_TRUE(stats.ok()) << stats.status();
    long double total = 0;
    for (const ArmStat& arm : stats->arms) {
      const auto& want = reference[segment + "//" + arm.arm_id];
      total += want.first;
      EXPECT_NEAR(arm.counts.views, want.first, 1e-12 * want.first)
          << segment << "/" << arm.arm_id;
      EXPECT_NEAR(arm.counts.clicks, want.second, 1e-12 * want.first + 1e-300)
          << segment << "/" << arm.arm_id;
      ++checked;
      ASSERT_EQ(arm.context.size(), 1u) << segment << "/" << arm.arm_id;
      const auto& want_item = reference[segment + "/ctx=1/" + arm.arm_id];
      EXPECT_NEAR(arm.context[0].counts.views, want_item.first,
                  1e-12 * want_item.first)
          << segment << "/ctx=1/" << arm.arm_id;
      ++checked;
    }
    EXPECT_NEAR(stats->total_views, total, 1e-12 * total) << segment;
  }
  EXPECT_EQ(checked, 8);
}

TEST(DecayTest, DecayedRoomsRankLikeUndecayedOnRecentData) {
  // Arm a was best long ago, b is best lately: with a short half-life b
  // wins, without decay a does.
  auto build = [](Engine& engine, DecayConfig decay) {
    CreateRoom create = NewRoom("d", {"a", "b"});
    create.decay = decay;
    ASSERT_TRUE(engine.Apply(create).ok());
    ASSERT_TRUE(engine
                    .Apply(Batch({Event("d", "a", 10000, 3000),
                                  Event("d", "b", 10000, 1000)}))
                    .ok());
    for (int i = 0; i < 200; ++i) {
      ASSERT_TRUE(
          engine.Apply(Batch({Event("d", "a", 10, 1), Event("d", "b", 10, 4)}))
              .ok());
    }
  };
  Engine plain, decaying;
  build(plain, {});
  build(decaying, {.half_life_events = 20});
  EXPECT_EQ(plain.Sample(Query("d", 1, PolicyKind::kCtr))->arms[0].arm_id, "a");
  EXPECT_EQ(decaying.Sample(Query("d", 1, PolicyKind::kCtr))->arms[0].arm_id,
            "b");
  EXPECT_EQ(decaying.Sample(Query("d", 1, PolicyKind::kUcb1))->arms[0].arm_id,
            "b");
}

TEST(DecayTest, BadConfigIsRejected) {
  Engine engine;
  EXPECT_EQ(
      engine
          .Apply(DecayingRoom({.half_life_events = 5, .half_life_seconds = 5}))
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);
  absl::Status status =
      engine.Apply(DecayingRoom({.half_life_events = -1})).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              ::testing::HasSubstr("decay.half_life_events"));
}

TEST(ColdStartTest, NewSegmentBorrowsRoomWideRates) {
  Engine engine;
  ASSERT_TRUE(engine.Apply(NewRoom("r", {"a", "b", "c"})).ok());
  ASSERT_TRUE(
      engine
          .Apply(Batch({Event("r", "a", 100, 50), Event("r", "b", 100, 10),
                        Event("r", "c", 2, 0, "country=PL")}))
          .ok());
  SampleQuery q = Query("r", 3, PolicyKind::kCtr);
  q.segment = "country=PL";
  // Without a prior a and b are unseen in the segment (+inf, random order).
  EXPECT_TRUE(std::isinf(engine.Sample(q)->arms[0].score));
  q.policy.prior_pseudo_views = 10.0;
  absl::StatusOr<SampleResult> result = engine.Sample(q);
  ASSERT_TRUE(result.ok()) << result.status();
  // a: (0 + 10 * 0.5) / (0 + 10); b: 0.1; c: (0 + 10 * 0/2) / (2 + 10).
  EXPECT_THAT(Ids(*result), ElementsAre("a", "b", "c"));
  EXPECT_DOUBLE_EQ(result->arms[0].score, 0.5);
  EXPECT_DOUBLE_EQ(result->arms[1].score, 0.1);
  EXPECT_DOUBLE_EQ(result->arms[2].score, 0.0);
  // Reported counts stay the segment's own.
  EXPECT_EQ(result->arms[0].counts, (Counts{}));
  // The whole-room segment is never blended with itself.
  q.segment = "";
  EXPECT_DOUBLE_EQ(engine.Sample(q)->arms[0].score, 0.5);
}

CreateRoom LinUcbRoom(int dimension, std::vector<std::string> arms) {
  CreateRoom create = NewRoom("lin", std::move(arms));
  create.linucb = {.dimension = dimension, .lambda = 1.0};
  return create;
}

TEST(LinUcbEngineTest, FeaturesAreValidated) {
  Engine engine;
  ASSERT_TRUE(engine.Apply(LinUcbRoom(2, {"a"})).ok());
  ASSERT_TRUE(engine.Apply(NewRoom("plain", {"a"})).ok());
  FeedbackEvent e = Event("lin", "a", 1, 0);
  e.features = {1, 2, 3};
  absl::Status status = engine.Apply(Batch({e})).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(
      std::string(status.message()),
      ::testing::HasSubstr("events[0].features: room \"lin\" expects 2"));
  e.features = {1, std::nan("")};
  EXPECT_EQ(engine.Apply(Batch({e})).status().code(),
            absl::StatusCode::kInvalidArgument);
  e = Event("plain", "a", 1, 0);
  e.features = {1, 2};
  EXPECT_EQ(engine.Apply(Batch({e})).status().code(),
            absl::StatusCode::kFailedPrecondition);
  SampleQuery q = Query("lin", 1, PolicyKind::kLinUcb);
  EXPECT_EQ(engine.Sample(q).status().code(),
            absl::StatusCode::kInvalidArgument);
  q.room_id = "plain";
  EXPECT_EQ(engine.Sample(q).status().code(),
            absl::StatusCode::kFailedPrecondition);
  Engine small({.max_linucb_dimension = 4});
  EXPECT_EQ(small.Validate(LinUcbRoom(5, {"a"})).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(LinUcbEngineTest, ModelsFollowArmsThroughAddRemoveAndReset) {
  Engine engine;
  ASSERT_TRUE(engine.Apply(LinUcbRoom(2, {"a", "b"})).ok());
  FeedbackEvent e = Event("lin", "b", 1, 1);
  e.features = {1, 0};
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(engine.Apply(Batch({e})).ok());
  ASSERT_TRUE(engine.Apply(AddArms{"lin", {"c"}}).ok());
  ASSERT_TRUE(engine.Apply(RemoveArm{"lin", "a"}).ok());
  SampleQuery q = Query("lin", 2, PolicyKind::kLinUcb);
  q.features = {1, 0};
  q.policy.linucb_alpha = 0.0;
  // b learned reward 1 for x = (1, 0): theta_0 = 20 / 21.
  absl::StatusOr<SampleResult> result = engine.Sample(q);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->arms[0].arm_id, "b");
  EXPECT_NEAR(result->arms[0].score, 20.0 / 21.0, 1e-12);
  EXPECT_DOUBLE_EQ(result->arms[1].score, 0.0);  // c is fresh
  ASSERT_TRUE(engine.Apply(ResetRoom{"lin"}).ok());
  EXPECT_DOUBLE_EQ(engine.Sample(q)->arms[0].score, 0.0);
}

// LinUCB learns a linear reward that context-free UCB1 cannot: each arm pays
// off in proportion to one feature, so the best arm depends on the request.
TEST(LinUcbEngineTest, BeatsContextFreeUcb1OnALinearReward) {
  constexpr int kRounds = 3000;
  const std::vector<std::string> arms = {"a0", "a1", "a2"};
  auto run = [&](PolicyKind kind) {
    Engine engine;
    CreateRoom create = LinUcbRoom(3, arms);
    create.policy.kind = kind;
    EXPECT_TRUE(engine.Apply(create).ok());
    std::mt19937_64 world(21);
    std::uniform_real_distribution<double> uniform(0, 1);
    double reward_total = 0;
    for (int round = 0; round < kRounds; ++round) {
      std::vector<double> x = {uniform(world), uniform(world), uniform(world)};
      SampleQuery q;
      q.room_id = "lin";
      q.features = x;
      q.seed = round;
      absl::StatusOr<SampleResult> decision = engine.Sample(q);
      EXPECT_TRUE(decision.ok()) << decision.status();
      const int arm = decision->arms[0].arm_id[1] - '0';
      const int click = uniform(world) < 0.9 * x[arm] ? 1 : 0;
      FeedbackEvent e = Event("lin", arms[arm], 1, click);
      e.features = x;
      EXPECT_TRUE(engine.Apply(Batch({e})).ok());
      reward_total += click;
    }
    return reward_total / kRounds;
  };
  const double linucb = run(PolicyKind::kLinUcb);
  const double ucb1 = run(PolicyKind::kUcb1);
  // Best arm per round pays 0.9 * E[max of 3 uniforms] = 0.675; any single
  // arm pays 0.45.
  EXPECT_GT(linucb, 0.6);
  EXPECT_LT(ucb1, 0.5);
}

}  // namespace
}  // namespace banditd::core
