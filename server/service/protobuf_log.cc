#include "server/service/protobuf_log.h"

#include <string>

#include "absl/time/clock.h"
#include "google/protobuf/stubs/logging.h"
#include "grpc/support/log.h"
#include "server/log/log.h"

namespace banditd::service {
namespace {

logging::RateLimiter& ProtobufLimiter() {
  static logging::RateLimiter* limiter =
      new logging::RateLimiter(10, absl::Minutes(1));
  return *limiter;
}

spdlog::level::level_enum LevelOf(google::protobuf::LogLevel level) {
  switch (level) {
    case google::protobuf::LOGLEVEL_INFO:
      return spdlog::level::info;
    case google::protobuf::LOGLEVEL_WARNING:
      return spdlog::level::warn;
    case google::protobuf::LOGLEVEL_ERROR:
      return spdlog::level::err;
    default:
      return spdlog::level::critical;
  }
}

void HandleProtobuf(google::protobuf::LogLevel level, const char* filename,
                    int line, const std::string& message) {
  const spdlog::source_loc where{filename, line, ""};
  if (level != google::protobuf::LOGLEVEL_FATAL) {
    const logging::RateLimiter::Decision admit =
        ProtobufLimiter().Admit(absl::Now());
    if (!admit.log) return;
    if (admit.dropped_before > 0) {
      spdlog::log(where, spdlog::level::warn,
                  "libprotobuf: {} lines dropped before this one (rate limit)",
                  admit.dropped_before);
    }
  }
  spdlog::log(where, LevelOf(level), "libprotobuf: {}", message);
}

void HandleGrpc(gpr_log_func_args* args) {
  spdlog::level::level_enum level = spdlog::level::err;
  if (args->severity == GPR_LOG_SEVERITY_DEBUG) level = spdlog::level::debug;
  if (args->severity == GPR_LOG_SEVERITY_INFO) level = spdlog::level::info;
  spdlog::log(spdlog::source_loc{args->file, args->line, ""}, level, "grpc: {}",
              args->message);
}

}  // namespace

void RateLimitProtobufLogs(int burst, absl::Duration window) {
  ProtobufLimiter().Configure(burst, window);
  google::protobuf::SetLogHandler(&HandleProtobuf);
}

void RouteGrpcLogs() { gpr_set_log_function(&HandleGrpc); }

int64_t DroppedProtobufLogLines() { return ProtobufLimiter().dropped_total(); }

}  // namespace banditd::service
