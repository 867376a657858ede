// Engine::Sample: one pass over the eligible arms, scoring each and keeping
// the best k in a small heap, so the cost is linear in the arm count with no
// per-arm allocation.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <random>

#include "absl/random/bit_gen_ref.h"
#include "absl/random/distributions.h"
#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "server/core/beta.h"
#include "server/core/engine.h"
#include "server/core/ids.h"
#include "server/core/klucb.h"
#include "server/core/revenue.h"
#include "server/core/scoring.h"

namespace banditd::core {
namespace {

// SplitMix64 finalizer: a cheap, well-mixed hash used for random tie-breaks
// and epsilon exploration scores without drawing from the generator per arm.
inline uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

struct Candidate {
  double score;
  uint64_t tie;
  uint32_t index;
};

// Higher score first; equal scores ordered by a per-request random key.
inline bool Better(const Candidate& a, const Candidate& b) {
  return a.score > b.score || (a.score == b.score && a.tie > b.tie);
}

// TopK keeps the best k candidates seen; front() of the heap is the worst.
class TopK {
 public:
  TopK(size_t k, uint64_t salt) : k_(k), salt_(salt) { heap_.reserve(k); }

  void Offer(double score, uint32_t index) {
    if (std::isnan(score)) score = -std::numeric_limits<double>::infinity();
    if (heap_.size() < k_) {
      heap_.push_back({score, Mix(index ^ salt_), index});
      std::push_heap(heap_.begin(), heap_.end(), Better);
      return;
    }
    // Most arms lose to the current worst; reject them before hashing.
    if (score < heap_.front().score) return;
    Candidate c{score, Mix(index ^ salt_), index};
    if (!Better(c, heap_.front())) return;
    std::pop_heap(heap_.begin(), heap_.end(), Better);
    heap_.back() = c;
    std::push_heap(heap_.begin(), heap_.end(), Better);
  }

  // Scores below this cannot enter: -infinity until k are held, then the
  // worst held score.
  double threshold() const {
    return heap_.size() < k_ ? -std::numeric_limits<double>::infinity()
                             : heap_.front().score;
  }

  std::vector<Candidate> TakeSorted() {
    std::sort(heap_.begin(), heap_.end(), Better);
    return std::move(heap_);
  }

