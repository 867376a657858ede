#ifndef BANDITD_SERVER_SERVICE_RPC_LOG_H_
#define BANDITD_SERVER_SERVICE_RPC_LOG_H_

#include <memory>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/support/server_interceptor.h"
#include "grpcpp/support/status.h"
#include "server/log/log.h"

namespace banditd::service {

struct RpcLogOptions {
  // Failed calls logged per second at most, one line each; lines beyond
  // that are counted, and the count goes with the next line logged.
  int failed_per_second = 10;
};

// RpcLog writes one warning (client error) or error (server error) line per
// failed call: method, code, duration, request id, peer and the field at
// fault when the status names one. Never the token, the request or the
// status message (which may quote the request). Thread-safe; the gRPC
// interceptor and the HTTP gateway share one, so one rate limit covers both.
class RpcLog {
 public:
  explicit RpcLog(const RpcLogOptions& options);

  void LogIfFailed(absl::string_view method, const grpc::Status& status,
                   absl::Duration duration, absl::string_view request_id,
                   absl::string_view peer);

 private:
  logging::RateLimiter limiter_;
};

// Creates the server interceptor that gives every call a request id (the
// client's x-request-id when valid, else a new one), returns it to the
// client in the initial metadata (x-request-id) and logs each failed call to
// `log` (which must outlive the server). Calls of the `skip` methods (full
// names) get no interceptor: their handlers do the same themselves (see
// UnaryCall), which spares them gRPC's interception hooks on every batch.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
RpcLogInterceptorFactory(RpcLog* log,
                         absl::flat_hash_set<std::string> skip = {});
// The same with a log of its own.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
RpcLogInterceptorFactory(const RpcLogOptions& options);

}  // namespace banditd::service

#endif  // BANDITD_SERVER_SERVICE_RPC_LOG_H_
