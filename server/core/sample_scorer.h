#ifndef BANDITD_SERVER_CORE_SAMPLE_SCORER_H_
#define BANDITD_SERVER_CORE_SAMPLE_SCORER_H_

// Sample's scorers: per policy, the exact score of an arm (a fresh draw for
// the random policies), and where the policy has one, the bound a bounded
// scan filters arms by before scoring them (sample_kernels.h). The scans
// (sample_scan.h) only see this interface. Everything here is inline: the
// scans call it once per arm.

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "absl/random/gaussian_distribution.h"
#include "server/core/beta.h"
#include "server/core/klucb.h"
#include "server/core/linucb.h"
#include "server/core/policy.h"
#include "server/core/revenue.h"
#include "server/core/room.h"
#include "server/core/sample_kernels.h"
#include "server/core/scoring.h"

namespace banditd::core::scan {

// SplitMix64 finalizer: a cheap, well-mixed hash used for random tie-breaks
// and epsilon exploration scores without drawing from the generator per arm.
inline uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// SplitMix64 as a uniform random bit generator: cheap, inline, and good
// enough for Thompson draws.
class SplitMix64 {
 public:
  using result_type = uint64_t;
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return ~result_type{0}; }
  result_type operator()() {
    state_ += 0x9e3779b97f4a7c15ULL;
    return Mix(state_);
  }

 private:
  uint64_t state_;
};

// The counters an arm is scored from, for one context item (or the segment).
// Dense: the pointers hold one value per arm. Sparse (a context table few
// arms have counters in): the pointers are null and `sparse` is read
// through its index; an arm without an entry reads as zeros.
struct TableView {
  const double* views;
  const double* clicks;
  double log_total_views;
  const double* rewards = nullptr;
  const double* reward_sqs = nullptr;
  const CounterTable* sparse = nullptr;
};

// An arm's stored counters in one table (before the decay scale).
struct RawCounters {
  double views = 0;
  double clicks = 0;
  double reward = 0;
  double reward_sq = 0;
};

inline RawCounters RawAt(const TableView& t, uint32_t i) {
  if (t.sparse == nullptr) {
    return {t.views[i], t.clicks[i], t.rewards[i], t.reward_sqs[i]};
  }
  const int64_t e = t.sparse->Slot(i);
  if (e < 0) return {};
  return {t.sparse->views()[e], t.sparse->clicks()[e],
          t.sparse->reward_sums()[e], t.sparse->reward_sq_sums()[e]};
}

inline double ViewsAt(const TableView& t, uint32_t i) {
  if (t.sparse == nullptr) return t.views[i];
  const int64_t e = t.sparse->Slot(i);
  return e < 0 ? 0.0 : t.sparse->views()[e];
}

// An arm's true counters in one table (decay scale applied, cold-start
// pseudo-views blended in).
struct ArmCounters {
  double views;
  double clicks;
  double reward;
  double reward_sq;
};

// What the arms of one call are scored from, resolved once by Engine::Rank.
struct ScoreInputs {
  PolicyParams policy;
  // The segment's counters (zeros for a segment with no traffic yet).
  TableView base{nullptr, nullptr, 0};
  // One view per distinct context item (the segment's for an item with no
  // table).
  std::vector<TableView> items;
  // Counters are stored divided by the room's decay scale.
  double scale = 1;
  // Cold start: each arm's whole-room counters blended into the segment's
  // with `pseudo` views; null without cold start.
  const CounterTable* whole_room = nullptr;
  double pseudo = 0;
  // Revenue policies: the prior on an arm's mean value per conversion.
  ValuePrior value_prior;
  // LinUCB and LinTS: one model per arm, and the request's features.
  const LinUcbArm* models = nullptr;
  const std::vector<double>* features = nullptr;
  // Epsilon-greedy exploring this call: every arm scores a random key.
  bool explore = false;
  uint64_t explore_salt = 0;
};

// Which bounded scan a call can take (sample_scan.h), from its policy and
// inputs; kNone: the full scan, every eligible arm scored.
enum class BoundKind {
  kNone,
  kReach,     // no context item: exact reach tests in double precision
  kFloatSum,  // context items: single-precision bounds averaged over items
};

class Scorer {
 public:
  Scorer(const ScoreInputs& in, uint64_t seed) : in_(in), rng_(seed) {}

  const ScoreInputs& inputs() const { return in_; }
  const PolicyParams& policy() const { return in_.policy; }
  SplitMix64& rng() { return rng_; }

  // The arm's exact score: what the full scan ranks by.
  double Score(uint32_t i) {
    if (in_.explore) {
      return static_cast<double>(Mix(i ^ in_.explore_salt) >> 11) * 0x1.0p-53;
    }
    // LinUCB's features carry the context: one model per arm.
    if (Linear() || in_.items.empty()) return ScoreIn(in_.base, i);
    double sum = 0;
    for (const TableView& t : in_.items) {
      sum += ScoreIn(ViewsAt(t, i) > 0 ? t : in_.base, i);
    }
    return sum / static_cast<double>(in_.items.size());
  }

  // The arm's counters in `t`, as its score reads them.
  ArmCounters CountersIn(const TableView& t, uint32_t i) const {
    const RawCounters raw = RawAt(t, i);
    const double s = in_.scale;
    ArmCounters a{raw.views * s, raw.clicks * s, raw.reward * s,
                  raw.reward_sq * s};
    if (in_.whole_room != nullptr && t.views == in_.base.views) {
      const double room_views = in_.whole_room->views()[i];
      if (room_views > 0) {
        const double w = in_.pseudo / room_views;
        a.views += in_.pseudo;
        a.clicks += w * in_.whole_room->clicks()[i];
        a.reward += w * in_.whole_room->reward_sums()[i];
        a.reward_sq += w * in_.whole_room->reward_sq_sums()[i];
      }
    }
    return a;
  }

