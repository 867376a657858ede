#include "server/service/convert.h"

#include "absl/status/status.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"

namespace banditd::service {
namespace {

// The BadRequest of a converted status, or nothing when it has no details.
std::optional<google::rpc::BadRequest> BadRequestOf(const grpc::Status& s) {
  if (s.error_details().empty()) return std::nullopt;
  google::rpc::Status details;
  google::rpc::BadRequest bad_request;
  if (!details.ParseFromString(s.error_details()) ||
      details.details_size() != 1 ||
      !details.details(0).UnpackTo(&bad_request)) {
    ADD_FAILURE() << "unreadable details";
    return std::nullopt;
  }
  return bad_request;
}

TEST(FieldPathOfTest, ReadsTheMessagePrefixOnlyWhenItIsAPath) {
  EXPECT_EQ(FieldPathOf(
                absl::InvalidArgumentError("events[3].context_items[12]: bad")),
            "events[3].context_items[12]");
  EXPECT_EQ(FieldPathOf(absl::InvalidArgumentError("k: must be >= 0")), "k");
  EXPECT_EQ(FieldPathOf(absl::InvalidArgumentError("a_b.c1: x: y")), "a_b.c1");
  // Not paths: prose before the colon, empty or unclosed indexes, no space.
  for (const char* message :
       {"cannot open the store: disk full", "events[]: x", "events[3: x",
        "3d: x", "a..b: x", "a.: x", "room_id:x", "no colon at all", ""}) {
    EXPECT_EQ(FieldPathOf(absl::InvalidArgumentError(message)), "") << message;
  }
}

TEST(FieldPathOfTest, APayloadNamesTheFieldOfAnyMessage) {
  absl::Status status = absl::ResourceExhaustedError("the room is full");
  status.SetPayload(kFieldPathPayload, absl::Cord("arm_ids"));
  EXPECT_EQ(FieldPathOf(status), "arm_ids");
  std::optional<google::rpc::BadRequest> bad =
      BadRequestOf(ToGrpcStatus(status));
  ASSERT_TRUE(bad.has_value());
  EXPECT_EQ(bad->field_violations(0).field(), "arm_ids");
  EXPECT_EQ(bad->field_violations(0).description(), "the room is full");
}

TEST(ToGrpcStatusTest, AttachesAFieldViolationForFixableCodes) {
  const grpc::Status s = ToGrpcStatus(
      absl::NotFoundError("events[0].arm_id: arm \"z\" not found"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(s.error_message(), "events[0].arm_id: arm \"z\" not found");
  std::optional<google::rpc::BadRequest> bad = BadRequestOf(s);
  ASSERT_TRUE(bad.has_value());
  ASSERT_EQ(bad->field_violations_size(), 1);
  EXPECT_EQ(bad->field_violations(0).field(), "events[0].arm_id");
  EXPECT_EQ(bad->field_violations(0).description(), "arm \"z\" not found");
}

TEST(ToGrpcStatusTest, NoDetailsWithoutAFieldOrForServerSideCodes) {
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_EQ(
      ToGrpcStatus(absl::InvalidArgumentError("bad request")).error_details(),
      "");
  // A field-shaped prefix on a code the caller cannot fix by editing a
  // field is not a field violation.
  const grpc::Status unavailable =
      ToGrpcStatus(absl::UnavailableError("store: shutting down"));
  EXPECT_EQ(unavailable.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(unavailable.error_details(), "");
  EXPECT_EQ(ToGrpcStatus(absl::InternalError("x: y")).error_details(), "");
}

// LIN_TS reads linucb_alpha as a posterior scale with its own default; other
// kinds keep 1.0, and a value the request sets is kept.
TEST(CreateRoomFromProtoTest, LinTsGetsItsOwnDefaultScale) {
  v1::CreateRoomRequest request;
  request.set_room_id("r");
  request.add_arm_ids("a");
  request.mutable_policy()->set_type(v1::POLICY_TYPE_LIN_TS);
  absl::StatusOr<core::CreateRoom> ts = CreateRoomFromProto(request);
  ASSERT_TRUE(ts.ok()) << ts.status();
  EXPECT_EQ(ts->policy.linucb_alpha, core::kLinTsDefaultScale);
  request.mutable_policy()->set_linucb_alpha(0.5);
  EXPECT_EQ(CreateRoomFromProto(request)->policy.linucb_alpha, 0.5);
  request.mutable_policy()->clear_linucb_alpha();
  request.mutable_policy()->set_type(v1::POLICY_TYPE_LINUCB);
  EXPECT_EQ(CreateRoomFromProto(request)->policy.linucb_alpha, 1.0);
  request.clear_policy();
  absl::StatusOr<core::CreateRoom> plain = CreateRoomFromProto(request);
  EXPECT_EQ(plain->policy.kind, core::PolicyKind::kKlUcb);
  EXPECT_EQ(plain->policy.linucb_alpha, 1.0);
}

}  // namespace
}  // namespace banditd::service
