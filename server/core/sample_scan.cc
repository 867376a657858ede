// Sample's scans (sample_scan.h).

#include "server/core/sample_scan.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "absl/random/distributions.h"
#include "server/core/beta.h"
#include "server/core/sample_kernels.h"
#include "server/core/scoring.h"

namespace banditd::core::scan {

using kernels::kBlock;

bool Eligibility::Any() const {
  for (uint32_t i = 0; i < arm_count; ++i) {
    if ((*this)(i)) return true;
  }
  return false;
}

size_t ScanCandidates(Scorer& scorer, const std::vector<uint32_t>& candidates,
                      const Eligibility& eligible, TopK& top) {
  size_t count = 0;
  auto ex = eligible.excluded.begin();
  for (uint32_t i : candidates) {
    while (ex != eligible.excluded.end() && *ex < i) ++ex;
    if (!eligible.enabled[i] || (ex != eligible.excluded.end() && *ex == i)) {
      continue;
    }
    ++count;
    top.Offer(scorer.Score(i), i);
  }
  return count;
}

uint64_t CountScoring(Scorer& scorer, const std::vector<uint32_t>& candidates,
                      const Eligibility& eligible, double score) {
  const auto scores = [&scorer, score](uint32_t i) {
    const double s = scorer.Score(i);
    return (std::isnan(s) ? -std::numeric_limits<double>::infinity() : s) ==
           score;
  };
  uint64_t count = 0;
  if (!candidates.empty()) {
    for (uint32_t i : candidates) count += eligible(i) && scores(i);
    return count;
  }
  for (uint32_t i = 0; i < eligible.arm_count; ++i) {
    count += eligible(i) && scores(i);
  }
  return count;
}

void FullScan(Scorer& scorer, const Eligibility& eligible, TopK& top,
              bool reference) {
  constexpr double kInfinity = std::numeric_limits<double>::infinity();
  const bool tied = !reference && scorer.OnlyUnseenAreInfinite();
  for (uint32_t i = 0; i < eligible.arm_count; ++i) {
    if (!eligible(i)) continue;
    top.Offer(scorer.Score(i), i);
    if (tied && top.threshold() == kInfinity) {
      FinishTied(scorer, eligible, top, i + 1);
      return;
    }
  }
}

namespace {

constexpr size_t kTiedChunk = 4096;

// k distinct values drawn uniformly from [0, n), sorted (Floyd's algorithm).
std::vector<uint64_t> DrawDistinct(SplitMix64& rng, size_t k, uint64_t n) {
  absl::flat_hash_set<uint64_t> chosen;
  chosen.reserve(k);
  for (uint64_t j = n - k; j < n; ++j) {
    const uint64_t t = absl::Uniform<uint64_t>(rng, 0, j + 1);
    if (!chosen.insert(t).second) chosen.insert(j);
  }
  std::vector<uint64_t> sorted(chosen.begin(), chosen.end());
  std::sort(sorted.begin(), sorted.end());
  return sorted;
}

}  // namespace

void FinishTied(Scorer& scorer, const Eligibility& eligible, TopK& top,
                size_t from) {
  const double* views = scorer.inputs().base.views;
  const size_t arm_count = eligible.arm_count;
  // The eligible unseen arms of [from, arm_count), per chunk.
  const size_t chunks = (arm_count - from + kTiedChunk - 1) / kTiedChunk;
  std::vector<uint32_t> counts(chunks);
  for (size_t c = 0; c < chunks; ++c) {
    const size_t begin = from + c * kTiedChunk;
    counts[c] = static_cast<uint32_t>(
        kernels::CountUnseen(views + begin, eligible.enabled + begin,
                             std::min(kTiedChunk, arm_count - begin)));
  }
  for (uint32_t e : eligible.excluded) {
    if (e >= from && eligible.enabled[e] && views[e] == 0) {
      --counts[(e - from) / kTiedChunk];
    }
  }
  uint64_t rest = 0;
  for (uint32_t c : counts) rest += c;
  const std::vector<uint32_t> held = top.Held();
  const size_t k = held.size();
  top.set_tied(k + rest);
  if (rest == 0) return;  // the k held are every tied arm
  // Ranks [0, k) are the arms held, the others the unseen arms after `from`
  // in index order.
  const std::vector<uint64_t> ranks = DrawDistinct(scorer.rng(), k, k + rest);
  top.Clear();  // keeps tied()
  size_t chunk = 0;
  uint64_t before_chunk = k;  // rank of the chunk's first unseen arm
  for (uint64_t rank : ranks) {
    if (rank < k) {
      top.Offer(std::numeric_limits<double>::infinity(), held[rank]);
      continue;
    }
    while (rank >= before_chunk + counts[chunk])
      before_chunk += counts[chunk++];
    // The (rank - before_chunk)-th eligible unseen arm of the chunk.
    uint64_t skip = rank - before_chunk;
    const size_t begin = from + chunk * kTiedChunk;
    const size_t end = std::min(begin + kTiedChunk, arm_count);
    for (size_t i = begin; i < end; ++i) {
      if (views[i] != 0 || !eligible(static_cast<uint32_t>(i))) continue;
      if (skip-- == 0) {
        top.Offer(std::numeric_limits<double>::infinity(),
                  static_cast<uint32_t>(i));
        break;
      }
    }
  }
}

// No context item: the reach tests mark the groups of arms that may reach
// the k-th best score so far; their arms are tested again against the
// current threshold, then scored exactly. Once the threshold has risen in a
// block (its first block starts at -infinity, so every arm is marked), the
// arms still to scan are flagged again: one vector pass instead of a test
// per arm (a 100-arm room tests about 20 arms one by one instead of 100).
void ReachScan(Scorer& scorer, const Eligibility& eligible, TopK& top) {
  const TableView& base = scorer.inputs().base;
  Scorer::Reach reach = scorer.ReachTests();
  constexpr double kInfinity = std::numeric_limits<double>::infinity();
  const bool tied = scorer.OnlyUnseenAreInfinite();
  alignas(64) uint64_t arm_reach[kBlock];
  constexpr size_t group = kernels::kDeterministicGroup;
  uint64_t marks[kBlock / group + 1];
  const auto any_flag = [&arm_reach](size_t from, size_t to) {
    uint64_t any = 0;
    for (size_t j = from; j < to; ++j) any |= arm_reach[j];
    return any;
  };
  const size_t arm_count = eligible.arm_count;
  for (uint32_t begin = 0; begin < arm_count; begin += kBlock) {
    const size_t n = std::min<size_t>(kBlock, arm_count - begin);
    const size_t full_groups = n / group;
    const size_t groups = (n + group - 1) / group;
    double marked_at = std::min(top.threshold(), kernels::kReachThresholdCap);
    reach.params.t = marked_at;
    reach.mark(base.views + begin, base.clicks + begin, full_groups,
               reach.params, arm_reach, marks);
    if (full_groups < groups) {  // the tail, short of a group
      const size_t from = full_groups * group;
      reach.flag(base.views + begin + from, base.clicks + begin + from,
                 n - from, reach.params, arm_reach + from);
      marks[full_groups] = any_flag(from, n);
    }
    size_t tested = 0;  // arms tested one by one since the last flagging
    for (size_t g = 0; g < groups; ++g) {
      if (!marks[g]) continue;
      for (size_t j = group * g; j < std::min(group * (g + 1), n); ++j) {
        if (!arm_reach[j]) continue;
        const uint32_t i = begin + static_cast<uint32_t>(j);
        // The threshold may have risen since the block was marked.
        reach.params.t = std::min(top.threshold(), kernels::kReachThresholdCap);
        const size_t rest = n - j - 1;
        if (++tested >= std::max<size_t>(8, rest / 8) && rest >= 16 &&
            reach.params.t > marked_at) {
          reach.flag(base.views + i + 1, base.clicks + i + 1, rest,
                     reach.params, arm_reach + j + 1);
          for (size_t later = g + 1; later < groups; ++later) {
            marks[later] =
                any_flag(group * later, std::min(group * (later + 1), n));
          }
          marked_at = reach.params.t;
          tested = 0;
        }
        if (!reach.reaches(base.views[i], base.clicks[i], reach.params)) {
          continue;
        }
        if (!eligible(i)) continue;
        top.Offer(scorer.Score(i), i);
        if (tied && top.threshold() == kInfinity) {
          FinishTied(scorer, eligible, top, i + 1);
          return;
        }
      }
    }
  }
}

namespace {

// A sparse table's entries in arm order, so that each block finds its own
// with a cursor.
std::vector<uint32_t> EntriesInArmOrder(const CounterTable& table) {
  std::vector<uint32_t> order(table.entries());
  for (uint32_t e = 0; e < order.size(); ++e) order[e] = e;
  const uint32_t* arms = table.entry_arms();
  std::sort(order.begin(), order.end(),
            [arms](uint32_t a, uint32_t b) { return arms[a] < arms[b]; });
  return order;
}

// FloatSumScan's per-item bounds of one block, summed into `sums`.
class ItemBounds {
 public:
  explicit ItemBounds(const Scorer& scorer) : scorer_(scorer) {
    const std::vector<TableView>& items = scorer.inputs().items;
    sparse_order_.resize(items.size());
    cursor_.assign(items.size(), 0);
    for (size_t k = 0; k < items.size(); ++k) {
      if (items[k].sparse != nullptr) {
        sparse_order_[k] = EntriesInArmOrder(*items[k].sparse);
      }
    }
  }

