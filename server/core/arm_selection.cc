// SelectArms: which of a room's arms a read lists (a window, named arms, or
// the most viewed: TopArmsByViews).

#include "server/core/arm_selection.h"

#include <algorithm>
#include <queue>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"

namespace banditd::core {
namespace {

struct Candidate {
  double views;
  uint32_t arm;
};

// More views first, then the earlier arm.
bool Ahead(const Candidate& a, const Candidate& b) {
  return a.views > b.views || (a.views == b.views && a.arm < b.arm);
}

}  // namespace

std::vector<uint32_t> TopArmsByViews(const CounterTable& counts, size_t k) {
  const size_t n = counts.size();
  k = std::min(k, n);
  std::vector<uint32_t> top;
  if (k == 0) return top;
  // The candidate furthest behind on top, replaced by any slot ahead of it.
  std::priority_queue<Candidate, std::vector<Candidate>, decltype(&Ahead)> kept(
      &Ahead);
  auto offer = [&](Candidate c) {
    if (kept.size() < k) {
      kept.push(c);
    } else if (Ahead(c, kept.top())) {
      kept.pop();
      kept.push(c);
    }
  };
  const double* views = counts.views();
  if (counts.sparse()) {
    // Arms without a slot have no views: they only fill up, below.
    const uint32_t* arms = counts.entry_arms();
    for (size_t e = 0; e < counts.entries(); ++e) {
      if (views[e] > 0) offer({views[e], arms[e]});
    }
  } else {
    for (size_t i = 0; i < n; ++i) offer({views[i], static_cast<uint32_t>(i)});
  }
  top.resize(kept.size());
  for (size_t i = top.size(); i-- > 0; kept.pop()) top[i] = kept.top().arm;
  if (top.size() < k) {
    // Arms with no views, in arm order (k of them at most are skipped).
    const absl::flat_hash_set<uint32_t> chosen(top.begin(), top.end());
    for (uint32_t i = 0; i < n && top.size() < k; ++i) {
      if (!chosen.contains(i)) top.push_back(i);
    }
  }
  return top;
}

absl::StatusOr<std::vector<uint32_t>> SelectArms(const Room& room,
                                                 const ArmSelection& selection,
                                                 const CounterTable* counts,
                                                 size_t* first_index,
                                                 bool* more) {
  std::vector<uint32_t> out;
  *first_index = 0;
  *more = false;
  if (!selection.arm_ids.empty()) {
    out.reserve(selection.arm_ids.size());
    for (size_t i = 0; i < selection.arm_ids.size(); ++i) {
      const int64_t index = room.FindArm(selection.arm_ids[i]);
      if (index < 0) {
        return absl::NotFoundError(
            absl::StrCat("arm_ids[", i, "]: arm \"", selection.arm_ids[i],
                         "\" not found in room \"", room.id, "\""));
      }
      out.push_back(static_cast<uint32_t>(index));
    }
    return out;
  }
  const size_t n = room.arm_ids.size();
  if (selection.order == ArmSelection::Order::kTopViews && counts != nullptr) {
    out = TopArmsByViews(*counts, selection.limit);
    *more = out.size() < n;
    return out;
  }
  // A window (kTopViews without counters: every arm has 0 views, so the
  // first ones).
  size_t start = selection.order == ArmSelection::Order::kTopViews
                     ? 0
                     : selection.start_index;
  if (selection.order == ArmSelection::Order::kRoom &&
      !selection.after_arm_id.empty()) {
    const int64_t after = room.FindArm(selection.after_arm_id);
    if (after >= 0) start = static_cast<size_t>(after) + 1;
  }
  start = std::min(start, n);
  const size_t end = start + std::min(selection.limit, n - start);
  out.reserve(end - start);
  for (size_t i = start; i < end; ++i) out.push_back(static_cast<uint32_t>(i));
  *first_index = start;
  *more = end < n;
  return out;
}

}  // namespace banditd::core
