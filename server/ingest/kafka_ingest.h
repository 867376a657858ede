#ifndef BANDITD_SERVER_INGEST_KAFKA_INGEST_H_
#define BANDITD_SERVER_INGEST_KAFKA_INGEST_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/core/engine.h"
#include "server/ingest/record.h"
#include "server/service/decision_cache.h"
#include "server/store/committer.h"

namespace banditd::ingest {

// KafkaIngest consumes Feedback records from Kafka topics (librdkafka) and
// sends them through the same path as the Feedback RPC: translate
// (DecodeRecord), admit (Engine::Validate), then Committer::Submit, which
// logs and applies.
//
// Exactly once: the records of one partition are gathered into batches
// that carry their offset range (core::SourceRange), so a batch's counts
// and its partition's new position are one log record; the engine's
// SourceOffsets is where a partition resumes after a crash, a restart or a
// rebalance (offsets committed to Kafka are informational only). A batch
// whose range does not start at the logged position is refused (ABORTED)
// and the consumer seeks back to that position, so a stale consumer or a
// retry can double nothing.
//
// A record that cannot be translated or admitted goes to the dead-letter
// topic with the error in its headers (banditd-error, banditd-error-code,
// and its source topic, partition and offset) and its offset is consumed
// with the next batch: it never blocks the partition. Each partition has
// up to 16 batches in the committer (it logs them in order) and at most
// max_gathered_events more gathered; beyond that it is paused
// (backpressure), and a batch the committer refuses (write queue full,
// unavailable) is retried from the logged position after a back-off.
//
// One thread runs the consumer; the committer's callbacks only queue their
// results for it.
class KafkaIngest {
 public:
  struct Options {
    // bootstrap.servers.
    std::string brokers;
    std::vector<std::string> topics;
    std::string group = "banditd";
    // Empty: invalid records are counted and logged, not forwarded.
    std::string dead_letter_topic;
    // Payload encoding when a record has no content-type header.
    Format format = Format::kJson;
    // Most events in one logged batch (also at most --max_batch_events).
    int batch_events = 1000;
    // How long a batch may wait for more records before it is logged.
    absl::Duration linger = absl::Milliseconds(5);
    // Where a partition with no logged position starts: the earliest
    // retained record, or (true) the end.
    bool start_at_end = false;
    // Backpressure: a partition is paused while this many events (a refused
    // record counts one) wait to be submitted, beyond the batches already
    // in the committer (at most 16 per partition).
    int64_t max_gathered_events = 20'000;
    // Back-off before retrying a batch the committer refused.
    absl::Duration retry_backoff = absl::Milliseconds(200);
    // How long a record whose room or arm is not found (NOT_FOUND at
    // admission) is retried, its partition paused, before it is
    // dead-lettered: a cluster replica may not have applied a room created
    // on another replica moments ago. After one such wait the same error is
    // dead-lettered at once for a minute, so that records for a deleted
    // room cannot hold a partition each in turn. Zero: never wait.
    absl::Duration missing_room_wait = absl::Seconds(2);
    // Further librdkafka properties for the consumer and the dead-letter
    // producer (security.protocol, sasl.*, ssl.ca.location, ...).
    std::vector<std::pair<std::string, std::string>> properties;
  };

  struct PartitionStats {
    std::string topic;
    int32_t partition = 0;
    // Logged position (next offset to consume); -1 when none yet.
    int64_t position = -1;
    // The partition's end as last fetched; -1 when not known yet.
    int64_t high_watermark = -1;
    bool paused = false;
  };

  struct Stats {
    // Records whose events were logged and applied (duplicates included).
    int64_t records_applied = 0;
    // Records refused: not decodable, not admitted, or rejected on apply.
    int64_t records_rejected = 0;
    // Refused records the dead-letter topic acknowledged.
    int64_t records_dead_lettered = 0;
    // Batches refused by the engine's fencing (stale range) and batches the
    // committer refused for now (retried).
    int64_t batches_fenced = 0;
    int64_t batches_retried = 0;
    // Times a partition was paused because the committer was behind.
    int64_t partition_pauses = 0;
    // Times a record whose room or arm was not found held its partition
    // (missing_room_wait).
    int64_t missing_room_holds = 0;
    std::vector<PartitionStats> partitions;
  };

  // Connects (lazily: librdkafka retries brokers in the background) and
  // starts consuming. `engine`, `committer` and `decisions` (may be null)
  // must outlive the object. INVALID_ARGUMENT for a bad option or property.
  static absl::StatusOr<std::unique_ptr<KafkaIngest>> Start(
      Options options, const core::Engine* engine, store::Committer* committer,
      const service::DecisionCache* decisions);

  ~KafkaIngest();
  KafkaIngest(const KafkaIngest&) = delete;
  KafkaIngest& operator=(const KafkaIngest&) = delete;

  // Finishes the batches in the committer (up to a few seconds), leaves
  // the consumer group and stops. Call before the committer shuts down.
  void Stop();

  Stats stats() const;

 private:
  class Consumer;  // kafka_ingest.cc: the consumer thread's state.

  KafkaIngest() = default;

  std::unique_ptr<Consumer> consumer_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
};

}  // namespace banditd::ingest

#endif  // BANDITD_SERVER_INGEST_KAFKA_INGEST_H_
