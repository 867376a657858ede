#include "server/store/log_codec.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "banditd/internal/v1/log.pb.h"
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
    }
  }
};

}  // namespace

std::string EncodeMutation(const core::Mutation& mutation) {
  pb::LogRecord record;
  std::visit(Encoder{&record}, mutation);
  return record.SerializeAsString();
}

absl::StatusOr<core::Mutation> DecodeMutation(std::string_view bytes) {
  pb::LogRecord record;
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
      }
      return out;
    }
    case pb::LogRecord::MUTATION_NOT_SET:
      break;
  }
  return absl::DataLossError(
      "log record holds no known mutation (written by a newer version?)");
}

}  // namespace banditd::store
