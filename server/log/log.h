#ifndef BANDITD_SERVER_LOG_LOG_H_
#define BANDITD_SERVER_LOG_LOG_H_

// Levelled, timestamped logging for the whole server, through spdlog.
//
// Plain lines use spdlog's own macros, which record the source location:
//   SPDLOG_INFO("serving on {}:{}", host, port);
//   SPDLOG_WARN("log sync failed (will retry): {}", status.ToString());
// Lines with named fields (JSON members, or key=value in text) use
// BANDITD_LOG_FIELDS. Every line goes to stderr, one per line:
//   text: 2026-12-03T08:56:50.123Z info main.cc:465] serving on ... k=v
//   json: {"time":"...","level":"info","source":"main.cc:465","msg":"...",
//          "k":"v"}
// Never log a token or a request's payload: log ids that the server made,
// field paths and sizes instead.

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <variant>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "spdlog/common.h"
#include "spdlog/spdlog.h"

namespace banditd::logging {

enum class Format { kText, kJson };

struct Options {
  Format format = Format::kText;
  spdlog::level::level_enum min_level = spdlog::level::info;
  // Where lines go; null: stderr. Tests pass an ostream sink.
  std::shared_ptr<spdlog::sinks::sink> sink;
};

// Parses "text" or "json" (--log_format).
absl::Status ParseFormat(absl::string_view text, Format* format);
// Parses "debug", "info", "warning" or "error" (--log_level).
absl::Status ParseLevel(absl::string_view text,
                        spdlog::level::level_enum* level);

// Makes the process-wide default logger write in `options.format`; also
// routes gRPC's own log lines (gpr_log) through it. Call once at startup,
// before other threads log; calling again replaces the logger (tests).
void Init(const Options& options);

// One named value of a log line. Numbers stay numbers in JSON.
struct Field {
  Field(absl::string_view k, absl::string_view v)
      : key(k), value(std::string(v)) {}
  Field(absl::string_view k, const char* v) : key(k), value(std::string(v)) {}
  Field(absl::string_view k, const std::string& v) : key(k), value(v) {}
  Field(absl::string_view k, int v) : key(k), value(int64_t{v}) {}
  Field(absl::string_view k, int64_t v) : key(k), value(v) {}
  Field(absl::string_view k, double v) : key(k), value(v) {}

  absl::string_view key;
  std::variant<std::string, int64_t, double> value;
};

// Writes one line with `fields` after the message; fields whose value is an
// empty string are left out.
void WriteWithFields(spdlog::level::level_enum level, spdlog::source_loc where,
                     absl::string_view message,
                     std::initializer_list<Field> fields);

#define BANDITD_LOG_FIELDS(level, message, ...)                                \
  ::banditd::logging::WriteWithFields(                                         \
      level, spdlog::source_loc{__FILE__, __LINE__, SPDLOG_FUNCTION}, message, \
      {__VA_ARGS__})

// RateLimiter: at most `burst` lines per `window`; the first line let
// through after some were held back learns how many (to say so). Lines
// caused by clients (bad requests, failed calls) go through one, so that
// nobody who can connect can flood the log. Thread-safe.
class RateLimiter {
 public:
  RateLimiter(int burst, absl::Duration window)
      : burst_(burst), window_(window) {}

  struct Decision {
    bool log = false;
    // Lines dropped since the last one logged (when `log`).
    int64_t dropped_before = 0;
  };
  Decision Admit(absl::Time now);

  void Configure(int burst, absl::Duration window);
  int64_t dropped_total() const;

 private:
  mutable absl::Mutex mu_;
  int burst_ ABSL_GUARDED_BY(mu_);
  absl::Duration window_ ABSL_GUARDED_BY(mu_);
  absl::Time window_start_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  int admitted_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t dropped_total_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace banditd::logging

#endif  // BANDITD_SERVER_LOG_LOG_H_
