// banditd: flags and wiring. Everything else lives in server/core (logic),
// server/store (durability) and server/service (gRPC handlers). The flags
// of each layer, and the options built from them, are in server/flags/;
// this file defines the process's own (logging, drain, memory release,
// metrics and dashboard).

#include <pthread.h>
#include <signal.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "server/cluster/cluster_collector.h"
#include "server/cluster/nats_committer.h"
#include "server/core/engine.h"
#include "server/flags/cluster_flags.h"
#include "server/flags/engine_flags.h"
#include "server/flags/kafka_flags.h"
#include "server/flags/service_flags.h"
#include "server/flags/store_flags.h"
#include "server/ingest/ingest_collector.h"
#include "server/ingest/kafka_ingest.h"
#include "server/log/log.h"
#include "server/ops/allocator.h"
#include "server/ops/engine_collector.h"
#include "server/ops/http_server.h"
#include "server/ops/metrics.h"
#include "server/service/auth.h"
#include "server/service/bandit_service.h"
#include "server/service/http_gateway.h"
#include "server/service/openapi_doc.h"
#include "server/service/protobuf_log.h"
#include "server/service/read_pool.h"
#include "server/service/server.h"
#include "server/store/decision_log.h"
#include "server/store/durable_committer.h"
#include "server/version.h"

ABSL_FLAG(std::string, log_format, "text",
          "Log lines on stderr: text, or json (one object per line).");
ABSL_FLAG(std::string, log_level, "info",
          "Least severity logged: debug, info, warning or error.");

ABSL_FLAG(absl::Duration, allocator_release_interval, absl::Seconds(1),
          "How often tcmalloc's free pages go back to the system when 8 MiB "
          "or more are free (after a big room is created or recovered, "
          "about as much is free as held); 0: never, they stay for reuse.");

ABSL_FLAG(absl::Duration, drain_grace, absl::ZeroDuration(),
          "On SIGTERM, how long to keep serving while health checks (gRPC "
          "and /healthz) report NOT_SERVING, before refusing new calls: give "
          "load balancers time to stop sending traffic.");
ABSL_FLAG(absl::Duration, drain_timeout, absl::Seconds(10),
          "On SIGTERM, how long in-flight calls get to finish.");

ABSL_FLAG(int, metrics_port, 0,
          "HTTP port for /metrics and the dashboard; 0 turns HTTP off.");
ABSL_FLAG(std::string, metrics_host, "127.0.0.1",
          "Address of the HTTP endpoint. It has no authentication: keep it on "
          "loopback or a trusted network.");
ABSL_FLAG(bool, metrics_per_room, false,
          "Export per-room, per-arm views, clicks and view share (one series "
          "per arm: mind the cardinality).");
ABSL_FLAG(bool, dashboard, true,
          "Serve the dashboard (/ and /api/...) on --metrics_port.");
ABSL_FLAG(int, dashboard_history_rooms, 100,
          "The dashboard's \"share over time\" keeps the last hour of this "
          "many rooms (the first by id), sampled every "
          "--dashboard_history_interval; 0: only while a page watches.");
ABSL_FLAG(absl::Duration, dashboard_history_interval, absl::Seconds(10),
          "How often the dashboard's share history samples every room.");

namespace {

using ::banditd::ops::HttpServer;

// `*out` takes the value of `result`; false, with its error logged, if it
// has none.
template <typename T>
bool Take(absl::StatusOr<T> result, T* out) {
  if (!result.ok()) {
    SPDLOG_ERROR("{}", std::string(result.status().message()));
    return false;
  }
  *out = *std::move(result);
  return true;
}

void ParseFlags(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "real-time multi-armed bandit decision service.\n"
      "Usage: banditd [--port=50051] [--data_dir=./data] ... "
      "[--flagfile=FILE]\n"
      "--help lists banditd's flags; --helpfull adds Abseil's own.");
  // --help shows the flags of this file and server/flags/ (by default
  // Abseil looks for the program's name in the file's path, which they lack).
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view file) {
    return absl::EndsWith(file, "server/main.cc") ||
           absl::StrContains(file, "server/flags/");
  };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  usage.normalize_filename = [](absl::string_view file) {
    while (absl::ConsumePrefix(&file, "../")) {
    }
    return std::string(file);
  };
  usage.version_string = [] {
    return absl::StrCat("banditd ", banditd::kVersion, " (git ",
                        banditd::kGitCommit, ")\n");
  };
  absl::SetFlagsUsageConfig(usage);
  absl::ParseCommandLine(argc, argv);
}

