// Engine::Sample: the policy's ranking (Engine::Rank in sample.cc), the
// exploration floor, and each returned arm's propensity, the probability
// that the call returns it (first for k = 1, in the top k otherwise):
//   - deterministic policies (CTR, UCB1, BUCB, HOT_COLD, REWARD_UCB, LINUCB,
//     KL_UCB)
//     rank by score with random tie-breaks: an arm scoring above the k-th
//     score is always returned, and each of the m arms tied at the k-th
//     score with r places left is returned with probability r / m. Exact.
//     Usually the call's own ranking settles it (no tie at the k-th score
//     beyond the arms returned, or a cold room's counted ties); else one
//     more ranking, widened over the ties, or a counting pass.
//   - EPSILON_GREEDY: (1 - epsilon) times the CTR ranking's probability plus
//     epsilon * k / n (n eligible arms) for the uniformly random ranking.
//   - THOMPSON, REWARD_THOMPSON and LIN_TS: Monte Carlo, the share of `draws`
//     independent rankings (1000 by default, capped so that draws x arms
//     stays within EngineOptions::max_propensity_samples) that return the
//     arm, counting the call's own ranking as one more draw, so that an
//     arm returned is never given probability 0.
// With an exploration floor f, the call returns a uniformly random ranking
// with probability q = min(1, f * n / k), and each propensity is
// (1 - q) * p_policy + q * k / n >= f (for f <= k / n).

#include <algorithm>
#include <limits>
#include <random>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "server/core/engine.h"

