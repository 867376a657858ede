#ifndef BANDITD_SERVER_CORE_ROOM_H_
#define BANDITD_SERVER_CORE_ROOM_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "server/core/arm_ids.h"
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

// Memory the engine accounts for what it holds (EngineOptions's budget):
// a dense slot or a sparse entry of a CounterTable, a table's fixed cost
// (plus its key), and an arm (plus its id's characters): its ArmIds span (8)
// and hash slots (4 each, the index at most 3/4 full: up to 11 bytes) and
// its enabled flag (1), rounded up.
inline constexpr int64_t kDenseSlotBytes = 4 * sizeof(double);
inline constexpr int64_t kSparseEntryBytes =
    4 * sizeof(double) + sizeof(uint32_t) + 12;  // + its hash-index slot
inline constexpr int64_t kTableBytes = 160;
inline constexpr int64_t kArmBytes = 24;

// CounterTable holds the counters of a room's arms in one table (a segment,
// or a context item within one), as a structure of arrays so that the
// scoring loop reads each counter sequentially.
//
// Dense: one slot per arm, slot i is arm i. Sparse: one entry per arm that
// ever got counts here, in the order they first did, found through a hash
// index; an arm without an entry reads as zeros. A sparse table turns dense
// once a quarter of the arms have entries (kDenseRatio), which depends only
// on the sequence of mutations, so replay and snapshots are identical.
// Segments other than the whole room and all context tables start sparse:
// a table costs memory only for the arms that have counters there.
class CounterTable {
 public:
  // A sparse table turns dense at entries * kDenseRatio >= arms.
  static constexpr size_t kDenseRatio = 4;

  CounterTable() = default;
  // A dense table of `arm_count` zeroed slots.
  explicit CounterTable(size_t arm_count);
  // A sparse table with no entry.
  static CounterTable Sparse(size_t arm_count);

  // Arms the table covers (dense or sparse).
  size_t size() const { return arm_count_; }
  bool sparse() const { return sparse_; }
  // Slots stored: size() when dense, the entries when sparse.
  size_t entries() const { return views_.size(); }
  // Memory accounted to the table (kDenseSlotBytes, kSparseEntryBytes,
  // kTableBytes), not counting its key.
  int64_t Bytes() const;
  // Grows the table to `arm_count` arms (zeroed slots when dense).
  void Resize(size_t arm_count);
  // Removes arm `index`, shifting later arms down by one.
  void Erase(size_t index, bool was_enabled);
  // Adds counts to arm `index`; `enabled` says whether they count in
  // enabled_views(). Returns the change of Bytes().
  int64_t Add(size_t index, double views, double clicks, double reward,
              double reward_sq, bool enabled);
  // Multiplies every counter by `factor` (decay renormalisation).
  void ScaleAll(double factor);
  // Zeroes the counters of arm `index`; `enabled` says whether its views
  // counted in enabled_views().
  void ZeroSlot(size_t index, bool enabled);
  // Moves the slot's views in or out of enabled_views() when an arm is
  // enabled or disabled.
  void SetEnabled(size_t index, bool enabled);
  bool Empty(size_t index) const {
    const int64_t e = Slot(index);
    return e < 0 || (views_[e] == 0 && clicks_[e] == 0 && reward_sum_[e] == 0);
  }

  Counts Get(size_t index) const {
    const int64_t e = Slot(index);
    if (e < 0) return {};
    return {views_[e], clicks_[e], reward_sum_[e]};
  }
  // Sum of squared per-conversion rewards (for the reward variance).
  double RewardSq(size_t index) const {
    const int64_t e = Slot(index);
    return e < 0 ? 0.0 : reward_sq_[e];
  }
  // Sum of views over enabled arms: the N of UCB1.
  double enabled_views() const { return enabled_views_; }

  // The stored slots: one per arm when dense; when sparse, entry j holds the
  // counters of arm entry_arms()[j].
  const double* views() const { return views_.data(); }
  const double* clicks() const { return clicks_.data(); }
  const double* reward_sums() const { return reward_sum_.data(); }
  const double* reward_sq_sums() const { return reward_sq_.data(); }
  const uint32_t* entry_arms() const { return arms_.data(); }
  // The slot of arm `index`: `index` when dense, its entry or -1 when sparse.
  int64_t Slot(size_t index) const {
    if (!sparse_) return static_cast<int64_t>(index);
    auto it = entry_of_.find(static_cast<uint32_t>(index));
    return it == entry_of_.end() ? -1 : static_cast<int64_t>(it->second);
  }
  // A dense copy (Sample's scans read a segment's counters densely).
  CounterTable Dense() const;

