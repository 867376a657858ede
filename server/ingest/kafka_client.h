#ifndef BANDITD_SERVER_INGEST_KAFKA_CLIENT_H_
#define BANDITD_SERVER_INGEST_KAFKA_CLIENT_H_

#include <librdkafka/rdkafkacpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/ingest/kafka_ingest.h"

namespace banditd::ingest {

// librdkafka's handles as KafkaIngest configures them, and its errors and
// log lines in banditd's log.

// A warning about records (refused, dead-lettered): producers cause them,
// so at most 10 a minute, then a count of those held back.
void KafkaWarn(const std::string& line);

// librdkafka's errors and log lines, through banditd's log (its default
// logger writes its own format to stderr) and the rate limit of KafkaWarn.
// A broker refusing banditd's credentials or certificate is an error with
// a hint at the flags to check; librdkafka keeps retrying, and the RPCs
// keep working meanwhile. Called on librdkafka's threads too (its log
// lines).
class KafkaEvents final : public RdKafka::EventCb {
 public:
  void event_cb(RdKafka::Event& event) override;
};

// The consumer of `options` (group, brokers and further properties; offsets
// neither committed nor stored automatically: positions live in banditd's
// log), calling `rebalance` and `events` (both must outlive it); not yet
// subscribed. INVALID_ARGUMENT for a bad property.
absl::StatusOr<std::unique_ptr<RdKafka::KafkaConsumer>> CreateConsumer(
    const KafkaIngest::Options& options, RdKafka::RebalanceCb* rebalance,
    RdKafka::EventCb* events);

// The producer of dead letters (acks=all) with the consumer's properties
// but the consumer-only ones, calling `delivered` and `events` (both must
// outlive it). INVALID_ARGUMENT for a bad property.
absl::StatusOr<std::unique_ptr<RdKafka::Producer>> CreateDeadLetterProducer(
    const KafkaIngest::Options& options, RdKafka::DeliveryReportCb* delivered,
    RdKafka::EventCb* events);

}  // namespace banditd::ingest

#endif  // BANDITD_SERVER_INGEST_KAFKA_CLIENT_H_
