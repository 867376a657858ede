#include "server/store/log_codec.h"

#include <bit>
#include <cstring>
#include <optional>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "banditd/internal/v1/log.pb.h"
#include "google/protobuf/arena.h"
#include "google/protobuf/io/coded_stream.h"
#include "server/store/proto_convert.h"

namespace banditd::store {
namespace {

namespace pb = ::banditd::internal::v1;

template <typename Repeated>
std::vector<std::string> ToVector(Repeated&& repeated) {
  return std::vector<std::string>(std::make_move_iterator(repeated.begin()),
                                  std::make_move_iterator(repeated.end()));
}

struct Encoder {
  pb::LogRecord* record;

  void operator()(const core::CreateRoom& m) const {
    pb::CreateRoom* out = record->mutable_create_room();
    out->set_room_id(m.room_id);
    out->mutable_arm_ids()->Add(m.arm_ids.begin(), m.arm_ids.end());
    PolicyToProto(m.policy, out->mutable_policy());
    DecayToProto(m.decay, out->mutable_decay());
    LinUcbToProto(m.linucb, out->mutable_linucb());
  }
  void operator()(const core::DeleteRoom& m) const {
    record->mutable_delete_room()->set_room_id(m.room_id);
  }
  void operator()(const core::ResetRoom& m) const {
    record->mutable_reset_room()->set_room_id(m.room_id);
  }
  void operator()(const core::AddArms& m) const {
    pb::AddArms* out = record->mutable_add_arms();
    out->set_room_id(m.room_id);
    out->mutable_arm_ids()->Add(m.arm_ids.begin(), m.arm_ids.end());
  }
  void operator()(const core::RemoveArm& m) const {
    pb::RemoveArm* out = record->mutable_remove_arm();
    out->set_room_id(m.room_id);
    out->set_arm_id(m.arm_id);
  }
  void operator()(const core::SetArmEnabled& m) const {
    pb::SetArmEnabled* out = record->mutable_set_arm_enabled();
    out->set_room_id(m.room_id);
    out->set_arm_id(m.arm_id);
    out->set_enabled(m.enabled);
  }
  void operator()(const core::UpdateRoom& m) const {
    pb::UpdateRoom* out = record->mutable_update_room();
    out->set_room_id(m.room_id);
    PolicyPatchToProto(m.policy, out->mutable_policy());
    if (m.half_life_events) out->set_half_life_events(*m.half_life_events);
    if (m.half_life_seconds) out->set_half_life_seconds(*m.half_life_seconds);
  }
  void operator()(const core::ResetArm& m) const {
    pb::ResetArm* out = record->mutable_reset_arm();
    out->set_room_id(m.room_id);
    out->set_arm_id(m.arm_id);
    if (m.segment) out->set_segment(*m.segment);
  }
  void operator()(const core::FeedbackBatch& m) const {
    pb::FeedbackBatch* out = record->mutable_feedback();
    out->mutable_events()->Reserve(static_cast<int>(m.events.size()));
    for (const core::FeedbackEvent& e : m.events) {
      pb::FeedbackEvent* event = out->add_events();
      event->set_room_id(e.room_id);
      event->set_segment(e.segment);
      event->mutable_context_items()->Add(e.context_items.begin(),
                                          e.context_items.end());
      event->set_arm_id(e.arm_id);
      event->set_views(e.views);
      event->set_clicks(e.clicks);
      if (e.reward.has_value()) event->set_reward(*e.reward);
      event->set_event_id(e.event_id);
      event->mutable_features()->Add(e.features.begin(), e.features.end());
    }
    if (m.source.has_value()) {
      pb::SourceRange* source = out->mutable_source();
      source->set_topic(m.source->topic);
      source->set_partition(m.source->partition);
      source->set_from_offset(m.source->from_offset);
      source->set_next_offset(m.source->next_offset);
    }
    if (m.logged_at_micros != 0) {
      record->set_logged_at_micros(m.logged_at_micros);
    }
  }
};

// Feedback batches are most of the log, so they are written straight in the
// protobuf wire format instead of building a LogRecord message first (which
// costs several allocations per event). The bytes are exactly those that
// LogRecord::SerializeAsString would produce; log_codec_test checks this.
namespace wire {

using ::google::protobuf::io::CodedOutputStream;

constexpr uint8_t Tag(int field, int type) {
  return static_cast<uint8_t>(field << 3 | type);
}
constexpr int kVarint = 0, kFixed64 = 1, kLength = 2;

size_t StringSize(const std::string& s) {
  return 1 + CodedOutputStream::VarintSize64(s.size()) + s.size();
}
size_t NonEmptyStringSize(const std::string& s) {
  return s.empty() ? 0 : StringSize(s);
}
size_t VarintFieldSize(int64_t v) {
  return v == 0 ? 0
                : 1 + CodedOutputStream::VarintSize64(static_cast<uint64_t>(v));
}

size_t EventSize(const core::FeedbackEvent& e) {
  size_t size = NonEmptyStringSize(e.room_id) + NonEmptyStringSize(e.segment) +
                NonEmptyStringSize(e.arm_id) + NonEmptyStringSize(e.event_id) +
                VarintFieldSize(e.views) + VarintFieldSize(e.clicks);
  // Repeated strings are written even when empty.
  for (const std::string& item : e.context_items) size += StringSize(item);
  if (e.reward.has_value()) size += 1 + 8;
  if (!e.features.empty()) {
    const size_t bytes = 8 * e.features.size();
    size += 1 + CodedOutputStream::VarintSize64(bytes) + bytes;
  }
  return size;
}

uint8_t* WriteString(int field, const std::string& s, uint8_t* out) {
  *out++ = Tag(field, kLength);
  out = CodedOutputStream::WriteVarint64ToArray(s.size(), out);
  std::memcpy(out, s.data(), s.size());
  return out + s.size();
}
uint8_t* WriteNonEmptyString(int field, const std::string& s, uint8_t* out) {
  return s.empty() ? out : WriteString(field, s, out);
}
uint8_t* WriteVarintField(int field, int64_t v, uint8_t* out) {
  if (v == 0) return out;
  *out++ = Tag(field, kVarint);
  return CodedOutputStream::WriteVarint64ToArray(static_cast<uint64_t>(v), out);
}
uint8_t* WriteDouble(double value, uint8_t* out) {
  uint64_t bits;
  static_assert(sizeof(bits) == sizeof(double));
  std::memcpy(&bits, &value, sizeof(bits));
  return CodedOutputStream::WriteLittleEndian64ToArray(bits, out);
}

// LogRecord.logged_at_micros: the last field, so appending it to an encoded
// record sets it (protobuf merges concatenated messages).
constexpr int kLoggedAtField = pb::LogRecord::kLoggedAtMicrosFieldNumber;
static_assert(kLoggedAtField == 16, "two-byte tag below");

void AppendLoggedAt(int64_t micros, std::string* record) {
  uint8_t buffer[2 + 10];
  uint8_t* p = CodedOutputStream::WriteVarint32ToArray(
      static_cast<uint32_t>(kLoggedAtField << 3 | kVarint), buffer);
  p = CodedOutputStream::WriteVarint64ToArray(static_cast<uint64_t>(micros), p);
  record->append(reinterpret_cast<const char*>(buffer), p - buffer);
}

std::string EncodeFeedback(const core::FeedbackBatch& batch) {
  std::vector<size_t> sizes;
  sizes.reserve(batch.events.size());
  size_t body = 0;
  for (const core::FeedbackEvent& e : batch.events) {
    sizes.push_back(EventSize(e));
    body += 1 + CodedOutputStream::VarintSize64(sizes.back()) + sizes.back();
  }
  // LogRecord.feedback (field 7) holds FeedbackBatch.events (field 1).
  const size_t total = 1 + CodedOutputStream::VarintSize64(body) + body;
  std::string out(total, '\0');
  uint8_t* p = reinterpret_cast<uint8_t*>(out.data());
  *p++ = Tag(pb::LogRecord::kFeedbackFieldNumber, kLength);
  p = CodedOutputStream::WriteVarint64ToArray(body, p);
  for (size_t i = 0; i < batch.events.size(); ++i) {
    const core::FeedbackEvent& e = batch.events[i];
    *p++ = Tag(pb::FeedbackBatch::kEventsFieldNumber, kLength);
    p = CodedOutputStream::WriteVarint64ToArray(sizes[i], p);
    p = WriteNonEmptyString(1, e.room_id, p);
    p = WriteNonEmptyString(2, e.segment, p);
    for (const std::string& item : e.context_items) p = WriteString(3, item, p);
    p = WriteNonEmptyString(4, e.arm_id, p);
    p = WriteVarintField(5, e.views, p);
    p = WriteVarintField(6, e.clicks, p);
    if (e.reward.has_value()) {
      *p++ = Tag(7, kFixed64);
      p = WriteDouble(*e.reward, p);
    }
    p = WriteNonEmptyString(8, e.event_id, p);
    if (!e.features.empty()) {
      *p++ = Tag(9, kLength);
      p = CodedOutputStream::WriteVarint64ToArray(8 * e.features.size(), p);
      for (double f : e.features) p = WriteDouble(f, p);
    }
  }
  if (batch.logged_at_micros != 0) {
    AppendLoggedAt(batch.logged_at_micros, &out);
  }
  return out;
}

// Reads a FeedbackBatch record written by EncodeFeedback (or by protobuf).
// Returns false on malformed input or anything unexpected, and the caller
// then falls back to the generated parser, which also handles unknown
// fields from newer writers.
class Reader {
 public:
  explicit Reader(std::string_view bytes)
      : p_(reinterpret_cast<const uint8_t*>(bytes.data())),
        end_(p_ + bytes.size()) {}