// --log_format and --log_level; gRPC's and libprotobuf's lines go through
// the same log.
absl::Status InitLogging() {
  banditd::logging::Options log_options;
  absl::Status log_flags = banditd::logging::ParseFormat(
      absl::GetFlag(FLAGS_log_format), &log_options.format);
  if (log_flags.ok()) {
    log_flags = banditd::logging::ParseLevel(absl::GetFlag(FLAGS_log_level),
                                             &log_options.min_level);
  }
  if (!log_flags.ok()) return log_flags;
  banditd::logging::Init(log_options);
  banditd::service::RouteGrpcLogs();
  // Unparsable requests make libprotobuf log a line each: rate-limited.
  banditd::service::RateLimitProtobufLogs();
  return absl::OkStatus();
}

// /metrics and the dashboard on --metrics_port; null when it is 0.
absl::StatusOr<std::unique_ptr<HttpServer>> StartMetricsHttp(
    const banditd::ops::Metrics* metrics, const banditd::core::Engine* engine) {
  if (absl::GetFlag(FLAGS_metrics_port) == 0) return nullptr;
  banditd::ops::HttpServerOptions http_options;
  http_options.host = absl::GetFlag(FLAGS_metrics_host);
  http_options.port = absl::GetFlag(FLAGS_metrics_port);
  http_options.dashboard = absl::GetFlag(FLAGS_dashboard);
  http_options.history_rooms = absl::GetFlag(FLAGS_dashboard_history_rooms);
  http_options.history_interval =
      absl::GetFlag(FLAGS_dashboard_history_interval);
  absl::StatusOr<std::unique_ptr<HttpServer>> started =
      HttpServer::Start(http_options, metrics, engine);
  if (!started.ok()) return started.status();
  SPDLOG_INFO("{}", absl::StrCat("metrics",
                                 http_options.dashboard ? " and dashboard" : "",
                                 " on http://", http_options.host, ":",
                                 (*started)->port(), "/"));
  return started;
}

// The log: a cluster's JetStream streams (--cluster_nats; its collector in
// `*cluster_collector`, registered in `metrics`) or the SQLite log in
// --data_dir. Recovers `engine` from it.
absl::StatusOr<std::unique_ptr<banditd::store::Committer>> OpenCommitter(
    const banditd::core::EngineOptions& engine_options,
    const banditd::store::DurableCommitter::Options& store_options,
    banditd::core::Engine* engine, banditd::ops::Metrics* metrics,
    std::unique_ptr<banditd::cluster::ClusterCollector>* cluster_collector) {
  if (!absl::GetFlag(FLAGS_cluster_nats).empty()) {
    banditd::cluster::NatsCommitter::Options cluster_options =
        banditd::flags::ClusterOptionsFromFlags(engine_options, store_options);
    cluster_options.metrics = metrics;
    absl::StatusOr<std::unique_ptr<banditd::cluster::NatsCommitter>> nats =
        banditd::cluster::NatsCommitter::Open(cluster_options, engine);
    if (!nats.ok()) {
      return absl::Status(
          nats.status().code(),
          absl::StrCat("cannot join the cluster: ", nats.status().ToString()));
    }
    *cluster_collector =
        std::make_unique<banditd::cluster::ClusterCollector>(nats->get());
    metrics->AddCollectable(cluster_collector->get());
    return *std::move(nats);
  }
  absl::StatusOr<std::unique_ptr<banditd::store::DurableCommitter>> opened =
      banditd::store::DurableCommitter::Open(store_options, engine);
  if (!opened.ok()) {
    return absl::Status(
        opened.status().code(),
        absl::StrCat("cannot open the store: ", opened.status().ToString()));
  }
  return *std::move(opened);
}

// The HTTP/JSON API on --http_port (null when 0): it runs the service's
// own handlers, so it shares its tokens, validation and durability.
absl::StatusOr<std::unique_ptr<banditd::service::HttpGateway>> StartHttpGateway(
    const banditd::service::ServerOptions& server_options,
    banditd::service::BanditService* service, banditd::ops::Metrics* metrics,
    banditd::service::RpcLog* rpc_log) {
  std::optional<banditd::service::HttpGatewayOptions> gateway_options =
      banditd::flags::HttpGatewayOptionsFromFlags(server_options);
  if (!gateway_options.has_value()) return nullptr;
  gateway_options->release_thread_cache = &banditd::ops::ReleaseThreadCache;
  gateway_options->openapi_json = banditd::service::kOpenApiJson;
  absl::StatusOr<std::unique_ptr<banditd::service::HttpGateway>> started =
      banditd::service::HttpGateway::Start(*gateway_options, service, metrics,
                                           rpc_log);
  if (!started.ok()) return started.status();
  SPDLOG_INFO(
      "{}",
      absl::StrCat("HTTP/JSON API on ",
                   gateway_options->tls_cert_file.empty() ? "http" : "https",
                   "://", gateway_options->host, ":", (*started)->port(), "/"));
  return started;
}

