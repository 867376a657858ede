#ifndef BANDITD_SERVER_CORE_ROOM_H_
#define BANDITD_SERVER_CORE_ROOM_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "server/core/linucb.h"
#include "server/core/policy.h"

namespace banditd::core {

// The segment name that stands for the whole room.
inline const std::string kWholeRoom;

// Counters of one arm in one table.
struct Counts {
  double views = 0;
  double clicks = 0;
  double reward_sum = 0;

  friend bool operator==(const Counts&, const Counts&) = default;
};

// Scores reported by GetStats.
struct Scores {
  double ctr = 0;
  double ucb1 = 0;
  double bucb = 0;
  double reward_mean = 0;
  double reward_variance = 0;
};

// CounterTable holds one slot per arm of a room, as a structure of arrays so
// that the scoring loop reads each counter sequentially.
class CounterTable {
 public:
  CounterTable() = default;
  explicit CounterTable(size_t arm_count);

  size_t size() const { return views_.size(); }
  // Grows the table to `arm_count` zeroed slots.
  void Resize(size_t arm_count);
  // Removes slot `index`, shifting later slots down by one.
  void Erase(size_t index, bool was_enabled);
  // Adds counts to slot `index`; `enabled` says whether they count in
  // enabled_views().
  void Add(size_t index, double views, double clicks, double reward,
           double reward_sq, bool enabled);
  // Multiplies every counter by `factor` (decay renormalisation).
  void ScaleAll(double factor);
  // Moves the slot's views in or out of enabled_views() when an arm is
  // enabled or disabled.
  void SetEnabled(size_t index, bool enabled);
  bool Empty(size_t index) const {
    return views_[index] == 0 && clicks_[index] == 0 && reward_sum_[index] == 0;
  }

  Counts Get(size_t index) const {
    return {views_[index], clicks_[index], reward_sum_[index]};
  }
  // Sum of squared per-conversion rewards (for the reward variance).
  double RewardSq(size_t index) const { return reward_sq_[index]; }
  // Sum of views over enabled arms: the N of UCB1.
  double enabled_views() const { return enabled_views_; }

  const double* views() const { return views_.data(); }
  const double* clicks() const { return clicks_.data(); }
  const double* reward_sums() const { return reward_sum_.data(); }
  const double* reward_sq_sums() const { return reward_sq_.data(); }

  // For snapshot loading: replaces the contents wholesale. Empty
  // `reward_sq_sums` means zeros.
  void Assign(std::vector<double> views, std::vector<double> clicks,
              std::vector<double> reward_sums, double enabled_views,
              std::vector<double> reward_sq_sums = {});

  friend bool operator==(const CounterTable&, const CounterTable&) = default;

 private:
  std::vector<double> views_;
  std::vector<double> clicks_;
  std::vector<double> reward_sum_;
  std::vector<double> reward_sq_;
  double enabled_views_ = 0;
};

// Counters of one segment: per arm, and per (context item, arm).
struct Segment {
  CounterTable arms;
  absl::flat_hash_map<std::string, CounterTable> context;

  friend bool operator==(const Segment&, const Segment&) = default;
};

// Room is one experiment. Every field is guarded by `mu`: readers take it
// shared, the engine's single writer takes it exclusive.
struct Room {
  explicit Room(std::string room_id) : id(std::move(room_id)) {}

  // Adds arms at the end (enabled), growing every table once.
  void AddArms(const std::vector<std::string>& new_arm_ids)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // Removes an arm, keeping the order of the others.
  void RemoveArm(uint32_t index) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void SetEnabled(uint32_t index, bool enabled)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // Drops every counter and LinUCB model; arms, flags and config stay.
  void Reset() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // Moves the decay clock to a new event logged at `logged_at_micros`:
  // counter_scale shrinks by one event's or the elapsed time's worth of
  // half-life. Renormalises every table when the scale gets tiny.
  void AdvanceDecay(int64_t logged_at_micros) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // Returns the segment, creating it (sized to the arms) if absent.
  Segment& MutableSegment(const std::string& segment)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // Returns the context table of `segment`, creating it if absent.
  CounterTable& MutableContext(Segment& segment, const std::string& item)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  const Segment* FindSegment(const std::string& segment) const
      ABSL_SHARED_LOCKS_REQUIRED(mu);
  // Returns the arm's index or -1.
  int64_t FindArm(const std::string& arm_id) const
      ABSL_SHARED_LOCKS_REQUIRED(mu);

  const std::string id;
  mutable absl::Mutex mu;
  PolicyParams policy ABSL_GUARDED_BY(mu);
  // Arms in insertion order; index i of every CounterTable is arm_ids[i].
  std::vector<std::string> arm_ids ABSL_GUARDED_BY(mu);
  std::vector<uint8_t> enabled ABSL_GUARDED_BY(mu);
  absl::flat_hash_map<std::string, uint32_t> arm_index ABSL_GUARDED_BY(mu);
  // Always holds the whole-room segment "".
  absl::flat_hash_map<std::string, Segment> segments ABSL_GUARDED_BY(mu);

  DecayConfig decay ABSL_GUARDED_BY(mu);
  // Counters are stored divided by this scale: the true value is
  // stored * counter_scale. Decay shrinks the scale, an O(1) step, and new
  // counts are added as count / counter_scale. 1 in rooms without decay.
  double counter_scale ABSL_GUARDED_BY(mu) = 1.0;
  // Time of the last event seen by time-based decay (0: none yet).
  int64_t last_event_micros ABSL_GUARDED_BY(mu) = 0;

  LinUcbConfig linucb ABSL_GUARDED_BY(mu);
  // One model per arm (index-aligned with arm_ids) when linucb.dimension > 0.
  std::vector<LinUcbArm> linucb_arms ABSL_GUARDED_BY(mu);
};

}  // namespace banditd::core

#endif  // BANDITD_SERVER_CORE_ROOM_H_
