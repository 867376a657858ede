#include "server/ingest/json_event.h"

#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace banditd::ingest {
namespace {

// Protobuf's JSON parser as DecodeRecord used it before the fast path: an
// event, else (kEither) a request.
bool ProtobufParse(const std::string& json, JsonShape shape,
                   v1::FeedbackRequest* out) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  out->Clear();
  if (shape != JsonShape::kRequest) {
    v1::FeedbackEvent event;
    if (google::protobuf::util::JsonStringToMessage(json, &event, options)
            .ok()) {
      *out->add_events() = event;
      return true;
    }
    if (shape == JsonShape::kEvent) return false;
  }
  out->Clear();
  return google::protobuf::util::JsonStringToMessage(json, out, options).ok();
}

// Where the fast path accepts `json`, protobuf's parser accepts it too and
// yields the same bytes (so -0.0 and 0.0 differ). Returns whether the fast
// path accepted it.
bool FastAgrees(const std::string& json, JsonShape shape = JsonShape::kEither) {
  v1::FeedbackRequest fast;
  if (!ParseFeedbackJson(json, shape, &fast)) return false;
  v1::FeedbackRequest reference;
  EXPECT_TRUE(ProtobufParse(json, shape, &reference))
      << "fast path accepted what protobuf refuses: " << json;
  EXPECT_EQ(fast.SerializeAsString(), reference.SerializeAsString())
      << json << "\nfast: " << fast.ShortDebugString()
      << "\nprotobuf: " << reference.ShortDebugString();
  return true;
}

TEST(JsonEventTest, CommonRecordsTakeTheFastPathAndMatchProtobuf) {
  for (const std::string json : {
           R"({"roomId": "bench", "armId": "arm_7", "views": 1})",
           R"({"room_id":"r","arm_id":"a","clicks":"2","views":"3"})",
           R"({"roomId": "r", "segment": "eu", "contextItems": ["x", "y"],
               "armId": "a", "views": 3, "clicks": 2, "reward": 1.5,
               "eventId": "e-1", "features": [0.5, -1, 2e-3, 1E2]})",
           R"({"roomId":"r","armId":"a","reward":0,"features":[]})",
           R"({"roomId":"r","armId":"a","reward":-0.0})",
           R"({"roomId":"r","armId":"a","reward":-0})",
           R"({"roomId":"r","armId":"a","views":-0,"clicks":"-0"})",
           R"({"roomId":"r","armId":"a","views":123456789012345678})",
           R"({"features":[123456789012345678, 9007199254740993]})",
           R"({"reward":0.1,"features":[1e-300,-2.5e+10,0.0,0e5]})",
           R"({"decisionId": "d-1", "clicks": 1})",
           "{}",
           " \t\r\n{ \"views\" : 1 } \n",
           R"({"events": [{"roomId": "r", "armId": "a", "views": 1},
                          {"room_id": "r", "arm_id": "b", "clicks": 1}]})",
       }) {
    EXPECT_TRUE(FastAgrees(json)) << "not on the fast path: " << json;
  }
}

TEST(JsonEventTest, AnythingUnusualIsLeftToProtobuf) {
  for (const std::string json : {
           R"({"roomId": "r\u00e9", "armId": "a"})",         // An escape.
           "{\"roomId\": \"r\xc3\xa9\", \"armId\": \"a\"}",  // UTF-8.
           R"({"roomId": null})",
           R"({"views": 1.0})",   // An int64 from a fraction.
           R"({"views": 1e2})",   // ... or an exponent.
           R"({"views": "+5"})",  // Not JSON's integer grammar.
           R"({"views": 007})",
           R"({"views": 1234567890123456789})",  // 19 digits.
           R"({"reward": "1.5"})",               // A quoted double.
           R"({"reward": "NaN"})",
           R"({"reward": 1e400})",   // Not finite.
           R"({"reward": 1e-320})",  // Subnormal.
           R"({"reward": true})",
           R"({"views": 1, "views": 2})",  // Twice.
           R"({"armId": "a", "arm_id": "b"})",
           R"({"colour": 1})",  // Unknown.
           R"({"RoomId": "r"})",
           R"({"events": []})",
           R"({"events": [{"views": 1}], "views": 1})",
           R"({"views": 1})  x)",
           R"({"views": 1,})",
           R"([{"views": 1}])",
           "{\"views\"\v: 1}",
           "",
       }) {
    v1::FeedbackRequest request;
    EXPECT_FALSE(ParseFeedbackJson(json, JsonShape::kEither, &request)) << json;
  }
}