 private:
  const size_t k_;
  const uint64_t salt_;
  std::vector<Candidate> heap_;
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

// Arms are filtered a block at a time, through arrays on the stack.
constexpr size_t kBlock = 512;

// Bounds (scans with context items; without, the reach tests further down):
// the deterministic policies first compute, for a block of arms, a
// cheap upper bound of each score in single precision (8 arms per AVX2
// instruction rather than 4, and no per-arm branch: an unseen arm divides by
// 1 and then takes +infinity by a select, so the compiler vectorizes the
// loop). Only arms whose bound reaches the current k-th best score are
// scored exactly, with the formulas of scoring.h, so results are unchanged.
//
// Every bound term is non-negative (|clicks| stands for clicks), each float
// operation is off by at most 2^-24 relative, and a bound takes under 2^-18
// relative error in all (at most 32 context items); kBoundMargin covers that
// with room to spare. NaN bounds (an infinite parameter) let the arm through.
constexpr float kBoundMargin = 1.0f + 0x1.0p-10f;

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
// Each kernel is also compiled for AVX-512 (x86-64-v4) and AVX2 and the
// best the CPU runs is picked at load time.
#define BANDITD_VECTOR_CLONES \
  __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define BANDITD_VECTOR_CLONES
#endif

BANDITD_VECTOR_CLONES
void CtrBound(const double* __restrict v, const double* __restrict c, size_t n,
              float* __restrict out) {
  for (size_t j = 0; j < n; ++j) {
    const float views = static_cast<float>(v[j]);
    const float safe = views > 0 ? views : 1.0f;
    const float s = std::fabs(static_cast<float>(c[j])) / safe;
    // s + 0 or s + inf: arithmetic rather than a select keeps every load
    // unconditional, so none becomes a masked load.
    out[j] = s + (views > 0 ? 0.0f : std::numeric_limits<float>::infinity());
  }
}

BANDITD_VECTOR_CLONES
void Ucb1Bound(const double* __restrict v, const double* __restrict c, size_t n,
               double log_total_views, double alpha, float* __restrict out) {
  const float two_log =
      static_cast<float>(2.0 * std::max(log_total_views, 0.0));
  const float a = static_cast<float>(alpha);
  for (size_t j = 0; j < n; ++j) {
    const float views = static_cast<float>(v[j]);
    const float safe = views > 0 ? views : 1.0f;
    const float inverse = 1.0f / safe;
    const float s = std::fabs(static_cast<float>(c[j])) * inverse +
                    a * std::sqrt(two_log * inverse);
    // s + 0 or s + inf: arithmetic rather than a select keeps every load
    // unconditional, so none becomes a masked load.
    out[j] = s + (views > 0 ? 0.0f : std::numeric_limits<float>::infinity());
  }
}

BANDITD_VECTOR_CLONES
void BucbBound(const double* __restrict v, const double* __restrict c, size_t n,
               double z, double prior_a, double prior_b,
               float* __restrict out) {
  const float fz = static_cast<float>(z);
  const float fa = static_cast<float>(prior_a);
  const float fab = static_cast<float>(prior_a + prior_b);
  for (size_t j = 0; j < n; ++j) {
    const float views = static_cast<float>(v[j]);
    const float clicks = static_cast<float>(c[j]);
    const float safe = views > 0 ? views : 1.0f;
    // One division gives both 1 / views and 1 / (views + a + b). Where the
    // product could overflow (or underflow) the arm takes +inf below and is
    // scored exactly.
    const float denominator = views + fab;
    const float product = safe * denominator;
    const float r = 1.0f / product;
    const float inverse = denominator * r;
    const float q = ((clicks < 0 ? 0.0f : clicks) + fa) * (safe * r);
    // p is off by at most 2^-21 (absolute), and p (1 - p) has slope at most
    // 1 on [0, 1]: adding 2^-18 keeps the product above the exact one even
    // where 1 - p cancels; it never exceeds 1/4.
    const float p = q < 0 ? 0.0f : (1.0f < q ? 1.0f : q);
    const float var = std::min(p * (1.0f - p) + 0x1.0p-18f, 0.25f);
    const float s = std::fabs(clicks) * inverse + fz * std::sqrt(var * inverse);
    // s + 0 or s + inf: arithmetic rather than a select keeps every load
    // unconditional, so none becomes a masked load.
    const bool in_range = views > 0 && product < 1e36f && product > 1e-30f;
    out[j] = s + (in_range ? 0.0f : std::numeric_limits<float>::infinity());
  }
}

// Thompson: the draw from Beta(a, b) is sub-Gaussian with variance proxy at
// most 1 / (4 (a + b + 1)) (Marchal and Arbel, 2017), so it exceeds
// mean + sqrt(kThompsonTail / (a + b + 1)) with probability under
// exp(-2 kThompsonTail) = 9e-14. A draw by the normal approximation
// (SampleBeta, both parameters at least kBetaNormalMin) is Gaussian with
// variance mean (1 - mean) / (a + b + 1), so it exceeds
// mean + sqrt(60 mean (1 - mean) / (a + b + 1)) with the same probability:
// a tighter bound. Arms whose bound stays below the k-th best draw are not
// drawn: each
// such arm would have entered the top k with probability under 9e-14 (a
// deviation under 1e-7 per call at 1,000,000 arms).
constexpr float kThompsonTail = 15.0f;

// The bound above on a Beta(a, b) draw (mean = a / (a + b)): the normal
// approximation's own variance where SampleBeta uses it, else the
// sub-Gaussian proxy. In float for the vector kernel, in double per arm.
template <typename T>
inline T ThompsonDrawBound(T a, T b, T mean) {
  const bool normal = a >= static_cast<T>(kBetaNormalMin) &&
                      b >= static_cast<T>(kBetaNormalMin);
  const T spread = normal ? static_cast<T>(2 * kBetaSkipLogProbability) * mean *
                                (T{1} - mean)
                          : static_cast<T>(kThompsonTail);
  return mean + std::sqrt(spread / (a + b + T{1}));
}

BANDITD_VECTOR_CLONES
void ThompsonBound(const double* __restrict v, const double* __restrict c,
                   size_t n, double prior_a, double prior_b,
                   float* __restrict out) {
  const float fa = static_cast<float>(prior_a);
  const float fb = static_cast<float>(prior_b);
  for (size_t j = 0; j < n; ++j) {
    const float views = static_cast<float>(v[j]);
    const float clicks = static_cast<float>(c[j]);
    const float a = (clicks < 0 ? 0.0f : clicks) + fa;  // BetaAlpha
    const float misses = views - clicks;
    const float b = (misses < 0 ? 0.0f : misses) + fb;  // BetaBeta
    out[j] = ThompsonDrawBound(a, b, a / (a + b));
  }
}

// sums[j] += the item's bound where the item has views, else the segment's.
BANDITD_VECTOR_CLONES
void AddWithFallback(const double* __restrict item_views,
                     const float* __restrict item_bounds,
                     const float* __restrict base_bounds, size_t n,
                     float* __restrict sums) {
  for (size_t j = 0; j < n; ++j) {
    sums[j] += item_views[j] > 0 ? item_bounds[j] : base_bounds[j];
  }
}

// Scales values[0, n) (n a multiple of 16) by `factor` and sets marks[g]
// to 1 when some value of group g (values[16 g, 16 g + 16)) is not below
// `threshold` after scaling, or is NaN; else 0. One call per block.
BANDITD_VECTOR_CLONES
void ScaleAndMark(float* __restrict values, float factor, size_t n,
                  float threshold, uint32_t* __restrict marks) {
  for (size_t g = 0; g < n / 16; ++g) {
    uint32_t any = 0;
    for (size_t j = 16 * g; j < 16 * g + 16; ++j) {
      values[j] *= factor;
      any |= values[j] < threshold ? 0u : 1u;
    }
    marks[g] = any;
  }
}

// Bounds arms [begin, begin + n) of `t` under CTR, UCB1, BUCB, Thompson or
// epsilon-greedy (not exploring). These bounds must stay above the formulas
// score_in applies (scoring.h): change both together; SampleScanTest checks.
void BoundBlock(const PolicyParams& policy, const TableView& t, size_t begin,
                size_t n, float* out) {
  const double* v = t.views + begin;
  const double* c = t.clicks + begin;
  switch (policy.kind) {
    case PolicyKind::kUcb1:
      Ucb1Bound(v, c, n, t.log_total_views, policy.ucb_alpha, out);
      return;
    case PolicyKind::kBucb:
      BucbBound(v, c, n, policy.bucb_z, policy.beta_prior_a,
                policy.beta_prior_b, out);
      return;
    case PolicyKind::kThompson:
      ThompsonBound(v, c, n, policy.beta_prior_a, policy.beta_prior_b, out);
      return;
    case PolicyKind::kCtr:
    case PolicyKind::kEpsilonGreedy:
      CtrBound(v, c, n, out);
      return;
    default:  // no bound: every arm gets scored exactly
      std::fill_n(out, n, std::numeric_limits<float>::infinity());
      return;
  }
}

// The largest float not above `x` (x itself when exact).
float FloatAtMost(double x) {
  float f = static_cast<float>(x);
  if (static_cast<double>(f) > x) {
    f = std::nextafter(f, -std::numeric_limits<float>::infinity());
  }
  return f;
}

// Reach tests, for scans with no context item: can an arm's score reach the
// threshold t (the k-th best score so far)? Multiplying "score >= t" through
// by the arm's views (by the Beta's total for Thompson) leaves only
// multiplications and additions, in double precision: no division and no
// square root, so the loops below keep up with reading the counters.
//
// They must pass every arm whose score, as scoring.h computes it in double
// precision, reaches t: an arm passes when t n - clicks is within kTieSlack
// of zero relative to its terms (so rounding ties of clicks / n against t
// pass), and the squared comparisons carry kSquareSlack, far more than the
// few units in the last place either side rounds by. Unseen arms (score
// +infinity) and NaN always pass. SampleScanTest checks these against
// scoring every arm.
constexpr double kTieSlack = 1e-9;
constexpr double kSquareSlack = 1 + 1e-4;
// BUCB's p (1 - p) may be off by a few 1e-16 where 1 - p cancels.
constexpr double kVarianceSlack = 1e-9;
// A threshold of +infinity (unseen arms hold the top k) is tested as this
// value instead, so that the products stay finite and seen arms fail; a
// lower threshold only lets more arms through to exact scoring.
constexpr double kReachThresholdCap = 1e30;

// The policy's parameters, and the threshold, for the reach tests.
struct ReachParams {
  double t;              // the threshold, at most kReachThresholdCap
  double ucb_bonus = 0;  // UCB1: 2 alpha^2 ln N
  double z_squared = 0;  // BUCB
  double prior_a = 1;    // BUCB and Thompson
  double prior_b = 1;
};

// x |x|: with it "gap <= 0 or gap^2 <= bound" is one comparison, since a
// negative gap gives a negative left side.
inline double SignedSquare(double x) { return x * std::fabs(x); }

// The allowance for a rounding tie of clicks / n against t, squared.
inline double TieSquare(double n, double clicks, double t) {
  const double tie = kTieSlack * (t * n + clicks);
  return tie * tie;
}

// Each test is written "not (left > right)" so that NaN (an unseen arm
// under a -infinity threshold: -inf * 0) passes. Counters are never
// negative here (validated, undecayed).

// CTR: clicks / n >= t, i.e. gap = t n - clicks <= 0.
inline bool CtrReaches(double n, double clicks, const ReachParams& p) {
  const double gap = p.t * n - clicks;
  return !(gap > kTieSlack * (p.t * n + clicks));
}

// UCB1: clicks / n + alpha sqrt(2 ln N / n) >= t, i.e. gap <= 0 or
// gap^2 <= 2 alpha^2 ln N n.
inline bool Ucb1Reaches(double n, double clicks, const ReachParams& p) {
  const double gap = p.t * n - clicks;
  return !(SignedSquare(gap) >
           kSquareSlack * p.ucb_bonus * n + TieSquare(n, clicks, p.t));
}

// BUCB: clicks / n + z sqrt(q (1 - q) / n) >= t with q = hits / m, where
// hits = clicks + a and m = n + a + b: gap <= 0 or
// gap^2 m^2 <= z^2 n hits (m - hits).
inline bool BucbReaches(double n, double clicks, const ReachParams& p) {
  const double gap = p.t * n - clicks;
  const double hits = clicks + p.prior_a;
  const double misses = std::max(n + p.prior_b - clicks, 0.0);
  const double m = n + p.prior_a + p.prior_b;
  const double m2 = m * m;
  const double spread = p.z_squared * n * (hits * misses + kVarianceSlack * m2);
  return !(SignedSquare(gap) * m2 >
           kSquareSlack * spread + TieSquare(n, clicks, p.t) * m2);
}

// Thompson's first filter: can the draw reach t but for odds of exp(-30)?
// A draw by the normal approximation (both parameters at least
// kBetaNormalMin) is Gaussian with variance a b / (total^2 (total + 1)):
// gap^2 (total + 1) <= 60 a b, with gap = t total - a. Any other draw is
// sub-Gaussian with variance proxy 1 / (4 (total + 1)), ThompsonBound's
// bound: gap^2 (total + 1) <= 15 total^2. The first is the one
// BetaReachingDraw applies, so none of those arms is flagged in vain.
inline bool ThompsonMayReach(double n, double clicks, const ReachParams& p) {
  const double a = std::max(clicks, 0.0) + p.prior_a;
  const double b = std::max(n - clicks, 0.0) + p.prior_b;
  const double total = a + b;
  const double gap = p.t * total - a;
  const bool normal = (a >= kBetaNormalMin) & (b >= kBetaNormalMin);
  const double limit = normal ? 2 * kBetaSkipLogProbability * a * b
                              : double{kThompsonTail} * total * total;
  return !(gap > 0) | (gap * gap * (total + 1) <= limit);
}

// Sets reach[j] to 1 when arm j may reach the threshold, else 0, and
// marks[g] to 1 when some arm of group g (arms [kGroup g, kGroup (g + 1)))
// may, for `groups` groups. The flags spare the scan a second test of every
// arm in a marked group. Groups of 64 for the deterministic policies (the
// fewer reductions let the loads run further ahead: 6 to 18 % faster at 1M
// arms), of 16 for Thompson, whose first filter flags a few arms in many
// groups. Inlined into one small kernel per policy below, each with vector
// clones (GCC cannot clone a template).
constexpr size_t kDeterministicGroup = 64;
constexpr size_t kThompsonGroup = 16;

template <bool (*Reaches)(double, double, const ReachParams&), size_t kGroup>
__attribute__((always_inline)) inline void MarkGroups(
    const double* __restrict v, const double* __restrict c, size_t groups,
    const ReachParams& p, uint64_t* __restrict reach,
    uint64_t* __restrict marks) {
  for (size_t g = 0; g < groups; ++g) {
    uint64_t any = 0;
    for (size_t j = kGroup * g; j < kGroup * (g + 1); ++j) {
      reach[j] = Reaches(v[j], c[j], p) ? 1 : 0;
      any |= reach[j];
    }
    marks[g] = any;
  }
}

using MarkKernel = void (*)(const double*, const double*, size_t,
                            const ReachParams&, uint64_t*, uint64_t*);

BANDITD_VECTOR_CLONES
void MarkCtr(const double* v, const double* c, size_t groups,
             const ReachParams& p, uint64_t* reach, uint64_t* marks) {
  MarkGroups<CtrReaches, kDeterministicGroup>(v, c, groups, p, reach, marks);
}
BANDITD_VECTOR_CLONES
void MarkUcb1(const double* v, const double* c, size_t groups,
              const ReachParams& p, uint64_t* reach, uint64_t* marks) {
  MarkGroups<Ucb1Reaches, kDeterministicGroup>(v, c, groups, p, reach, marks);
}
BANDITD_VECTOR_CLONES
void MarkBucb(const double* v, const double* c, size_t groups,
              const ReachParams& p, uint64_t* reach, uint64_t* marks) {
  MarkGroups<BucbReaches, kDeterministicGroup>(v, c, groups, p, reach, marks);
}
BANDITD_VECTOR_CLONES
void MarkThompson(const double* v, const double* c, size_t groups,
                  const ReachParams& p, uint64_t* reach, uint64_t* marks) {
  MarkGroups<ThompsonMayReach, kThompsonGroup>(v, c, groups, p, reach, marks);
}

}  // namespace

absl::StatusOr<SampleResult> Engine::Rank(const SampleQuery& q,
                                          int max_k) const {
  if (absl::Status s = ValidateSegment(q.segment, "segment"); !s.ok()) return s;
  if (q.k < 0 || q.k > max_k) {
    return absl::InvalidArgumentError(
        absl::StrCat("k: must be in [0, ", max_k, "], got ", q.k));
  }
  if (q.context_items.size() >
      static_cast<size_t>(options_.max_context_items)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "context_items: ", q.context_items.size(),
        " items exceed the limit of ", options_.max_context_items));
  }
  for (size_t j = 0; j < q.context_items.size(); ++j) {
    if (absl::Status s = ValidateId(q.context_items[j],
                                    absl::StrCat("context_items[", j, "]"));
        !s.ok()) {
      return s;
    }
  }
  for (size_t j = 0; j < q.candidate_arm_ids.size(); ++j) {
    if (absl::Status s = ValidateId(q.candidate_arm_ids[j],
                                    absl::StrCat("candidate_arm_ids[", j, "]"));
        !s.ok()) {
      return s;
    }
  }
  absl::StatusOr<std::shared_ptr<Room>> found =
      FindRoomOr(q.room_id, "room_id");
  if (!found.ok()) return found.status();
  const Room& room = **found;
  absl::ReaderMutexLock lock(&room.mu);

