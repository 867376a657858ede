#include "server/ingest/record.h"

#include <string>

#include "banditd/v1/banditd.pb.h"
#include "gtest/gtest.h"

namespace banditd::ingest {
namespace {

absl::StatusOr<core::FeedbackBatch> Decode(const std::string& payload,
                                           RecordHeaders headers = {},
                                           Format format = Format::kJson) {
  return DecodeRecord(payload, headers, format, nullptr);
}

TEST(RecordTest, OneJsonEventTranslatesEveryField) {
  absl::StatusOr<core::FeedbackBatch> batch = Decode(
      R"({"roomId": "r", "segment": "eu", "contextItems": ["x", "y"],
          "armId": "a", "views": "3", "clicks": 2, "reward": 1.5,
          "eventId": "e-1", "features": [0.5, -1]})");
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_EQ(batch->events.size(), 1u);
  const core::FeedbackEvent& e = batch->events[0];
  EXPECT_EQ(e.room_id, "r");
  EXPECT_EQ(e.segment, "eu");
  EXPECT_EQ(e.context_items, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(e.arm_id, "a");
  EXPECT_EQ(e.views, 3);
  EXPECT_EQ(e.clicks, 2);
  EXPECT_EQ(e.reward, 1.5);
  EXPECT_EQ(e.event_id, "e-1");
  EXPECT_EQ(e.features, (std::vector<double>{0.5, -1}));
  EXPECT_FALSE(batch->source.has_value());  // The consumer sets it.
}

TEST(RecordTest, JsonFeedbackRequestIsRecognisedWithoutAHeader) {
  absl::StatusOr<core::FeedbackBatch> batch = Decode(
      R"({"events": [{"roomId": "r", "armId": "a", "views": 1},
                     {"room_id": "r", "arm_id": "b", "clicks": 1}]})");
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_EQ(batch->events.size(), 2u);
  EXPECT_EQ(batch->events[1].arm_id, "b");
  EXPECT_EQ(batch->events[1].clicks, 1);
}

TEST(RecordTest, BinaryEventAndRequestByHeaders) {
  v1::FeedbackEvent event;
  event.set_room_id("r");
  event.set_arm_id("a");
  event.set_views(7);
  absl::StatusOr<core::FeedbackBatch> one =
      Decode(event.SerializeAsString(), {"application/x-protobuf", ""});
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(one->events.at(0).views, 7);
  // The flag's default applies without a content-type.
  one = Decode(event.SerializeAsString(), {}, Format::kBinary);
  ASSERT_TRUE(one.ok()) << one.status();

  v1::FeedbackRequest request;
  *request.add_events() = event;
  *request.add_events() = event;
  absl::StatusOr<core::FeedbackBatch> two =
      Decode(request.SerializeAsString(),
             {"application/protobuf", "banditd.v1.FeedbackRequest"});
  ASSERT_TRUE(two.ok()) << two.status();
  EXPECT_EQ(two->events.size(), 2u);
}

TEST(RecordTest, ErrorsNameWhatIsWrong) {
  struct Case {
    std::string payload;
    RecordHeaders headers;
    std::string prefix;
  };
  for (const Case& c : std::vector<Case>{
           {"{not json", {}, "payload: not a FeedbackEvent or FeedbackRequest"},
           {R"({"roomId": "r", "armId": "a", "colour": 1})",
            {},
            "payload: not a FeedbackEvent or FeedbackRequest"},
           {R"({"events": [{"roomId": "r", "armId": "a", "colour": 1}]})",
            {},
            "payload: not a FeedbackRequest in JSON"},
           {R"({"events": []})", {}, "payload: a FeedbackRequest without"},
           {"{}", {"text/csv", ""}, "header content-type: \"text/csv\""},
           {"{}", {"", "Click"}, "header banditd-message: \"Click\""},
           {"\xff\xff\xff",
            {"application/x-protobuf", ""},
            "payload: not a binary FeedbackEvent"},
           // Decision ids need the cache (the consumer passes the server's).
           {R"({"decisionId": "d1", "views": 1})",
            {},
            "events[0].decision_id: "},
       }) {
    absl::StatusOr<core::FeedbackBatch> batch = Decode(c.payload, c.headers);
    ASSERT_FALSE(batch.ok()) << c.payload;
    EXPECT_EQ(batch.status().message().substr(0, c.prefix.size()), c.prefix)
        << batch.status();
  }
}

TEST(RecordTest, ContentTypeParametersAndCaseDoNotMatter) {
  absl::StatusOr<core::FeedbackBatch> batch = Decode(
      R"({"roomId": "r", "armId": "a"})",
      {"Application/JSON; charset=utf-8", "FeedbackEvent"}, Format::kBinary);
  ASSERT_TRUE(batch.ok()) << batch.status();
}

TEST(RecordTest, FormatFlag) {
  EXPECT_EQ(*ParseFormat("json"), Format::kJson);
  EXPECT_EQ(*ParseFormat("binary"), Format::kBinary);
  EXPECT_FALSE(ParseFormat("avro").ok());
}

}  // namespace
}  // namespace banditd::ingest
