#include "server/core/room.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace banditd::core {

CounterTable::CounterTable(size_t arm_count)
    : arm_count_(arm_count),
      views_(arm_count),
      clicks_(arm_count),
      reward_sum_(arm_count),
      reward_sq_(arm_count) {}

CounterTable CounterTable::Sparse(size_t arm_count) {
  CounterTable table;
  table.sparse_ = true;
  table.arm_count_ = arm_count;
  return table;
}

int64_t CounterTable::Bytes() const {
  return kTableBytes + static_cast<int64_t>(views_.size()) *
                           (sparse_ ? kSparseEntryBytes : kDenseSlotBytes);
}

void CounterTable::Resize(size_t arm_count) {
  arm_count_ = arm_count;
  if (sparse_) return;  // New arms have no entry.
  views_.resize(arm_count);
  clicks_.resize(arm_count);
  reward_sum_.resize(arm_count);
  reward_sq_.resize(arm_count);
}

void CounterTable::Erase(size_t index, bool was_enabled) {
  const int64_t slot = Slot(index);
  --arm_count_;
  if (slot >= 0) {
    if (was_enabled) enabled_views_ -= views_[slot];
    views_.erase(views_.begin() + slot);
    clicks_.erase(clicks_.begin() + slot);
    reward_sum_.erase(reward_sum_.begin() + slot);
    reward_sq_.erase(reward_sq_.begin() + slot);
    if (sparse_) arms_.erase(arms_.begin() + slot);
  }
  if (!sparse_) return;
  for (uint32_t& arm : arms_) {
    if (arm > index) --arm;
  }
  Reindex();
}

int64_t CounterTable::Add(size_t index, double views, double clicks,
                          double reward, double reward_sq, bool enabled) {
  int64_t delta = 0;
  int64_t slot = Slot(index);
  if (slot < 0) {
    const int64_t before = Bytes();
    slot = static_cast<int64_t>(views_.size());
    arms_.push_back(static_cast<uint32_t>(index));
    entry_of_.emplace(static_cast<uint32_t>(index),
                      static_cast<uint32_t>(slot));
    views_.push_back(0);
    clicks_.push_back(0);
    reward_sum_.push_back(0);
    reward_sq_.push_back(0);
    if (views_.size() * kDenseRatio >= arm_count_) {
      Densify();
      slot = static_cast<int64_t>(index);
    }
    delta = Bytes() - before;
  }
  views_[slot] += views;
  clicks_[slot] += clicks;
  reward_sum_[slot] += reward;
  reward_sq_[slot] += reward_sq;
  if (enabled) enabled_views_ += views;
  return delta;
}

void CounterTable::Densify() {
  std::vector<double>* columns[] = {&views_, &clicks_, &reward_sum_,
                                    &reward_sq_};
  for (std::vector<double>* column : columns) {
    std::vector<double> dense(arm_count_);
    for (size_t j = 0; j < arms_.size(); ++j) dense[arms_[j]] = (*column)[j];
    *column = std::move(dense);
  }
  sparse_ = false;
  arms_ = {};
  entry_of_ = {};
}

void CounterTable::Reindex() {
  entry_of_.clear();
  entry_of_.reserve(arms_.size());
  for (size_t j = 0; j < arms_.size(); ++j) {
    entry_of_.emplace(arms_[j], static_cast<uint32_t>(j));
  }
}

void CounterTable::ScaleAll(double factor) {
  for (std::vector<double>* column :
       {&views_, &clicks_, &reward_sum_, &reward_sq_}) {
    for (double& value : *column) value *= factor;
  }
  enabled_views_ *= factor;
}

void CounterTable::ZeroSlot(size_t index, bool enabled) {
  // A sparse entry stays (zeroed): replay and snapshots keep the same shape.
  const int64_t slot = Slot(index);
  if (slot < 0) return;
  if (enabled) enabled_views_ -= views_[slot];
  views_[slot] = 0;
  clicks_[slot] = 0;
  reward_sum_[slot] = 0;
  reward_sq_[slot] = 0;
}