  SampleResult result;
  result.policy = q.policy.ApplyTo(room.policy);
  if (absl::Status s = ValidatePolicy(result.policy, "policy"); !s.ok()) {
    return s;
  }
  const PolicyParams& policy = result.policy;
  if (!q.features.empty()) {
    if (absl::Status s =
            ValidateFeatures(q.features, room.linucb, room.id, "features");
        !s.ok()) {
      return s;
    }
  }
  const bool linear =
      policy.kind == PolicyKind::kLinUcb || policy.kind == PolicyKind::kLinTs;
  if (linear && q.features.empty()) {
    const std::string name =
        policy.kind == PolicyKind::kLinUcb ? "LINUCB" : "LIN_TS";
    return room.linucb.dimension == 0
               ? absl::FailedPreconditionError(absl::StrCat(
                     "policy.type: ", name,
                     " needs a room created with linucb.dimension > 0; "
                     "room \"",
                     room.id, "\" has none"))
               : absl::InvalidArgumentError(
                     absl::StrCat("features: ", name, " needs ",
                                  room.linucb.dimension, " features"));
  }
  const size_t k = q.k == 0 ? 1 : static_cast<size_t>(q.k);
  const size_t arm_count = room.arm_ids.size();

  // Candidate and excluded arms as sorted dense indices.
  std::vector<uint32_t> candidates;
  if (!q.candidate_arm_ids.empty()) {
    candidates.reserve(q.candidate_arm_ids.size());
    for (size_t j = 0; j < q.candidate_arm_ids.size(); ++j) {
      const int64_t index = room.FindArm(q.candidate_arm_ids[j]);
      if (index < 0) {
        return absl::NotFoundError(absl::StrCat(
            "candidate_arm_ids[", j, "]: arm \"", q.candidate_arm_ids[j],
            "\" not found in room \"", room.id, "\""));
      }
      candidates.push_back(static_cast<uint32_t>(index));
    }
    std::sort(candidates.begin(), candidates.end());
    candidates.erase(std::unique(candidates.begin(), candidates.end()),
                     candidates.end());
  }
  std::vector<uint32_t> excluded;
  excluded.reserve(q.excluded_arm_ids.size());
  for (const std::string& arm_id : q.excluded_arm_ids) {
    const int64_t index = room.FindArm(arm_id);
    if (index >= 0) excluded.push_back(static_cast<uint32_t>(index));
  }
  std::sort(excluded.begin(), excluded.end());
  excluded.erase(std::unique(excluded.begin(), excluded.end()), excluded.end());

