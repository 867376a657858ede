// HttpRules (route table from google.api.http) and the JSON transcoding of
// requests and errors, on the real BanditService descriptor.

#include "server/service/http_rules.h"

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "banditd/v1/banditd.grpc.pb.h"
#include "banditd/v1/banditd.pb.h"
#include "gmock/gmock.h"
#include "google/api/annotations.pb.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "server/service/http_transcode.h"

namespace banditd::service {
namespace {

using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

const google::protobuf::ServiceDescriptor* Service() {
  return google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
      v1::BanditService::service_full_name());
}

HttpRules Rules() {
  absl::StatusOr<HttpRules> rules = HttpRules::FromService(Service());
  EXPECT_TRUE(rules.ok()) << rules.status();
  return *std::move(rules);
}

std::string MethodOf(const HttpRules& rules, absl::string_view verb,
                     absl::string_view path) {
  std::optional<HttpMatch> match = rules.Match(verb, path);
  return match.has_value() ? match->route->method->name() : "<none>";
}

TEST(HttpRulesTest, EveryRpcHasOneRoute) {
  HttpRules rules = Rules();
  EXPECT_EQ(rules.routes().size(),
            static_cast<size_t>(Service()->method_count()));
}

TEST(HttpRulesTest, MatchesEachRouteToItsMethod) {
  HttpRules rules = Rules();
  EXPECT_EQ(MethodOf(rules, "POST", "/v1/rooms"), "CreateRoom");
  EXPECT_EQ(MethodOf(rules, "GET", "/v1/rooms"), "ListRooms");
  EXPECT_EQ(MethodOf(rules, "GET", "/v1/rooms/r"), "GetRoom");
  EXPECT_EQ(MethodOf(rules, "DELETE", "/v1/rooms/r"), "DeleteRoom");
  EXPECT_EQ(MethodOf(rules, "POST", "/v1/rooms/r:reset"), "ResetRoom");
  EXPECT_EQ(MethodOf(rules, "POST", "/v1/rooms/r/arms"), "AddArms");
  EXPECT_EQ(MethodOf(rules, "DELETE", "/v1/rooms/r/arms/a"), "RemoveArm");
  EXPECT_EQ(MethodOf(rules, "POST", "/v1/rooms/r/arms/a:setEnabled"),
            "SetArmEnabled");
  EXPECT_EQ(MethodOf(rules, "POST", "/v1/rooms/r:sample"), "Sample");
  EXPECT_EQ(MethodOf(rules, "POST", "/v1/feedback"), "Feedback");
  EXPECT_EQ(MethodOf(rules, "GET", "/v1/rooms/r/stats"), "GetStats");
  EXPECT_EQ(MethodOf(rules, "GET", "/v1/rooms/r/arms"), "ListArms");
}

TEST(HttpRulesTest, RejectsWhatNoRouteTakes) {
  HttpRules rules = Rules();
  EXPECT_EQ(MethodOf(rules, "DELETE", "/v1/rooms/r/arms"), "<none>");
  EXPECT_EQ(MethodOf(rules, "POST", "/v1/rooms/r:explode"), "<none>");
  EXPECT_EQ(MethodOf(rules, "GET", "/v1/rooms/"), "<none>");  // empty id
  EXPECT_EQ(MethodOf(rules, "GET", "/v1/rooms//stats"), "<none>");
  EXPECT_EQ(MethodOf(rules, "GET", "/v1/rooms/a/b"), "<none>");
  // Known path, wrong method: a 405, not a 404.
  EXPECT_EQ(MethodOf(rules, "PUT", "/v1/rooms/r"), "<none>");
  EXPECT_TRUE(rules.MatchesAnyMethod("/v1/rooms/r"));
  EXPECT_FALSE(rules.MatchesAnyMethod("/v2/rooms/r"));
}

TEST(HttpRulesTest, TheVerbIsAfterTheLastColonAndIdsKeepTheirColons) {
  HttpRules rules = Rules();
  std::optional<HttpMatch> sample =
      rules.Match("POST", "/v1/rooms/eu:shop:sample");
  ASSERT_TRUE(sample.has_value());
  EXPECT_EQ(sample->route->method->name(), "Sample");
  EXPECT_THAT(sample->variables,
              UnorderedElementsAre(Pair("room_id", "eu:shop")));
  std::optional<HttpMatch> get = rules.Match("GET", "/v1/rooms/eu:shop");
  ASSERT_TRUE(get.has_value());
  EXPECT_THAT(get->variables, UnorderedElementsAre(Pair("room_id", "eu:shop")));
}

TEST(HttpRulesTest, PercentDecodesVariables) {
  HttpRules rules = Rules();
  std::optional<HttpMatch> match =
      rules.Match("DELETE", "/v1/rooms/a%3Ab/arms/x%2Fy");
  ASSERT_TRUE(match.has_value());
  EXPECT_THAT(match->variables, UnorderedElementsAre(Pair("room_id", "a:b"),
                                                     Pair("arm_id", "x/y")));
  EXPECT_FALSE(rules.Match("GET", "/v1/rooms/a%zz").has_value());
}

// A service whose one method has `rule`, built in a pool of its own.
absl::StatusOr<HttpRules> RulesFor(const google::api::HttpRule& rule,
                                   google::protobuf::DescriptorPool* pool) {
  google::protobuf::FileDescriptorProto file;
  file.set_name("t.proto");
  file.set_package("t");
  file.set_syntax("proto3");
  auto* request = file.add_message_type();
  request->set_name("Req");
  auto* field = request->add_field();
  field->set_name("id");
  field->set_number(1);
  field->set_type(google::protobuf::FieldDescriptorProto::TYPE_STRING);
  field->set_label(google::protobuf::FieldDescriptorProto::LABEL_OPTIONAL);
  auto* method = file.add_service()->add_method();
  file.mutable_service(0)->set_name("S");
  method->set_name("M");
  method->set_input_type(".t.Req");
  method->set_output_type(".t.Req");
  *method->mutable_options()->MutableExtension(google::api::http) = rule;
  const google::protobuf::FileDescriptor* built = pool->BuildFile(file);
  if (built == nullptr) return absl::InternalError("cannot build t.proto");
  return HttpRules::FromService(built->service(0));
}

TEST(HttpRulesTest, RefusesUnsupportedTemplatesNamingTheMethod) {
  google::protobuf::DescriptorPool pool;
  google::api::HttpRule rule;
  rule.set_get("/v1/{id=things/**}");
  absl::StatusOr<HttpRules> rules = RulesFor(rule, &pool);
  ASSERT_FALSE(rules.ok());
  EXPECT_THAT(rules.status().message(), HasSubstr("t.S.M"));

  google::protobuf::DescriptorPool pool2;
  rule.set_get("/v1/{nope}");
  rules = RulesFor(rule, &pool2);
  ASSERT_FALSE(rules.ok());
  EXPECT_THAT(rules.status().message(), HasSubstr("\"nope\""));

  google::protobuf::DescriptorPool pool3;
  rule.set_get("/v1/{id}");
  EXPECT_TRUE(RulesFor(rule, &pool3).ok());
}

TEST(HttpStatusTest, StandardMapping) {
  EXPECT_EQ(HttpStatusFromGrpcCode(0), 200);
  EXPECT_EQ(HttpStatusFromGrpcCode(3), 400);
  EXPECT_EQ(HttpStatusFromGrpcCode(5), 404);
  EXPECT_EQ(HttpStatusFromGrpcCode(6), 409);
  EXPECT_EQ(HttpStatusFromGrpcCode(7), 403);
  EXPECT_EQ(HttpStatusFromGrpcCode(8), 429);
  EXPECT_EQ(HttpStatusFromGrpcCode(9), 400);
  EXPECT_EQ(HttpStatusFromGrpcCode(14), 503);
  EXPECT_EQ(HttpStatusFromGrpcCode(16), 401);
}

absl::Status Fill(const HttpRules& rules, absl::string_view verb,
                  absl::string_view path, absl::string_view body,
                  std::vector<std::pair<std::string, std::string>> query,
                  google::protobuf::Message* out) {
  std::optional<HttpMatch> match = rules.Match(verb, path);
  if (!match.has_value()) return absl::NotFoundError("no route");
  return FillRequest(*match, body, query, out);
}

TEST(FillRequestTest, BodyThenPathWhichWins) {
  HttpRules rules = Rules();
  v1::SampleRequest request;
  ASSERT_TRUE(
      Fill(rules, "POST", "/v1/rooms/home:sample",
           R"({"roomId": "other", "k": 2, "policy": {"type": "POLICY_TYPE_CTR"},
                       "excluded_arm_ids": ["x"]})",
           {}, &request)
          .ok());
  EXPECT_EQ(request.room_id(), "home");
  EXPECT_EQ(request.k(), 2);
  EXPECT_EQ(request.policy().type(), v1::POLICY_TYPE_CTR);
  EXPECT_THAT(request.excluded_arm_ids(), testing::ElementsAre("x"));
}

