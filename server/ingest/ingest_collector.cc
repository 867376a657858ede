#include "server/ingest/ingest_collector.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/ops/metrics.h"

namespace banditd::ingest {
namespace {

prometheus::MetricFamily Counters(
    std::string name, std::string help,
    std::vector<std::pair<std::string, int64_t>> outcomes) {
  prometheus::MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = prometheus::MetricType::Counter;
  for (auto& [outcome, value] : outcomes) {
    prometheus::ClientMetric metric;
    // push_back, not `= {{...}}`: GCC 12 at -O3 (the Release build) warns
    // -Warray-bounds on the initializer list's string copy.
    metric.label.push_back({"outcome", std::move(outcome)});
    metric.counter.value = static_cast<double>(value);
    family.metric.push_back(std::move(metric));
  }
  return family;
}

// A counter without labels.
prometheus::MetricFamily Counter(std::string name, std::string help,
                                 int64_t value) {
  prometheus::MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = prometheus::MetricType::Counter;
  prometheus::ClientMetric metric;
  metric.counter.value = static_cast<double>(value);
  family.metric.push_back(std::move(metric));
  return family;
}

}  // namespace

std::vector<prometheus::MetricFamily> IngestCollector::Collect() const {
  const KafkaIngest::Stats stats = ingest_->stats();
  std::vector<prometheus::MetricFamily> families;
  families.push_back(Counters(
      "banditd_kafka_records_total",
      "Kafka records consumed, by outcome: applied (logged and applied), "
      "rejected (not decodable or not admitted), dead_lettered (rejected "
      "and stored in the dead-letter topic).",
      {{"applied", stats.records_applied},
       {"rejected", stats.records_rejected},
       {"dead_lettered", stats.records_dead_lettered}}));
  families.push_back(Counters(
      "banditd_kafka_batches_total",
      "Kafka batches not applied: fenced (their range was already consumed; "
      "the consumer sought back) or retried (the committer refused them for "
      "now).",
      {{"fenced", stats.batches_fenced}, {"retried", stats.batches_retried}}));
  families.push_back(Counter(
      "banditd_kafka_partition_pauses_total",
      "Times a partition was paused because the writer was behind "
      "(backpressure), a refused batch waits to be retried, or a record's "
      "room or arm was not found (--kafka_missing_room_wait).",
      stats.partition_pauses));
  families.push_back(
      Counter("banditd_kafka_missing_room_holds_total",
              "Times a record whose room or arm was not found was read again "
              "after a short pause instead of being dead-lettered at once "
              "(--kafka_missing_room_wait).",
              stats.missing_room_holds));
  prometheus::MetricFamily lag = ops::GaugeFamily(
      "banditd_kafka_consumer_lag_records",
      "Records of an assigned partition not yet logged: its end offset "
      "minus the logged position.");
  prometheus::MetricFamily position = ops::GaugeFamily(
      "banditd_kafka_position",
      "Logged position of an assigned partition: the next offset to "
      "consume.");
  prometheus::MetricFamily paused = ops::GaugeFamily(
      "banditd_kafka_partition_paused",
      "1 while an assigned partition is paused because the writer is behind.");
  for (const KafkaIngest::PartitionStats& p : stats.partitions) {
    std::vector<prometheus::ClientMetric::Label> labels = {
        {"topic", p.topic}, {"partition", absl::StrCat(p.partition)}};
    if (p.high_watermark >= 0) {
      ops::AddGauge(lag, labels,
                    static_cast<double>(p.high_watermark -
                                        std::max<int64_t>(p.position, 0)));
    }
    if (p.position >= 0) {
      ops::AddGauge(position, labels, static_cast<double>(p.position));
    }
    ops::AddGauge(paused, labels, p.paused ? 1 : 0);
  }
  families.push_back(std::move(lag));
  families.push_back(std::move(position));
  families.push_back(std::move(paused));
  return families;
}

}  // namespace banditd::ingest