// Kafka ingest of --kafka_brokers (null when empty; its collector in
// `*collector`, registered in `metrics`): records take the Feedback path,
// the same admission and log.
absl::StatusOr<std::unique_ptr<banditd::ingest::KafkaIngest>> StartKafka(
    const banditd::core::Engine* engine, banditd::store::Committer* committer,
    const banditd::service::DecisionCache* decisions,
    banditd::ops::Metrics* metrics,
    std::unique_ptr<banditd::ingest::IngestCollector>* collector) {
  if (absl::GetFlag(FLAGS_kafka_brokers).empty()) return nullptr;
  absl::StatusOr<banditd::ingest::KafkaIngest::Options> kafka_options =
      banditd::flags::KafkaOptionsFromFlags();
  if (!kafka_options.ok()) return kafka_options.status();
  absl::StatusOr<std::unique_ptr<banditd::ingest::KafkaIngest>> started =
      banditd::ingest::KafkaIngest::Start(*std::move(kafka_options), engine,
                                          committer, decisions);
  if (!started.ok()) return started.status();
  *collector =
      std::make_unique<banditd::ingest::IngestCollector>(started->get());
  metrics->AddCollectable(collector->get());
  SPDLOG_INFO("consuming Kafka topics {} as group {}",
              absl::GetFlag(FLAGS_kafka_topics),
              absl::GetFlag(FLAGS_kafka_group));
  return started;
}

// On a stop signal: health checks report NOT_SERVING for --drain_grace,
// then new calls are refused and those in flight get --drain_timeout;
// then Kafka ingest, the log and the HTTP endpoint stop, in that order.
void DrainAndStop(grpc::HealthCheckServiceInterface* health, HttpServer* http,
                  banditd::service::HttpGateway* gateway,
                  banditd::service::RunningServer* server,
                  banditd::ingest::KafkaIngest* kafka,
                  banditd::store::Committer* committer) {
  health->SetServingStatus(false);
  if (http != nullptr) {
    http->SetState(HttpServer::State::kDraining);
  }
  // Load balancers see NOT_SERVING (health, /healthz) and move traffic away
  // while calls are still served.
  if (const absl::Duration grace = absl::GetFlag(FLAGS_drain_grace);
      grace > absl::ZeroDuration()) {
    SPDLOG_INFO("{}", absl::StrCat("reporting NOT_SERVING for ",
                                   absl::FormatDuration(grace),
                                   " before refusing new calls"));
    absl::SleepFor(grace);
  }
  // Ends the Health.Watch streams, which would otherwise hold the drain
  // below for its whole timeout.
  health->Shutdown();
  // New HTTP calls are refused from here, like new gRPC calls; both kinds in
  // flight have until the same deadline.
  const absl::Time drain_deadline =
      absl::Now() + absl::GetFlag(FLAGS_drain_timeout);
  if (gateway != nullptr) gateway->Drain();
  server->Shutdown(drain_deadline);
  if (gateway != nullptr) gateway->Stop(drain_deadline);
  // Its last batches are logged before the committer stops.
  if (kafka != nullptr) kafka->Stop();
  committer->Shutdown();
  if (http != nullptr) http->Stop();
}

}  // namespace