TEST(FillRequestTest, QueryParametersByProtoOrJsonName) {
  HttpRules rules = Rules();
  v1::GetStatsRequest stats;
  ASSERT_TRUE(Fill(rules, "GET", "/v1/rooms/r/stats", "",
                   {{"segment", "mobile"}, {"includeContext", "true"}}, &stats)
                  .ok());
  EXPECT_EQ(stats.room_id(), "r");
  EXPECT_EQ(stats.segment(), "mobile");
  EXPECT_TRUE(stats.include_context());

  v1::ListRoomsRequest list;
  ASSERT_TRUE(Fill(rules, "GET", "/v1/rooms", "",
                   {{"page_size", "7"}, {"pageToken", "abc"}}, &list)
                  .ok());
  EXPECT_EQ(list.page_size(), 7);
  EXPECT_EQ(list.page_token(), "abc");
}

TEST(FillRequestTest, ErrorsNameTheParameterOrBody) {
  HttpRules rules = Rules();
  v1::ListRoomsRequest list;
  absl::Status bad_int =
      Fill(rules, "GET", "/v1/rooms", "", {{"page_size", "ten"}}, &list);
  EXPECT_EQ(bad_int.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad_int.message(), HasSubstr("page_size"));

  absl::Status unknown =
      Fill(rules, "GET", "/v1/rooms", "", {{"pagesize", "1"}}, &list);
  EXPECT_THAT(unknown.message(), HasSubstr("no field \"pagesize\""));

  v1::SampleRequest sample;
  absl::Status body =
      Fill(rules, "POST", "/v1/rooms/r:sample", R"({"k": "two"})", {}, &sample);
  EXPECT_EQ(body.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(body.message(), HasSubstr("body:"));

  absl::Status query_on_body_route =
      Fill(rules, "POST", "/v1/rooms/r:sample", "{}", {{"k", "2"}}, &sample);
  EXPECT_THAT(query_on_body_route.message(), HasSubstr("JSON body"));
}

// The gateway prints replies from their bytes with cached types: the JSON must
// be exactly protobuf's own printer's (defaults included), on every call.
TEST(ResponseBytesToJsonTest, SameAsMessageToJsonString) {
  v1::SampleResponse sample;
  v1::ScoredArm* arm = sample.add_arms();
  arm->set_arm_id("red");
  arm->set_score(0.25);
  arm->mutable_counts()->set_views(7);
  sample.mutable_policy()->set_type(v1::POLICY_TYPE_THOMPSON);
  sample.set_decision_id("d1");
  v1::GetStatsResponse stats;
  stats.set_room_id("r");
  stats.add_arms()->set_arm_id("a");
  stats.add_arms()->set_ucb1(std::numeric_limits<double>::infinity());
  stats.set_applied_sequence(uint64_t{1} << 40);
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  for (const google::protobuf::Message* message :
       std::initializer_list<const google::protobuf::Message*>{&sample,
                                                               &stats}) {
    std::string expected;
    ASSERT_TRUE(google::protobuf::util::MessageToJsonString(*message, &expected,
                                                            options)
                    .ok());
    for (int call = 0; call < 2; ++call) {  // the second from the cache
      absl::StatusOr<std::string> json = ResponseBytesToJson(
          message->GetDescriptor(), message->SerializeAsString());
      ASSERT_TRUE(json.ok()) << json.status();
      EXPECT_EQ(*json, expected);
    }
  }
  EXPECT_THAT(
      *ResponseBytesToJson(stats.GetDescriptor(), stats.SerializeAsString()),
      HasSubstr(R"("appliedSequence":"1099511627776")"));
}

TEST(ErrorToJsonTest, PlainFormQuotesTheMessage) {
  google::protobuf::Struct error;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(
                  ErrorToJson(5, "room \"a\" not found", ""), &error)
                  .ok());
  EXPECT_EQ(error.fields().at("code").number_value(), 5);
  EXPECT_EQ(error.fields().at("message").string_value(),
            "room \"a\" not found");
  EXPECT_EQ(error.fields().at("details").list_value().values_size(), 0);
}

}  // namespace
}  // namespace banditd::service
