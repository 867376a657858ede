#ifndef BANDITD_SERVER_FLAGS_KAFKA_FLAGS_H_
#define BANDITD_SERVER_FLAGS_KAFKA_FLAGS_H_

#include <string>

#include "absl/flags/declare.h"
#include "absl/status/statusor.h"
#include "server/ingest/kafka_ingest.h"

// Non-empty: Kafka ingest is on. Topics and group: for the startup line.
ABSL_DECLARE_FLAG(std::string, kafka_brokers);
ABSL_DECLARE_FLAG(std::string, kafka_topics);
ABSL_DECLARE_FLAG(std::string, kafka_group);

namespace banditd::flags {

// The --kafka_* flags as KafkaIngest options (the SASL password read from
// its file). INVALID_ARGUMENT, naming the flag, for a bad value or for a
// cluster that cannot take Kafka ingest (--cluster_rooms set, or
// --cluster_streams above 1).
absl::StatusOr<ingest::KafkaIngest::Options> KafkaOptionsFromFlags();

}  // namespace banditd::flags

#endif  // BANDITD_SERVER_FLAGS_KAFKA_FLAGS_H_