void CounterTable::SetEnabled(size_t index, bool enabled) {
  const int64_t slot = Slot(index);
  if (slot < 0) return;
  enabled_views_ += enabled ? views_[slot] : -views_[slot];
}

CounterTable CounterTable::Dense() const {
  CounterTable dense = *this;
  if (dense.sparse_) dense.Densify();
  return dense;
}

void CounterTable::Assign(std::vector<double> views, std::vector<double> clicks,
                          std::vector<double> reward_sums, double enabled_views,
                          std::vector<double> reward_sq_sums) {
  sparse_ = false;
  arms_ = {};
  entry_of_ = {};
  arm_count_ = views.size();
  views_ = std::move(views);
  clicks_ = std::move(clicks);
  reward_sum_ = std::move(reward_sums);
  reward_sq_ = std::move(reward_sq_sums);
  reward_sq_.resize(views_.size());
  enabled_views_ = enabled_views;
}

bool CounterTable::AssignSparse(size_t arm_count, std::vector<uint32_t> arms,
                                std::vector<double> views,
                                std::vector<double> clicks,
                                std::vector<double> reward_sums,
                                double enabled_views,
                                std::vector<double> reward_sq_sums) {
  const size_t n = arms.size();
  if (views.size() != n || clicks.size() != n || reward_sums.size() != n ||
      reward_sq_sums.size() != n) {
    return false;
  }
  absl::flat_hash_map<uint32_t, uint32_t> entry_of;
  entry_of.reserve(n);
  for (size_t j = 0; j < n; ++j) {
    if (arms[j] >= arm_count ||
        !entry_of.emplace(arms[j], static_cast<uint32_t>(j)).second) {
      return false;
    }
  }
  sparse_ = true;
  arm_count_ = arm_count;
  arms_ = std::move(arms);
  entry_of_ = std::move(entry_of);
  views_ = std::move(views);
  clicks_ = std::move(clicks);
  reward_sum_ = std::move(reward_sums);
  reward_sq_ = std::move(reward_sq_sums);
  enabled_views_ = enabled_views;
  return true;
}

void CounterTable::SparsifyIfFew() {
  if (sparse_) return;
  std::vector<uint32_t> used;
  for (size_t i = 0; i < arm_count_; ++i) {
    if (views_[i] != 0 || clicks_[i] != 0 || reward_sum_[i] != 0 ||
        reward_sq_[i] != 0) {
      used.push_back(static_cast<uint32_t>(i));
      if (used.size() * kDenseRatio >= arm_count_) return;
    }
  }
  CounterTable sparse = Sparse(arm_count_);
  for (uint32_t i : used) {
    sparse.arms_.push_back(i);
    sparse.views_.push_back(views_[i]);
    sparse.clicks_.push_back(clicks_[i]);
    sparse.reward_sum_.push_back(reward_sum_[i]);
    sparse.reward_sq_.push_back(reward_sq_[i]);
  }
  sparse.Reindex();
  sparse.enabled_views_ = enabled_views_;
  *this = std::move(sparse);
}

bool operator==(const CounterTable& a, const CounterTable& b) {
  if (a.arm_count_ != b.arm_count_ || a.enabled_views_ != b.enabled_views_) {
    return false;
  }
  if (!a.sparse_ && !b.sparse_) {
    return a.views_ == b.views_ && a.clicks_ == b.clicks_ &&
           a.reward_sum_ == b.reward_sum_ && a.reward_sq_ == b.reward_sq_;
  }
  for (size_t i = 0; i < a.arm_count_; ++i) {
    if (a.Get(i) != b.Get(i) || a.RewardSq(i) != b.RewardSq(i)) return false;
  }
  return true;
}

namespace {

// Bytes accounted to `count` arms with ids of `chars` characters in all.
int64_t ArmsBytes(size_t count, size_t chars, const LinUcbConfig& linucb) {
  const int64_t d = linucb.dimension;
  return static_cast<int64_t>(count) *
             (kArmBytes + (d * d + d) * static_cast<int64_t>(sizeof(double))) +
         static_cast<int64_t>(chars);
}

}  // namespace