TEST(JsonEventTest, ShapeFromTheHeader) {
  const std::string event = R"({"roomId": "r", "views": 1})";
  const std::string request = R"({"events": [{"roomId": "r", "views": 1}]})";
  EXPECT_TRUE(FastAgrees(event, JsonShape::kEvent));
  EXPECT_TRUE(FastAgrees(request, JsonShape::kRequest));
  v1::FeedbackRequest out;
  EXPECT_FALSE(ParseFeedbackJson(request, JsonShape::kEvent, &out));
  out.Clear();
  EXPECT_FALSE(ParseFeedbackJson(event, JsonShape::kRequest, &out));
}

// Random records from pieces that protobuf's parser accepts or refuses in
// different ways: wherever the fast path accepts one, both agree.
TEST(JsonEventTest, RandomRecordsAgreeWithProtobuf) {
  std::mt19937 rng(19);
  auto pick = [&rng](const std::vector<std::string>& from) {
    return from[std::uniform_int_distribution<size_t>(0, from.size() - 1)(rng)];
  };
  const std::vector<std::string> strings = {
      R"("")",     R"("a")",      R"("arm_12")",  R"("eu-west/1 x")",
      R"("q\"t")", R"("\u0041")", "\"\xc3\xa9\"", "1",
      "null",      R"(["a"])"};
  const std::vector<std::string> integers = {"0",
                                             "-0",
                                             "7",
                                             "-12",
                                             "123456789012345678",
                                             "1234567890123456789",
                                             R"("5")",
                                             R"("-0")",
                                             R"("12")",
                                             R"(" 5")",
                                             R"("5 ")",
                                             "1.0",
                                             "1e2",
                                             "01",
                                             "null",
                                             R"("x")",
                                             "true",
                                             "9223372036854775807"};
  const std::vector<std::string> doubles = {"0",
                                            "-0",
                                            "1.5",
                                            "-2.25e-3",
                                            "1E5",
                                            "1e400",
                                            "1e-320",
                                            "4.9e-324",
                                            "0.0",
                                            "-0.0",
                                            "0e7",
                                            "123456789012345678",
                                            "9007199254740993",
                                            "0.30000000000000004",
                                            "2.2250738585072014e-308",
                                            R"("1.5")",
                                            "null",
                                            ".5",
                                            "1.",
                                            "-",
                                            "1e",
                                            "true"};
  const std::vector<std::string> names[] = {{"roomId", "room_id"},
                                            {"segment"},
                                            {"contextItems", "context_items"},
                                            {"armId", "arm_id"},
                                            {"views"},
                                            {"clicks"},
                                            {"reward"},
                                            {"eventId", "event_id"},
                                            {"decisionId", "decision_id"},
                                            {"features"}};
  const std::vector<std::string> spaces = {"", "", " ", "\n  ", "\t"};
  auto value = [&](int field) -> std::string {
    auto list = [&](const std::vector<std::string>& of) {
      std::vector<std::string> items(
          std::uniform_int_distribution<int>(0, 3)(rng));
      for (std::string& item : items) item = pick(of);
      return absl::StrCat("[", absl::StrJoin(items, pick(spaces) + ","), "]");
    };
    switch (field) {
      case 2:
        return list(strings);
      case 4:
      case 5:
        return pick(integers);
      case 6:
        return pick(doubles);
      case 9:
        return list(doubles);
      default:
        return pick(strings);
    }
  };
  auto event = [&]() {
    std::vector<std::string> members;
    const int n = std::uniform_int_distribution<int>(0, 6)(rng);
    for (int i = 0; i < n; ++i) {
      const int field = std::uniform_int_distribution<int>(0, 9)(rng);
      members.push_back(absl::StrCat(pick(spaces), "\"", pick(names[field]),
                                     "\"", pick(spaces), ":", pick(spaces),
                                     value(field)));
    }
    if (std::uniform_int_distribution<int>(0, 30)(rng) == 0) {
      members.push_back(R"("colour": 1)");
    }
    return absl::StrCat("{", absl::StrJoin(members, ","), pick(spaces), "}");
  };
  int accepted = 0;
  constexpr int kRecords = 3000;
  for (int i = 0; i < kRecords; ++i) {
    std::string json;
    if (i % 5 == 0) {
      std::vector<std::string> events(
          std::uniform_int_distribution<int>(0, 3)(rng));
      for (std::string& e : events) e = event();
      json = absl::StrCat(R"({"events": [)", absl::StrJoin(events, ","), "]}");
    } else {
      json = event();
    }
    accepted += FastAgrees(json) ? 1 : 0;
  }
  // Most records hold at least one value the fast path leaves alone; a
  // good share must still take it, or the test compares nothing.
  EXPECT_GT(accepted, kRecords / 20);
}

}  // namespace
}  // namespace banditd::ingest
