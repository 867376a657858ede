#ifndef BANDITD_SERVER_SERVICE_DECISION_CACHE_H_
#define BANDITD_SERVER_SERVICE_DECISION_CACHE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
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
  const size_t capacity_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Decision> decisions_ ABSL_GUARDED_BY(mu_);
  // Ids in insertion order, as a ring of `capacity_` slots.
  std::vector<std::string> order_ ABSL_GUARDED_BY(mu_);
  size_t next_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace banditd::service

#endif  // BANDITD_SERVER_SERVICE_DECISION_CACHE_H_