  // sums[j] = the sum over items of arm begin + j's bound: the item's where
  // it has views, else the segment's (`bound`).
  void Sum(uint32_t begin, size_t n, const float* bound, float* sums) {
    const std::vector<TableView>& items = scorer_.inputs().items;
    std::fill_n(sums, n, 0.0f);
    for (size_t k = 0; k < items.size(); ++k) {
      const TableView& t = items[k];
      if (t.sparse != nullptr) {
        AddSparse(k, begin, n, bound, sums);
        continue;
      }
      // An item with no counters reads the segment's: reuse its bounds.
      const float* item_bounds = bound;
      if (t.views != scorer_.inputs().base.views) {
        scorer_.BoundBlock(t, begin, n, item_bound_);
        item_bounds = item_bound_;
      }
      kernels::AddWithFallback(t.views + begin, item_bounds, bound, n, sums);
    }
  }

 private:
  // The segment's bounds, but the item's where it has views: as
  // AddWithFallback does for a dense table.
  void AddSparse(size_t k, uint32_t begin, size_t n, const float* bound,
                 float* sums) {
    const TableView& t = scorer_.inputs().items[k];
    std::copy_n(bound, n, item_bound_);
    const CounterTable& table = *t.sparse;
    const uint32_t* arms = table.entry_arms();
    const std::vector<uint32_t>& order = sparse_order_[k];
    size_t& next = cursor_[k];
    for (; next < order.size() && arms[order[next]] < begin + n; ++next) {
      const uint32_t e = order[next];
      if (!(table.views()[e] > 0)) continue;
      const TableView one{table.views() + e, table.clicks() + e,
                          t.log_total_views, table.reward_sums() + e,
                          table.reward_sq_sums() + e};
      scorer_.BoundBlock(one, 0, 1, item_bound_ + (arms[e] - begin));
    }
    for (size_t j = 0; j < n; ++j) sums[j] += item_bound_[j];
  }

