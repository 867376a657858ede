#ifndef BANDITD_SERVER_SERVICE_PROTOBUF_LOG_H_
#define BANDITD_SERVER_SERVICE_PROTOBUF_LOG_H_

#include <cstdint>

#include "absl/time/time.h"

namespace banditd::service {

// Routes libprotobuf's log lines through a rate limit: at most `burst` lines
// per `window`; the next line let through says how many were dropped.
// Protobuf logs an ERROR line for every request it cannot parse (for example
// a string field with invalid UTF-8), so without a limit anyone who can
// connect can flood the log. FATAL lines always pass. Call once at startup.
void RateLimitProtobufLogs(int burst = 10,
                           absl::Duration window = absl::Minutes(1));

// Sends gRPC's own log lines (gpr_log) to the server's log, so that they
// carry the same format (--log_format) as every other line.
void RouteGrpcLogs();

// Lines dropped so far (tests).
int64_t DroppedProtobufLogLines();

}  // namespace banditd::service

#endif  // BANDITD_SERVER_SERVICE_PROTOBUF_LOG_H_
