#include "server/log/log.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "spdlog/pattern_formatter.h"
#include "spdlog/sinks/stdout_sinks.h"

namespace banditd::logging {
namespace {

// The fields of the line being written on this thread (the logger is
// synchronous: formatting happens inside WriteWithFields' call).
thread_local const std::initializer_list<Field>* current_fields = nullptr;

absl::string_view Basename(const char* path) {
  absl::string_view p(path == nullptr ? "" : path);
  const size_t slash = p.rfind('/');
  return slash == absl::string_view::npos ? p : p.substr(slash + 1);
}

std::string Where(const spdlog::source_loc& source) {
  if (source.empty()) return "";
  return absl::StrCat(Basename(source.filename), ":", source.line);
}

std::string Timestamp(spdlog::log_clock::time_point t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromChrono(t),
                          absl::UTCTimeZone());
}

absl::string_view LevelName(spdlog::level::level_enum level) {
  const spdlog::string_view_t name = spdlog::level::to_string_view(level);
  return {name.data(), name.size()};
}

// A value a text line can show bare: no spaces, quotes or control bytes.
bool IsBare(absl::string_view value) {
  if (value.empty()) return false;
  for (char c : value) {
    if (!absl::ascii_isgraph(static_cast<unsigned char>(c)) || c == '"' ||
        c == '\\' || c == '=') {
      return false;
    }
  }
  return true;
}

// Empty strings are left out of a line.
bool IsEmpty(const Field& field) {
  const auto* s = std::get_if<std::string>(&field.value);
  return s != nullptr && s->empty();
}

void Append(spdlog::memory_buf_t& dest, absl::string_view text) {
  dest.append(text.data(), text.data() + text.size());
}

// %w: "file.cc:123" (the basename: build paths say nothing to an operator).
class WhereFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    Append(dest, Where(msg.source));
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<WhereFlag>();
  }
};

// %k: the line's fields as " key=value", strings quoted and C-escaped
// unless bare.
class FieldsFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg&, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    if (current_fields == nullptr) return;
    for (const Field& field : *current_fields) {
      if (IsEmpty(field)) continue;
      std::string text = absl::StrCat(" ", field.key, "=");
      if (const auto* s = std::get_if<std::string>(&field.value)) {
        if (IsBare(*s)) {
          absl::StrAppend(&text, *s);
        } else {
          absl::StrAppend(&text, "\"", absl::CHexEscape(*s), "\"");
        }
      } else if (const auto* i = std::get_if<int64_t>(&field.value)) {
        absl::StrAppend(&text, *i);
      } else {
        absl::StrAppend(&text, std::get<double>(field.value));
      }
      Append(dest, text);
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<FieldsFlag>();
  }
};

// One JSON object per line. nlohmann::json escapes the strings; bytes that
// are not UTF-8 become U+FFFD rather than breaking the line.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg,
              spdlog::memory_buf_t& dest) override {
    nlohmann::ordered_json line;
    line["time"] = Timestamp(msg.time);
    line["level"] = std::string(LevelName(msg.level));
    if (!msg.source.empty()) line["source"] = Where(msg.source);
    line["msg"] = std::string(msg.payload.data(), msg.payload.size());
    if (current_fields != nullptr) {
      for (const Field& field : *current_fields) {
        if (IsEmpty(field)) continue;
        std::visit([&](const auto& v) { line[std::string(field.key)] = v; },
                   field.value);
      }
    }
    Append(dest,
           line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

}  // namespace

absl::Status ParseFormat(absl::string_view text, Format* format) {
  if (text == "text") {
    *format = Format::kText;
  } else if (text == "json") {
    *format = Format::kJson;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--log_format must be text or json, not \"",
                     absl::CHexEscape(text), "\""));
  }
  return absl::OkStatus();
}

absl::Status ParseLevel(absl::string_view text,
                        spdlog::level::level_enum* level) {
  if (text == "debug") {
    *level = spdlog::level::debug;
  } else if (text == "info") {
    *level = spdlog::level::info;
  } else if (text == "warning") {
    *level = spdlog::level::warn;
  } else if (text == "error") {
    *level = spdlog::level::err;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--log_level must be debug, info, warning or error, "
                     "not \"",
                     absl::CHexEscape(text), "\""));
  }
  return absl::OkStatus();
}

void Init(const Options& options) {
  std::shared_ptr<spdlog::sinks::sink> sink = options.sink;
  if (sink == nullptr) {
    sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  }
  if (options.format == Format::kJson) {
    sink->set_formatter(std::make_unique<JsonFormatter>());
  } else {
    auto formatter = std::make_unique<spdlog::pattern_formatter>(
        spdlog::pattern_time_type::utc);
    formatter->add_flag<WhereFlag>('w').add_flag<FieldsFlag>('k').set_pattern(
        "%Y-%m-%dT%H:%M:%S.%eZ %l %w] %v%k");
    sink->set_formatter(std::move(formatter));
  }
  auto logger = std::make_shared<spdlog::logger>("banditd", std::move(sink));
  logger->set_level(options.min_level);
  // Errors reach the terminal at once; the stderr sink flushes every line.
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(std::move(logger));
}

void WriteWithFields(spdlog::level::level_enum level, spdlog::source_loc where,
                     absl::string_view message,
                     std::initializer_list<Field> fields) {
  spdlog::logger* logger = spdlog::default_logger_raw();
  if (!logger->should_log(level)) return;
  current_fields = &fields;
  logger->log(where, level,
              spdlog::string_view_t(message.data(), message.size()));
  current_fields = nullptr;
}

RateLimiter::Decision RateLimiter::Admit(absl::Time now) {
  absl::MutexLock lock(&mu_);
  if (now - window_start_ >= window_) {
    window_start_ = now;
    admitted_ = 0;
  }
  Decision decision;
  if (admitted_ < burst_) {
    ++admitted_;
    decision.log = true;
    decision.dropped_before = std::exchange(dropped_, 0);
  } else {
    ++dropped_;
    ++dropped_total_;
  }
  return decision;
}

void RateLimiter::Configure(int burst, absl::Duration window) {
  absl::MutexLock lock(&mu_);
  burst_ = burst;
  window_ = window;
}

int64_t RateLimiter::dropped_total() const {
  absl::MutexLock lock(&mu_);
  return dropped_total_;
}

}  // namespace banditd::logging
