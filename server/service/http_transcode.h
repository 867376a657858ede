#ifndef BANDITD_SERVER_SERVICE_HTTP_TRANSCODE_H_
#define BANDITD_SERVER_SERVICE_HTTP_TRANSCODE_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"
#include "server/service/http_rules.h"

namespace banditd::service {

// FillRequest: builds the request of `match.route->method` into `request`
// (a fresh message of the method's input type). In order: the JSON `body`
// (protobuf's JSON mapping; with body "*" the whole request, with a field
// name that field; ignored when the route has no body), then the `query`
// parameters (by proto or JSON field name, dotted into nested messages,
// repeated keys append), then the path variables, which win. Errors are
// INVALID_ARGUMENT naming the parameter or "body".
absl::Status FillRequest(
    const HttpMatch& match, absl::string_view body,
    const std::vector<std::pair<std::string, std::string>>& query,
    google::protobuf::Message* request);

// The JSON of a response message: protobuf's mapping (lowerCamelCase names,
// 64-bit integers as strings), fields at their defaults included.
absl::StatusOr<std::string> ResponseToJson(
    const google::protobuf::Message& response);
// The same from the serialized message of type `type` (a reply's bytes, not
// parsed first).
absl::StatusOr<std::string> ResponseBytesToJson(
    const google::protobuf::Descriptor* type, absl::string_view bytes);

// The JSON error body {"code", "message", "details"}. `details_bytes` is a
// serialized google.rpc.Status (grpc::Status::error_details()); its details
// are printed when google.rpc.Status and the detail types are linked in,
// else "details" is empty.
std::string ErrorToJson(int code, absl::string_view message,
                        absl::string_view details_bytes);

}  // namespace banditd::service

#endif  // BANDITD_SERVER_SERVICE_HTTP_TRANSCODE_H_
