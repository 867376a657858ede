// Kafka ingest's flags (server/ingest).

#include "server/flags/kafka_flags.h"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "server/flags/cluster_flags.h"
#include "server/flags/read_file.h"

// Kafka ingest (server/ingest): Feedback records consumed exactly once.
ABSL_FLAG(std::string, kafka_brokers, "",
          "Comma-separated Kafka bootstrap servers. When set, banditd "
          "consumes Feedback records from --kafka_topics, exactly once: each "
          "partition's offset is logged with the counts it produced. Empty: "
          "no Kafka.");
ABSL_FLAG(std::string, kafka_topics, "",
          "Comma-separated topics of Feedback records.");
ABSL_FLAG(std::string, kafka_group, "banditd",
          "Consumer group: replicas of one cluster share it, each consuming "
          "some partitions.");
ABSL_FLAG(std::string, kafka_dead_letter_topic, "",
          "Topic that receives records that fail decoding or admission, with "
          "the error in headers (banditd-error, banditd-error-code, "
          "banditd-source-topic/-partition/-offset). Empty: such records "
          "are counted and logged only.");
ABSL_FLAG(std::string, kafka_format, "json",
          "Payload encoding of records without a content-type header: json "
          "(protobuf JSON mapping) or binary. Either holds one FeedbackEvent "
          "or a FeedbackRequest (binary: header banditd-message).");
ABSL_FLAG(int, kafka_batch_events, 1000,
          "Most events in one logged batch of Kafka records.");
ABSL_FLAG(absl::Duration, kafka_linger, absl::Milliseconds(5),
          "How long a batch of Kafka records waits for more before it is "
          "logged.");
ABSL_FLAG(int64_t, kafka_max_gathered_events, 20'000,
          "Backpressure: a Kafka partition pauses while this many of its "
          "events wait for the writer (beyond 16 batches in the log's queue).");
ABSL_FLAG(absl::Duration, kafka_missing_room_wait, absl::Seconds(2),
          "How long a Kafka record whose room or arm is not found is read "
          "again (its partition paused briefly) before it is dead-lettered: "
          "in cluster mode the room may have been created on another replica "
          "moments ago. The same error is then dead-lettered at once for a "
          "minute. 0: dead-letter at once.");
ABSL_FLAG(std::string, kafka_start, "earliest",
          "Where a partition with no logged position starts: earliest or "
          "latest.");
ABSL_FLAG(std::string, kafka_security_protocol, "",
          "librdkafka security.protocol: plaintext, ssl, sasl_plaintext or "
          "sasl_ssl (empty: librdkafka's default, plaintext).");
ABSL_FLAG(std::string, kafka_sasl_mechanism, "",
          "librdkafka sasl.mechanism, e.g. PLAIN or SCRAM-SHA-512.");
ABSL_FLAG(std::string, kafka_sasl_username, "", "SASL user name.");
ABSL_FLAG(std::string, kafka_sasl_password_file, "",
          "File holding the SASL password (trailing newline ignored).");
ABSL_FLAG(std::string, kafka_ssl_ca_location, "",
          "PEM file of the CA that signed the brokers' certificates.");
ABSL_FLAG(std::string, kafka_properties, "",
          "Further librdkafka properties, comma-separated name=value pairs "
          "(e.g. session.timeout.ms=10000).");

namespace banditd::flags {

absl::StatusOr<ingest::KafkaIngest::Options> KafkaOptionsFromFlags() {
  if (!absl::GetFlag(FLAGS_cluster_rooms).empty()) {
    return absl::InvalidArgumentError(
        "--kafka_brokers needs replicas that hold every room: leave "
        "--cluster_rooms empty");
  }
  if (!absl::GetFlag(FLAGS_cluster_nats).empty() &&
      absl::GetFlag(FLAGS_cluster_streams) > 1) {
    return absl::InvalidArgumentError(
        "--kafka_brokers needs --cluster_streams=1: a consumed batch spans "
        "rooms and moves its partition's offset in one record, which has "
        "no one stream when rooms are spread over several");
  }
  ingest::KafkaIngest::Options options;
  options.brokers = absl::GetFlag(FLAGS_kafka_brokers);
  options.topics = absl::StrSplit(absl::GetFlag(FLAGS_kafka_topics), ',',
                                  absl::SkipWhitespace());
  options.group = absl::GetFlag(FLAGS_kafka_group);
  options.dead_letter_topic = absl::GetFlag(FLAGS_kafka_dead_letter_topic);
  absl::StatusOr<ingest::Format> format =
      ingest::ParseFormat(absl::GetFlag(FLAGS_kafka_format));
  if (!format.ok()) return format.status();
  options.format = *format;
  options.batch_events = absl::GetFlag(FLAGS_kafka_batch_events);
  options.linger = absl::GetFlag(FLAGS_kafka_linger);
  options.max_gathered_events =
      std::max<int64_t>(1, absl::GetFlag(FLAGS_kafka_max_gathered_events));
  options.missing_room_wait = absl::GetFlag(FLAGS_kafka_missing_room_wait);
  const std::string start = absl::GetFlag(FLAGS_kafka_start);
  if (start != "earliest" && start != "latest") {
    return absl::InvalidArgumentError(
        "--kafka_start must be earliest or latest");
  }
  options.start_at_end = start == "latest";
  auto add = [&](const char* name, const std::string& value) {
    if (!value.empty()) options.properties.emplace_back(name, value);
  };
  add("security.protocol", absl::GetFlag(FLAGS_kafka_security_protocol));
  add("sasl.mechanism", absl::GetFlag(FLAGS_kafka_sasl_mechanism));
  add("sasl.username", absl::GetFlag(FLAGS_kafka_sasl_username));
  add("ssl.ca.location", absl::GetFlag(FLAGS_kafka_ssl_ca_location));
  if (const std::string path = absl::GetFlag(FLAGS_kafka_sasl_password_file);
      !path.empty()) {
    absl::StatusOr<std::string> password = ReadFile(path);
    if (!password.ok()) return password.status();
    add("sasl.password",
        std::string(absl::StripTrailingAsciiWhitespace(*password)));
  }
  for (absl::string_view pair :
       absl::StrSplit(absl::GetFlag(FLAGS_kafka_properties), ',',
                      absl::SkipWhitespace())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(pair, '=');
    if (kv.first.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--kafka_properties: \"", pair, "\" is not name=value"));
    }
    options.properties.push_back(std::move(kv));
  }
  return options;
}

}  // namespace banditd::flags
