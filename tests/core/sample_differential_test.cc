// Differential tests of Sample's scans (sample_scan.h) against the reference
// full scan, which scores every eligible arm.
//   - Deterministic policies: over thousands of seeded random rooms (sizes
//     from 1 to 3,000 arms, exact ties, unseen arms, clicks above views,
//     context items, sparse segment and item tables, disabled arms,
//     candidates and exclusions), every call must return a top k of the full
//     ranking: the same scores in the same order, each arm with its own
//     score. Catches a bound below an exact score (an arm that should enter
//     is filtered out), a threshold that is not re-read after it rises, a
//     tie sampled among the wrong arms, an eligibility test skipped. Their
//     exact propensities must match the full ranking's tie counts.
//   - Thompson policies: the winner frequencies of many seeded calls must
//     match the exact winner probabilities, computed by integrating the
//     Beta (or, where SampleBeta uses it, normal) laws, within a margin
//     that a bias of one percentage point would exceed (see kAlarm).
//     Catches a skip rule that drops arms which could have won.

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/core/beta.h"
#include "server/core/engine.h"

namespace banditd::core {
namespace {

const std::vector<std::string> kItems = {"i0", "i1", "i2", "rare"};

// Counters for one arm's event, of a shape drawn per room.
void DrawCounts(std::mt19937_64& rng, int shape, FeedbackEvent& e) {
  switch (shape) {
    case 0:  // exact CTR ties: a few rates at a few scales
      e.views = 10 * (1 + static_cast<int64_t>(rng() % 4));
      e.clicks = e.views / 10 * static_cast<int64_t>(rng() % 4);
      return;
    case 1:  // young arms
      e.views = 1 + static_cast<int64_t>(rng() % 20);
      e.clicks = static_cast<int64_t>(rng() % (e.views + 1));
      return;
    default:  // a long-running room
      e.views = 1 + static_cast<int64_t>(rng() % 100000);
      e.clicks = static_cast<int64_t>(rng() % (e.views / 10 + 1));
      return;
  }
}

int DrawArmCount(std::mt19937_64& rng) {
  const uint64_t r = rng() % 20;
  if (r < 8) return 1 + static_cast<int>(rng() % 10);
  if (r < 17) return 11 + static_cast<int>(rng() % 300);
  return 300 + static_cast<int>(rng() % 2200);  // several blocks of 512
}

struct RandomRoom {
  Engine engine;
  std::vector<std::string> arm_ids;
  bool linear = false;
};

// Room "r": arms a0.., a share of them unseen, counts of one shape, events
// spread over the whole room, segment "s" and the context items.
void BuildRoom(std::mt19937_64& rng, RandomRoom& room) {
  const int arms = DrawArmCount(rng);
  const double unseen = std::vector<double>{0, 0.05, 0.5, 0.97}[rng() % 4];
  const double in_segment = std::vector<double>{0, 0.02, 0.6}[rng() % 3];
  const int shape = static_cast<int>(rng() % 3);
  room.linear = rng() % 6 == 0;
  CreateRoom create;
  create.room_id = "r";
  if (room.linear) create.linucb.dimension = 2;
  if (rng() % 10 == 0) create.decay.half_life_events = 500;
  for (int i = 0; i < arms; ++i) create.arm_ids.push_back(absl::StrCat("a", i));
  room.arm_ids = create.arm_ids;
  ASSERT_TRUE(room.engine.Apply(create).ok());
  std::uniform_real_distribution<double> u(0, 1);
  FeedbackBatch batch;
  for (int i = 0; i < arms; ++i) {
    if (u(rng) < unseen) continue;
    FeedbackEvent e;
    e.room_id = "r";
    e.arm_id = room.arm_ids[i];
    DrawCounts(rng, shape, e);
    if (rng() % 50 == 0) e.clicks = e.views + 1;  // clicks before views
    if (u(rng) < in_segment) e.segment = "s";
    for (size_t j = 0; j + 1 < kItems.size(); ++j) {
      if (rng() % 3 == 0) e.context_items.push_back(kItems[j]);
    }
    if (rng() % 40 == 0) e.context_items.push_back("rare");
    if (room.linear) e.features = {u(rng), u(rng)};
    batch.events.push_back(std::move(e));
    if (batch.events.size() == 1000) {
      ASSERT_TRUE(room.engine.Apply(batch).ok())
          << room.engine.Apply(batch).status();
      batch.events.clear();
    }
  }
  if (!batch.events.empty()) {
    ASSERT_TRUE(room.engine.Apply(batch).ok())
        << room.engine.Apply(batch).status();
  }
  for (int i = 0; i < arms; ++i) {
    if (rng() % 17 == 0) {
      ASSERT_TRUE(
          room.engine.Apply(SetArmEnabled{"r", room.arm_ids[i], false}).ok());
    }
  }
}

// A random query of room "r" (policy left to the caller).
SampleQuery DrawQuery(std::mt19937_64& rng, const RandomRoom& room) {
  SampleQuery q;
  q.room_id = "r";
  q.seed = rng();
  const int arms = static_cast<int>(room.arm_ids.size());
  q.k = static_cast<int>(rng() % 3 == 0 ? rng() % (arms + 3) : rng() % 11);
  const int segment = static_cast<int>(rng() % 4);
  q.segment = segment == 0 ? "s" : segment == 1 ? "nobody" : "";
  for (const std::string& item : kItems) {
    if (rng() % 4 == 0) q.context_items.push_back(item);
  }
  if (rng() % 8 == 0) q.context_items.push_back("unknown");
  if (rng() % 5 == 0) {
    for (int i = 0; i < arms; ++i) {
      if (rng() % 3 == 0) q.candidate_arm_ids.push_back(room.arm_ids[i]);
    }
    if (q.candidate_arm_ids.empty()) q.candidate_arm_ids = {room.arm_ids[0]};
  }
  if (rng() % 4 == 0) {
    for (int i = 0; i < arms; ++i) {
      if (rng() % 5 == 0) q.excluded_arm_ids.push_back(room.arm_ids[i]);
    }
  }
  if (rng() % 8 == 0) q.policy.prior_pseudo_views = 5;
  if (room.linear) q.features = {0.3, 0.7};
  return q;
}

// Checks that `got` is a top k of the full ranking `full` (every eligible
// arm, best first).
void ExpectTopKOfFullRanking(const SampleResult& got, const SampleResult& full,
                             int k, const std::string& where) {
  const size_t want = std::min<size_t>(k == 0 ? 1 : k, full.arms.size());
  ASSERT_EQ(got.arms.size(), want) << where;
  absl::flat_hash_map<std::string, double> score;
  for (const ScoredArm& a : full.arms) score[a.arm_id] = a.score;
  absl::flat_hash_map<std::string, int> seen;
  for (size_t j = 0; j < want; ++j) {
    const ScoredArm& a = got.arms[j];
    EXPECT_EQ(a.score, full.arms[j].score) << where << " rank " << j;
    ASSERT_TRUE(score.contains(a.arm_id)) << where << " " << a.arm_id;
    EXPECT_EQ(a.score, score[a.arm_id]) << where << " " << a.arm_id;
    EXPECT_EQ(++seen[a.arm_id], 1) << where << " twice: " << a.arm_id;
  }
}

// Checks each returned arm's propensity against the tie count of the full
// ranking: 1 above the k-th score, (places left) / (arms tied) at it.
// Catches propensities taken from the call's own ranking when an arm it did
// not return ties at the k-th score.
void ExpectExactPropensities(const SampleResult& got, const SampleResult& full,
                             int k, const std::string& where) {
  const size_t n = std::min<size_t>(k == 0 ? 1 : k, full.arms.size());
  const double boundary = full.arms[n - 1].score;
  int64_t above = 0;
  int64_t tied = 0;
  for (const ScoredArm& a : full.arms) {
    above += a.score > boundary;
    tied += a.score == boundary;
  }
  const double share =
      static_cast<double>(static_cast<int64_t>(n) - above) / tied;
  EXPECT_EQ(got.propensity_draws, 0) << where;
  for (const ScoredArm& a : got.arms) {
    ASSERT_TRUE(a.propensity.has_value()) << where;
    EXPECT_DOUBLE_EQ(*a.propensity, a.score > boundary ? 1.0 : share)
        << where << " " << a.arm_id << " score " << a.score;
  }
}

TEST(SampleDifferentialTest, DeterministicPoliciesMatchTheFullScan) {
  constexpr int kRooms = 2000;
  constexpr int kQueriesPerRoom = 2;
  std::mt19937_64 rng(20261203);
  int compared = 0;
  int bounded = 0;  // calls that could take a bounded scan
  for (int r = 0; r < kRooms; ++r) {
    RandomRoom room;
    BuildRoom(rng, room);
    for (int qi = 0; qi < kQueriesPerRoom; ++qi) {
      SampleQuery q = DrawQuery(rng, room);
      std::vector<PolicyOverride> policies(8);
      const PolicyKind kinds[] = {
          PolicyKind::kCtr,           PolicyKind::kUcb1,
          PolicyKind::kBucb,          PolicyKind::kHotCold,
          PolicyKind::kKlUcb,         PolicyKind::kRewardUcb,
          PolicyKind::kEpsilonGreedy, PolicyKind::kLinUcb};
      for (size_t p = 0; p < policies.size(); ++p) {
        policies[p].kind = kinds[p];
        policies[p].prior_pseudo_views = q.policy.prior_pseudo_views;
      }
      policies[6].epsilon = 0;
      for (const PolicyOverride& policy : policies) {
        if (*policy.kind == PolicyKind::kLinUcb && !room.linear) continue;
        SampleQuery fast = q;
        fast.policy = policy;
        fast.propensities = true;
        SampleQuery full = fast;
        full.propensities = false;
        full.full_scan = true;
        full.k = static_cast<int>(room.arm_ids.size());
        absl::StatusOr<SampleResult> want = room.engine.Sample(full);
        absl::StatusOr<SampleResult> got = room.engine.Sample(fast);
        const std::string where =
            absl::StrCat("room ", r, " query ", qi, " policy ",
                         static_cast<int>(*policy.kind), " arms ",
                         room.arm_ids.size(), " k ", q.k);
        ASSERT_EQ(got.ok(), want.ok()) << where << got.status();
        if (!got.ok()) {
          EXPECT_EQ(got.status(), want.status()) << where;
          continue;
        }
        ExpectTopKOfFullRanking(*got, *want, q.k, where);
        ExpectExactPropensities(*got, *want, q.k, where);
        ++compared;
        bounded += q.candidate_arm_ids.empty() &&
                   q.policy.prior_pseudo_views == std::nullopt;
        if (::testing::Test::HasFailure()) return;
      }
    }
  }
  // The rooms must exercise the bounded scans, not only the full one.
  EXPECT_GT(compared, 25000);
  EXPECT_GT(bounded, 15000);
}

// Cold rooms: with at least k eligible unseen arms (tied at +infinity), the
// scans draw k of them directly (FinishTied) rather than by a tie-break key
// per arm. Each must be returned with probability k / U and first with
// probability 1 / U (U eligible unseen arms), wherever it sits in the room;
// disabled and excluded ones never. Catches a draw biased towards the first
// arms found (the ones held when the draw starts) or towards a chunk, and
// an ineligible arm counted.
TEST(SampleDifferentialTest, UnseenArmsAreDrawnUniformly) {
  constexpr int kArms = 9000;  // unseen arms in three counting chunks
  constexpr int kK = 5;
  constexpr int kDraws = 8000;
  for (PolicyKind kind :
       {PolicyKind::kCtr, PolicyKind::kUcb1, PolicyKind::kKlUcb}) {
    Engine engine;
    CreateRoom create;
    create.room_id = "r";
    for (int i = 0; i < kArms; ++i) {
      create.arm_ids.push_back(absl::StrCat("a", i));
    }
    ASSERT_TRUE(engine.Apply(create).ok());
    FeedbackBatch batch;
    for (int i = 0; i < kArms; ++i) {
      if (i % 150 == 0) continue;  // 60 unseen arms
      FeedbackEvent e;
      e.room_id = "r";
      e.arm_id = create.arm_ids[i];
      e.views = 10 + i % 7;
      e.clicks = i % 3;
      batch.events.push_back(e);
    }
    ASSERT_TRUE(engine.Apply(batch).ok());
    ASSERT_TRUE(engine.Apply(SetArmEnabled{"r", "a4500", false}).ok());
    SampleQuery q;
    q.room_id = "r";
    q.k = kK;
    q.policy.kind = kind;
    q.excluded_arm_ids = {"a0", "a8850", "a1"};
    constexpr int kUnseen = 60 - 3;
    absl::flat_hash_map<std::string, int> returned;
    absl::flat_hash_map<std::string, int> first;
    for (int d = 0; d < kDraws; ++d) {
      q.seed = static_cast<uint64_t>(d) * 7919 + 1;
      absl::StatusOr<SampleResult> result = engine.Sample(q);
      ASSERT_TRUE(result.ok()) << result.status();
      ASSERT_EQ(result->arms.size(), static_cast<size_t>(kK));
      for (const ScoredArm& arm : result->arms) {
        ASSERT_EQ(arm.score, std::numeric_limits<double>::infinity());
        ++returned[arm.arm_id];
      }
      ++first[result->arms[0].arm_id];
    }
    EXPECT_EQ(returned.size(), static_cast<size_t>(kUnseen));
    EXPECT_FALSE(returned.contains("a0") || returned.contains("a4500") ||
                 returned.contains("a8850"));
    const double p = static_cast<double>(kK) / kUnseen;
    const double p1 = 1.0 / kUnseen;
    for (int i = 0; i < kArms; i += 150) {
      const std::string id = absl::StrCat("a", i);
      if (id == "a0" || id == "a4500" || id == "a8850") continue;
      EXPECT_NEAR(returned[id], kDraws * p,
                  4.5 * std::sqrt(kDraws * p * (1 - p)))
          << PolicyKindName(kind) << " " << id;
      EXPECT_NEAR(first[id], kDraws * p1,
                  4.5 * std::sqrt(kDraws * p1 * (1 - p1)))
          << PolicyKindName(kind) << " " << id;
    }
  }
}

// ---------------------------------------------------------------------------
// Thompson: winner frequencies against exact winner probabilities.

// Arms alike: `count` arms with these counters (prior Beta(1, 1)).
struct ArmGroup {
  int count;
  int64_t views;
  int64_t clicks;
};

// The law of one arm's Thompson draw, as SampleBeta makes it: Beta(a, b),
// or N(mean, variance) of that Beta where both parameters are at least
// kBetaNormalMin. Integer parameters here.
class DrawLaw {
 public:
  explicit DrawLaw(const ArmGroup& g)
      : a_(static_cast<int>(g.clicks) + 1),
        b_(static_cast<int>(g.views - g.clicks) + 1) {
    const double n = a_ + b_;
    mean_ = a_ / n;
    sd_ = std::sqrt(mean_ * (b_ / n) / (n + 1));
    normal_ = a_ >= kBetaNormalMin && b_ >= kBetaNormalMin;
    log_beta_ = std::lgamma(a_) + std::lgamma(b_) - std::lgamma(a_ + b_);
  }
  double Density(double x) const {
    if (normal_) {
      const double z = (x - mean_) / sd_;
      return std::exp(-z * z / 2) / (sd_ * std::sqrt(2 * M_PI));
    }
    return std::exp((a_ - 1) * std::log(x) + (b_ - 1) * std::log1p(-x) -
                    log_beta_);
  }
  // P(draw <= x): for the Beta, P(Binomial(a + b - 1, x) >= a).
  double Cdf(double x) const {
    if (normal_) return 0.5 * std::erfc(-(x - mean_) / (sd_ * std::sqrt(2.0)));
    const int n = a_ + b_ - 1;
    double sum = 0;
    for (int j = a_; j <= n; ++j) {
      sum += std::exp(std::lgamma(n + 1) - std::lgamma(j + 1) -
                      std::lgamma(n - j + 1) + j * std::log(x) +
                      (n - j) * std::log1p(-x));
    }
    return std::min(sum, 1.0);
  }

