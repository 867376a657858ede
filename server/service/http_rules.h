#ifndef BANDITD_SERVER_SERVICE_HTTP_RULES_H_
#define BANDITD_SERVER_SERVICE_HTTP_RULES_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"

namespace banditd::service {

// HttpRoute: one `google.api.http` binding of an RPC, for example
// `post: "/v1/rooms/{room_id}:sample" body: "*"`.
struct HttpRoute {
  // GET, POST, PUT, PATCH or DELETE.
  std::string http_method;
  // The template as written in the proto.
  std::string path_template;
  // The template's segments: a literal, or a "{field}" capture (stored as the
  // field name with is_variable set).
  struct Segment {
    std::string text;
    bool is_variable = false;
  };
  std::vector<Segment> segments;
  // The custom verb after the last ':' ("sample"), or empty.
  std::string verb;
  // "*" (the whole request is the JSON body), a field name, or empty (no
  // body: the fields come from the path and the query string).
  std::string body;
  const google::protobuf::MethodDescriptor* method = nullptr;
};

// A route that matched a request, with the captured path variables
// (percent-decoded) as (field name, value) pairs.
struct HttpMatch {
  const HttpRoute* route = nullptr;
  std::vector<std::pair<std::string, std::string>> variables;
};

// HttpRules: the HTTP routes of a gRPC service, read from the methods'
// `google.api.http` options (additional_bindings included). Methods without
// the option get no route.
class HttpRules {
 public:
  // Fails (naming the method) on a template this matcher does not support:
  // only literal segments, "{field}" / "{field=*}" captures of a top-level
  // field and an optional ":verb" are.
  static absl::StatusOr<HttpRules> FromService(
      const google::protobuf::ServiceDescriptor* service);

  // The route for `http_method` and `path` (without the query string), or
  // nullopt. A route with a verb is tried before one without, so
  // "/v1/rooms/a:reset" is ResetRoom on room "a", while a GET of
  // "/v1/rooms/a:b" is GetRoom on room "a:b" (ids may contain ':').
  std::optional<HttpMatch> Match(absl::string_view http_method,
                                 absl::string_view path) const;

  // True if some route (of any HTTP method) matches `path`: a 405 rather
  // than a 404.
  bool MatchesAnyMethod(absl::string_view path) const;

  const std::vector<HttpRoute>& routes() const { return routes_; }

 private:
  std::vector<HttpRoute> routes_;
};

// The HTTP status of a gRPC code, by the standard mapping
// (google/rpc/code.proto; as grpc-gateway does).
int HttpStatusFromGrpcCode(int code);

}  // namespace banditd::service

#endif  // BANDITD_SERVER_SERVICE_HTTP_RULES_H_
