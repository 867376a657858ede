#include "server/core/room.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace banditd::core {

CounterTable::CounterTable(size_t arm_count)
    : views_(arm_count),
      clicks_(arm_count),
      reward_sum_(arm_count),
      reward_sq_(arm_count) {}

void CounterTable::Resize(size_t arm_count) {
  views_.resize(arm_count);
  clicks_.resize(arm_count);
  reward_sum_.resize(arm_count);
  reward_sq_.resize(arm_count);
}

void CounterTable::Erase(size_t index, bool was_enabled) {
  if (was_enabled) enabled_views_ -= views_[index];
  views_.erase(views_.begin() + index);
  clicks_.erase(clicks_.begin() + index);
  reward_sum_.erase(reward_sum_.begin() + index);
  reward_sq_.erase(reward_sq_.begin() + index);
}

void CounterTable::Add(size_t index, double views, double clicks, double reward,
                       double reward_sq, bool enabled) {
  views_[index] += views;
  clicks_[index] += clicks;
  reward_sum_[index] += reward;
  reward_sq_[index] += reward_sq;
  if (enabled) enabled_views_ += views;
}

void CounterTable::ScaleAll(double factor) {
  for (std::vector<double>* column :
       {&views_, &clicks_, &reward_sum_, &reward_sq_}) {
    for (double& value : *column) value *= factor;
  }
  enabled_views_ *= factor;
}

void CounterTable::SetEnabled(size_t index, bool enabled) {
  enabled_views_ += enabled ? views_[index] : -views_[index];
}

void CounterTable::Assign(std::vector<double> views, std::vector<double> clicks,
                          std::vector<double> reward_sums, double enabled_views,
                          std::vector<double> reward_sq_sums) {
  views_ = std::move(views);
  clicks_ = std::move(clicks);
  reward_sum_ = std::move(reward_sums);
  reward_sq_ = std::move(reward_sq_sums);
  reward_sq_.resize(views_.size());
  enabled_views_ = enabled_views;
}

void Room::AddArms(const std::vector<std::string>& new_arm_ids) {
  arm_index.reserve(arm_ids.size() + new_arm_ids.size());
  for (const std::string& arm_id : new_arm_ids) {
    arm_index.emplace(arm_id, static_cast<uint32_t>(arm_ids.size()));
    arm_ids.push_back(arm_id);
    enabled.push_back(1);
    if (linucb.dimension > 0) {
      linucb_arms.emplace_back(linucb.dimension, linucb.lambda);
    }
  }
  const size_t count = arm_ids.size();
  for (auto& [name, segment] : segments) {
    segment.arms.Resize(count);
    for (auto& [item, table] : segment.context) table.Resize(count);
  }
}

void Room::RemoveArm(uint32_t index) {
  const bool was_enabled = enabled[index] != 0;
  for (auto& [name, segment] : segments) {
    segment.arms.Erase(index, was_enabled);
    for (auto& [item, table] : segment.context) table.Erase(index, was_enabled);
  }
  arm_index.erase(arm_ids[index]);
  arm_ids.erase(arm_ids.begin() + index);
  enabled.erase(enabled.begin() + index);
  if (!linucb_arms.empty()) linucb_arms.erase(linucb_arms.begin() + index);
  for (uint32_t i = index; i < arm_ids.size(); ++i) arm_index[arm_ids[i]] = i;
}

void Room::SetEnabled(uint32_t index, bool on) {
  if ((enabled[index] != 0) == on) return;
  enabled[index] = on ? 1 : 0;
  for (auto& [name, segment] : segments) {
    segment.arms.SetEnabled(index, on);
    for (auto& [item, table] : segment.context) table.SetEnabled(index, on);
  }
}

void Room::Reset() {
  segments.clear();
  MutableSegment("");
  counter_scale = 1.0;
  last_event_micros = 0;
  for (LinUcbArm& model : linucb_arms) {
    model = LinUcbArm(linucb.dimension, linucb.lambda);
  }
}

void Room::AdvanceDecay(int64_t logged_at_micros) {
  double half_lives = 0;
  if (decay.half_life_events > 0) {
    half_lives = 1.0 / decay.half_life_events;
  } else if (decay.half_life_seconds > 0) {
    // The clock may step back (NTP); decay never runs backwards.
    if (last_event_micros > 0 && logged_at_micros > last_event_micros) {
      half_lives = static_cast<double>(logged_at_micros - last_event_micros) /
                   1e6 / decay.half_life_seconds;
    }
    last_event_micros = std::max(last_event_micros, logged_at_micros);
  }
  if (half_lives == 0) return;
  counter_scale *= std::exp2(-half_lives);
  // Stored counters grow as 1 / counter_scale; fold the scale into them
  // long before doubles lose range. Deterministic, so replay does the same.
  if (counter_scale < 1e-150) {
    for (auto& [name, segment] : segments) {
      segment.arms.ScaleAll(counter_scale);
      for (auto& [item, table] : segment.context) table.ScaleAll(counter_scale);
    }
    for (LinUcbArm& model : linucb_arms) model.Rescale(counter_scale);
    counter_scale = 1.0;
  }
}

Segment& Room::MutableSegment(const std::string& name) {
  auto [it, inserted] = segments.try_emplace(name);
  if (inserted) it->second.arms.Resize(arm_ids.size());
  return it->second;
}

CounterTable& Room::MutableContext(Segment& segment, const std::string& item) {
  auto [it, inserted] = segment.context.try_emplace(item);
  if (inserted) it->second.Resize(arm_ids.size());
  return it->second;
}

const Segment* Room::FindSegment(const std::string& name) const {
  auto it = segments.find(name);
  return it == segments.end() ? nullptr : &it->second;
}

int64_t Room::FindArm(const std::string& arm_id) const {
  auto it = arm_index.find(arm_id);
  return it == arm_index.end() ? -1 : static_cast<int64_t>(it->second);
}

}  // namespace banditd::core
