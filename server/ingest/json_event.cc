#include "server/ingest/json_event.h"

#include <cfloat>
#include <cmath>
#include <cstdint>

#include "absl/strings/numbers.h"

namespace banditd::ingest {
namespace {

enum Field {
  kRoomId,
  kSegment,
  kContextItems,
  kArmId,
  kViews,
  kClicks,
  kReward,
  kEventId,
  kDecisionId,
  kFeatures,
  kUnknown,
};

// Both names protobuf's parser accepts: the JSON (lowerCamel) name and the
// proto field name.
Field FieldOf(absl::string_view key) {
  if (key == "roomId" || key == "room_id") return kRoomId;
  if (key == "armId" || key == "arm_id") return kArmId;
  if (key == "views") return kViews;
  if (key == "clicks") return kClicks;
  if (key == "reward") return kReward;
  if (key == "segment") return kSegment;
  if (key == "eventId" || key == "event_id") return kEventId;
  if (key == "decisionId" || key == "decision_id") return kDecisionId;
  if (key == "contextItems" || key == "context_items") return kContextItems;
  if (key == "features") return kFeatures;
  return kUnknown;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// At most 18 digits: any such integer fits in int64 and converts to a
// double exactly as protobuf's parser converts it.
constexpr int kMaxDigits = 18;

class Parser {
 public:
  explicit Parser(absl::string_view json)
      : p_(json.data()), end_(json.data() + json.size()) {}

  bool Consume(char c) {
    SkipSpace();
    if (p_ < end_ && *p_ == c) {
      ++p_;
      return true;
    }
    return false;
  }

  bool AtEnd() {
    SkipSpace();
    return p_ == end_;
  }

  // A string of printable ASCII without escapes.
  bool String(absl::string_view* out) {
    if (!Consume('"')) return false;
    const char* start = p_;
    for (; p_ < end_; ++p_) {
      const unsigned char c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        *out = absl::string_view(start, p_ - start);
        ++p_;
        return true;
      }
      if (c < 0x20 || c >= 0x7f || c == '\\') return false;
    }
    return false;
  }

  // A JSON integer, bare or quoted: -?(0|[1-9][0-9]*), up to 18 digits.
  bool Int64(int64_t* out) {
    SkipSpace();
    const bool quoted = p_ < end_ && *p_ == '"';
    if (quoted) ++p_;
    absl::string_view text;
    bool integer = false;
    if (!Number(&text, &integer) || !integer) return false;
    if (quoted && (p_ == end_ || *p_++ != '"')) return false;
    return absl::SimpleAtoi(text, out);
  }

  // A bare JSON number whose value is finite and normal (or zero).
  bool Double(double* out) {
    SkipSpace();
    absl::string_view text;
    bool integer = false;
    if (!Number(&text, &integer)) return false;
    if (integer) {
      // Protobuf's parser reads an integer as int64 and converts it.
      int64_t i = 0;
      if (!absl::SimpleAtoi(text, &i)) return false;
      *out = static_cast<double>(i);
      return true;
    }
    if (!absl::SimpleAtod(text, out) || !std::isfinite(*out)) return false;
    // Underflow (to zero or a subnormal) is left to protobuf's parser.
    if (std::fabs(*out) < DBL_MIN) {
      for (char c : text) {
        if (c == 'e' || c == 'E') break;
        if (c >= '1' && c <= '9') return false;
      }
    }
    return true;
  }

 private:
  void SkipSpace() {
    while (p_ < end_ &&
           (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) {
      ++p_;
    }
  }

  // JSON's number grammar; `integer` when it has no fraction or exponent.
  bool Number(absl::string_view* text, bool* integer) {
    const char* start = p_;
    if (p_ < end_ && *p_ == '-') ++p_;
    const char* digits = p_;
    if (p_ < end_ && *p_ == '0') {
      ++p_;
    } else if (p_ < end_ && *p_ >= '1' && *p_ <= '9') {
      while (p_ < end_ && IsDigit(*p_)) ++p_;
    } else {
      return false;
    }
    const bool long_integer = p_ - digits > kMaxDigits;
    *integer = true;
    if (p_ < end_ && *p_ == '.') {
      ++p_;
      *integer = false;
      if (p_ == end_ || !IsDigit(*p_)) return false;
      while (p_ < end_ && IsDigit(*p_)) ++p_;
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      ++p_;
      *integer = false;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (p_ == end_ || !IsDigit(*p_)) return false;
      while (p_ < end_ && IsDigit(*p_)) ++p_;
    }
    if (*integer && long_integer) return false;
    *text = absl::string_view(start, p_ - start);
    return true;
  }

  const char* p_;
  const char* const end_;
};

template <typename T, typename Add>
bool Array(Parser& parser, bool (Parser::*element)(T*), Add add) {
  if (!parser.Consume('[')) return false;
  if (parser.Consume(']')) return true;
  do {
    T value;
    if (!(parser.*element)(&value)) return false;
    add(value);
  } while (parser.Consume(','));
  return parser.Consume(']');
}

bool SetString(Parser& parser, std::string* field) {
  absl::string_view value;
  if (!parser.String(&value)) return false;
  field->assign(value.data(), value.size());
  return true;
}

bool Member(Parser& parser, Field field, v1::FeedbackEvent* e) {
  switch (field) {
    case kRoomId:
      return SetString(parser, e->mutable_room_id());
    case kSegment:
      return SetString(parser, e->mutable_segment());
    case kArmId:
      return SetString(parser, e->mutable_arm_id());
    case kEventId:
      return SetString(parser, e->mutable_event_id());
    case kDecisionId:
      return SetString(parser, e->mutable_decision_id());
    case kContextItems:
      return Array<absl::string_view>(
          parser, &Parser::String, [e](absl::string_view v) {
            e->add_context_items()->assign(v.data(), v.size());
          });
    case kViews:
    case kClicks: {
      int64_t value = 0;
      if (!parser.Int64(&value)) return false;
      field == kViews ? e->set_views(value) : e->set_clicks(value);
      return true;
    }
    case kReward: {
      double value = 0;
      if (!parser.Double(&value)) return false;
      e->set_reward(value);
      return true;
    }
    case kFeatures:
      return Array<double>(parser, &Parser::Double,
                           [e](double v) { e->add_features(v); });
    case kUnknown:
      break;
  }
  return false;
}

bool Event(Parser& parser, v1::FeedbackEvent* e) {
  if (!parser.Consume('{')) return false;
  if (parser.Consume('}')) return true;
  uint32_t seen = 0;
  do {
    absl::string_view key;
    if (!parser.String(&key) || !parser.Consume(':')) return false;
    const Field field = FieldOf(key);
    if (field == kUnknown || (seen & (1u << field)) != 0) return false;
    seen |= 1u << field;
    if (!Member(parser, field, e)) return false;
  } while (parser.Consume(','));
  return parser.Consume('}');
}

bool Request(Parser& parser, v1::FeedbackRequest* request) {
  absl::string_view key;
  if (!parser.Consume('{') || !parser.String(&key) || key != "events" ||
      !parser.Consume(':') || !parser.Consume('[')) {
    return false;
  }
  // An empty list is left to protobuf's parser (and DecodeRecord's error).
  do {
    if (!Event(parser, request->add_events())) return false;
  } while (parser.Consume(','));
  return parser.Consume(']') && parser.Consume('}');
}

}  // namespace

bool ParseFeedbackJson(absl::string_view json, JsonShape shape,
                       v1::FeedbackRequest* request) {
  if (shape == JsonShape::kEither) {
    Parser probe(json);
    absl::string_view key;
    shape = probe.Consume('{') && probe.String(&key) && key == "events"
                ? JsonShape::kRequest
                : JsonShape::kEvent;
  }
  Parser parser(json);
  const bool ok = shape == JsonShape::kRequest
                      ? Request(parser, request)
                      : Event(parser, request->add_events());
  return ok && parser.AtEnd();
}

}  // namespace banditd::ingest