void Room::AddArms(const std::vector<std::string>& new_arm_ids) {
  // Incremental, so that adding one arm to a million-arm room costs what
  // that arm costs (the accounting used to recount every arm).
  size_t chars = 0;
  for (const std::string& arm_id : new_arm_ids) chars += arm_id.size();
  arm_ids.Reserve(new_arm_ids.size(), chars);
  for (const std::string& arm_id : new_arm_ids) {
    arm_ids.Append(arm_id);
    enabled.push_back(1);
    if (linucb.dimension > 0) {
      linucb_arms.emplace_back(linucb.dimension, linucb.lambda);
    }
  }
  bytes += ArmsBytes(new_arm_ids.size(), chars, linucb);
  const size_t count = arm_ids.size();
  arm_count.store(static_cast<int64_t>(count), std::memory_order_relaxed);
  for (auto& [name, segment] : segments) {
    bytes -= segment.arms.Bytes();
    segment.arms.Resize(count);
    bytes += segment.arms.Bytes();
    for (auto& [item, table] : segment.context) {
      bytes -= table.Bytes();
      table.Resize(count);
      bytes += table.Bytes();
    }
  }
}

void Room::RemoveArm(uint32_t index) {
  const bool was_enabled = enabled[index] != 0;
  for (auto& [name, segment] : segments) {
    bytes -= segment.arms.Bytes();
    segment.arms.Erase(index, was_enabled);
    bytes += segment.arms.Bytes();
    for (auto& [item, table] : segment.context) {
      bytes -= table.Bytes();
      table.Erase(index, was_enabled);
      bytes += table.Bytes();
    }
  }
  bytes -= ArmsBytes(1, arm_ids[index].size(), linucb);
  arm_ids.Erase(index);
  arm_count.store(static_cast<int64_t>(arm_ids.size()),
                  std::memory_order_relaxed);
  enabled.erase(enabled.begin() + index);
  if (!linucb_arms.empty()) linucb_arms.erase(linucb_arms.begin() + index);
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
  bytes = ComputeBytes();
}

void Room::ResetArm(uint32_t index, const std::string* segment_name) {
  const bool on = enabled[index] != 0;
  auto zero = [&](Segment& segment) {
    segment.arms.ZeroSlot(index, on);
    for (auto& [item, table] : segment.context) table.ZeroSlot(index, on);
  };
  if (segment_name != nullptr) {
    auto it = segments.find(*segment_name);
    if (it != segments.end()) zero(it->second);
    return;
  }
  for (auto& [name, segment] : segments) zero(segment);
  if (!linucb_arms.empty()) {
    linucb_arms[index] = LinUcbArm(linucb.dimension, linucb.lambda);
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
  if (inserted) {
    // The whole room is read by every Sample, densely; other segments
    // cost memory only where arms have counters.
    it->second.arms = name.empty() ? CounterTable(arm_ids.size())
                                   : CounterTable::Sparse(arm_ids.size());
    bytes += static_cast<int64_t>(name.size()) + it->second.arms.Bytes();
  }
  return it->second;
}

CounterTable& Room::MutableContext(Segment& segment, const std::string& item) {
  auto [it, inserted] = segment.context.try_emplace(item);
  if (inserted) {
    it->second = CounterTable::Sparse(arm_ids.size());
    bytes += static_cast<int64_t>(item.size()) + it->second.Bytes();
  }
  return it->second;
}

int64_t Room::ComputeBytes() const {
  int64_t total = ArmsBytes(arm_ids.size(), arm_ids.chars(), linucb);
  for (const auto& [name, segment] : segments) {
    total += static_cast<int64_t>(name.size()) + segment.arms.Bytes();
    for (const auto& [item, table] : segment.context) {
      total += static_cast<int64_t>(item.size()) + table.Bytes();
    }
  }
  return total;
}

const Segment* Room::FindSegment(const std::string& name) const {
  auto it = segments.find(name);
  return it == segments.end() ? nullptr : &it->second;
}

int64_t Room::FindArm(const std::string& arm_id) const {
  return arm_ids.Find(arm_id);
}

}  // namespace banditd::core