int main(int argc, char** argv) {
  ParseFlags(argc, argv);
  if (absl::Status s = InitLogging(); !s.ok()) {
    absl::FPrintF(stderr, "banditd: %s\n", s.message());
    return 1;
  }
  if (absl::Status s = banditd::flags::CheckTransportMemoryFlags(); !s.ok()) {
    SPDLOG_ERROR("{}", std::string(s.message()));
    return 1;
  }
  // Deadlock detection is a debugging aid (absl/synchronization/mutex.h) that
  // Debian's Abseil leaves on: ~5 % of server CPU in every mutex operation.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  // Block the stop signals in every thread; main waits for them below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  // tcmalloc keeps what a recovery or a big CreateRoom frees; this thread
  // hands it back to the system (started after the mask: it inherits it).
  std::unique_ptr<banditd::ops::FreeMemoryReleaser> releaser;
  if (const absl::Duration interval =
          absl::GetFlag(FLAGS_allocator_release_interval);
      interval > absl::ZeroDuration() &&
      banditd::ops::AllocatorName() == "tcmalloc") {
    releaser = std::make_unique<banditd::ops::FreeMemoryReleaser>(
        interval, banditd::ops::kReleaseMinFreeBytes);
  }

  const banditd::core::EngineOptions engine_options =
      banditd::flags::EngineOptionsFromFlags();
  banditd::core::Engine engine(engine_options);
  banditd::ops::Metrics metrics;
  banditd::ops::ProcessCollector process_collector;
  banditd::ops::EngineCollector engine_collector(
      &engine, absl::GetFlag(FLAGS_metrics_per_room));
  metrics.AddCollectable(&process_collector);
  banditd::ops::AllocatorCollector allocator_collector;
  metrics.AddCollectable(&allocator_collector);
  metrics.AddCollectable(&engine_collector);
  // The HTTP endpoint starts before recovery, so that /healthz says 503
  // "recovering" (and a port in use is found) before a long replay.
  std::unique_ptr<HttpServer> http;
  if (!Take(StartMetricsHttp(&metrics, &engine), &http)) return 1;
  banditd::store::DurableCommitter::Options store_options;
  if (!Take(banditd::flags::StoreOptionsFromFlags(), &store_options)) return 1;
  store_options.metrics = &metrics;
  std::unique_ptr<banditd::store::Committer> opened_committer;
  std::unique_ptr<banditd::cluster::ClusterCollector> cluster_collector;
  if (!Take(OpenCommitter(engine_options, store_options, &engine, &metrics,
                          &cluster_collector),
            &opened_committer)) {
    return 1;
  }
  banditd::store::Committer& committer = *opened_committer;
  // Recovery freed about as much as it keeps (the snapshot's decode): hand it
  // back before serving rather than at the releaser's next tick.
  if (releaser != nullptr) {
    banditd::ops::ReleaseFreeMemoryOver(banditd::ops::kReleaseMinFreeBytes);
  }
  std::unique_ptr<banditd::service::Authenticator> auth;
  std::unique_ptr<banditd::service::DecisionCache> decisions;
  std::unique_ptr<banditd::store::DecisionLog> decision_log;
  if (!Take(banditd::flags::AuthenticatorFromFlags(), &auth) ||
      !Take(banditd::flags::DecisionCacheFromFlags(), &decisions) ||
      !Take(banditd::flags::DecisionLogFromFlags(decisions != nullptr),
            &decision_log)) {
    return 1;
  }
  // Declared before the service: destroyed after the server has stopped.
  const std::unique_ptr<banditd::service::ReadPool> big_room_reads =
      banditd::flags::BigRoomReadPoolFromFlags();
  banditd::service::BanditService service(&engine, &committer, auth.get(),
                                          decisions.get(), decision_log.get());
  service.SetReadPool(big_room_reads.get(), absl::GetFlag(FLAGS_big_room_arms));

  banditd::service::ServerOptions server_options;
  if (!Take(banditd::flags::ServerOptionsFromFlags(), &server_options)) {
    return 1;
  }
  server_options.metrics = &metrics;
  // One log of failed calls, gRPC's and HTTP's: one rate limit.
  banditd::service::RpcLog rpc_log(server_options.rpc_log);
  server_options.shared_rpc_log = &rpc_log;
  std::unique_ptr<banditd::service::RunningServer> running;
  if (!Take(banditd::service::StartServer(server_options, &service),
            &running)) {
    return 1;
  }
  banditd::service::RunningServer& server = *running;
  std::unique_ptr<banditd::service::HttpGateway> gateway;
  if (!Take(StartHttpGateway(server_options, &service, &metrics, &rpc_log),
            &gateway)) {
    return 1;
  }
  std::unique_ptr<banditd::ingest::KafkaIngest> kafka;
  std::unique_ptr<banditd::ingest::IngestCollector> kafka_collector;
  if (!Take(StartKafka(&engine, &committer, decisions.get(), &metrics,
                       &kafka_collector),
            &kafka)) {
    return 1;
  }
  grpc::HealthCheckServiceInterface* health =
      server.grpc().GetHealthCheckService();
  health->SetServingStatus(true);
  if (http != nullptr) {
    http->SetState(banditd::ops::HttpServer::State::kServing);
  }
  SPDLOG_INFO(
      "{}", absl::StrCat(
                "serving on ", absl::GetFlag(FLAGS_host), ":", server.port(),
                server_options.tls_cert_pem.empty() ? " (plaintext)" : " (TLS)",
                auth != nullptr ? " with token auth" : ""));

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  SPDLOG_INFO("received signal {}, draining", signal_number);
  DrainAndStop(health, http.get(), gateway.get(), &server, kafka.get(),
               &committer);
  SPDLOG_INFO("stopped");
  return 0;
}
