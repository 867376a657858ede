#ifndef BANDITD_SERVER_SERVICE_DECISION_CACHE_H_
#define BANDITD_SERVER_SERVICE_DECISION_CACHE_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
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

// DecisionCache remembers recent decisions, evicting the oldest first once
// it holds `max_entries` decisions or their estimated size (ApproximateBytes)
// passes `max_bytes`: one decision can list 10,000 arms and 32 context items,
// so a count alone does not bound memory. It lives in memory only: decisions
// are not state, the Feedback events that cite them are logged with every
// field resolved.
//
// Decisions sit in a deque in sequence order, with no index: an id is 16 hex
// digits of a random tag and 16 of the decision's sequence number, whose
// position is sequence - (the oldest's sequence); Get checks the tag. Put
// thus costs no hashing and no rehash. Entries are immutable and shared, so
// Get copies a pointer, not the decision, under the lock.
//
// With a DecisionSigner (--decision_id_key_file), ids carry their decision,
// signed, and resolve on any server holding the key: Put caches only the
// decisions too large to sign (DecisionSigner's max_id_bytes).
class DecisionSigner;
class DecisionCache {
 public:
  explicit DecisionCache(size_t max_entries,
                         size_t max_bytes = size_t{64} << 20);
  DecisionCache(size_t max_entries, size_t max_bytes,
                std::unique_ptr<const DecisionSigner> signer);
  ~DecisionCache();

  // Signs `decision` or stores it, and returns its new id (a signed id, or
  // 32 hex digits). A decision larger than max_bytes on its own gets an id
  // that is never found.
  std::string Put(Decision decision);
  // The cached decision, or null when unknown or evicted (cache ids only).
  std::shared_ptr<const Decision> Get(const std::string& decision_id) const;
  // The decision `decision_id` names, signed or cached. NOT_FOUND when
  // unknown, evicted or expired; INVALID_ARGUMENT when a signed id is
  // malformed or its signature matches no key. Messages name no field.
  absl::StatusOr<std::shared_ptr<const Decision>> Resolve(
      const std::string& decision_id) const;

  size_t max_entries() const { return max_entries_; }
  size_t max_bytes() const { return max_bytes_; }
  size_t size() const;
  // Estimated bytes held (the sum of ApproximateBytes).
  size_t bytes() const;

  // Estimated heap and inline bytes of one cached decision.
  static size_t ApproximateBytes(const Decision& decision);

 private:
  struct Entry {
    uint64_t tag = 0;
    size_t bytes = 0;
    std::shared_ptr<const Decision> decision;
  };

  const size_t max_entries_;
  const size_t max_bytes_;
  const std::unique_ptr<const DecisionSigner> signer_;
  mutable absl::Mutex mu_;
  std::deque<Entry> entries_ ABSL_GUARDED_BY(mu_);
  // Sequence number of entries_.front() (sequences start at 1).
  uint64_t first_sequence_ ABSL_GUARDED_BY(mu_) = 1;
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace banditd::service

#endif  // BANDITD_SERVER_SERVICE_DECISION_CACHE_H_
