#ifndef BANDITD_SERVER_SERVICE_DECISION_CACHE_H_
#define BANDITD_SERVER_SERVICE_DECISION_CACHE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace banditd::service {

// What Sample decided, so that a later Feedback can cite it by id.
struct Decision {
  std::string room_id;
  std::string segment;
  std::vector<std::string> context_items;
  std::vector<double> features;
  std::vector<std::string> arm_ids;
};

// DecisionCache remembers the last `capacity` decisions, evicting the oldest.
// It lives in memory only: decisions are not state, the Feedback events that
// cite them are logged with every field resolved.
//
// The decisions sit in a ring of `capacity` slots, with no index: an id is
// 16 hex digits of a random tag and 16 of the decision's sequence number,
// whose slot is sequence % capacity; Get checks that the slot still holds
// that sequence and tag. Put thus costs no hashing and no rehash (a hash map
// under constant insert-and-evict churn periodically rehashes in place, a
// stall of milliseconds at 100,000 entries), and allocates only the id.
class DecisionCache {
 public:
  explicit DecisionCache(size_t capacity);

  // Stores `decision` and returns its new id (32 hex digits).
  std::string Put(Decision decision);
  // The decision, or nullopt when unknown or evicted.
  std::optional<Decision> Get(const std::string& decision_id) const;

  size_t capacity() const { return capacity_; }
  size_t size() const;

 private:
  struct Slot {
    uint64_t tag = 0;
    uint64_t sequence = 0;  // 0: empty (sequences start at 1)
    Decision decision;
  };

  const size_t capacity_;
  mutable absl::Mutex mu_;
  std::vector<Slot> ring_ ABSL_GUARDED_BY(mu_);
  uint64_t last_sequence_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace banditd::service

#endif  // BANDITD_SERVER_SERVICE_DECISION_CACHE_H_