  // Randomness: seeded for reproducible calls, else the thread's generator.
  std::optional<std::mt19937_64> seeded;
  thread_local absl::InsecureBitGen thread_gen;
  if (q.seed.has_value()) seeded.emplace(*q.seed);
  absl::BitGenRef gen = seeded.has_value() ? absl::BitGenRef(*seeded)
                                           : absl::BitGenRef(thread_gen);
  const uint64_t salt = absl::Uniform<uint64_t>(gen);

  // The segment's counters; a segment with no traffic yet reads as zeros.
  const Segment* segment = room.FindSegment(q.segment);
  std::vector<double> zeros;
  TableView base;
  // Counters are stored divided by the room's decay scale (1 without decay).
  const double scale = room.counter_scale;
  // The scans read the segment's counters densely: a sparse segment is
  // copied out for this call (the whole room's table is always dense).
  CounterTable dense_segment;
  const CounterTable* segment_arms = nullptr;
  if (segment != nullptr) {
    segment_arms = &segment->arms;
    if (segment->arms.sparse()) {
      dense_segment = segment->arms.Dense();
      segment_arms = &dense_segment;
    }
  }
  if (segment != nullptr) {
    base = {segment_arms->views(), segment_arms->clicks(),
            SafeLog(segment_arms->enabled_views() * scale),
            segment_arms->reward_sums(), segment_arms->reward_sq_sums()};
  } else {
    zeros.assign(arm_count, 0.0);
    base = {zeros.data(), zeros.data(), 0.0, zeros.data(), zeros.data()};
  }
  // One view per distinct context item; an item with no table falls back to
  // the segment counters for every arm.
  std::vector<TableView> items;
  {
    std::vector<absl::string_view> distinct(q.context_items.begin(),
                                            q.context_items.end());
    std::sort(distinct.begin(), distinct.end());
    distinct.erase(std::unique(distinct.begin(), distinct.end()),
                   distinct.end());
    items.reserve(distinct.size());
    for (absl::string_view item : distinct) {
      const CounterTable* table = nullptr;
      if (segment != nullptr) {
        auto it = segment->context.find(item);
        if (it != segment->context.end()) table = &it->second;
      }
      if (table == nullptr) {
        items.push_back(base);
      } else if (table->sparse()) {
        items.push_back(TableView{nullptr, nullptr,
                                  SafeLog(table->enabled_views() * scale),
                                  nullptr, nullptr, table});
      } else {
        items.push_back(TableView{table->views(), table->clicks(),
                                  SafeLog(table->enabled_views() * scale),
                                  table->reward_sums(),
                                  table->reward_sq_sums()});
      }
    }
  }

