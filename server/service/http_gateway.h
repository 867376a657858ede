#ifndef BANDITD_SERVER_SERVICE_HTTP_GATEWAY_H_
#define BANDITD_SERVER_SERVICE_HTTP_GATEWAY_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "google/protobuf/descriptor.h"
#include "grpcpp/channel.h"
#include "server/service/http_rules.h"

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
  // Served as /openapi.json when not empty.
  std::string openapi_json;
};

// HttpGateway: the HTTP/JSON face of a gRPC service. Routes come from the
// methods' `google.api.http` options (HttpRules); a request becomes the
// method's request message by protobuf's JSON mapping (body) and the path and
// query parameters, is sent as serialized bytes over `channel` (the server's
// in-process channel) with the caller's Authorization header as metadata, and
// the reply is printed by the same JSON mapping. Tokens, validation, limits
// and durability are therefore exactly those of a gRPC call. Errors are
// {"code", "message", "details"} (google.rpc.Status in JSON) with the HTTP
// status of the standard gRPC-to-HTTP mapping.
class HttpGateway {
 public:
  // `service`'s messages must be in the generated descriptor pool.
  static absl::StatusOr<std::unique_ptr<HttpGateway>> Start(
      const HttpGatewayOptions& options,
      const google::protobuf::ServiceDescriptor* service,
      std::shared_ptr<grpc::Channel> channel);
  ~HttpGateway();

  int port() const { return port_; }
  const HttpRules& rules() const { return rules_; }
  // Stops accepting, lets handlers in flight finish and joins the listener.
  // Idempotent.
  void Stop();

 private:
  class Handler;
  HttpGateway() = default;

  HttpRules rules_;
  std::unique_ptr<Handler> handler_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace banditd::service

#endif  // BANDITD_SERVER_SERVICE_HTTP_GATEWAY_H_
