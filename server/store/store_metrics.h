#ifndef BANDITD_SERVER_STORE_STORE_METRICS_H_
#define BANDITD_SERVER_STORE_STORE_METRICS_H_

#include <cstdint>

#include "absl/time/time.h"

namespace banditd::store {

// StoreMetrics is what the store (and the cluster committer) reports about
// durability work. An interface of the store: the committers hold a pointer
// to one (which may be null: then they report nothing) and ops::Metrics
// implements it, thread-safe and cheap enough to call once per commit group.
// Header only, so server/store depends on no metrics library.
class StoreMetrics {
 public:
  virtual ~StoreMetrics() = default;

  // One group commit: `latency` from the first mutation's Submit to the log
  // write being durable; `group_size` mutations written together.
  virtual void RecordCommit(absl::Duration latency, int group_size) = 0;
  // One snapshot written, taking `duration`.
  virtual void RecordSnapshot(absl::Duration duration) = 0;
  // Startup recovery finished: snapshot load plus replay of
  // `replayed_records` log records took `duration`.
  virtual void RecordRecovery(absl::Duration duration,
                              int64_t replayed_records) = 0;
};

}  // namespace banditd::store

#endif  // BANDITD_SERVER_STORE_STORE_METRICS_H_