  bool done() const { return p_ == end_; }

  bool Varint(uint64_t* value) {
    uint64_t result = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ == end_) return false;
      const uint8_t byte = *p_++;
      result |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) {
        *value = result;
        return true;
      }
    }
    return false;
  }
  bool Bytes(std::string_view* out) {
    uint64_t size;
    if (!Varint(&size) || size > static_cast<uint64_t>(end_ - p_)) return false;
    *out = std::string_view(reinterpret_cast<const char*>(p_), size);
    p_ += size;
    return true;
  }
  bool Fixed64(uint64_t* out) {
    if (end_ - p_ < 8) return false;
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = v << 8 | p_[i];
    p_ += 8;
    *out = v;
    return true;
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

bool DecodeEvent(std::string_view bytes, core::FeedbackEvent* e) {
  Reader in(bytes);
  while (!in.done()) {
    uint64_t tag;
    if (!in.Varint(&tag)) return false;
    std::string_view text;
    uint64_t number;
    switch (tag) {
      case Tag(1, kLength):
        if (!in.Bytes(&text)) return false;
        e->room_id.assign(text);
        break;
      case Tag(2, kLength):
        if (!in.Bytes(&text)) return false;
        e->segment.assign(text);
        break;
      case Tag(3, kLength):
        if (!in.Bytes(&text)) return false;
        e->context_items.emplace_back(text);
        break;
      case Tag(4, kLength):
        if (!in.Bytes(&text)) return false;
        e->arm_id.assign(text);
        break;
      case Tag(5, kVarint):
        if (!in.Varint(&number)) return false;
        e->views = static_cast<int64_t>(number);
        break;
      case Tag(6, kVarint):
        if (!in.Varint(&number)) return false;
        e->clicks = static_cast<int64_t>(number);
        break;
      case Tag(7, kFixed64): {
        if (!in.Fixed64(&number)) return false;
        double reward;
        std::memcpy(&reward, &number, sizeof(reward));
        e->reward = reward;
        break;
      }
      case Tag(8, kLength):
        if (!in.Bytes(&text)) return false;
        e->event_id.assign(text);
        break;
      case Tag(9, kLength): {
        if (!in.Bytes(&text) || text.size() % 8 != 0) return false;
        static_assert(std::endian::native == std::endian::little,
                      "packed doubles are copied as they are");
        const size_t n = text.size() / 8;
        e->features.resize(e->features.size() + n);
        std::memcpy(e->features.data() + e->features.size() - n, text.data(),
                    text.size());
        break;
      }
      default:
        return false;
    }
  }
  return true;
}

std::optional<core::FeedbackBatch> DecodeFeedback(std::string_view bytes) {
  Reader record(bytes);
  uint64_t tag;
  std::string_view body;
  if (!record.Varint(&tag) ||
      tag != Tag(pb::LogRecord::kFeedbackFieldNumber, kLength) ||
      !record.Bytes(&body)) {
    return std::nullopt;
  }
  core::FeedbackBatch batch;
  if (!record.done()) {
    uint64_t micros;
    if (!record.Varint(&tag) || tag != (kLoggedAtField << 3 | kVarint) ||
        !record.Varint(&micros) || !record.done()) {
      return std::nullopt;
    }
    batch.logged_at_micros = static_cast<int64_t>(micros);
  }
  Reader events(body);
  while (!events.done()) {
    std::string_view event;
    if (!events.Varint(&tag) ||
        tag != Tag(pb::FeedbackBatch::kEventsFieldNumber, kLength) ||
        !events.Bytes(&event) ||
        !DecodeEvent(event, &batch.events.emplace_back())) {
      return std::nullopt;
    }
  }
  return batch;
}

}  // namespace wire

}  // namespace