  const bool explore = policy.kind == PolicyKind::kEpsilonGreedy &&
                       absl::Bernoulli(gen, policy.epsilon);
  const uint64_t explore_salt = absl::Uniform<uint64_t>(gen);
  // Thompson draws come from a local inline generator seeded from `gen`, so
  // a per-arm draw costs no indirect call and a seeded request stays
  // reproducible.
  SplitMix64 rng(absl::Uniform<uint64_t>(gen));

  // Cold start: in a segment, blend each arm's counters with
  // prior_pseudo_views views at its room-wide rates.
  const Segment* whole_room = room.FindSegment(std::string(kWholeRoom));
  const double pseudo = q.segment.empty() ? 0.0 : policy.prior_pseudo_views;
  const bool cold_start = pseudo > 0 && whole_room != nullptr;
  auto counters_in = [&](const TableView& t, uint32_t i) -> ArmCounters {
    const RawCounters raw = RawAt(t, i);
    ArmCounters a{raw.views * scale, raw.clicks * scale, raw.reward * scale,
                  raw.reward_sq * scale};
    if (cold_start && t.views == base.views) {
      const double room_views = whole_room->arms.views()[i];
      if (room_views > 0) {
        const double w = pseudo / room_views;
        a.views += pseudo;
        a.clicks += w * whole_room->arms.clicks()[i];
        a.reward += w * whole_room->arms.reward_sums()[i];
        a.reward_sq += w * whole_room->arms.reward_sq_sums()[i];
      }
    }
    return a;
  };
  if (cold_start) {
    // N of UCB1 grows by the pseudo-views of every enabled arm that has any.
    double extra = 0;
    for (uint32_t i = 0; i < arm_count; ++i) {
      if (room.enabled[i] && whole_room->arms.views()[i] > 0) extra += pseudo;
    }
    base.log_total_views = SafeLog(
        (segment == nullptr ? 0.0 : segment->arms.enabled_views() * scale) +
        extra);
  }
  // Revenue policies: the prior on each arm's mean value per conversion,
  // pooled over the enabled arms of the segment (revenue.h).
  ValuePrior value_prior;
  if (policy.kind == PolicyKind::kRewardUcb ||
      policy.kind == PolicyKind::kRewardThompson) {
    double conversions = 0, value_sum = 0, value_sq_sum = 0;
    for (uint32_t i = 0; i < arm_count; ++i) {
      if (!room.enabled[i]) continue;
      const ArmCounters a = counters_in(base, i);
      conversions += a.clicks;
      value_sum += a.reward;
      value_sq_sum += a.reward_sq;
    }
    value_prior = RoomValuePrior(conversions, value_sum, value_sq_sum);
  }
  absl::gaussian_distribution<double> normal;

