// Engine's reads: GetRoom, ListRooms and GetStats (a page of arms with their
// counters and scores, whole-room or per segment).

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/core/arm_selection.h"
#include "server/core/engine.h"
#include "server/core/ids.h"
#include "server/core/scoring.h"

namespace banditd::core {

namespace {

absl::StatusOr<RoomInfo> DescribeRoom(const Room& room,
                                      const ArmSelection& selection)
    ABSL_SHARED_LOCKS_REQUIRED(room.mu) {
  RoomInfo info;
  info.room_id = room.id;
  info.policy = room.policy;
  info.decay = room.decay;
  info.linucb = room.linucb;
  info.arm_count = static_cast<int64_t>(room.arm_ids.size());
  absl::StatusOr<std::vector<uint32_t>> arms =
      SelectArms(room, selection, nullptr, &info.first_index, &info.more_arms);
  if (!arms.ok()) return arms.status();
  info.arms.reserve(arms->size());
  for (uint32_t i : *arms) {
    info.arms.push_back({std::string(room.arm_ids[i]), room.enabled[i] != 0});
  }
  return info;
}

Scores ScoresOf(const Counts& counts, double reward_sq, double log_total_views,
                const PolicyParams& policy) {
  return {
      Ctr(counts.views, counts.clicks),
      Ucb1Score(counts.views, counts.clicks, log_total_views, policy.ucb_alpha),
      BucbScore(counts.views, counts.clicks, policy.bucb_z, policy.beta_prior_a,
                policy.beta_prior_b),
      RewardMean(counts.views, counts.reward_sum),
      RewardVariance(counts.views, counts.reward_sum, reward_sq)};
}

Counts Scaled(const Counts& stored, double scale) {
  return {stored.views * scale, stored.clicks * scale,
          stored.reward_sum * scale};
}

}  // namespace

absl::StatusOr<RoomInfo> Engine::GetRoom(const std::string& room_id,
                                         const ArmSelection& arms) const {
  absl::StatusOr<std::shared_ptr<Room>> room = FindRoomOr(room_id, "room_id");
  if (!room.ok()) return room.status();
  absl::ReaderMutexLock lock(&(*room)->mu);
  return DescribeRoom(**room, arms);
}

RoomPage Engine::ListRooms(int page_size, const std::string& after,
                           size_t arms_per_room) const {
  if (page_size <= 0) page_size = 100;
  page_size = std::min(page_size, 1000);
  std::vector<std::shared_ptr<Room>> rooms;
  bool more = false;
  {
    absl::ReaderMutexLock lock(&rooms_mu_);
    auto it = after.empty() ? rooms_.begin() : rooms_.upper_bound(after);
    for (; it != rooms_.end(); ++it) {
      if (rooms.size() == static_cast<size_t>(page_size)) {
        more = true;
        break;
      }
      rooms.push_back(it->second);
    }
  }
  RoomPage page;
  ArmSelection selection;
  selection.limit = arms_per_room;
  for (const std::shared_ptr<Room>& room : rooms) {
    absl::ReaderMutexLock lock(&room->mu);
    // A window of the room's order never fails.
    page.rooms.push_back(*DescribeRoom(*room, selection));
  }
  if (more) page.next_after = page.rooms.back().room_id;
  return page;
}

absl::StatusOr<Stats> Engine::GetStats(const std::string& room_id,
                                       const std::string& segment_name,
                                       bool include_context,
                                       const ArmSelection& selection) const {
  if (absl::Status s = ValidateSegment(segment_name, "segment"); !s.ok()) {
    return s;
  }
  absl::StatusOr<std::shared_ptr<Room>> found = FindRoomOr(room_id, "room_id");
  if (!found.ok()) return found.status();
  const Room& room = **found;
  AwaitQueuedWrites(room);
  absl::ReaderMutexLock lock(&room.mu);
  const Segment* segment = room.FindSegment(segment_name);

  Stats stats;
  stats.room_id = room.id;
  stats.segment = segment_name;
  stats.arm_count = static_cast<int64_t>(room.arm_ids.size());
  absl::StatusOr<std::vector<uint32_t>> selected =
      SelectArms(room, selection, segment == nullptr ? nullptr : &segment->arms,
                 &stats.first_index, &stats.more_arms);
  if (!selected.ok()) return selected.status();
  const double scale = room.counter_scale;
  stats.total_views =
      segment == nullptr ? 0 : segment->arms.enabled_views() * scale;
  const double log_total = SafeLog(stats.total_views);

  std::vector<std::pair<const std::string*, const CounterTable*>> items;
  if (include_context && segment != nullptr) {
    for (const auto& [item, table] : segment->context) {
      items.emplace_back(&item, &table);
    }
    std::sort(items.begin(), items.end(),
              [](const auto& a, const auto& b) { return *a.first < *b.first; });
  }

  stats.arms.reserve(selected->size());
  for (uint32_t i : *selected) {
    ArmStat arm;
    arm.arm_id = std::string(room.arm_ids[i]);
    arm.enabled = room.enabled[i] != 0;
    double reward_sq = 0;
    if (segment != nullptr) {
      arm.counts = Scaled(segment->arms.Get(i), scale);
      reward_sq = segment->arms.RewardSq(i) * scale;
    }
    arm.scores = ScoresOf(arm.counts, reward_sq, log_total, room.policy);
    for (const auto& [item, table] : items) {
      if (table->Empty(i)) continue;
      ContextStat stat;
      stat.context_item = *item;
      stat.counts = Scaled(table->Get(i), scale);
      stat.scores =
          ScoresOf(stat.counts, table->RewardSq(i) * scale,
                   SafeLog(table->enabled_views() * scale), room.policy);
      arm.context.push_back(std::move(stat));
    }
    stats.arms.push_back(std::move(arm));
  }
  return stats;
}

}  // namespace banditd::core
