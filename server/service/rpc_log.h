#ifndef BANDITD_SERVER_SERVICE_RPC_LOG_H_
#define BANDITD_SERVER_SERVICE_RPC_LOG_H_

#include <memory>

#include "grpcpp/support/server_interceptor.h"

namespace banditd::service {

struct RpcLogOptions {
  // Failed calls logged per second at most, one line each; lines beyond
  // that are counted, and the count goes with the next line logged.
  int failed_per_second = 10;
};

// Creates the server interceptor that gives every call a request id (the
// client's x-request-id when valid, else a new one), returns it to the
// client in the initial metadata (x-request-id) and writes one warning
// (client error) or error (server error) line per failed call: method,
// code, duration, request id, peer and the field at fault when the status
// names one. Never the token, the request or the status message (which may
// quote the request).
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
RpcLogInterceptorFactory(const RpcLogOptions& options);

}  // namespace banditd::service

#endif  // BANDITD_SERVER_SERVICE_RPC_LOG_H_
