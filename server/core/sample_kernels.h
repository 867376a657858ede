#ifndef BANDITD_SERVER_CORE_SAMPLE_KERNELS_H_
#define BANDITD_SERVER_CORE_SAMPLE_KERNELS_H_

// The vector kernels of Sample's bounded scans, behind a plain interface:
// arrays of counters in, arrays of bounds or flags out. Nothing here knows a
// room or a policy; sample_scorer.h picks the kernel for a policy. Each
// kernel is compiled for AVX-512, AVX2 and plain x86-64 (sample_kernels.cc).
//
// The bounds and reach tests must stay above the exact scores of scoring.h
// (change both together): sample_differential_test.cc checks every bounded
// scan against the full scan, which scores every arm.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "server/core/beta.h"

namespace banditd::core::kernels {

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

// Single-precision upper bounds of each arm's score, for arms [0, n) of the
// counter arrays v (views) and c (clicks). +infinity for unseen arms.
void CtrBound(const double* v, const double* c, size_t n, float* out);
void Ucb1Bound(const double* v, const double* c, size_t n,
               double log_total_views, double alpha, float* out);
void BucbBound(const double* v, const double* c, size_t n, double z,
               double prior_a, double prior_b, float* out);
// Thompson: a bound the Beta draw exceeds with probability under 9e-14.
void ThompsonBound(const double* v, const double* c, size_t n, double prior_a,
                   double prior_b, float* out);

// Thompson: the draw from Beta(a, b) is sub-Gaussian with variance proxy at
// most 1 / (4 (a + b + 1)) (Marchal and Arbel, 2017), so it exceeds
// mean + sqrt(kThompsonTail / (a + b + 1)) with probability under
// exp(-2 kThompsonTail) = 9e-14. A draw by the normal approximation
// (SampleBeta, both parameters at least kBetaNormalMin) is Gaussian with
// variance mean (1 - mean) / (a + b + 1), so it exceeds
// mean + sqrt(60 mean (1 - mean) / (a + b + 1)) with the same probability:
// a tighter bound. Arms whose bound stays below the k-th best draw are not
// drawn: each such arm would have entered the top k with probability under
// 9e-14 (a deviation under 1e-7 per call at 1,000,000 arms).
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

// sums[j] += the item's bound where the item has views, else the segment's.
void AddWithFallback(const double* item_views, const float* item_bounds,
                     const float* base_bounds, size_t n, float* sums);

// Scales values[0, n) (n a multiple of 16) by `factor` and sets marks[g]
// to 1 when some value of group g (values[16 g, 16 g + 16)) is not below
// `threshold` after scaling, or is NaN; else 0. One call per block.
void ScaleAndMark(float* values, float factor, size_t n, float threshold,
                  uint32_t* marks);

// The largest float not above `x` (x itself when exact).
float FloatAtMost(double x);

// Thompson's exact skip (sample_thompson.cc). For a threshold t in (0, 1)
// each arm gets an exponent q >= 0 with Q = 2^-q >= the Chernoff bound
// exp(-x) on P(its draw >= t), and so >= that probability:
//   - normal approximation (both Beta parameters >= kBetaNormalMin):
//     x = (t - mean)^2 / (2 variance), the Gaussian tail bound;
//   - exact Beta X = G_a / (G_a + G_b): X >= t iff
//     Y = (1 - t) G_a - t G_b >= 0, and E exp(s Y) for s = alpha / (1 - t)
//     is (1 - alpha)^-a (1 + alpha t / (1 - t))^-b, so
//     x = a log(1 - alpha) + b log(1 + alpha t / (1 - t)) for any alpha in
//     (0, 1); alpha is taken from kAlphaBins levels by the arm's mean
//     relative to t (the optimum is 1 - mean / t), so no logarithm is taken
//     per arm;
//   - mean >= t (or x not a number): q = 0, Q = 1.
// x is rounded down to whole bits (and slightly further, for rounding in
// the vector code), so q ln 2 never exceeds the x the scan recomputes in
// double for an arm it proposes. The arm's rate in the exponential clock is
// ClockRate(q) = Q (1 + Q) >= -log(1 - Q) (Q <= 1/2): the clock proposes it
// with probability 1 - exp(-rate) >= Q.
inline constexpr int kAlphaBins = 64;
inline constexpr int kMaxRateBits = 1000;

inline double ClockRate(int32_t q) {
  if (q == 0) return std::numeric_limits<double>::infinity();
  const double share = std::ldexp(1.0, -q);
  return share * (1 + share);
}

struct ThompsonRateParams {
  double t;  // in (0, 1)
  double prior_a;
  double prior_b;
  double bins_over_t;      // kAlphaBins / t
  const double* log_keep;  // [kAlphaBins]: log(1 - alpha_j)
  const double* log_grow;  // [kAlphaBins]: log1p(alpha_j t / (1 - t))
};

// alpha_j = 1 - (j + 1/2) / kAlphaBins: the optimum for a mean in the
// middle of bin j, [t j / kAlphaBins, t (j + 1) / kAlphaBins).
inline double ThompsonAlpha(int bin) { return 1.0 - (bin + 0.5) / kAlphaBins; }
// The bin of an arm whose mean is below t.
inline int ThompsonBin(double mean, double bins_over_t) {
  const int bin = static_cast<int>(mean * bins_over_t);
  return bin < 0 ? 0 : (bin < kAlphaBins - 1 ? bin : kAlphaBins - 1);
}

// q[j] and ClockRate(q[j]) for arms [0, n) of v (views) and c (clicks).
void ThompsonRates(const double* v, const double* c, size_t n,
                   const ThompsonRateParams& p, int32_t* q, double* rate);

// The number of j in [0, n) with v[j] == 0 and enabled[j] != 0: the arms
// with no views, tied at +infinity under the index policies.
size_t CountUnseen(const double* v, const uint8_t* enabled, size_t n);

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
// +infinity) and NaN always pass. SampleScanTest and the differential test
// check these against scoring every arm.
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

// Sets reach[j] to 1 when arm j may reach the threshold, else 0, and
// marks[g] to 1 when some arm of group g (arms [kGroup g, kGroup (g + 1)))
// may, for `groups` groups. The flags spare the scan a second test of every
// arm in a marked group. Groups of 64 for the deterministic policies (the
// fewer reductions let the loads run further ahead: 6 to 18 % faster at 1M
// arms). One small kernel per policy (sample_kernels.cc), each with vector
// clones (GCC cannot clone a template).
constexpr size_t kDeterministicGroup = 64;

using MarkKernel = void (*)(const double*, const double*, size_t,
                            const ReachParams&, uint64_t*, uint64_t*);
void MarkCtr(const double* v, const double* c, size_t groups,
             const ReachParams& p, uint64_t* reach, uint64_t* marks);
void MarkUcb1(const double* v, const double* c, size_t groups,
              const ReachParams& p, uint64_t* reach, uint64_t* marks);
void MarkBucb(const double* v, const double* c, size_t groups,
              const ReachParams& p, uint64_t* reach, uint64_t* marks);

// Sets reach[j] as the mark kernels do, for any n arms and no group marks:
// a block's tail, and the arms of a block still to scan once the threshold
// rose in it.
using FlagKernel = void (*)(const double*, const double*, size_t,
                            const ReachParams&, uint64_t*);
void FlagCtr(const double* v, const double* c, size_t n, const ReachParams& p,
             uint64_t* reach);
void FlagUcb1(const double* v, const double* c, size_t n, const ReachParams& p,
              uint64_t* reach);
void FlagBucb(const double* v, const double* c, size_t n, const ReachParams& p,
              uint64_t* reach);

}  // namespace banditd::core::kernels

#endif  // BANDITD_SERVER_CORE_SAMPLE_KERNELS_H_
