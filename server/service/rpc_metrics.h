#ifndef BANDITD_SERVER_SERVICE_RPC_METRICS_H_
#define BANDITD_SERVER_SERVICE_RPC_METRICS_H_

#include <memory>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "grpcpp/support/server_interceptor.h"
#include "server/ops/metrics.h"

namespace banditd::service {

// Creates the server interceptor that records every RPC's method, status
// code and latency into `metrics` (which must outlive the server), except
// the calls of the `skip` methods (full names), whose handlers record
// themselves (see UnaryCall).
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
RpcMetricsInterceptorFactory(ops::Metrics* metrics,
                             absl::flat_hash_set<std::string> skip = {});

}  // namespace banditd::service

#endif  // BANDITD_SERVER_SERVICE_RPC_METRICS_H_