 private:
  int a_;
  int b_;
  double mean_;
  double sd_;
  bool normal_;
  double log_beta_;
};

// P(the winner is in group t) = count_t * integral of f_t F_t^(count_t - 1)
// prod_{s != t} F_s^count_s, by the midpoint rule.
std::vector<double> WinnerProbabilities(const std::vector<ArmGroup>& groups) {
  constexpr int kPoints = 100000;
  std::vector<DrawLaw> laws(groups.begin(), groups.end());
  std::vector<double> p(groups.size(), 0.0);
  std::vector<double> cdf(groups.size());
  for (int m = 0; m < kPoints; ++m) {
    const double x = (m + 0.5) / kPoints;
    double log_all = 0;  // log prod_s F_s^count_s
    for (size_t s = 0; s < groups.size(); ++s) {
      cdf[s] = laws[s].Cdf(x);
      log_all += groups[s].count * std::log(std::max(cdf[s], 1e-300));
    }
    for (size_t t = 0; t < groups.size(); ++t) {
      if (cdf[t] <= 0) continue;
      p[t] += groups[t].count * laws[t].Density(x) *
              std::exp(log_all - std::log(cdf[t])) / kPoints;
    }
  }
  return p;
}

// A margin of kAlarm standard errors around the exact probability; the draw
// count N makes a bias of one percentage point exceed it with probability
// 0.9: 0.01 >= (kAlarm + 1.28) sqrt(p (1 - p) / N).
constexpr double kAlarm = 4.5;
int DrawsToDetectOnePoint(const std::vector<double>& p) {
  double worst = 0;
  for (double x : p) worst = std::max(worst, x * (1 - x));
  const double z = kAlarm + 1.28;
  return static_cast<int>(std::ceil(z * z * worst / 1e-4));
}

void ExpectWinnerFrequencies(PolicyKind kind,
                             const std::vector<ArmGroup>& groups,
                             bool full_scan) {
  Engine engine;
  CreateRoom create;
  create.room_id = "r";
  std::vector<int> group_of;
  for (size_t g = 0; g < groups.size(); ++g) {
    for (int i = 0; i < groups[g].count; ++i) {
      create.arm_ids.push_back(absl::StrCat("a", create.arm_ids.size()));
      group_of.push_back(static_cast<int>(g));
    }
  }
  ASSERT_TRUE(engine.Apply(create).ok());
  FeedbackBatch batch;
  for (size_t i = 0; i < create.arm_ids.size(); ++i) {
    const ArmGroup& g = groups[group_of[i]];
    if (g.views == 0) continue;
    FeedbackEvent e;
    e.room_id = "r";
    e.arm_id = create.arm_ids[i];
    e.views = g.views;
    e.clicks = g.clicks;
    batch.events.push_back(e);
  }
  ASSERT_TRUE(engine.Apply(batch).ok());
  absl::flat_hash_map<std::string, int> group_by_id;
  for (size_t i = 0; i < create.arm_ids.size(); ++i) {
    group_by_id[create.arm_ids[i]] = group_of[i];
  }

  const std::vector<double> p = WinnerProbabilities(groups);
  double total = 0;
  for (double x : p) total += x;
  ASSERT_NEAR(total, 1.0, 1e-4) << "the integration is off";
  const int draws = DrawsToDetectOnePoint(p);
  SampleQuery q;
  q.room_id = "r";
  q.k = 1;
  q.policy.kind = kind;
  q.full_scan = full_scan;
  std::vector<int> wins(groups.size(), 0);
  for (int d = 0; d < draws; ++d) {
    q.seed = 1000003ULL * static_cast<uint64_t>(d) + 17;
    absl::StatusOr<SampleResult> result = engine.Sample(q);
    ASSERT_TRUE(result.ok()) << result.status();
    ++wins[group_by_id[result->arms[0].arm_id]];
  }
  for (size_t g = 0; g < groups.size(); ++g) {
    const double se = std::sqrt(p[g] * (1 - p[g]) / draws);
    EXPECT_NEAR(static_cast<double>(wins[g]) / draws, p[g], kAlarm * se)
        << "group " << g << " (" << groups[g].count << " x " << groups[g].views
        << " views, " << groups[g].clicks << " clicks), " << draws << " draws";
  }
}

// Contenders in each regime of the draw: exact Beta (both parameters under
// 32), a == 1 (by inversion), the normal approximation; and many weak arms
// that each win rarely but together often: the arms a skip rule drops. The
// scan takes its threshold at the start of each block of 512 arms
// (kernels::kBlock): the first block holds arms that never win, the second
// the contenders (padded with more of those), and the weak arms come after,
// where the threshold the contenders set lets most of them be skipped.
const std::vector<ArmGroup> kThompsonRoom = {
    {512, 3000, 40},  // normal, mean 0.014: never wins
    {1, 30, 9},       // Beta(10, 22)
    {1, 200, 60},     // normal, mean 0.30
    {1, 3, 0},        // Beta(1, 4)
    {509, 3000, 40},  // never wins
    {60, 60, 9},      // Beta(10, 52), weak
    {40, 400, 100},   // normal, mean 0.25, weak
};

TEST(SampleDifferentialTest, ThompsonWinnersMatchExactProbabilities) {
  ExpectWinnerFrequencies(PolicyKind::kThompson, kThompsonRoom, false);
}

// The contenders and weak arms alone: for the paths that draw every arm
// (nothing to skip, so no filler blocks needed).
const std::vector<ArmGroup> kSmallThompsonRoom = {
    {1, 30, 9}, {1, 200, 60}, {1, 3, 0}, {60, 60, 9}, {40, 400, 100}};

// The reference scan against the same exact probabilities: checks the
// integration as much as the scan.
TEST(SampleDifferentialTest, ThompsonFullScanWinnersMatchExactProbabilities) {
  ExpectWinnerFrequencies(PolicyKind::kThompson, kSmallThompsonRoom, true);
}

// A room without rewards: REWARD_THOMPSON's value is known (1 per
// conversion), so its draw is the Beta draw of Thompson.
TEST(SampleDifferentialTest, RewardThompsonWinnersMatchExactProbabilities) {
  ExpectWinnerFrequencies(PolicyKind::kRewardThompson, kSmallThompsonRoom,
                          false);
}

}  // namespace
}  // namespace banditd::core
