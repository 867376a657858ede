#ifndef BANDITD_SERVER_CORE_ARM_SELECTION_H_
#define BANDITD_SERVER_CORE_ARM_SELECTION_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "server/core/engine.h"
#include "server/core/room.h"

namespace banditd::core {

// The room indexes `selection` names (engine.h, ArmSelection), and in
// `first_index` / `more` where a window starts and whether arms follow it.
// `counts`: the read's segment counters (kTopViews ranks by their views),
// or null when the segment has none.
absl::StatusOr<std::vector<uint32_t>> SelectArms(
    const Room& room, const ArmSelection& selection, const CounterTable* counts,
    size_t* first_index, bool* more) ABSL_SHARED_LOCKS_REQUIRED(room.mu);

// The `k` arms of `counts` with the most views, most first, ties in arm
// order; arms without counts (views 0) fill up from the first arm. Keeps a
// heap of `k` candidates over one pass of the stored slots: O(slots log k)
// time, O(k) memory.
std::vector<uint32_t> TopArmsByViews(const CounterTable& counts, size_t k);

}  // namespace banditd::core

#endif  // BANDITD_SERVER_CORE_ARM_SELECTION_H_
