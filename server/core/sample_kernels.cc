// The vector kernels of Sample's bounded scans (sample_kernels.h).

#include "server/core/sample_kernels.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>

namespace banditd::core::kernels {

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

// The largest float not above `x` (x itself when exact).
float FloatAtMost(double x) {
  float f = static_cast<float>(x);
  if (static_cast<double>(f) > x) {
    f = std::nextafter(f, -std::numeric_limits<float>::infinity());
  }
  return f;
}

BANDITD_VECTOR_CLONES
void ThompsonRates(const double* __restrict v, const double* __restrict c,
                   size_t n, const ThompsonRateParams& p, int32_t* __restrict q,
                   double* __restrict rate) {
  // Locals, so that the stores cannot alias the parameters.
  const double t = p.t;
  const double prior_a = p.prior_a;
  const double prior_b = p.prior_b;
  const double bins_over_t = p.bins_over_t;
  const double* __restrict log_keep = p.log_keep;
  const double* __restrict log_grow = p.log_grow;
  constexpr double kInfinity = std::numeric_limits<double>::infinity();
  for (size_t j = 0; j < n; ++j) {
    const double clicks = c[j];
    const double misses = v[j] - clicks;
    const double a = (clicks < 0 ? 0.0 : clicks) + prior_a;  // BetaAlpha
    const double b = (misses < 0 ? 0.0 : misses) + prior_b;  // BetaBeta
    const double total = a + b;
    const double mean = a / total;
    const double gap = t - mean;
    // gap^2 / (2 variance), variance = a b / (total^2 (total + 1)).
    const double x_normal =
        gap * gap * total * total * (total + 1) / (2 * a * b);
    const int bin = ThompsonBin(mean, bins_over_t);
    const double x_beta = a * log_keep[bin] + b * log_grow[bin];
    const bool normal = a >= kBetaNormalMin && b >= kBetaNormalMin;
    const double x = gap > 0 ? (normal ? x_normal : x_beta) : 0.0;
    // log2(e) x, rounded down; NaN gives 0.
    const double bits = x * (1.4426950408889634 * (1 - 1e-9)) - 1e-6;
    const double capped = bits > kMaxRateBits ? kMaxRateBits : bits;
    const int32_t index = capped > 0 ? static_cast<int32_t>(capped) : 0;
    q[j] = index;
    // ClockRate, with 2^-index built from its exponent bits.
    const double share =
        std::bit_cast<double>(static_cast<uint64_t>(1023 - index) << 52);
    rate[j] = index == 0 ? kInfinity : share * (1 + share);
  }
}

BANDITD_VECTOR_CLONES
size_t CountUnseen(const double* __restrict v,
                   const uint8_t* __restrict enabled, size_t n) {
  // 32-bit lanes: the compiler packs more per vector than with size_t.
  uint32_t count = 0;
  for (size_t j = 0; j < n; ++j) {
    count += (v[j] == 0.0 ? 1u : 0u) & (enabled[j] != 0 ? 1u : 0u);
  }
  return count;
}

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

template <bool (*Reaches)(double, double, const ReachParams&)>
__attribute__((always_inline)) inline void FlagArms(
    const double* __restrict v, const double* __restrict c, size_t n,
    const ReachParams& p, uint64_t* __restrict reach) {
  for (size_t j = 0; j < n; ++j) reach[j] = Reaches(v[j], c[j], p) ? 1 : 0;
}

BANDITD_VECTOR_CLONES
void FlagCtr(const double* v, const double* c, size_t n, const ReachParams& p,
             uint64_t* reach) {
  FlagArms<CtrReaches>(v, c, n, p, reach);
}
BANDITD_VECTOR_CLONES
void FlagUcb1(const double* v, const double* c, size_t n, const ReachParams& p,
              uint64_t* reach) {
  FlagArms<Ucb1Reaches>(v, c, n, p, reach);
}
BANDITD_VECTOR_CLONES
void FlagBucb(const double* v, const double* c, size_t n, const ReachParams& p,
              uint64_t* reach) {
  FlagArms<BucbReaches>(v, c, n, p, reach);
}

}  // namespace banditd::core::kernels