  // Scores one (arm, table) pair under the policy.
  auto score_in = [&](const TableView& t, uint32_t i) -> double {
    const ArmCounters a = counters_in(t, i);
    const double v = a.views;
    const double c = a.clicks;
    switch (policy.kind) {
      case PolicyKind::kHotCold:
        return HotColdScore(v, c, policy.cold_max, policy.cold_steepness,
                            policy.cold_threshold, policy.hot_max,
                            policy.hot_steepness, policy.hot_threshold);
      case PolicyKind::kRewardUcb:
        return RewardUcbScore(v, c, a.reward, a.reward_sq, t.log_total_views,
                              value_prior);
      case PolicyKind::kRewardThompson:
        return RewardThompsonDraw(rng, v, c, a.reward, a.reward_sq, value_prior,
                                  policy.beta_prior_a, policy.beta_prior_b);
      case PolicyKind::kKlUcb:
        return KlUcbScore(v, c, t.log_total_views);
      case PolicyKind::kLinUcb:  // scored per arm below, never per table
      case PolicyKind::kLinTs: {
        // The models are stored divided by the decay scale (linucb.h).
        const LinUcbArm& model = room.linucb_arms[i];
        const double sd = std::sqrt(model.Variance(q.features) / scale);
        const double spread = policy.kind == PolicyKind::kLinUcb
                                  ? policy.linucb_alpha * sd
                                  : policy.linucb_alpha * sd * normal(rng);
        return model.Expected(q.features) + spread;
      }
      case PolicyKind::kUcb1:
        return Ucb1Score(v, c, t.log_total_views, policy.ucb_alpha);
      case PolicyKind::kBucb:
        return BucbScore(v, c, policy.bucb_z, policy.beta_prior_a,
                         policy.beta_prior_b);
      case PolicyKind::kThompson:
        return SampleBeta(rng, BetaAlpha(c, policy.beta_prior_a),
                          BetaBeta(v, c, policy.beta_prior_b));
      case PolicyKind::kCtr:
      case PolicyKind::kEpsilonGreedy:
        return CtrScore(v, c);
    }
    return CtrScore(v, c);
  };
  auto score = [&](uint32_t i) -> double {
    if (explore) {
      return static_cast<double>(Mix(i ^ explore_salt) >> 11) * 0x1.0p-53;
    }
    // LinUCB's features carry the context: one model per arm.
    if (linear) return score_in(base, i);
    if (items.empty()) return score_in(base, i);
    double sum = 0;
    for (const TableView& t : items) {
      sum += score_in(ViewsAt(t, i) > 0 ? t : base, i);
    }
    return sum / static_cast<double>(items.size());
  };

  TopK top(k, salt);