  const Scorer& scorer_;
  // Inline: a Sample of a small room should not allocate for these.
  absl::InlinedVector<std::vector<uint32_t>, 8> sparse_order_;
  absl::InlinedVector<size_t, 8> cursor_;
  alignas(64) float item_bound_[kBlock];
};

}  // namespace

// With context items a score is a mean over tables, which the reach tests
// cannot multiply through: bound each table's scores in single precision,
// average the bounds, then score exactly only the arms whose mean bound
// reaches the k-th best score so far.
void FloatSumScan(Scorer& scorer, const Eligibility& eligible, TopK& top) {
  const ScoreInputs& in = scorer.inputs();
  const bool thompson = in.policy.kind == PolicyKind::kThompson;
  alignas(64) float bound[kBlock];
  alignas(64) float sums[kBlock];
  uint32_t marks[kBlock / 16];
  const float mean_factor =
      kernels::kBoundMargin / static_cast<float>(in.items.size());
  ItemBounds item_bounds(scorer);
  const size_t arm_count = eligible.arm_count;
  for (uint32_t begin = 0; begin < arm_count; begin += kBlock) {
    const size_t n = std::min<size_t>(kBlock, arm_count - begin);
    scorer.BoundBlock(in.base, begin, n, bound);
    item_bounds.Sum(begin, n, bound, sums);
    // Pad to a multiple of 16 with values that never reach.
    const size_t padded = (n + 15) / 16 * 16;
    std::fill(sums + n, sums + padded, -std::numeric_limits<float>::infinity());
    // Groups marked against the threshold at the start of the block; it
    // only rises within the block, so every arm that can enter is in a
    // marked group, and each is checked again against the current one.
    float threshold = kernels::FloatAtMost(top.threshold());
    kernels::ScaleAndMark(sums, mean_factor, padded, threshold, marks);
    for (size_t j0 = 0; j0 < padded; j0 += 16) {
      // -inf padding "reaches" a -inf threshold; the j < n test stops it.
      if (!marks[j0 / 16]) continue;
      for (size_t j = j0; j < std::min(j0 + 16, n); ++j) {
        if (sums[j] < threshold) continue;
        const uint32_t i = begin + static_cast<uint32_t>(j);
        if (!eligible(i)) continue;
        top.Offer(thompson ? scorer.ThompsonMeanIfReaching(i, top.threshold())
                           : scorer.Score(i),
                  i);
        threshold = kernels::FloatAtMost(top.threshold());
      }
    }
  }
}

}  // namespace banditd::core::scan
