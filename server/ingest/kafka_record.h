#ifndef BANDITD_SERVER_INGEST_KAFKA_RECORD_H_
#define BANDITD_SERVER_INGEST_KAFKA_RECORD_H_

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "server/ingest/record.h"

namespace banditd::ingest {

// A consumed Kafka message (librdkafka's C API: the C++ wrapper allocates a
// message object per record and copies its headers) as KafkaIngest reads
// and refuses it.

// The message's content-type and banditd-message headers (the last of
// each); they point into `message`.
RecordHeaders HeadersOf(const rd_kafka_message_t& message);

// Produces a copy of `message` (its value, key and headers) to `topic` with
// `error` in headers banditd-error and banditd-error-code, and where it
// came from in banditd-source-topic, -partition and -offset; `opaque` comes
// back in the delivery report. What librdkafka said: not
// RD_KAFKA_RESP_ERR_NO_ERROR when it did not take the message.
rd_kafka_resp_err_t ProduceDeadLetter(rd_kafka_t* producer,
                                      const std::string& topic,
                                      const rd_kafka_message_t& message,
                                      const absl::Status& error,
                                      uint64_t opaque);

}  // namespace banditd::ingest

#endif  // BANDITD_SERVER_INGEST_KAFKA_RECORD_H_
