#ifndef BANDITD_SERVER_SERVICE_SERVER_H_
#define BANDITD_SERVER_SERVICE_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/server.h"
#include "server/ops/metrics.h"
#include "server/service/bandit_service.h"
#include "server/service/rpc_log.h"

namespace banditd::service {

struct ServerOptions {
  // host:port; port 0 picks a free one.
  std::string address = "127.0.0.1:0";
  int max_message_bytes = 64 << 20;
  // Memory gRPC's transport may hold for calls in progress (requests being
  // received and parsed, replies being sent); beyond it new calls are
  // refused with RESOURCE_EXHAUSTED. 0: no limit.
  size_t transport_memory_bytes = 0;
  // Calls open at once on one connection; 0: gRPC's default (no limit).
  int max_concurrent_streams = 0;
  // PEM certificate chain and private key; both empty serves plaintext.
  std::string tls_cert_pem;
  std::string tls_key_pem;
  // When set, every RPC's method, code and latency are recorded here; must
  // outlive the server.
  ops::Metrics* metrics = nullptr;
  // Request ids and the log line of each failed call.
  RpcLogOptions rpc_log;
  // When set, failed calls are logged here instead (rpc_log is unused), so
  // that the HTTP gateway's calls share the rate limit; must outlive the
  // server.
  RpcLog* shared_rpc_log = nullptr;
};

struct RunningServer {
  std::unique_ptr<grpc::Server> server;
  int port = 0;
};

// Starts a gRPC server with `service`, server reflection and the standard
// health service (a HealthService, reported NOT_SERVING until the caller
// marks it serving, e.g. after recovery; GetHealthCheckService() returns it).
// The port is the server's alone: UNAVAILABLE naming the address when
// another process listens on it (no SO_REUSEPORT). `service` must outlive
// the server.
absl::StatusOr<RunningServer> StartServer(const ServerOptions& options,
                                          BanditService* service);

}  // namespace banditd::service

#endif  // BANDITD_SERVER_SERVICE_SERVER_H_