std::string EncodeMutation(const core::Mutation& mutation) {
  // Batches consumed from Kafka carry their source range: the generated
  // code writes those (the fast path knows only events).
  if (const auto* batch = std::get_if<core::FeedbackBatch>(&mutation);
      batch != nullptr && !batch->source.has_value()) {
    return wire::EncodeFeedback(*batch);
  }
  pb::LogRecord record;
  std::visit(Encoder{&record}, mutation);
  return record.SerializeAsString();
}

void SetLoggedAtMicros(int64_t micros, std::string* record) {
  if (micros != 0) wire::AppendLoggedAt(micros, record);
}

std::string EncodeMutationWithProtobuf(const core::Mutation& mutation) {
  pb::LogRecord record;
  std::visit(Encoder{&record}, mutation);
  return record.SerializeAsString();
}

absl::StatusOr<core::Mutation> DecodeMutation(std::string_view bytes) {
  if (std::optional<core::FeedbackBatch> batch = wire::DecodeFeedback(bytes)) {
    return *std::move(batch);
  }
  return DecodeMutationWithProtobuf(bytes);
}

absl::StatusOr<core::Mutation> DecodeMutationWithProtobuf(
    std::string_view bytes) {
  // An arena makes the many small allocations of a large batch cheap.
  google::protobuf::ArenaOptions arena_options;
  arena_options.start_block_size = std::min<size_t>(bytes.size() * 4, 1 << 20);
  arena_options.max_block_size = 1 << 22;
  google::protobuf::Arena arena(arena_options);
  pb::LogRecord& record =
      *google::protobuf::Arena::CreateMessage<pb::LogRecord>(&arena);
  if (!record.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError("log record does not parse");
  }
  switch (record.mutation_case()) {
    case pb::LogRecord::kCreateRoom: {
      pb::CreateRoom& in = *record.mutable_create_room();
      core::CreateRoom out;
      out.room_id = std::move(*in.mutable_room_id());
      out.arm_ids = ToVector(*in.mutable_arm_ids());
      absl::StatusOr<core::PolicyParams> policy = PolicyFromProto(in.policy());
      if (!policy.ok()) return policy.status();
      out.policy = *policy;
      out.decay = DecayFromProto(in.decay());
      out.linucb = LinUcbFromProto(in.linucb());
      return out;
    }
    case pb::LogRecord::kDeleteRoom:
      return core::DeleteRoom{
          std::move(*record.mutable_delete_room()->mutable_room_id())};
    case pb::LogRecord::kResetRoom:
      return core::ResetRoom{
          std::move(*record.mutable_reset_room()->mutable_room_id())};
    case pb::LogRecord::kAddArms: {
      pb::AddArms& in = *record.mutable_add_arms();
      return core::AddArms{std::move(*in.mutable_room_id()),
                           ToVector(*in.mutable_arm_ids())};
    }
    case pb::LogRecord::kRemoveArm: {
      pb::RemoveArm& in = *record.mutable_remove_arm();
      return core::RemoveArm{std::move(*in.mutable_room_id()),
                             std::move(*in.mutable_arm_id())};
    }
    case pb::LogRecord::kSetArmEnabled: {
      pb::SetArmEnabled& in = *record.mutable_set_arm_enabled();
      return core::SetArmEnabled{std::move(*in.mutable_room_id()),
                                 std::move(*in.mutable_arm_id()), in.enabled()};
    }
    case pb::LogRecord::kFeedback: {
      core::FeedbackBatch out;
      auto& events = *record.mutable_feedback()->mutable_events();
      out.events.reserve(events.size());
      for (pb::FeedbackEvent& in : events) {
        core::FeedbackEvent& e = out.events.emplace_back();
        e.room_id = std::move(*in.mutable_room_id());
        e.segment = std::move(*in.mutable_segment());
        e.context_items = ToVector(*in.mutable_context_items());
        e.arm_id = std::move(*in.mutable_arm_id());
        e.views = in.views();
        e.clicks = in.clicks();
        if (in.has_reward()) e.reward = in.reward();
        e.event_id = std::move(*in.mutable_event_id());
        e.features.assign(in.features().begin(), in.features().end());
      }
      if (record.feedback().has_source()) {
        const pb::SourceRange& in = record.feedback().source();
        out.source = core::SourceRange{in.topic(), in.partition(),
                                       in.from_offset(), in.next_offset()};
      }
      out.logged_at_micros = record.logged_at_micros();
      return out;
    }
    case pb::LogRecord::kUpdateRoom: {
      pb::UpdateRoom& in = *record.mutable_update_room();
      core::UpdateRoom out;
      out.room_id = std::move(*in.mutable_room_id());
      absl::StatusOr<core::PolicyOverride> policy =
          PolicyPatchFromProto(in.policy());
      if (!policy.ok()) return policy.status();
      out.policy = *policy;
      if (in.has_half_life_events()) {
        out.half_life_events = in.half_life_events();
      }
      if (in.has_half_life_seconds()) {
        out.half_life_seconds = in.half_life_seconds();
      }
      return out;
    }
    case pb::LogRecord::kResetArm: {
      pb::ResetArm& in = *record.mutable_reset_arm();
      core::ResetArm out{std::move(*in.mutable_room_id()),
                         std::move(*in.mutable_arm_id()),
                         std::nullopt};
      if (in.has_segment()) out.segment = std::move(*in.mutable_segment());
      return out;
    }
    case pb::LogRecord::MUTATION_NOT_SET:
      break;
  }
  return absl::DataLossError(
      "log record holds no known mutation (written by a newer version?)");
}

}  // namespace banditd::store
