#ifndef BANDITD_SERVER_CORE_SAMPLE_SCAN_H_
#define BANDITD_SERVER_CORE_SAMPLE_SCAN_H_

// Sample's scans: each offers the eligible arms of a room to a TopK, scored
// by a Scorer (sample_scorer.h). FullScan scores every eligible arm and is
// the reference; the bounded scans must return what it returns (for the
// random policies: the same distribution), and sample_differential_test.cc
// checks that they do.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "server/core/sample_scorer.h"

namespace banditd::core::scan {

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
    if (score < heap_.front().score) {
      runner_up_ = std::max(runner_up_, score);
      return;
    }
    Candidate c{score, Mix(index ^ salt_), index};
    if (!Better(c, heap_.front())) {
      runner_up_ = std::max(runner_up_, score);
      return;
    }
    runner_up_ = std::max(runner_up_, heap_.front().score);
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
  size_t k() const { return k_; }
  // The arms held, in heap order.
  std::vector<uint32_t> Held() const {
    std::vector<uint32_t> held;
    held.reserve(heap_.size());
    for (const Candidate& c : heap_) held.push_back(c.index);
    return held;
  }
  void Clear() { heap_.clear(); }
  // How many eligible arms tie at the held arms' score, when a scan knows
  // (FinishTied); 0 otherwise.
  uint64_t tied() const { return tied_; }
  // The best score offered but not held (-infinity when none).
  double runner_up() const { return runner_up_; }
  void set_tied(uint64_t tied) { tied_ = tied; }

  std::vector<Candidate> TakeSorted() {
    std::sort(heap_.begin(), heap_.end(), Better);
    return std::move(heap_);
  }

 private:
  const size_t k_;
  const uint64_t salt_;
  std::vector<Candidate> heap_;
  uint64_t tied_ = 0;
  double runner_up_ = -std::numeric_limits<double>::infinity();
};

// The arms a call may return: enabled, and not excluded (sorted indices).
struct Eligibility {
  const uint8_t* enabled;
  size_t arm_count;
  const std::vector<uint32_t>& excluded;

  bool operator()(uint32_t i) const {
    return enabled[i] &&
           !std::binary_search(excluded.begin(), excluded.end(), i);
  }
  // Whether any arm is eligible (usually the first one is).
  bool Any() const;
};

// Offers each eligible arm of `candidates` (sorted, distinct); returns how
// many were eligible.
size_t ScanCandidates(Scorer& scorer, const std::vector<uint32_t>& candidates,
                      const Eligibility& eligible, TopK& top);

// Every eligible arm scored exactly. With `reference` the scan is the
// reference; without, once k unseen arms hold the top k it hands over to
// the tied draw below (where Scorer::OnlyUnseenAreInfinite()).
void FullScan(Scorer& scorer, const Eligibility& eligible, TopK& top,
              bool reference);

// BoundKind::kReach: groups of arms are marked by the reach tests against
// the k-th best score so far; only arms that may reach it are scored. Hands
// over to the tied draw as FullScan does.
void ReachScan(Scorer& scorer, const Eligibility& eligible, TopK& top);

// BoundKind::kReach under Thompson: only the arms whose draw can enter the
// top k are drawn, exactly (sample_thompson.cc proves the law unchanged).
void ThompsonScan(Scorer& scorer, const Eligibility& eligible, TopK& top);

// ThompsonScan's proposal and acceptance for one arm drawing Beta(a, b) as
// SampleBeta does, against threshold t in (0, 1): the draw where it is at
// least t, else -infinity (for tests: P(>= t) and the law above t must be
// SampleBeta's).
double ThompsonDrawAbove(SplitMix64& rng, double a, double b, double t);

// Cold rooms: `top` holds k arms, all unseen (score +infinity), and they are
// exactly the eligible unseen arms of [0, from). Replaces them with k arms
// drawn uniformly without replacement from every eligible unseen arm of the
// room, which the full scan's random tie-break returns in law (a uniformly
// random k-subset of the tied arms, in a uniformly random order), at the
// cost of counting the unseen arms of [from, arm_count) once rather than
// drawing a tie-break key for each. Records their count in top.tied().
void FinishTied(Scorer& scorer, const Eligibility& eligible, TopK& top,
                size_t from);

// The eligible arms (of `candidates` when not empty) whose exact score is
// `score` (NaN counting as -infinity, as in TopK): a second pass for
// deterministic policies, scoring each arm without allocating.
uint64_t CountScoring(Scorer& scorer, const std::vector<uint32_t>& candidates,
                      const Eligibility& eligible, double score);

// BoundKind::kFloatSum: single-precision bounds of the mean over the
// context items; only arms whose bound reaches the k-th best are scored.
void FloatSumScan(Scorer& scorer, const Eligibility& eligible, TopK& top);

}  // namespace banditd::core::scan

#endif  // BANDITD_SERVER_CORE_SAMPLE_SCAN_H_
