// ParseRequest: what a client learns from bytes that do not parse.

#include "server/service/request_parse.h"

#include <string>

#include "banditd/v1/banditd.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace banditd::service {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

grpc::ByteBuffer Bytes(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

// A FeedbackRequest whose `bad_event`-th event has `field` set to bytes that
// are not UTF-8 (serialized through a bytes-typed stand-in: the same wire).
std::string FeedbackWithBadString(int events, int bad_event, int field) {
  std::string out;
  for (int i = 0; i < events; ++i) {
    v1::FeedbackEvent e;
    e.set_room_id("r");
    e.set_arm_id("a");
    std::string event = e.SerializeAsString();
    if (i == bad_event) {
      event.push_back(static_cast<char>(field << 3 | 2));
      event += "\x02\xc3\x28";
    }
    out.push_back('\x0a');
    out.push_back(static_cast<char>(event.size()));
    out += event;
  }
  return out;
}

TEST(RequestParseTest, ValidBytesParse) {
  v1::SampleRequest in;
  in.set_room_id("room");
  in.set_k(3);
  v1::SampleRequest out;
  ASSERT_TRUE(ParseRequest(Bytes(in.SerializeAsString()), &out).ok());
  EXPECT_EQ(out.room_id(), "room");
  EXPECT_EQ(out.k(), 3);
}

TEST(RequestParseTest, NamesTheStringFieldThatIsNotUtf8) {
  const int arm_id =
      v1::FeedbackEvent::descriptor()->FindFieldByName("arm_id")->number();
  v1::FeedbackRequest out;
  absl::Status status =
      ParseRequest(Bytes(FeedbackWithBadString(3, 2, arm_id)), &out);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              StartsWith("events[2].arm_id: not valid UTF-8"));
  EXPECT_EQ(FindInvalidUtf8(v1::FeedbackRequest::descriptor(),
                            FeedbackWithBadString(4, 1, arm_id)),
            "events[1].arm_id");
  // Valid strings: nothing to name.
  v1::FeedbackRequest fine;
  fine.add_events()->set_room_id("r");
  EXPECT_EQ(FindInvalidUtf8(v1::FeedbackRequest::descriptor(),
                            fine.SerializeAsString()),
            "");
}

TEST(RequestParseTest, MalformedWireDataNamesTheType) {
  v1::GetStatsRequest out;
  absl::Status status = ParseRequest(Bytes("\x0a\x64"
                                           "abc"),
                                     &out);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("(5 bytes) cannot be parsed as "
                        "banditd.v1.GetStatsRequest"));
}

}  // namespace
}  // namespace banditd::service
