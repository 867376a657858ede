#include "server/service/bandit_service.h"

#include <utility>

#include "server/service/convert.h"

namespace banditd::service {
namespace {

grpc::ServerUnaryReactor* FinishWith(grpc::CallbackServerContext* context,
                                     const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

}  // namespace

absl::Status BanditService::Authorize(
    const grpc::CallbackServerContext* context, Role required) const {
  if (auth_ == nullptr) return absl::OkStatus();
  return auth_->Check(*context, required);
}

grpc::ServerUnaryReactor* BanditService::Mutate(
    grpc::CallbackServerContext* context, core::Mutation mutation,
    OnApplied on_applied) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  committer_->Submit(std::move(mutation),
                     [reactor, on_applied = std::move(on_applied)](
                         absl::StatusOr<core::ApplyResult> result) mutable {
                       if (result.ok()) std::move(on_applied)(*result);
                       reactor->Finish(ToGrpcStatus(result.status()));
                     });
  return reactor;
}

grpc::ServerUnaryReactor* BanditService::CreateRoom(
    grpc::CallbackServerContext* context, const v1::CreateRoomRequest* request,
    v1::CreateRoomResponse* response) {
  if (absl::Status auth = Authorize(context, Role::kAdmin); !auth.ok()) {
    return FinishWith(context, auth);
  }
  absl::StatusOr<core::CreateRoom> create_or = CreateRoomFromProto(*request);
  if (!create_or.ok()) return FinishWith(context, create_or.status());
  core::CreateRoom create = *std::move(create_or);
  // The reply describes the room as created, not as it may be by the time
  // the reply is sent.
  core::RoomInfo created{
      create.room_id, {}, create.policy, create.decay, create.linucb};
  created.arms.reserve(create.arm_ids.size());
  for (const std::string& arm_id : create.arm_ids) {
    created.arms.push_back({arm_id, true});
  }
  return Mutate(context, std::move(create),
                [response, created = std::move(created)](
                    const core::ApplyResult&) mutable {
                  RoomToProto(created, response->mutable_room());
                });
}

grpc::ServerUnaryReactor* BanditService::GetRoom(
    grpc::CallbackServerContext* context, const v1::GetRoomRequest* request,
    v1::GetRoomResponse* response) {
  if (absl::Status auth = Authorize(context, Role::kClient); !auth.ok()) {
    return FinishWith(context, auth);
  }
  absl::StatusOr<core::RoomInfo> room = engine_->GetRoom(request->room_id());
  if (room.ok()) RoomToProto(*room, response->mutable_room());
  return FinishWith(context, room.status());
}

grpc::ServerUnaryReactor* BanditService::ListRooms(
    grpc::CallbackServerContext* context, const v1::ListRoomsRequest* request,
    v1::ListRoomsResponse* response) {
  if (absl::Status auth = Authorize(context, Role::kClient); !auth.ok()) {
    return FinishWith(context, auth);
  }
  if (request->page_size() < 0) {
    return FinishWith(context,
                      absl::InvalidArgumentError("page_size: must be >= 0"));
  }
  absl::StatusOr<std::string> after = DecodePageToken(request->page_token());
  if (!after.ok()) return FinishWith(context, after.status());
  core::RoomPage page = engine_->ListRooms(request->page_size(), *after);
  for (const core::RoomInfo& room : page.rooms) {
    RoomToProto(room, response->add_rooms());
  }
  response->set_next_page_token(EncodePageToken(page.next_after));
  return FinishWith(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* BanditService::DeleteRoom(
    grpc::CallbackServerContext* context, const v1::DeleteRoomRequest* request,
    v1::DeleteRoomResponse* response) {
  if (absl::Status auth = Authorize(context, Role::kAdmin); !auth.ok()) {
    return FinishWith(context, auth);
  }
  return Mutate(context, core::DeleteRoom{request->room_id()},
                [](const core::ApplyResult&) {});
}

grpc::ServerUnaryReactor* BanditService::ResetRoom(
    grpc::CallbackServerContext* context, const v1::ResetRoomRequest* request,
    v1::ResetRoomResponse* response) {
  if (absl::Status auth = Authorize(context, Role::kAdmin); !auth.ok()) {
    return FinishWith(context, auth);
  }
  return Mutate(context, core::ResetRoom{request->room_id()},
                [](const core::ApplyResult&) {});
}

grpc::ServerUnaryReactor* BanditService::AddArms(
    grpc::CallbackServerContext* context, const v1::AddArmsRequest* request,
    v1::AddArmsResponse* response) {
  if (absl::Status auth = Authorize(context, Role::kAdmin); !auth.ok()) {
    return FinishWith(context, auth);
  }
  core::AddArms add{request->room_id(),
                    {request->arm_ids().begin(), request->arm_ids().end()}};
  return Mutate(
      context, std::move(add),
      [this, response, room_id = request->room_id()](const core::ApplyResult&) {
        absl::StatusOr<core::RoomInfo> room = engine_->GetRoom(room_id);
        if (room.ok()) RoomToProto(*room, response->mutable_room());
      });
}

grpc::ServerUnaryReactor* BanditService::RemoveArm(
    grpc::CallbackServerContext* context, const v1::RemoveArmRequest* request,
    v1::RemoveArmResponse* response) {
  if (absl::Status auth = Authorize(context, Role::kAdmin); !auth.ok()) {
    return FinishWith(context, auth);
  }
  return Mutate(context, core::RemoveArm{request->room_id(), request->arm_id()},
                [](const core::ApplyResult&) {});
}

grpc::ServerUnaryReactor* BanditService::SetArmEnabled(
    grpc::CallbackServerContext* context,
    const v1::SetArmEnabledRequest* request,
    v1::SetArmEnabledResponse* response) {
  if (absl::Status auth = Authorize(context, Role::kAdmin); !auth.ok()) {
    return FinishWith(context, auth);
  }
  return Mutate(context,
                core::SetArmEnabled{request->room_id(), request->arm_id(),
                                    request->enabled()},
                [response, arm_id = request->arm_id(),
                 enabled = request->enabled()](const core::ApplyResult&) {
                  response->mutable_arm()->set_arm_id(arm_id);
                  response->mutable_arm()->set_enabled(enabled);
                });
}

grpc::ServerUnaryReactor* BanditService::Sample(
    grpc::CallbackServerContext* context, const v1::SampleRequest* request,
    v1::SampleResponse* response) {
  if (absl::Status auth = Authorize(context, Role::kClient); !auth.ok()) {
    return FinishWith(context, auth);
  }
  if (absl::Status held = committer_->CheckRoomHeld(request->room_id());
      !held.ok()) {
    return FinishWith(context, held);
  }
  absl::StatusOr<core::PolicyOverride> policy =
      OverrideFromProto(request->policy());
  if (!policy.ok()) return FinishWith(context, policy.status());
  core::SampleQuery query = SampleFromProto(*request, *policy);
  absl::StatusOr<core::SampleResult> result = engine_->Sample(query);
  if (!result.ok()) return FinishWith(context, result.status());
  if (decisions_ != nullptr) {
    Decision decision{std::move(query.room_id),
                      std::move(query.segment),
                      std::move(query.context_items),
                      std::move(query.features),
                      {}};
    decision.arm_ids.reserve(result->arms.size());
    for (const core::ScoredArm& arm : result->arms) {
      decision.arm_ids.push_back(arm.arm_id);
    }
    response->set_decision_id(decisions_->Put(std::move(decision)));
  }
  response->mutable_arms()->Reserve(static_cast<int>(result->arms.size()));
  for (const core::ScoredArm& arm : result->arms) {
    v1::ScoredArm* out = response->add_arms();
    out->set_arm_id(arm.arm_id);
    out->set_score(arm.score);
    CountsToProto(arm.counts, out->mutable_counts());
  }
  PolicyToProto(result->policy, response->mutable_policy());
  return FinishWith(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* BanditService::Feedback(
    grpc::CallbackServerContext* context, const v1::FeedbackRequest* request,
    v1::FeedbackResponse* response) {
  if (absl::Status auth = Authorize(context, Role::kClient); !auth.ok()) {
    return FinishWith(context, auth);
  }
  absl::StatusOr<core::FeedbackBatch> batch =
      FeedbackFromProto(*request, decisions_);
  if (!batch.ok()) return FinishWith(context, batch.status());
  return Mutate(context, *std::move(batch),
                [response](const core::ApplyResult& result) {
                  response->set_applied_events(result.applied_events);
                  response->set_duplicate_events(result.duplicate_events);
                });
}

grpc::ServerUnaryReactor* BanditService::GetStats(
    grpc::CallbackServerContext* context, const v1::GetStatsRequest* request,
    v1::GetStatsResponse* response) {
  if (absl::Status auth = Authorize(context, Role::kClient); !auth.ok()) {
    return FinishWith(context, auth);
  }
  if (absl::Status held = committer_->CheckRoomHeld(request->room_id());
      !held.ok()) {
    return FinishWith(context, held);
  }
  // Read before the stats, so they reflect at least this much of the log.
  const uint64_t applied_sequence = committer_->applied_sequence();
  absl::StatusOr<core::Stats> stats = engine_->GetStats(
      request->room_id(), request->segment(), request->include_context());
  if (stats.ok()) {
    StatsToProto(*stats, response);
    response->set_applied_sequence(applied_sequence);
  }
  return FinishWith(context, stats.status());
}

}  // namespace banditd::service
