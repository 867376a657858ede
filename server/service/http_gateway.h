#ifndef BANDITD_SERVER_SERVICE_HTTP_GATEWAY_H_
#define BANDITD_SERVER_SERVICE_HTTP_GATEWAY_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "google/protobuf/descriptor.h"
#include "server/ops/metrics.h"
#include "server/service/bandit_service.h"
#include "server/service/http_rules.h"
#include "server/service/rpc_log.h"

namespace httplib {
class Server;
}  // namespace httplib

namespace banditd::service {

struct HttpGatewayOptions {
  std::string host = "127.0.0.1";
  // 0 picks a free port.
  int port = 0;
  // PEM files; both set serves HTTPS, both empty plain HTTP.
  std::string tls_cert_file;
  std::string tls_key_file;
  // Worker threads. A kept-alive connection holds one while it is open, so
  // this is also the most concurrent HTTP clients served at once.
  int threads = 64;
  // Largest request body, in bytes (413 above it).
  size_t max_body_bytes = 64 << 20;
  // Request bodies all calls in progress may hold together, in bytes (as
  // gRPC's --transport_memory_mb): beyond, RESOURCE_EXHAUSTED (429) without
  // reading the rest. 0: no limit.
  size_t max_body_bytes_in_flight = 0;
  // Largest reply message (serialized), as gRPC's send limit:
  // RESOURCE_EXHAUSTED above it.
  size_t max_response_bytes = 64 << 20;
  // Served as /openapi.json when not empty.
  std::string openapi_json;
  // Called on the worker thread after a request whose body had at least
  // `release_thread_cache_body_bytes` bytes (main.cc: ops::ReleaseThreadCache,
  // so that each of the --http_threads workers does not keep the objects it
  // freed while parsing a big body). Not called when null or when 0.
  void (*release_thread_cache)() = nullptr;
  size_t release_thread_cache_body_bytes = 64 << 10;
};

// HttpGateway: the HTTP/JSON face of BanditService. Routes come from the
// methods' `google.api.http` options (HttpRules); a request becomes the
// method's request message by protobuf's JSON mapping (body) and the path and
// query parameters, and runs on the service's own handler
// (BanditService::FindUnary) with the caller's Authorization header as its
// token: tokens, validation, limits and durability are those of a gRPC call,
// without a gRPC call in between. Each call is recorded in the RPC metrics
// and, when it fails, logged, under its gRPC method name, as its gRPC twin
// would be; its request id (X-Request-Id: the client's when valid, else a new
// one) comes back as a header. The reply is printed by the same JSON mapping.
// Errors are {"code", "message", "details"} (google.rpc.Status in JSON) with
// the HTTP status of the standard gRPC-to-HTTP mapping.
class HttpGateway {
 public:
  // `service` and `rpc_log` (not null), and `metrics` (may be null) must
  // outlive the gateway.
  static absl::StatusOr<std::unique_ptr<HttpGateway>> Start(
      const HttpGatewayOptions& options, BanditService* service,
      ops::Metrics* metrics, RpcLog* rpc_log);
  ~HttpGateway();

  int port() const { return port_; }
  const HttpRules& rules() const { return rules_; }
  // From now on, new calls get UNAVAILABLE (503), as gRPC answers once its
  // server shuts down; calls in flight go on.
  void Drain();
  // Drains, waits for the calls in flight until `deadline`, answers those
  // still waiting CANCELLED (what gRPC's Shutdown does at its deadline), then
  // stops accepting and joins the listener. Idempotent.
  void Stop(absl::Time deadline = absl::InfiniteFuture());

 private:
  class Handler;
  class Call;
  HttpGateway() = default;

  // Calls waiting for their reply (a write being logged, a read-your-writes
  // wait, a big room's read): Stop answers them.
  void AddWaiting(Call* call);
  // Counts `length` more bytes of request bodies in flight; false, counting
  // nothing, when that would pass max_body_bytes_in_flight.
  bool ReserveBody(size_t length);
  void ReleaseBody(size_t bytes);
  void RemoveWaiting(Call* call);

  HttpRules rules_;
  std::unique_ptr<Handler> handler_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<bool> draining_{false};
  size_t max_body_bytes_in_flight_ = 0;
  // Bytes of request bodies read by calls in progress.
  std::atomic<size_t> body_bytes_in_flight_{0};
  absl::Mutex mu_;
  absl::flat_hash_set<Call*> waiting_ ABSL_GUARDED_BY(mu_);
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace banditd::service

#endif  // BANDITD_SERVER_SERVICE_HTTP_GATEWAY_H_
