#ifndef BANDITD_SERVER_LOG_REQUEST_ID_H_
#define BANDITD_SERVER_LOG_REQUEST_ID_H_

#include <string>

#include "absl/strings/string_view.h"

namespace banditd::logging {

// The metadata key (gRPC) and header (HTTP, any case) of a call's request
// id, in both directions: a client may send one; the server returns the id
// it used, which its log lines about the call carry.
inline constexpr char kRequestIdKey[] = "x-request-id";

// True when a client's request id is kept as the call's id: 1 to 64
// characters of [A-Za-z0-9._:-]. Anything else (it would land in the log)
// is replaced by a generated id.
bool IsValidRequestId(absl::string_view id);

// A new random request id (32 hex digits).
std::string NewRequestId();

// The call's request id: the client's `sent` when valid (IsValidRequestId),
// else a new one.
std::string RequestIdFrom(absl::string_view sent);

}  // namespace banditd::logging

#endif  // BANDITD_SERVER_LOG_REQUEST_ID_H_
