#include "server/ingest/kafka_client.h"

#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/log/log.h"

namespace banditd::ingest {
namespace {

absl::Status SetAll(
    RdKafka::Conf* conf,
    const std::vector<std::pair<std::string, std::string>>& properties) {
  std::string error;
  for (const auto& [name, value] : properties) {
    if (conf->set(name, value, error) != RdKafka::Conf::CONF_OK) {
      return absl::InvalidArgumentError(
          absl::StrCat("kafka property ", name, ": ", error));
    }
  }
  return absl::OkStatus();
}

// A global configuration of `properties`, whose events go to `events`.
absl::StatusOr<std::unique_ptr<RdKafka::Conf>> NewConf(
    const std::vector<std::pair<std::string, std::string>>& properties,
    RdKafka::EventCb* events) {
  std::unique_ptr<RdKafka::Conf> conf(
      RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  if (absl::Status s = SetAll(conf.get(), properties); !s.ok()) return s;
  std::string error;
  if (conf->set("event_cb", events, error) != RdKafka::Conf::CONF_OK) {
    return absl::InternalError(error);
  }
  return conf;
}

}  // namespace

void KafkaWarn(const std::string& line) {
  static auto* limiter = new logging::RateLimiter(10, absl::Minutes(1));
  const logging::RateLimiter::Decision d = limiter->Admit(absl::Now());
  if (!d.log) return;
  if (d.dropped_before > 0) {
    SPDLOG_WARN("kafka: {} (and {} similar lines dropped before)", line,
                d.dropped_before);
  } else {
    SPDLOG_WARN("kafka: {}", line);
  }
}

void KafkaEvents::event_cb(RdKafka::Event& event) {
  static auto* limiter = new logging::RateLimiter(10, absl::Minutes(1));
  const bool error = event.type() == RdKafka::Event::EVENT_ERROR;
  const bool log = event.type() == RdKafka::Event::EVENT_LOG;
  if (log && event.severity() > RdKafka::Event::EVENT_SEVERITY_WARNING) {
    SPDLOG_DEBUG("kafka: librdkafka {}: {}", event.fac(), event.str());
    return;
  }
  if (!error && !log) return;
  const logging::RateLimiter::Decision d = limiter->Admit(absl::Now());
  if (!d.log) return;
  const std::string dropped =
      d.dropped_before > 0 ? absl::StrCat(" (and ", d.dropped_before,
                                          " similar lines dropped before)")
                           : "";
  if (log) {
    SPDLOG_WARN("kafka: librdkafka {}: {}{}", event.fac(), event.str(),
                dropped);
    return;
  }
  std::string hint;
  if (event.err() == RdKafka::ERR__AUTHENTICATION) {
    hint =
        "; check --kafka_security_protocol, --kafka_sasl_mechanism, "
        "--kafka_sasl_username and --kafka_sasl_password_file";
  } else if (event.err() == RdKafka::ERR__SSL) {
    hint = "; check --kafka_security_protocol and --kafka_ssl_ca_location";
  }
  SPDLOG_ERROR("kafka: {}{}: {}{}{}", event.fatal() ? "fatal: " : "",
               RdKafka::err2str(event.err()), event.str(), hint, dropped);
}

absl::StatusOr<std::unique_ptr<RdKafka::KafkaConsumer>> CreateConsumer(
    const KafkaIngest::Options& options, RdKafka::RebalanceCb* rebalance,
    RdKafka::EventCb* events) {
  std::vector<std::pair<std::string, std::string>> properties = {
      {"bootstrap.servers", options.brokers},
      {"group.id", options.group},
      {"client.id", "banditd"},
      // Positions live in banditd's state; what is committed to Kafka only
      // shows progress to Kafka's own tools.
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"enable.partition.eof", "false"},
      // Bounds what librdkafka pre-fetches per partition.
      {"queued.max.messages.kbytes", "16384"},
      // A resumed partition's first fetch waits at most this for data.
      {"fetch.wait.max.ms", "100"},
  };
  properties.insert(properties.end(), options.properties.begin(),
                    options.properties.end());
  absl::StatusOr<std::unique_ptr<RdKafka::Conf>> conf =
      NewConf(properties, events);
  if (!conf.ok()) return conf.status();
  std::string error;
  if ((*conf)->set("rebalance_cb", rebalance, error) !=
      RdKafka::Conf::CONF_OK) {
    return absl::InternalError(error);
  }
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(
      RdKafka::KafkaConsumer::create(conf->get(), error));
  if (consumer == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot create the Kafka consumer: ", error));
  }
  return consumer;
}

absl::StatusOr<std::unique_ptr<RdKafka::Producer>> CreateDeadLetterProducer(
    const KafkaIngest::Options& options, RdKafka::DeliveryReportCb* delivered,
    RdKafka::EventCb* events) {
  std::vector<std::pair<std::string, std::string>> properties = {
      {"bootstrap.servers", options.brokers},
      {"client.id", "banditd-dead-letters"},
      {"acks", "all"},
      {"linger.ms", "5"},
  };
  properties.insert(properties.end(), options.properties.begin(),
                    options.properties.end());
  // Consumer-only properties would make the producer refuse to start.
  std::erase_if(properties, [](const auto& p) {
    return p.first == "session.timeout.ms" ||
           p.first == "heartbeat.interval.ms" ||
           p.first == "max.poll.interval.ms" ||
           p.first == "partition.assignment.strategy" ||
           p.first == "auto.offset.reset" || p.first == "fetch.wait.max.ms" ||
           p.first == "fetch.min.bytes";
  });
  absl::StatusOr<std::unique_ptr<RdKafka::Conf>> conf =
      NewConf(properties, events);
  if (!conf.ok()) return conf.status();
  std::string error;
  if ((*conf)->set("dr_cb", delivered, error) != RdKafka::Conf::CONF_OK) {
    return absl::InternalError(error);
  }
  std::unique_ptr<RdKafka::Producer> producer(
      RdKafka::Producer::create(conf->get(), error));
  if (producer == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot create the dead-letter producer: ", error));
  }
  return producer;
}

}  // namespace banditd::ingest
