#ifndef BANDITD_SERVER_INGEST_JSON_EVENT_H_
#define BANDITD_SERVER_INGEST_JSON_EVENT_H_

#include "absl/strings/string_view.h"
#include "banditd/v1/banditd.pb.h"

namespace banditd::ingest {

// What a JSON record may hold.
enum class JsonShape {
  kEvent,    // One FeedbackEvent.
  kRequest,  // A FeedbackRequest: {"events": [...]}.
  kEither,   // A FeedbackRequest if its only key is "events", else an event.
};

// A fast path for the common JSON records: parses `json` into `request`
// (one event appended for an event, the events of a request) and returns
// true when it is a plain object of FeedbackEvent's fields (either name
// style) holding ASCII strings without escapes, integers (bare or quoted)
// and finite numbers, each field at most once. Anything else (escapes,
// non-ASCII, null, unknown fields, exotic numbers, malformed JSON) returns
// false, with `request` in an unspecified state: protobuf's JSON parser
// (JsonStringToMessage) then decides and words the error. Where this
// returns true, the result equals that parser's
// (tests/ingest/json_event_test.cc compares the two); it costs a fraction
// of it, which resolves the message type anew for every record.
bool ParseFeedbackJson(absl::string_view json, JsonShape shape,
                       v1::FeedbackRequest* request);

}  // namespace banditd::ingest

#endif  // BANDITD_SERVER_INGEST_JSON_EVENT_H_