  // The per-policy exact score of arm i in table t.
  double ScoreIn(const TableView& t, uint32_t i);

  // Which bounded scan applies. Decayed rooms and cold start read scaled or
  // blended counters, which the bounds do not model; exploring scores are
  // random keys; the other policies have no bound written.
  BoundKind Bound() const {
    const PolicyKind kind = in_.policy.kind;
    const bool has_bound =
        kind == PolicyKind::kCtr || kind == PolicyKind::kUcb1 ||
        kind == PolicyKind::kBucb || kind == PolicyKind::kThompson ||
        kind == PolicyKind::kEpsilonGreedy;
    if (!has_bound || in_.explore || in_.scale != 1.0 ||
        in_.whole_room != nullptr) {
      return BoundKind::kNone;
    }
    return in_.items.empty() ? BoundKind::kReach : BoundKind::kFloatSum;
  }

  // Whether exactly the arms with no views in the segment score +infinity
  // (every other arm scoring less): the index policies with no context item
  // and no cold start, not exploring. The scans then draw among unseen arms
  // directly when they fill the top k (FinishTied).
  bool OnlyUnseenAreInfinite() const {
    const PolicyKind kind = in_.policy.kind;
    const bool index_policy =
        kind == PolicyKind::kCtr || kind == PolicyKind::kUcb1 ||
        kind == PolicyKind::kBucb || kind == PolicyKind::kKlUcb ||
        kind == PolicyKind::kRewardUcb || kind == PolicyKind::kEpsilonGreedy;
    return index_policy && !in_.explore && in_.items.empty() &&
           in_.whole_room == nullptr;
  }

  // kFloatSum: single-precision upper bounds of the scores in `t` of arms
  // [begin, begin + n) (dense `t`). These must stay above ScoreIn.
  void BoundBlock(const TableView& t, size_t begin, size_t n, float* out) const;

  // kReach (but Thompson, see ThompsonScan): the policy's mark kernel and
  // per-arm reach test, and their parameters with the threshold still to
  // set.
  struct Reach {
    kernels::MarkKernel mark;
    kernels::FlagKernel flag;
    bool (*reaches)(double, double, const kernels::ReachParams&);
    kernels::ReachParams params;
  };
  Reach ReachTests() const;

  // Thompson with context items: the mean of one draw per item, or
  // -infinity once the draws so far plus the bounds of the items still to
  // draw (ThompsonDrawBound's, each exceeded with probability under 9e-14)
  // fall short of `threshold`; otherwise Score(i)'s result, draw for draw.
  double ThompsonMeanIfReaching(uint32_t i, double threshold);

 private:
  bool Linear() const {
    return in_.policy.kind == PolicyKind::kLinUcb ||
           in_.policy.kind == PolicyKind::kLinTs;
  }

  const ScoreInputs& in_;
  SplitMix64 rng_;
  absl::gaussian_distribution<double> normal_;
};

// The per-policy exact scores (scoring.h, klucb.h, revenue.h, linucb.h).
inline double Scorer::ScoreIn(const TableView& t, uint32_t i) {
  const PolicyParams& p = in_.policy;
  const ArmCounters a = CountersIn(t, i);
  const double v = a.views;
  const double c = a.clicks;
  switch (p.kind) {
    case PolicyKind::kHotCold:
      return HotColdScore(v, c, p.cold_max, p.cold_steepness, p.cold_threshold,
                          p.hot_max, p.hot_steepness, p.hot_threshold);
    case PolicyKind::kRewardUcb:
      return RewardUcbScore(v, c, a.reward, a.reward_sq, t.log_total_views,
                            in_.value_prior);
    case PolicyKind::kRewardThompson:
      return RewardThompsonDraw(rng_, v, c, a.reward, a.reward_sq,
                                in_.value_prior, p.beta_prior_a,
                                p.beta_prior_b);
    case PolicyKind::kKlUcb:
      return KlUcbScore(v, c, t.log_total_views);
    case PolicyKind::kLinUcb:  // scored per arm, never per table
    case PolicyKind::kLinTs: {
      // The models are stored divided by the decay scale (linucb.h).
      const LinUcbArm& model = in_.models[i];
      const std::vector<double>& x = *in_.features;
      const double sd = std::sqrt(model.Variance(x) / in_.scale);
      const double spread = p.kind == PolicyKind::kLinUcb
                                ? p.linucb_alpha * sd
                                : p.linucb_alpha * sd * normal_(rng_);
      return model.Expected(x) + spread;
    }
    case PolicyKind::kUcb1:
      return Ucb1Score(v, c, t.log_total_views, p.ucb_alpha);
    case PolicyKind::kBucb:
      return BucbScore(v, c, p.bucb_z, p.beta_prior_a, p.beta_prior_b);
    case PolicyKind::kThompson:
      return SampleBeta(rng_, BetaAlpha(c, p.beta_prior_a),
                        BetaBeta(v, c, p.beta_prior_b));
    case PolicyKind::kCtr:
    case PolicyKind::kEpsilonGreedy:
      return CtrScore(v, c);
  }
  return CtrScore(v, c);
}

// The revenue policies' prior, pooled over the enabled arms (revenue.h).
ValuePrior PooledValuePrior(const Scorer& scorer, const uint8_t* enabled,
                            size_t arm_count);

}  // namespace banditd::core::scan

#endif  // BANDITD_SERVER_CORE_SAMPLE_SCORER_H_