  // Thompson with context items: the score is the mean of one draw per item.
  // The draws stop, and the arm is dropped (-infinity), once the draws so far
  // plus the sub-Gaussian bounds of the items still to draw (ThompsonBound's,
  // each exceeded with probability under 9e-14) fall short of the k-th best
  // mean; otherwise the result is score(i)'s, draw for draw.
  auto thompson_mean_if_reaching = [&](uint32_t i) -> double {
    auto table_for = [&](const TableView& t) -> const TableView& {
      return ViewsAt(t, i) > 0 ? t : base;
    };
    auto bound_in = [&](const TableView& t) {
      const RawCounters raw = RawAt(t, i);
      const double a = BetaAlpha(raw.clicks, policy.beta_prior_a);
      const double b = BetaBeta(raw.views, raw.clicks, policy.beta_prior_b);
      return ThompsonDrawBound(a, b, a / (a + b));
    };
    const double target = top.threshold() * static_cast<double>(items.size());
    double remaining = 0;
    for (const TableView& t : items) remaining += bound_in(table_for(t));
    double sum = 0;
    for (const TableView& t : items) {
      const TableView& u = table_for(t);
      remaining -= bound_in(u);
      const RawCounters raw = RawAt(u, i);
      sum += SampleBeta(rng, BetaAlpha(raw.clicks, policy.beta_prior_a),
                        BetaBeta(raw.views, raw.clicks, policy.beta_prior_b));
      if (sum + std::max(remaining, 0.0) < target) {
        return -std::numeric_limits<double>::infinity();
      }
    }
    return sum / static_cast<double>(items.size());
  };
  size_t eligible = 0;
  if (!candidates.empty()) {
    auto ex = excluded.begin();
    for (uint32_t i : candidates) {
      while (ex != excluded.end() && *ex < i) ++ex;
      if (!room.enabled[i] || (ex != excluded.end() && *ex == i)) continue;
      ++eligible;
      top.Offer(score(i), i);
    }
  } else {
    auto is_eligible = [&](uint32_t i) {
      return room.enabled[i] &&
             !std::binary_search(excluded.begin(), excluded.end(), i);
    };
    // Is any arm eligible? Usually the first one is.
    for (uint32_t i = 0; i < arm_count && eligible == 0; ++i) {
      if (is_eligible(i)) eligible = 1;
    }
    auto offer_if_eligible = [&](uint32_t i) {
      if (is_eligible(i)) top.Offer(score(i), i);
    };
    // Only the policies whose bounds are written below take the bounded
    // scan; any other is scored arm by arm.
    // Decayed rooms and cold start read scaled or blended counters, which
    // the bounds do not model.
    const bool bounded =
        !explore && scale == 1.0 && !cold_start &&
        (policy.kind == PolicyKind::kCtr || policy.kind == PolicyKind::kUcb1 ||
         policy.kind == PolicyKind::kBucb ||
         policy.kind == PolicyKind::kThompson ||
         policy.kind == PolicyKind::kEpsilonGreedy);
    if (!bounded) {
      // Random scores (or no bound): score every eligible arm.
      for (uint32_t i = 0; i < arm_count; ++i) offer_if_eligible(i);
    } else if (items.empty()) {
      // No context item: the reach tests mark the groups of arms that
      // may reach the k-th best score so far; their arms are tested again
      // against the current threshold, then scored exactly (Thompson: drawn
      // only where the draw can reach it).
      ReachParams reach;
      reach.ucb_bonus = 2 * policy.ucb_alpha * policy.ucb_alpha *
                        std::max(base.log_total_views, 0.0);
      reach.z_squared = policy.bucb_z * policy.bucb_z;
      reach.prior_a = policy.beta_prior_a;
      reach.prior_b = policy.beta_prior_b;
      bool (*reaches)(double, double, const ReachParams&) = CtrReaches;
      MarkKernel mark = MarkCtr;
      if (policy.kind == PolicyKind::kUcb1) {
        reaches = Ucb1Reaches;
        mark = MarkUcb1;
      } else if (policy.kind == PolicyKind::kBucb) {
        reaches = BucbReaches;
        mark = MarkBucb;
      } else if (policy.kind == PolicyKind::kThompson) {
        reaches = ThompsonMayReach;
        mark = MarkThompson;
      }
      const bool thompson = policy.kind == PolicyKind::kThompson;
      BetaReachingDraw beta;
      alignas(64) uint64_t arm_reach[kBlock];
      const size_t group = thompson ? kThompsonGroup : kDeterministicGroup;
      uint64_t marks[kBlock / kThompsonGroup];
      for (uint32_t begin = 0; begin < arm_count; begin += kBlock) {
        const size_t n = std::min<size_t>(kBlock, arm_count - begin);
        const size_t full_groups = n / group;
        reach.t = std::min(top.threshold(), kReachThresholdCap);
        mark(base.views + begin, base.clicks + begin, full_groups, reach,
             arm_reach, marks);
        if (full_groups * group < n) {  // the tail: every arm tested below
          marks[full_groups] = 1;
          std::fill(arm_reach + full_groups * group, arm_reach + n, 1);
        }
        for (size_t g = 0; g * group < n; ++g) {
          if (!marks[g]) continue;
          for (size_t j = group * g; j < std::min(group * (g + 1), n); ++j) {
            if (!arm_reach[j]) continue;
            // The threshold may have risen since the block was marked.
            const uint32_t i = begin + static_cast<uint32_t>(j);
            const double views = base.views[i];
            const double clicks = base.clicks[i];
            reach.t = std::min(top.threshold(), kReachThresholdCap);
            if (!reaches(views, clicks, reach)) continue;
            if (!thompson) {
              offer_if_eligible(i);
              continue;
            }
            if (!is_eligible(i)) continue;
            if (beta.threshold() != top.threshold()) {
              beta.SetThreshold(top.threshold());
            }
            top.Offer(beta.Draw(rng, BetaAlpha(clicks, policy.beta_prior_a),
                                BetaBeta(views, clicks, policy.beta_prior_b)),
                      i);
          }
        }
      }
    } else {
      // With context items a score is a mean over tables, which the reach
      // tests cannot multiply through: bound each table's scores in single
      // precision, average the bounds, then score exactly only the arms
      // whose mean bound reaches the k-th best score so far.
      alignas(64) float bound[kBlock];
      alignas(64) float item_bound[kBlock];
      alignas(64) float sums[kBlock];
      uint32_t marks[kBlock / 16];
      const float mean_factor = kBoundMargin / static_cast<float>(items.size());
      // A sparse table's entries in arm order, so that each block finds its
      // own with a cursor.
      std::vector<std::vector<uint32_t>> sparse_order(items.size());
      std::vector<size_t> cursor(items.size(), 0);
      for (size_t k = 0; k < items.size(); ++k) {
        const CounterTable* table = items[k].sparse;
        if (table == nullptr) continue;
        std::vector<uint32_t>& order = sparse_order[k];
        order.resize(table->entries());
        for (uint32_t e = 0; e < order.size(); ++e) order[e] = e;
        const uint32_t* arms = table->entry_arms();
        std::sort(order.begin(), order.end(),
                  [arms](uint32_t a, uint32_t b) { return arms[a] < arms[b]; });
      }
      for (uint32_t begin = 0; begin < arm_count; begin += kBlock) {
        const size_t n = std::min<size_t>(kBlock, arm_count - begin);
        BoundBlock(policy, base, begin, n, bound);
        std::fill_n(sums, n, 0.0f);
        for (size_t k = 0; k < items.size(); ++k) {
          const TableView& t = items[k];
          if (t.sparse != nullptr) {
            // The segment's bounds, but the item's where it has views: as
            // AddWithFallback does for a dense table.
            std::copy_n(bound, n, item_bound);
            const CounterTable& table = *t.sparse;
            const uint32_t* arms = table.entry_arms();
            const std::vector<uint32_t>& order = sparse_order[k];
            size_t& next = cursor[k];
            for (; next < order.size() && arms[order[next]] < begin + n;
                 ++next) {
              const uint32_t e = order[next];
              if (!(table.views()[e] > 0)) continue;
              const TableView one{table.views() + e, table.clicks() + e,
                                  t.log_total_views, table.reward_sums() + e,
                                  table.reward_sq_sums() + e};
              BoundBlock(policy, one, 0, 1, item_bound + (arms[e] - begin));
            }
            for (size_t j = 0; j < n; ++j) sums[j] += item_bound[j];
            continue;
          }
          // An item with no counters reads the segment's: reuse its bounds.
          const float* item_bounds = bound;
          if (t.views != base.views) {
            BoundBlock(policy, t, begin, n, item_bound);
            item_bounds = item_bound;
          }
          AddWithFallback(t.views + begin, item_bounds, bound, n, sums);
        }
        float* result = sums;
        // Pad to a multiple of 16 with values that never reach.
        const size_t padded = (n + 15) / 16 * 16;
        std::fill(result + n, result + padded,
                  -std::numeric_limits<float>::infinity());
        // Groups marked against the threshold at the start of the block; it
        // only rises within the block, so every arm that can enter is in a
        // marked group, and each is checked again against the current one.
        float threshold = FloatAtMost(top.threshold());
        ScaleAndMark(result, mean_factor, padded, threshold, marks);
        for (size_t j0 = 0; j0 < padded; j0 += 16) {
          // -inf padding "reaches" a -inf threshold; the j < n test stops it.
          if (!marks[j0 / 16]) continue;
          for (size_t j = j0; j < std::min(j0 + 16, n); ++j) {
            if (result[j] < threshold) continue;
            const uint32_t i = begin + static_cast<uint32_t>(j);
            if (policy.kind != PolicyKind::kThompson) {
              offer_if_eligible(i);
            } else if (is_eligible(i)) {
              top.Offer(thompson_mean_if_reaching(i), i);
            }
            threshold = FloatAtMost(top.threshold());
          }
        }
      }
    }
  }
  if (eligible == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "room \"", room.id, "\" has no enabled arm",
        candidates.empty() && excluded.empty()
            ? ""
            : " among the candidate_arm_ids and excluded_arm_ids given"));
  }

  const std::vector<Candidate> best = top.TakeSorted();
  result.arms.reserve(best.size());
  for (const Candidate& c : best) {
    ScoredArm arm;
    arm.arm_id = room.arm_ids[c.index];
    arm.score = c.score;
    if (segment != nullptr) {
      const Counts stored = segment->arms.Get(c.index);
      arm.counts = {stored.views * scale, stored.clicks * scale,
                    stored.reward_sum * scale};
    }
    result.arms.push_back(std::move(arm));
  }
  return result;
}

}  // namespace banditd::core
