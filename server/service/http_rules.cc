#include "server/service/http_rules.h"

#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "google/api/annotations.pb.h"
#include "google/api/http.pb.h"

namespace banditd::service {
namespace {

using google::protobuf::MethodDescriptor;

// Decodes %XX escapes; nullopt on a malformed escape.
std::optional<std::string> PercentDecode(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size() || !absl::ascii_isxdigit(text[i + 1]) ||
        !absl::ascii_isxdigit(text[i + 2])) {
      return std::nullopt;
    }
    auto hex = [](char c) {
      return absl::ascii_isdigit(c) ? c - '0'
                                    : absl::ascii_tolower(c) - 'a' + 10;
    };
    out.push_back(static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2])));
    i += 2;
  }
  return out;
}

absl::StatusOr<HttpRoute> ParseRoute(const MethodDescriptor* method,
                                     const google::api::HttpRule& rule) {
  HttpRoute route;
  route.method = method;
  route.body = rule.body();
  switch (rule.pattern_case()) {
    case google::api::HttpRule::kGet:
      route.http_method = "GET";
      route.path_template = rule.get();
      break;
    case google::api::HttpRule::kPost:
      route.http_method = "POST";
      route.path_template = rule.post();
      break;
    case google::api::HttpRule::kPut:
      route.http_method = "PUT";
      route.path_template = rule.put();
      break;
    case google::api::HttpRule::kPatch:
      route.http_method = "PATCH";
      route.path_template = rule.patch();
      break;
    case google::api::HttpRule::kDelete:
      route.http_method = "DELETE";
      route.path_template = rule.delete_();
      break;
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          method->full_name(), ": google.api.http has no supported pattern"));
  }
  auto fail = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        method->full_name(), ": path \"", route.path_template, "\": ", why));
  };
  absl::string_view path = route.path_template;
  if (!absl::ConsumePrefix(&path, "/")) return fail("must start with '/'");
  // The verb follows the last ':' that is outside braces.
  if (size_t colon = path.rfind(':');
      colon != absl::string_view::npos &&
      path.find('}', colon) == absl::string_view::npos) {
    route.verb = std::string(path.substr(colon + 1));
    path = path.substr(0, colon);
    if (route.verb.empty()) return fail("empty verb");
  }
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    HttpRoute::Segment segment;
    if (absl::ConsumePrefix(&part, "{")) {
      if (!absl::ConsumeSuffix(&part, "}")) return fail("unclosed '{'");
      absl::ConsumeSuffix(&part, "=*");
      const google::protobuf::FieldDescriptor* field =
          method->input_type()->FindFieldByName(std::string(part));
      if (field == nullptr || field->is_repeated() ||
          field->cpp_type() ==
              google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) {
        return fail(absl::StrCat("\"", part,
                                 "\" is not a singular scalar field of ",
                                 method->input_type()->full_name()));
      }
      segment.is_variable = true;
    } else if (part.empty() || absl::StrContains(part, "*") ||
               absl::StrContains(part, "{") || absl::StrContains(part, "}")) {
      return fail("only literal segments and {field} captures are supported");
    }
    segment.text = std::string(part);
    route.segments.push_back(std::move(segment));
  }
  if (!route.body.empty() && route.body != "*") {
    const google::protobuf::FieldDescriptor* field =
        method->input_type()->FindFieldByName(route.body);
    if (field == nullptr || field->is_repeated() ||
        field->cpp_type() !=
            google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) {
      return fail(absl::StrCat("body \"", route.body,
                               "\" is not a singular message field"));
    }
  }
  return route;
}

// Matches `path` (without verb) against the segments of `route`.
bool MatchSegments(const HttpRoute& route, absl::string_view path,
                   HttpMatch* match) {
  if (!absl::ConsumePrefix(&path, "/")) return false;
  std::vector<absl::string_view> parts = absl::StrSplit(path, '/');
  if (parts.size() != route.segments.size()) return false;
  std::vector<std::pair<std::string, std::string>> variables;
  for (size_t i = 0; i < parts.size(); ++i) {
    const HttpRoute::Segment& segment = route.segments[i];
    if (!segment.is_variable) {
      if (parts[i] != segment.text) return false;
      continue;
    }
    std::optional<std::string> value = PercentDecode(parts[i]);
    if (!value.has_value() || value->empty()) return false;
    variables.emplace_back(segment.text, *std::move(value));
  }
  if (match != nullptr) match->variables = std::move(variables);
  return true;
}

bool MatchRoute(const HttpRoute& route, absl::string_view path,
                HttpMatch* match) {
  if (!route.verb.empty() &&
      !absl::ConsumeSuffix(&path, absl::StrCat(":", route.verb))) {
    return false;
  }
  return MatchSegments(route, path, match);
}

}  // namespace

absl::StatusOr<HttpRules> HttpRules::FromService(
    const google::protobuf::ServiceDescriptor* service) {
  HttpRules rules;
  for (int i = 0; i < service->method_count(); ++i) {
    const MethodDescriptor* method = service->method(i);
    if (!method->options().HasExtension(google::api::http)) continue;
    const google::api::HttpRule& rule =
        method->options().GetExtension(google::api::http);
    absl::StatusOr<HttpRoute> route = ParseRoute(method, rule);
    if (!route.ok()) return route.status();
    rules.routes_.push_back(*std::move(route));
    for (const google::api::HttpRule& extra : rule.additional_bindings()) {
      absl::StatusOr<HttpRoute> more = ParseRoute(method, extra);
      if (!more.ok()) return more.status();
      rules.routes_.push_back(*std::move(more));
    }
  }
  // Routes with a verb first (see Match); the sort is stable, so the proto's
  // order decides among the rest.
  std::stable_sort(rules.routes_.begin(), rules.routes_.end(),
                   [](const HttpRoute& a, const HttpRoute& b) {
                     return !a.verb.empty() && b.verb.empty();
                   });
  return rules;
}

std::optional<HttpMatch> HttpRules::Match(absl::string_view http_method,
                                          absl::string_view path) const {
  for (const HttpRoute& route : routes_) {
    if (route.http_method != http_method) continue;
    HttpMatch match;
    if (MatchRoute(route, path, &match)) {
      match.route = &route;
      return match;
    }
  }
  return std::nullopt;
}

bool HttpRules::MatchesAnyMethod(absl::string_view path) const {
  for (const HttpRoute& route : routes_) {
    if (MatchRoute(route, path, nullptr)) return true;
  }
  return false;
}

int HttpStatusFromGrpcCode(int code) {
  switch (code) {
    case 0:  // OK
      return 200;
    case 1:  // CANCELLED
      return 499;
    case 2:  // UNKNOWN
      return 500;
    case 3:  // INVALID_ARGUMENT
      return 400;
    case 4:  // DEADLINE_EXCEEDED
      return 504;
    case 5:  // NOT_FOUND
      return 404;
    case 6:  // ALREADY_EXISTS
      return 409;
    case 7:  // PERMISSION_DENIED
      return 403;
    case 8:  // RESOURCE_EXHAUSTED
      return 429;
    case 9:  // FAILED_PRECONDITION
      return 400;
    case 10:  // ABORTED
      return 409;
    case 11:  // OUT_OF_RANGE
      return 400;
    case 12:  // UNIMPLEMENTED
      return 501;
    case 13:  // INTERNAL
      return 500;
    case 14:  // UNAVAILABLE
      return 503;
    case 15:  // DATA_LOSS
      return 500;
    case 16:  // UNAUTHENTICATED
      return 401;
    default:
      return 500;
  }
}

}  // namespace banditd::service
