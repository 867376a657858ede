#include "server/ingest/record.h"

#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "banditd/v1/banditd.pb.h"
#include "google/protobuf/util/json_util.h"
#include "server/ingest/json_event.h"
#include "server/service/convert.h"

namespace banditd::ingest {
namespace {

enum class Message { kUnknown, kEvent, kRequest };

absl::StatusOr<Format> FormatOf(const RecordHeaders& headers,
                                Format default_format) {
  if (headers.content_type.empty()) return default_format;
  // Parameters ("; charset=utf-8") and case do not matter.
  const absl::string_view type = absl::StripAsciiWhitespace(
      headers.content_type.substr(0, headers.content_type.find(';')));
  if (absl::EqualsIgnoreCase(type, "application/json")) return Format::kJson;
  if (absl::EqualsIgnoreCase(type, "application/x-protobuf") ||
      absl::EqualsIgnoreCase(type, "application/protobuf") ||
      absl::EqualsIgnoreCase(type, "application/octet-stream")) {
    return Format::kBinary;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "header ", kContentTypeHeader, ": \"", headers.content_type,
      "\" is neither application/json nor application/x-protobuf"));
}

absl::StatusOr<Message> MessageOf(const RecordHeaders& headers) {
  absl::string_view name = headers.message;
  if (name.empty()) return Message::kUnknown;
  absl::ConsumePrefix(&name, "banditd.v1.");
  if (name == "FeedbackEvent") return Message::kEvent;
  if (name == "FeedbackRequest") return Message::kRequest;
  return absl::InvalidArgumentError(
      absl::StrCat("header ", kMessageHeader, ": \"", headers.message,
                   "\" is neither FeedbackEvent nor FeedbackRequest"));
}

absl::Status ParseJson(absl::string_view payload, Message message,
                       v1::FeedbackRequest* request) {
  // The common records take the fast path; protobuf's parser decides the
  // rest (and words their errors).
  if (ParseFeedbackJson(payload,
                        message == Message::kEvent     ? JsonShape::kEvent
                        : message == Message::kRequest ? JsonShape::kRequest
                                                       : JsonShape::kEither,
                        request)) {
    return absl::OkStatus();
  }
  request->Clear();
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto parse = [&](google::protobuf::Message* out) {
    return google::protobuf::util::JsonStringToMessage(
        google::protobuf::StringPiece(payload.data(), payload.size()), out,
        options);
  };
  if (message != Message::kRequest) {
    // One event is the common record; a batch is tried when that fails.
    const auto event = parse(request->add_events());
    if (event.ok()) return absl::OkStatus();
    request->Clear();
    if (message == Message::kEvent) {
      return absl::InvalidArgumentError(
          absl::StrCat("payload: not a FeedbackEvent in JSON: ",
                       event.message().ToString()));
    }
    if (!absl::StrContains(payload, "\"events\"")) {
      return absl::InvalidArgumentError(absl::StrCat(
          "payload: not a FeedbackEvent or FeedbackRequest in JSON: ",
          event.message().ToString()));
    }
  }
  if (const auto status = parse(request); !status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("payload: not a FeedbackRequest in JSON: ",
                     status.message().ToString()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Format> ParseFormat(absl::string_view name) {
  if (name == "json") return Format::kJson;
  if (name == "binary") return Format::kBinary;
  return absl::InvalidArgumentError(
      absl::StrCat("format must be json or binary, not \"", name, "\""));
}

struct RecordDecoder::Scratch {
  v1::FeedbackRequest request;
};

RecordDecoder::RecordDecoder(Format default_format,
                             const service::DecisionCache* decisions)
    : default_format_(default_format),
      decisions_(decisions),
      scratch_(std::make_unique<Scratch>()) {}

RecordDecoder::~RecordDecoder() = default;

absl::StatusOr<core::FeedbackBatch> DecodeRecord(
    absl::string_view payload, const RecordHeaders& headers,
    Format default_format, const service::DecisionCache* decisions) {
  return RecordDecoder(default_format, decisions).Decode(payload, headers);
}

absl::StatusOr<core::FeedbackBatch> RecordDecoder::Decode(
    absl::string_view payload, const RecordHeaders& headers) {
  absl::StatusOr<Format> format = FormatOf(headers, default_format_);
  if (!format.ok()) return format.status();
  absl::StatusOr<Message> message = MessageOf(headers);
  if (!message.ok()) return message.status();
  v1::FeedbackRequest& request = scratch_->request;
  request.Clear();
  if (*format == Format::kJson) {
    if (absl::Status s = ParseJson(payload, *message, &request); !s.ok()) {
      return s;
    }
  } else if (*message == Message::kRequest) {
    if (!request.ParseFromArray(payload.data(),
                                static_cast<int>(payload.size()))) {
      return absl::InvalidArgumentError(
          "payload: not a binary FeedbackRequest");
    }
  } else if (!request.add_events()->ParseFromArray(
                 payload.data(), static_cast<int>(payload.size()))) {
    return absl::InvalidArgumentError("payload: not a binary FeedbackEvent");
  }
  if (request.events_size() == 0) {
    return absl::InvalidArgumentError(
        "payload: a FeedbackRequest without events");
  }
  return service::FeedbackFromProto(request, decisions_);
}

}  // namespace banditd::ingest
