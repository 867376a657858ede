#ifndef BANDITD_SERVER_CORE_SOURCE_OFFSETS_H_
#define BANDITD_SERVER_CORE_SOURCE_OFFSETS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "server/core/mutation.h"

namespace banditd::core {

// One partition's position: the offset of the next record to consume.
struct SourceOffset {
  std::string topic;
  int32_t partition = 0;
  int64_t next_offset = 0;

  friend bool operator==(const SourceOffset&, const SourceOffset&) = default;
};

// SourceOffsets is the consumed position of every source partition that fed
// the engine (Kafka topic partitions). It is engine state like the counters:
// changed only by applying a FeedbackBatch with a SourceRange, copied into
// snapshots and rebuilt by replay, so after any crash the positions match
// the counts exactly. A consumer resumes a partition at Get().
//
// Fencing: a range applies only when it starts at the partition's position
// (or the partition is new). A batch from a consumer that lost the partition
// to another one, or a retry of a batch that already landed, starts below
// the position and is refused with ABORTED, changing nothing; every replica
// decides alike, in log order.
//
// Threading: Advance and Replace from the engine's single writer; reads from
// any thread.
class SourceOffsets {
 public:
  // INVALID_ARGUMENT unless `range` is well formed (a topic, partition >= 0,
  // 0 <= from_offset < next_offset); `field` prefixes the message.
  static absl::Status CheckShape(const SourceRange& range,
                                 const std::string& field);

  // OK when `range` would apply now; ABORTED naming the partition's
  // position when it is stale.
  absl::Status CheckNext(const SourceRange& range) const;
  // Moves the partition's position to range.next_offset. Call after a
  // successful CheckNext, from the single writer.
  void Advance(const SourceRange& range);

  // The partition's position; nullopt when nothing was consumed from it.
  std::optional<int64_t> Get(const std::string& topic, int32_t partition) const;
  // Every position, ordered by topic and partition (snapshots, metrics).
  std::vector<SourceOffset> All() const;
  // Replaces every position (snapshot load). Single writer only.
  void Replace(const std::vector<SourceOffset>& offsets);

 private:
  using Key = std::pair<std::string, int32_t>;
  mutable absl::Mutex mu_;
  absl::btree_map<Key, int64_t> next_ ABSL_GUARDED_BY(mu_);
};

}  // namespace banditd::core

#endif  // BANDITD_SERVER_CORE_SOURCE_OFFSETS_H_
