#include "server/service/server.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpc/health/v1/health.pb.h"
#include "grpcpp/ext/health_check_service_server_builder_option.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/resource_quota.h"
#include "grpcpp/security/server_credentials.h"
#include "server/service/health_service.h"
#include "server/service/rpc_log.h"
#include "server/service/rpc_metrics.h"

namespace banditd::service {

RunningServer::~RunningServer() { Shutdown(); }

void RunningServer::Shutdown(absl::Time deadline) {
  if (shut_down_ || server_ == nullptr) return;  // (null: it never started)
  shut_down_ = true;
  // Health Watch streams end now (the drain would wait for them).
  server_->GetHealthCheckService()->Shutdown();
  server_->Shutdown(absl::ToChronoTime(deadline));
  // The pollers still run: they end the requested calls the server fails
  // now, and the replies of the calls still running (a write waiting for
  // the committer replies when it is logged, or when it fails). No call may
  // start its reply once its queue is shut down.
  while (live_calls_.load(std::memory_order_acquire) > 0) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  for (auto& queue : queues_) queue->Shutdown();
  for (auto& pollers : pollers_) pollers->Join();
}

absl::StatusOr<std::unique_ptr<RunningServer>> StartServer(
    const ServerOptions& options, BanditService* service) {
  if (options.cq_threads < 1 || options.completion_queues < 1 ||
      options.calls_per_method < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("gRPC queues: cq_threads (", options.cq_threads,
                     "), completion_queues (", options.completion_queues,
                     ") and calls_per_method (", options.calls_per_method,
                     ") must be at least 1"));
  }
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  std::unique_ptr<RunningServer> running(new RunningServer());
  if (options.tls_cert_pem.empty() != options.tls_key_pem.empty()) {
    return absl::InvalidArgumentError(
        "TLS needs both a certificate and a private key");
  }
  std::shared_ptr<grpc::ServerCredentials> credentials =
      grpc::InsecureServerCredentials();
  if (!options.tls_cert_pem.empty()) {
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back(
        {options.tls_key_pem, options.tls_cert_pem});
    credentials = grpc::SslServerCredentials(ssl);
  }
  // One server per port: without this gRPC sets SO_REUSEPORT and a second
  // banditd on a port in use would start and split the connections.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddListeningPort(options.address, credentials, &running->port_);
  // Our health service instead of gRPC's (see HealthService); the server
  // owns it and serves it.
  auto health_service =
      std::make_unique<HealthService>(options.health_max_watchers);
  builder.RegisterService(health_service.get());
  builder.SetOption(
      std::make_unique<grpc::HealthCheckServiceServerBuilderOption>(
          std::move(health_service)));
  // BanditService's unary calls do the interceptors' work themselves
  // (UnaryCall): the interceptors serve every other call (health,
  // reflection, ExportDecisions, unknown methods). The service keeps the
  // log alive (it outlives the server).
  std::shared_ptr<RpcLog> log =
      options.shared_rpc_log != nullptr
          ? std::shared_ptr<RpcLog>(std::shared_ptr<RpcLog>(),
                                    options.shared_rpc_log)
          : std::make_shared<RpcLog>(options.rpc_log);
  std::vector<
      std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      interceptors;
  interceptors.push_back(RpcLogInterceptorFactory(
      log.get(), BanditService::SelfReportingMethods()));
  if (options.metrics != nullptr) {
    interceptors.push_back(RpcMetricsInterceptorFactory(
        options.metrics, BanditService::SelfReportingMethods()));
  }
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  // Without a quota a client (even one without a token: the body arrives
  // before the handler checks it) could open many calls of
  // max_message_bytes each and hold gigabytes of request buffers.
  // Likewise each open reflection stream holds a thread of the synchronous
  // services: without a thread limit, many would start as many threads.
  if (options.transport_memory_bytes > 0 || options.sync_max_threads > 0) {
    grpc::ResourceQuota quota("banditd-transport");
    if (options.transport_memory_bytes > 0) {
      quota.Resize(options.transport_memory_bytes);
    }
    if (options.sync_max_threads > 0) {
      quota.SetMaxThreads(options.sync_max_threads);
    }
    builder.SetResourceQuota(quota);
  }
  if (options.max_concurrent_streams > 0) {
    builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                               options.max_concurrent_streams);
  }
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  builder.RegisterService(service);
  const int queues = std::min(options.completion_queues, options.cq_threads);
  for (int i = 0; i < queues; ++i) {
    running->queues_.push_back(builder.AddCompletionQueue());
  }
  const CallReporting* before =
      service->ReportCallsTo(std::move(log), options.metrics);
  running->server_ = builder.BuildAndStart();
  if (running->server_ == nullptr || running->port_ == 0) {
    service->RestoreReporting(before);  // it may serve another server
    if (running->server_ != nullptr) running->Shutdown();
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.address,
                     ": the port is in use or the address is not local"));
  }
  for (auto& queue : running->queues_) {
    service->RequestCalls(queue.get(), &running->live_calls_,
                          options.calls_per_method);
  }
  // Threads spread evenly over the queues.
  const int per_queue = options.cq_threads / queues;
  const int extra = options.cq_threads % queues;
  for (int i = 0; i < queues; ++i) {
    PollerOptions pollers;
    pollers.threads = per_queue + (i < extra ? 1 : 0);
    pollers.standby = options.standby_pollers;
    running->pollers_.push_back(std::make_unique<QueuePollers>(
        running->queues_[i].get(), &QueueTag::OnEvent, pollers));
  }
  // Registers the health messages in the descriptor pool that reflection
  // reads (and keeps the linker from dropping them).
  grpc::health::v1::HealthCheckRequest::descriptor();
  // Health answers for the whole server ("") and for the service by name.
  grpc::HealthCheckServiceInterface* health =
      running->server_->GetHealthCheckService();
  health->SetServingStatus(v1::BanditService::service_full_name(), false);
  health->SetServingStatus(false);
  return running;
}

}  // namespace banditd::service
