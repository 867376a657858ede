#ifndef BANDITD_SERVER_INGEST_INGEST_COLLECTOR_H_
#define BANDITD_SERVER_INGEST_INGEST_COLLECTOR_H_

#include <vector>

#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"
#include "server/ingest/kafka_ingest.h"

namespace banditd::ingest {

// IngestCollector reports the Kafka consumer at scrape time:
//   banditd_kafka_records_total{outcome}  applied | rejected | dead_lettered
//   banditd_kafka_batches_total{outcome}  fenced (stale range) | retried
//   banditd_kafka_consumer_lag_records{topic,partition}
//                                         partition end minus logged position
//   banditd_kafka_position{topic,partition}  logged position (next offset)
//   banditd_kafka_partition_paused{topic,partition}  1 while backpressured
//   banditd_kafka_partition_pauses_total  times a partition was paused
class IngestCollector final : public prometheus::Collectable {
 public:
  // `ingest` must outlive the collector.
  explicit IngestCollector(const KafkaIngest* ingest) : ingest_(ingest) {}

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const KafkaIngest* const ingest_;
};

}  // namespace banditd::ingest

#endif  // BANDITD_SERVER_INGEST_INGEST_COLLECTOR_H_