namespace banditd::core {
namespace {

constexpr int kDefaultPropensityDraws = 1000;
constexpr int kMaxPropensityDraws = 100000;
// Deterministic propensities widen their ranking over the arms tied at the
// k-th score up to this many arms, then count the ties instead.
constexpr int64_t kMaxWidenedRanking = 4095;

uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A seed for the floor's coin and the Monte Carlo rankings: derived from the
// request's seed, so that a seeded call stays reproducible.
uint64_t SeedFor(const SampleQuery& q, uint64_t salt) {
  if (q.seed.has_value()) return Mix(*q.seed ^ salt);
  thread_local absl::InsecureBitGen gen;
  return absl::Uniform<uint64_t>(gen);
}

// The resolved policy as an override that sets every field, so that the
// extra rankings use exactly the call's policy.
PolicyOverride FullOverride(const PolicyParams& p) {
  PolicyOverride o;
  o.kind = p.kind;
  o.ucb_alpha = p.ucb_alpha;
  o.bucb_z = p.bucb_z;
  o.beta_prior_a = p.beta_prior_a;
  o.beta_prior_b = p.beta_prior_b;
  o.epsilon = p.epsilon;
  o.cold_max = p.cold_max;
  o.cold_steepness = p.cold_steepness;
  o.cold_threshold = p.cold_threshold;
  o.hot_max = p.hot_max;
  o.hot_steepness = p.hot_steepness;
  o.hot_threshold = p.hot_threshold;
  o.linucb_alpha = p.linucb_alpha;
  o.prior_pseudo_views = p.prior_pseudo_views;
  o.exploration_floor = p.exploration_floor;
  return o;
}

// Policies whose ranking is random beyond tie-breaks.
bool IsThompson(PolicyKind kind) {
  return kind == PolicyKind::kThompson || kind == PolicyKind::kRewardThompson ||
         kind == PolicyKind::kLinTs;
}

// A deterministic policy's propensities from the call's own ranking, when
// it settles them: no arm it did not return ties at the k-th score (its
// runner-up scores lower: then every returned arm has probability 1), or it
// counted the arms tied there (a cold room). Else false, and the caller
// ranks again (DeterministicPropensities). Saves the second ranking of
// almost every call.
bool OwnRankingPropensities(int64_t eligible, int query_k,
                            SampleResult& result) {
  const int64_t k = std::min<int64_t>(query_k == 0 ? 1 : query_k, eligible);
  if (k <= 0 || static_cast<int64_t>(result.arms.size()) != k) return false;
  const double boundary = result.arms.back().score;
  int64_t above = 0;
  for (const ScoredArm& arm : result.arms) above += arm.score > boundary;
  int64_t tied = result.tied_arms;
  if (tied == 0) {
    if (!(result.runner_up_score < boundary)) return false;
    tied = k - above;
  }
  if (tied < k - above) return false;
  const double tie_share =
      static_cast<double>(k - above) / static_cast<double>(tied);
  for (ScoredArm& arm : result.arms) {
    arm.propensity = arm.score > boundary ? 1.0 : tie_share;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::pair<PolicyParams, int64_t>> Engine::PolicyAndEligible(
    const SampleQuery& q) const {
  absl::StatusOr<std::shared_ptr<Room>> found =
      FindRoomOr(q.room_id, "room_id");
  if (!found.ok()) return found.status();
  const Room& room = **found;
  absl::ReaderMutexLock lock(&room.mu);
  const PolicyParams policy = q.policy.ForCall(room.policy);
  if (policy.exploration_floor == 0 && !q.propensities) {
    return std::make_pair(policy, int64_t{-1});  // not needed
  }
  absl::flat_hash_set<uint32_t> excluded;
  for (const std::string& arm_id : q.excluded_arm_ids) {
    const int64_t i = room.FindArm(arm_id);
    if (i >= 0) excluded.insert(static_cast<uint32_t>(i));
  }
  int64_t eligible = 0;
  if (q.candidate_arm_ids.empty()) {
    for (uint32_t i = 0; i < room.arm_ids.size(); ++i) {
      eligible += room.enabled[i] && !excluded.contains(i);
    }
  } else {
    absl::flat_hash_set<uint32_t> seen;
    for (const std::string& arm_id : q.candidate_arm_ids) {
      const int64_t i = room.FindArm(arm_id);
      if (i < 0 || !seen.insert(static_cast<uint32_t>(i)).second) continue;
      eligible += room.enabled[i] && !excluded.contains(i);
    }
  }
  return std::make_pair(policy, eligible);
}

absl::StatusOr<SampleResult> Engine::Sample(const SampleQuery& q) const {
  absl::StatusOr<std::pair<PolicyParams, int64_t>> resolved =
      PolicyAndEligible(q);
  // Errors (unknown room, bad policy) are Rank's to report.
  if (!resolved.ok() || resolved->second < 0 ||
      !ValidatePolicy(resolved->first, "policy").ok()) {
    return Rank(q, options_.max_k);
  }
  if (q.propensity_draws < 0 || q.propensity_draws > kMaxPropensityDraws) {
    return absl::InvalidArgumentError(
        absl::StrCat("propensity_draws: must be in [0, ", kMaxPropensityDraws,
                     "], got ", q.propensity_draws));
  }
  const PolicyParams& policy = resolved->first;
  const int64_t eligible = resolved->second;
  const int64_t k = std::min<int64_t>(q.k == 0 ? 1 : q.k, eligible);
  const double floor_q =
      eligible == 0 ? 0.0
                    : std::min(1.0, policy.exploration_floor *
                                        static_cast<double>(eligible) / k);
  bool explore = false;
  uint64_t uniform_seed = 0;
  if (floor_q > 0) {  // seeding the generator costs more than a small Rank
    std::mt19937_64 coin(SeedFor(q, 0x666c6f6f72ULL));
    explore = std::uniform_real_distribution<double>(0, 1)(coin) < floor_q;
    uniform_seed = coin();
  }
  absl::StatusOr<SampleResult> result;
  if (explore) {
    // The uniformly random ranking: epsilon-greedy with epsilon 1.
    SampleQuery uniform = q;
    uniform.policy.kind = PolicyKind::kEpsilonGreedy;
    uniform.policy.epsilon = 1.0;
    if (q.seed.has_value()) uniform.seed = uniform_seed;
    result = Rank(uniform, options_.max_k);
    if (result.ok()) result->policy = policy;
  } else {
    result = Rank(q, options_.max_k);
  }
  if (!result.ok()) return result;
  result->floor_probability = floor_q;
  result->floor_explored = explore;
  result->eligible_arms = eligible;
  if (!q.propensities || result->arms.empty()) return result;
  if (absl::Status s = AddPolicyPropensities(q, policy, eligible, *result);
      !s.ok()) {
    return s;
  }
  const double uniform = static_cast<double>(k) / static_cast<double>(eligible);
  for (ScoredArm& arm : result->arms) {
    arm.propensity = (1 - floor_q) * *arm.propensity + floor_q * uniform;
  }
  return result;
}

absl::Status Engine::AddPolicyPropensities(const SampleQuery& q,
                                           const PolicyParams& policy,
                                           int64_t eligible,
                                           SampleResult& result) const {
  if (IsThompson(policy.kind)) {
    absl::flat_hash_map<std::string, double> p;
    for (const ScoredArm& arm : result.arms) p[arm.arm_id] = 0;
    int draws =
        q.propensity_draws == 0 ? kDefaultPropensityDraws : q.propensity_draws;
    draws = static_cast<int>(std::min<int64_t>(
        draws, std::max<int64_t>(1, options_.max_propensity_samples /
                                        std::max<int64_t>(eligible, 1))));
    double total = draws;
    // The call's own ranking is one more draw of the policy's (unless the
    // floor replaced it).
    if (!result.floor_explored) {
      for (auto& [id, count] : p) count += 1;
      total += 1;
    }
    SampleQuery again = q;
    again.policy = FullOverride(policy);
    const uint64_t base = SeedFor(q, 0x6d63ULL);
    for (int d = 0; d < draws; ++d) {
      again.seed = base + static_cast<uint64_t>(d);
      absl::StatusOr<SampleResult> r = Rank(again, options_.max_k);
      if (!r.ok()) return r.status();
      for (const ScoredArm& arm : r->arms) {
        auto it = p.find(arm.arm_id);
        if (it != p.end()) it->second += 1;
      }
    }
    for (ScoredArm& arm : result.arms) arm.propensity = p[arm.arm_id] / total;
    result.propensity_draws = draws;
    return absl::OkStatus();
  }

  if (policy.kind != PolicyKind::kEpsilonGreedy && !result.floor_explored &&
      OwnRankingPropensities(eligible, q.k, result)) {
    return absl::OkStatus();
  }
  // Deterministic scores; epsilon-greedy mixes its CTR ranking with the
  // uniform one.
  double greedy_weight = 1.0;
  if (policy.kind == PolicyKind::kEpsilonGreedy) {
    greedy_weight = 1.0 - policy.epsilon;
  }
  absl::StatusOr<absl::flat_hash_map<std::string, double>> greedy =
      DeterministicPropensities(q, policy, eligible, result);
  if (!greedy.ok()) return greedy.status();
  const int64_t k = std::min<int64_t>(q.k == 0 ? 1 : q.k, eligible);
  const double uniform = static_cast<double>(k) / static_cast<double>(eligible);
  for (ScoredArm& arm : result.arms) {
    arm.propensity =
        greedy_weight * (*greedy)[arm.arm_id] + (1 - greedy_weight) * uniform;
  }
  return absl::OkStatus();
}

absl::StatusOr<absl::flat_hash_map<std::string, double>>
Engine::DeterministicPropensities(const SampleQuery& q,
                                  const PolicyParams& policy, int64_t eligible,
                                  const SampleResult& result) const {
  const int64_t k = std::min<int64_t>(q.k == 0 ? 1 : q.k, eligible);
  SampleQuery det = q;
  det.policy = FullOverride(policy);
  if (policy.kind == PolicyKind::kEpsilonGreedy)
    det.policy.kind = PolicyKind::kCtr;
  det.seed = 0;
  // One arm more than the call returns: when it scores below the k-th, as
  // it does unless arms tie there, this one ranking settles everything.
  int64_t width = std::min<int64_t>(k + 1, eligible);
  det.k = static_cast<int>(width);
  absl::StatusOr<SampleResult> top = Rank(det, std::numeric_limits<int>::max());
  if (!top.ok()) return top.status();
  if (static_cast<int64_t>(top->arms.size()) < k) {
    return absl::InternalError("propensities: the ranking lost arms");
  }
  const double boundary = top->arms[static_cast<size_t>(k - 1)].score;
  int64_t above = 0;
  for (int64_t i = 0; i < k; ++i) {
    above += top->arms[static_cast<size_t>(i)].score > boundary;
  }
  // Arms tie at the boundary beyond the ranking. A cold room's ranking knows
  // how many (tied_arms); else widen it a little, then count without
  // materialising the tied arms: widening to every tied arm would return up
  // to the whole room.
  const auto settled = [&] {
    return top->arms.back().score != boundary || width == eligible;
  };
  while (!settled() && top->tied_arms == 0 && width < kMaxWidenedRanking) {
    width = std::min({2 * width + 1, eligible, kMaxWidenedRanking});
    det.k = static_cast<int>(width);
    top = Rank(det, std::numeric_limits<int>::max());
    if (!top.ok()) return top.status();
  }
  absl::flat_hash_map<std::string, double> scores;  // of the returned arms
  for (const ScoredArm& arm : result.arms) scores[arm.arm_id];
  absl::flat_hash_map<std::string, double> found;
  int64_t tied = 0;
  for (const ScoredArm& arm : top->arms) {
    tied += arm.score == boundary;
    if (scores.contains(arm.arm_id)) found[arm.arm_id] = arm.score;
  }
  std::vector<std::string> unscored;
  if (!settled()) {
    tied = top->tied_arms;
    if (tied == 0) {
      det.k = static_cast<int>(k);
      det.count_ties = true;
      absl::StatusOr<SampleResult> counted =
          Rank(det, std::numeric_limits<int>::max());
      if (!counted.ok()) return counted.status();
      tied = counted->tied_arms;
    }
    // A returned arm outside the ranking may still tie at the boundary.
    for (const auto& [id, unused] : scores) {
      if (!found.contains(id)) unscored.push_back(id);
    }
  }
  if (!unscored.empty()) {  // score them alone
    det.count_ties = false;
    det.k = static_cast<int>(unscored.size());
    det.candidate_arm_ids = std::move(unscored);
    absl::StatusOr<SampleResult> own =
        Rank(det, std::numeric_limits<int>::max());
    if (!own.ok()) return own.status();
    for (const ScoredArm& arm : own->arms) found[arm.arm_id] = arm.score;
  }
  if (tied < k - above) {
    return absl::InternalError("propensities: the tie count lost arms");
  }
  const double tie_share =
      static_cast<double>(k - above) / static_cast<double>(tied);
  // Arms not found score below the boundary.
  for (auto& [id, p] : scores) {
    auto it = found.find(id);
    p = it == found.end()        ? 0.0
        : it->second > boundary  ? 1.0
        : it->second == boundary ? tie_share
                                 : 0.0;
  }
  return scores;
}

}  // namespace banditd::core
