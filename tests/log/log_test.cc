// The log's two formats, its level threshold and the rate limiter.

#include "server/log/log.h"

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/log/request_id.h"
#include "spdlog/sinks/ostream_sink.h"

namespace banditd::logging {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;

class LogTest : public ::testing::Test {
 protected:
  void Start(Format format,
             spdlog::level::level_enum level = spdlog::level::info) {
    Options options;
    options.format = format;
    options.min_level = level;
    options.sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    Init(options);
  }
  void TearDown() override { Init({}); }

  std::vector<std::string> Lines() const {
    return absl::StrSplit(out_.str(), '\n', absl::SkipEmpty());
  }

  std::ostringstream out_;
};

TEST_F(LogTest, JsonIsOneParsableObjectPerLineWhateverTheBytes) {
  Start(Format::kJson);
  // Quotes, a newline, a backslash and a byte that is not UTF-8: a
  // hand-written escaper typically breaks the line on one of them.
  const std::string nasty = "say \"hi\"\nback\\slash \xff end";
  SPDLOG_WARN("room {} not found", nasty);
  const int line = __LINE__ + 1;
  BANDITD_LOG_FIELDS(spdlog::level::err, "rpc failed", {"method", "/a/B"},
                     {"code", "NOT_FOUND"}, {"duration_ms", 1.5}, {"count", 7},
                     {"quoted", nasty}, {"empty", ""});
  const std::vector<std::string> lines = Lines();
  ASSERT_EQ(lines.size(), 2u) << out_.str();
  const nlohmann::json first = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(first["level"], "warning");
  EXPECT_EQ(first["msg"],
            "room say \"hi\"\nback\\slash \xEF\xBF\xBD end not found");
  EXPECT_THAT(first["time"].get<std::string>(),
              MatchesRegex("20[0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9:]+\\.[0-9]{"
                           "3}Z"));
  const nlohmann::json second = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(second["level"], "error");
  EXPECT_EQ(second["source"], "log_test.cc:" + std::to_string(line));
  EXPECT_EQ(second["msg"], "rpc failed");
  EXPECT_EQ(second["method"], "/a/B");
  EXPECT_EQ(second["code"], "NOT_FOUND");
  EXPECT_EQ(second["duration_ms"], 1.5);
  EXPECT_EQ(second["count"], 7);
  EXPECT_EQ(second["quoted"], "say \"hi\"\nback\\slash \xEF\xBF\xBD end");
  EXPECT_FALSE(second.contains("empty"));
}

TEST_F(LogTest, TextHasTimeLevelSourceAndQuotedFields) {
  Start(Format::kText);
  const int line = __LINE__ + 1;
  BANDITD_LOG_FIELDS(spdlog::level::warn, "rpc failed", {"code", "NOT_FOUND"},
                     {"ms", 2}, {"spaced", "a b\n\"c\""}, {"empty", ""});
  const std::vector<std::string> lines = Lines();
  ASSERT_EQ(lines.size(), 1u) << out_.str();
  EXPECT_THAT(lines[0], MatchesRegex("20[0-9-]+T[0-9:]+\\.[0-9]{3}Z warning "
                                     "log_test\\.cc:[0-9]+\\] rpc failed .*"));
  EXPECT_THAT(lines[0], HasSubstr(":" + std::to_string(line) + "]"));
  EXPECT_THAT(lines[0],
              HasSubstr(" code=NOT_FOUND ms=2 spaced=\"a b\\n\\\"c\\\"\""));
  EXPECT_THAT(lines[0], Not(HasSubstr("empty=")));
}

TEST_F(LogTest, LinesBelowTheLevelAreDropped) {
  Start(Format::kText, spdlog::level::warn);
  SPDLOG_INFO("quiet");
  BANDITD_LOG_FIELDS(spdlog::level::info, "quiet too", {"k", "v"});
  SPDLOG_ERROR("loud");
  EXPECT_THAT(out_.str(), Not(HasSubstr("quiet")));
  EXPECT_THAT(out_.str(), HasSubstr("error"));
  EXPECT_THAT(out_.str(), HasSubstr("loud"));
}

TEST(LogFlagsTest, ParseFormatAndLevel) {
  Format format = Format::kText;
  EXPECT_TRUE(ParseFormat("json", &format).ok());
  EXPECT_EQ(format, Format::kJson);
  EXPECT_TRUE(ParseFormat("text", &format).ok());
  EXPECT_EQ(format, Format::kText);
  EXPECT_THAT(std::string(ParseFormat("xml", &format).message()),
              HasSubstr("--log_format must be text or json"));
  spdlog::level::level_enum level = spdlog::level::info;
  EXPECT_TRUE(ParseLevel("warning", &level).ok());
  EXPECT_EQ(level, spdlog::level::warn);
  EXPECT_FALSE(ParseLevel("loud", &level).ok());
}

TEST(RateLimiterTest, BurstPerWindowThenCountsTheDropped) {
  RateLimiter limiter(3, absl::Seconds(1));
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  for (int i = 0; i < 3; ++i) {
    RateLimiter::Decision d = limiter.Admit(t0 + absl::Milliseconds(i));
    EXPECT_TRUE(d.log) << i;
    EXPECT_EQ(d.dropped_before, 0);
  }
  EXPECT_FALSE(limiter.Admit(t0 + absl::Milliseconds(10)).log);
  EXPECT_FALSE(limiter.Admit(t0 + absl::Milliseconds(999)).log);
  EXPECT_EQ(limiter.dropped_total(), 2);
  // A new window: the first line learns of the two dropped.
  RateLimiter::Decision next = limiter.Admit(t0 + absl::Seconds(1));
  EXPECT_TRUE(next.log);
  EXPECT_EQ(next.dropped_before, 2);
  EXPECT_EQ(limiter.Admit(t0 + absl::Seconds(1)).dropped_before, 0);
}

TEST(RequestIdTest, ValidIdsAndGeneratedOnes) {
  EXPECT_TRUE(IsValidRequestId("abc-123_x.y:z"));
  EXPECT_FALSE(IsValidRequestId(""));
  EXPECT_FALSE(IsValidRequestId("has space"));
  EXPECT_FALSE(IsValidRequestId("quote\""));
  EXPECT_FALSE(IsValidRequestId(std::string(65, 'a')));
  EXPECT_TRUE(IsValidRequestId(std::string(64, 'a')));
  const std::string a = NewRequestId();
  EXPECT_THAT(a, MatchesRegex("[0-9a-f]{32}"));
  EXPECT_NE(a, NewRequestId());
  EXPECT_EQ(RequestIdFrom("trace-42"), "trace-42");
  EXPECT_THAT(RequestIdFrom("has space"), MatchesRegex("[0-9a-f]{32}"));
  EXPECT_THAT(RequestIdFrom(""), MatchesRegex("[0-9a-f]{32}"));
}

}  // namespace
}  // namespace banditd::logging
