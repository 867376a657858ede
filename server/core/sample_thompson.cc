// ThompsonScan (sample_scan.h): Thompson without context items, drawing
// only the arms whose draw can enter the top k, with the law of the full
// scan's draws unchanged.
//
// Why the law is unchanged. Let t be the k-th best draw when a block of
// arms starts (-infinity until k are held; it only rises). An arm whose
// draw X falls below t cannot enter the top k, in the full scan or here;
// so it is enough that, independently for each arm of the block, the scan
// produce the event {X >= t} with its probability P and, on it, X with its
// law conditioned on X >= t. It does so in two steps:
//   1. Proposal. The kernel gives each arm a bound Q = 2^-q >= exp(-x) >= P
//      (kernels::ThompsonRates: a Chernoff bound, exp(-x) = E exp(s Y) for
//      the arm's Y >= 0 <=> X >= t, rounded up to a power of 2). An
//      exponential clock over the arms in order, arm i with rate
//      r_i = ClockRate(q_i), proposes each arm independently with
//      probability R_i = 1 - exp(-r_i) >= Q_i (after each proposal the clock
//      restarts with a fresh Exp(1): memorylessness makes the arms' events
//      independent), whole groups of 16 at a time when the clock outlasts
//      their summed rates.
//   2. Acceptance. A proposed arm draws Y' from the exponentially tilted
//      law h = f exp(s Y) / exp(-x) (f: the law of the draw; for the normal
//      approximation N(t, variance); for the Beta, G_a and G_b gamma with
//      rates 1 - alpha and 1 + alpha t / (1 - t)), and is accepted with
//      probability exp(-s Y') [Y' >= 0] exp(-x) / R, at most 1 since
//      exp(-x) <= R. Then P(accepted, X in dy) = R h(y) exp(-s y) [y >= 0]
//      exp(-x) / R = f(y) [y >= 0]: exactly the law wanted.
// With Q = 1 (the arm's mean at or above t) the arm is drawn as SampleBeta
// draws it. So each arm that can matter gets an exact draw from its law, the
// others are left out with exactly their probability: the top k has the
// full scan's distribution (sample_differential_test.cc checks the winner
// frequencies against exact probabilities).

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>

#include "absl/random/gaussian_distribution.h"
#include "server/core/beta.h"
#include "server/core/sample_kernels.h"
#include "server/core/sample_scan.h"
#include "server/core/scoring.h"

namespace banditd::core::scan {
namespace {

using kernels::kAlphaBins;
using kernels::kBlock;

constexpr size_t kClockGroup = 16;

// log(1 - alpha_j) for each bin.
struct AlphaTable {
  AlphaTable() {
    for (int j = 0; j < kAlphaBins; ++j) {
      log_keep[j] = std::log1p(-kernels::ThompsonAlpha(j));
    }
  }
  std::array<double, kAlphaBins> log_keep;
};

const AlphaTable& Alphas() {
  static const AlphaTable* const table = new AlphaTable();
  return *table;
}

double Exponential(SplitMix64& rng) { return -std::log(OpenUniform(rng)); }

// The kernel's parameters for threshold t, rebuilt when t changes.
class RateParams {
 public:
  explicit RateParams(const PolicyParams& policy) {
    p_.prior_a = policy.beta_prior_a;
    p_.prior_b = policy.beta_prior_b;
    p_.log_keep = Alphas().log_keep.data();
    p_.log_grow = log_grow_.data();
    p_.t = std::numeric_limits<double>::quiet_NaN();
  }
  const kernels::ThompsonRateParams& For(double t) {
    if (t != p_.t) {
      p_.t = t;
      p_.bins_over_t = kAlphaBins / t;
      const double ratio = t / (1 - t);
      for (int j = 0; j < kAlphaBins; ++j) {
        log_grow_[j] = std::log1p(kernels::ThompsonAlpha(j) * ratio);
      }
    }
    return p_;
  }