  // For snapshot loading: replaces the contents wholesale with a dense
  // table. Empty `reward_sq_sums` means zeros.
  void Assign(std::vector<double> views, std::vector<double> clicks,
              std::vector<double> reward_sums, double enabled_views,
              std::vector<double> reward_sq_sums = {});
  // For snapshot loading: a sparse table of `arm_count` arms whose entry j
  // is arm `arms[j]`. False (and no change) when an arm is out of range or
  // listed twice, or the columns differ in length.
  bool AssignSparse(size_t arm_count, std::vector<uint32_t> arms,
                    std::vector<double> views, std::vector<double> clicks,
                    std::vector<double> reward_sums, double enabled_views,
                    std::vector<double> reward_sq_sums);
  // Makes a dense table sparse when few arms have non-zero counters (a
  // snapshot written before tables were sparse). Same counts either way.
  void SparsifyIfFew();

  // Equal counts for every arm and equal enabled_views, whichever the
  // representation.
  friend bool operator==(const CounterTable& a, const CounterTable& b);

 private:
  void Densify();
  void Reindex();

  bool sparse_ = false;
  size_t arm_count_ = 0;
  // Sparse only: the arm of each entry, and the entry of each arm.
  std::vector<uint32_t> arms_;
  absl::flat_hash_map<uint32_t, uint32_t> entry_of_;
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

  // Adds arms at the end (enabled), growing every table once. Costs
  // O(new arms + tables), amortised: no pass over the existing arms.
  void AddArms(const std::vector<std::string>& new_arm_ids)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // Removes an arm, keeping the order of the others.
  void RemoveArm(uint32_t index) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void SetEnabled(uint32_t index, bool enabled)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // Drops every counter and LinUCB model; arms, flags and config stay.
  void Reset() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // Zeroes one arm's counters in every table of `segment` or, when it is
  // null, of every segment, and then also its LinUCB model.
  void ResetArm(uint32_t index, const std::string* segment)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // Moves the decay clock to a new event logged at `logged_at_micros`:
  // counter_scale shrinks by one event's or the elapsed time's worth of
  // half-life. Renormalises every table when the scale gets tiny.
  void AdvanceDecay(int64_t logged_at_micros) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // Returns the segment, creating it if absent: the whole room's table is
  // dense, any other starts sparse. Creating one adds to `bytes`.
  Segment& MutableSegment(const std::string& segment)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // Returns the context table of `segment`, creating it (sparse) if absent.
  // Creating one adds to `bytes`.
  CounterTable& MutableContext(Segment& segment, const std::string& item)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // The memory the room holds, as accounted in `bytes`, counted afresh.
  int64_t ComputeBytes() const ABSL_SHARED_LOCKS_REQUIRED(mu);
  const Segment* FindSegment(const std::string& segment) const
      ABSL_SHARED_LOCKS_REQUIRED(mu);
  // Returns the arm's index or -1.
  int64_t FindArm(const std::string& arm_id) const
      ABSL_SHARED_LOCKS_REQUIRED(mu);

  const std::string id;
  mutable absl::Mutex mu;
  PolicyParams policy ABSL_GUARDED_BY(mu);
  // Arms in insertion order, and their index (ArmIds::Find); index i of
  // every CounterTable is arm_ids[i].
  ArmIds arm_ids ABSL_GUARDED_BY(mu);
  // arm_ids.size(), readable without `mu` (the service sends the reads of
  // big rooms to threads of their own by it, and must not wait for `mu` to
  // decide); stored by AddArms, RemoveArm and Engine::ReplaceRooms.
  std::atomic<int64_t> arm_count{0};
  // Feedback events queued to the room by Engine::ApplyOrQueue (a reader
  // held `mu`) and not yet applied; readable without `mu`: reads of the
  // counters let them go first (Engine::AwaitQueuedWrites).
  std::atomic<int64_t> queued_events{0};
  std::vector<uint8_t> enabled ABSL_GUARDED_BY(mu);
  // Always holds the whole-room segment "".
  absl::flat_hash_map<std::string, Segment> segments ABSL_GUARDED_BY(mu);

  DecayConfig decay ABSL_GUARDED_BY(mu);
  // Counters are stored divided by this scale: the true value is
  // stored * counter_scale. Decay shrinks the scale, an O(1) step, and new
  // counts are added as count / counter_scale. 1 in rooms without decay.
  double counter_scale ABSL_GUARDED_BY(mu) = 1.0;
  // Time of the last event seen by time-based decay (0: none yet).
  int64_t last_event_micros ABSL_GUARDED_BY(mu) = 0;

  // Memory accounted to the room (ids, counters, models; see kArmBytes):
  // kept current by the methods above and by the engine's Feedback.
  int64_t bytes ABSL_GUARDED_BY(mu) = 0;

  LinUcbConfig linucb ABSL_GUARDED_BY(mu);
  // One model per arm (index-aligned with arm_ids) when linucb.dimension > 0.
  std::vector<LinUcbArm> linucb_arms ABSL_GUARDED_BY(mu);
};

}  // namespace banditd::core

#endif  // BANDITD_SERVER_CORE_ROOM_H_
