#include "server/service/protobuf_log.h"

#include <cstdio>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "google/protobuf/stubs/logging.h"

namespace banditd::service {
namespace {

struct Limiter {
  absl::Mutex mu;
  int burst ABSL_GUARDED_BY(mu) = 10;
  absl::Duration window ABSL_GUARDED_BY(mu) = absl::Minutes(1);
  absl::Time window_start ABSL_GUARDED_BY(mu) = absl::InfinitePast();
  int printed ABSL_GUARDED_BY(mu) = 0;
  int64_t dropped_in_window ABSL_GUARDED_BY(mu) = 0;
  int64_t dropped_total ABSL_GUARDED_BY(mu) = 0;
};

Limiter& GetLimiter() {
  static Limiter* limiter = new Limiter();
  return *limiter;
}

const char* LevelName(google::protobuf::LogLevel level) {
  switch (level) {
    case google::protobuf::LOGLEVEL_INFO:
      return "INFO";
    case google::protobuf::LOGLEVEL_WARNING:
      return "WARNING";
    case google::protobuf::LOGLEVEL_ERROR:
      return "ERROR";
    default:
      return "FATAL";
  }
}

void Print(absl::Time now, const std::string& line) {
  absl::FPrintF(
      stderr, "%s banditd: %s\n",
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", now, absl::UTCTimeZone()), line);
}

void Handle(google::protobuf::LogLevel level, const char* filename, int line,
            const std::string& message) {
  const absl::Time now = absl::Now();
  const std::string text = absl::StrFormat(
      "libprotobuf %s %s:%d] %s", LevelName(level), filename, line, message);
  if (level == google::protobuf::LOGLEVEL_FATAL) {
    Print(now, text);
    return;
  }
  Limiter& limiter = GetLimiter();
  absl::MutexLock lock(&limiter.mu);
  if (now - limiter.window_start >= limiter.window) {
    if (limiter.dropped_in_window > 0) {
      Print(now, absl::StrFormat("libprotobuf: %d lines dropped in the last "
                                 "%s (rate limit)",
                                 limiter.dropped_in_window,
                                 absl::FormatDuration(limiter.window)));
    }
    limiter.window_start = now;
    limiter.printed = 0;
    limiter.dropped_in_window = 0;
  }
  if (limiter.printed < limiter.burst) {
    ++limiter.printed;
    Print(now, text);
    return;
  }
  ++limiter.dropped_in_window;
  ++limiter.dropped_total;
}

}  // namespace

void RateLimitProtobufLogs(int burst, absl::Duration window) {
  {
    Limiter& limiter = GetLimiter();
    absl::MutexLock lock(&limiter.mu);
    limiter.burst = burst;
    limiter.window = window;
  }
  google::protobuf::SetLogHandler(&Handle);
}

int64_t DroppedProtobufLogLines() {
  Limiter& limiter = GetLimiter();
  absl::MutexLock lock(&limiter.mu);
  return limiter.dropped_total;
}

}  // namespace banditd::service