 private:
  kernels::ThompsonRateParams p_;
  std::array<double, kAlphaBins> log_grow_;
};

// Step 2 for a proposed arm with Beta parameters a, b and exponent q > 0:
// the draw if accepted, else -infinity.
double AcceptTilted(SplitMix64& rng, const kernels::ThompsonRateParams& p,
                    double a, double b, int32_t q) {
  constexpr double kNone = -std::numeric_limits<double>::infinity();
  const double t = p.t;
  // The clock proposed the arm with this probability, >= exp(-x).
  const double proposal = -std::expm1(-kernels::ClockRate(q));
  const double n = a + b;
  const double mean = a / n;
  if (a >= kBetaNormalMin && b >= kBetaNormalMin) {
    // SampleBeta's N(mean, sd^2); tilted by s = gap / sd^2: N(t, sd^2).
    const double sd = std::sqrt(mean * (b / n) / (n + 1.0));
    const double gap = t - mean;
    const double x = gap * gap / (2 * sd * sd);
    const double z = absl::gaussian_distribution<double>()(rng);
    if (z < 0) return kNone;
    const double keep = std::exp(-gap / sd * z - x) / proposal;
    if (!(OpenUniform(rng) < keep)) return kNone;
    return std::min(t + sd * z, 1.0);  // clamped as SampleBeta clamps
  }
  const int bin = kernels::ThompsonBin(mean, p.bins_over_t);
  const double alpha = kernels::ThompsonAlpha(bin);
  const double x = a * p.log_keep[bin] + b * p.log_grow[bin];
  const double ga = SampleGamma(rng, a) / (1 - alpha);
  const double gb = SampleGamma(rng, b) / (1 + alpha * t / (1 - t));
  const double y = (1 - t) * ga - t * gb;
  if (y < 0) return kNone;
  const double keep = std::exp(-alpha / (1 - t) * y - x) / proposal;
  if (!(OpenUniform(rng) < keep)) return kNone;
  return ga / (ga + gb);
}

// Every eligible arm of [begin, end) drawn (no threshold in (0, 1) yet).
void DrawEvery(Scorer& scorer, const Eligibility& eligible, TopK& top,
               uint32_t begin, uint32_t end) {
  const TableView& base = scorer.inputs().base;
  const PolicyParams& policy = scorer.policy();
  for (uint32_t i = begin; i < end; ++i) {
    if (!eligible(i)) continue;
    const double v = base.views[i];
    const double c = base.clicks[i];
    top.Offer(SampleBeta(scorer.rng(), BetaAlpha(c, policy.beta_prior_a),
                         BetaBeta(v, c, policy.beta_prior_b)),
              i);
  }
}

}  // namespace

double ThompsonDrawAbove(SplitMix64& rng, double a, double b, double t) {
  PolicyParams policy;
  policy.beta_prior_a = a;  // an arm with no counters: Beta(a, b)
  policy.beta_prior_b = b;
  RateParams params(policy);
  const kernels::ThompsonRateParams& p = params.For(t);
  const double zero = 0;
  int32_t q;
  double rate;
  kernels::ThompsonRates(&zero, &zero, 1, p, &q, &rate);
  if (!(OpenUniform(rng) < -std::expm1(-rate))) {
    return -std::numeric_limits<double>::infinity();
  }
  const double draw =
      q == 0 ? SampleBeta(rng, a, b) : AcceptTilted(rng, p, a, b, q);
  return draw >= t ? draw : -std::numeric_limits<double>::infinity();
}

void ThompsonScan(Scorer& scorer, const Eligibility& eligible, TopK& top) {
  const TableView& base = scorer.inputs().base;
  const PolicyParams& policy = scorer.policy();
  SplitMix64& rng = scorer.rng();
  RateParams params(policy);
  alignas(64) int32_t q[kBlock];
  alignas(64) double rate[kBlock];
  double clock = Exponential(rng);
  const size_t arm_count = eligible.arm_count;
  for (uint32_t begin = 0; begin < arm_count; begin += kBlock) {
    const size_t n = std::min<size_t>(kBlock, arm_count - begin);
    const double t = top.threshold();
    if (!(t > 0 && t < 1)) {
      DrawEvery(scorer, eligible, top, begin, begin + static_cast<uint32_t>(n));
      continue;
    }
    const kernels::ThompsonRateParams& p = params.For(t);
    kernels::ThompsonRates(base.views + begin, base.clicks + begin, n, p, q,
                           rate);
    for (size_t g = 0; g < n; g += kClockGroup) {
      const size_t end = std::min(g + kClockGroup, n);
      double sum = 0;
      for (size_t j = g; j < end; ++j) sum += rate[j];
      if (clock > sum) {
        clock -= sum;
        continue;
      }
      for (size_t j = g; j < end; ++j) {
        clock -= rate[j];
        if (clock > 0) continue;
        clock = Exponential(rng);
        const uint32_t i = begin + static_cast<uint32_t>(j);
        if (!eligible(i)) continue;
        const double a = BetaAlpha(base.clicks[i], policy.beta_prior_a);
        const double b =
            BetaBeta(base.views[i], base.clicks[i], policy.beta_prior_b);
        top.Offer(q[j] == 0 ? SampleBeta(rng, a, b)
                            : AcceptTilted(rng, p, a, b, q[j]),
                  i);
      }
    }
  }
}

}  // namespace banditd::core::scan
