#include "server/ops/engine_collector.h"

#include <utility>

#include "server/ops/metrics.h"

namespace banditd::ops {

std::vector<prometheus::MetricFamily> EngineCollector::Collect() const {
  double rooms = 0, arms = 0, enabled_arms = 0, segments = 0, slots = 0;
  prometheus::MetricFamily views = GaugeFamily(
      "banditd_room_arm_views",
      "Views of an arm in a room's whole-room segment (--metrics_per_room).");
  prometheus::MetricFamily clicks = GaugeFamily(
      "banditd_room_arm_clicks",
      "Clicks of an arm in a room's whole-room segment (--metrics_per_room).");
  prometheus::MetricFamily share = GaugeFamily(
      "banditd_room_arm_view_share",
      "An arm's share of its room's views, 0..1 (--metrics_per_room).");

  engine_->ForEachRoom([&](const core::Room& room) {
    rooms += 1;
    arms += static_cast<double>(room.arm_ids.size());
    for (uint8_t enabled : room.enabled) enabled_arms += enabled ? 1 : 0;
    segments += static_cast<double>(room.segments.size());
    for (const auto& [name, segment] : room.segments) {
      slots += static_cast<double>(segment.arms.entries());
      for (const auto& [item, table] : segment.context) {
        slots += static_cast<double>(table.entries());
      }
    }
    if (!per_room_) return;
    const core::Segment* whole = room.FindSegment(core::kWholeRoom);
    if (whole == nullptr) return;
    double total = 0;
    for (size_t i = 0; i < whole->arms.size(); ++i) {
      total += whole->arms.views()[i];
    }
    for (size_t i = 0; i < whole->arms.size() && i < room.arm_ids.size(); ++i) {
      std::vector<prometheus::ClientMetric::Label> labels = {
          {"room", room.id}, {"arm", std::string(room.arm_ids[i])}};
      const core::Counts counts = whole->arms.Get(i);
      AddGauge(views, labels, counts.views);
      AddGauge(clicks, labels, counts.clicks);
      AddGauge(share, std::move(labels),
               total > 0 ? counts.views / total : 0.0);
    }
  });

  std::vector<prometheus::MetricFamily> families;
  families.push_back(GaugeFamily("banditd_rooms", "Rooms in memory."));
  AddGauge(families.back(), {}, rooms);
  families.push_back(GaugeFamily("banditd_arms", "Arms over all rooms."));
  AddGauge(families.back(), {{"state", "enabled"}}, enabled_arms);
  AddGauge(families.back(), {{"state", "disabled"}}, arms - enabled_arms);
  families.push_back(
      GaugeFamily("banditd_segments", "Segments over all rooms."));
  AddGauge(families.back(), {}, segments);
  families.push_back(GaugeFamily(
      "banditd_table_slots",
      "Counter slots stored: one per arm in a dense table, one per arm with "
      "counters in a sparse one."));
  AddGauge(families.back(), {}, slots);
  families.push_back(GaugeFamily(
      "banditd_memory_bytes_used",
      "Memory the engine holds as it accounts it (counters, arm ids, LinUCB "
      "models, event ids): what --memory_budget_bytes limits."));
  AddGauge(families.back(), {}, static_cast<double>(engine_->bytes_used()));
  families.push_back(GaugeFamily("banditd_memory_budget_bytes",
                                 "The --memory_budget_bytes limit."));
  AddGauge(families.back(), {},
           static_cast<double>(engine_->options().memory_budget_bytes));
  families.push_back(GaugeFamily(
      "banditd_limit_rejections",
      "Requests refused with RESOURCE_EXHAUSTED at admission, by the flag "
      "that sets the limit (a count since start)."));
  for (int i = 0; i < core::kLimitCount; ++i) {
    const auto limit = static_cast<core::Limit>(i);
    AddGauge(families.back(), {{"limit", core::LimitName(limit)}},
             static_cast<double>(engine_->rejections(limit)));
  }
  if (per_room_) {
    families.push_back(std::move(views));
    families.push_back(std::move(clicks));
    families.push_back(std::move(share));
  }
  return families;
}

}  // namespace banditd::ops
