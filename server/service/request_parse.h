#ifndef BANDITD_SERVER_SERVICE_REQUEST_PARSE_H_
#define BANDITD_SERVER_SERVICE_REQUEST_PARSE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "grpcpp/support/byte_buffer.h"

namespace banditd::service {

// Parses a request's bytes as gRPC's generated handlers would (the same
// reader and limits), but answers INVALID_ARGUMENT instead of gRPC's
// UNIMPLEMENTED with an empty message: "events[0].room_id: not valid UTF-8
// ..." when a string field is at fault (a field path that ToGrpcStatus turns
// into a google.rpc.BadRequest violation), else a message naming the type.
absl::Status ParseRequest(const grpc::ByteBuffer& bytes,
                          google::protobuf::Message* request);

// The path of the first string field of `bytes` (a `type` on the wire)
// that is not UTF-8, such as "events[3].arm_id"; "" when there is none or
// the bytes are not well-formed.
std::string FindInvalidUtf8(const google::protobuf::Descriptor* type,
                            absl::string_view bytes);

}  // namespace banditd::service

#endif  // BANDITD_SERVER_SERVICE_REQUEST_PARSE_H_
