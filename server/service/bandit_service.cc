// BanditService's handlers, one per RPC: each admits the call, translates
// the request (convert.h, request_parse.h) and calls the engine or the
// committer, in a few dozen lines. Over 500 lines because there are 15
// RPCs; the call plumbing lives in unary_call.*, reads of big rooms in
// read_pool.*, exports in decision_export.*.

#include "server/service/bandit_service.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/arena.h"
#include "google/protobuf/descriptor.h"
#include "grpcpp/support/proto_buffer_writer.h"
#include "server/service/convert.h"
#include "server/service/decision_export.h"
#include "server/service/paging.h"
#include "server/service/request_parse.h"
#include "server/service/room_update.h"
#include "server/service/winner_convert.h"

namespace banditd::service {
namespace {

void FinishWith(ServiceCall* call, const absl::Status& status) {
  call->Reply(status);
}

// Runs `Handler` on the messages of an HTTP/JSON call (FindUnary).
template <typename Request, typename Response,
          void (BanditService::*Handler)(ServiceCall*, const Request*,
                                         Response*)>
struct Direct {
  static void Run(BanditService& service, ServiceCall* call,
                  const google::protobuf::Message& request,
                  google::protobuf::Message* response) {
    const auto* typed_request =
        google::protobuf::DynamicCastToGenerated<Request>(&request);
    auto* typed_response =
        google::protobuf::DynamicCastToGenerated<Response>(response);
    if (typed_request == nullptr || typed_response == nullptr) {
      return call->Reply(absl::InternalError(
          absl::StrCat("messages of the wrong types for ",
                       Request::descriptor()->full_name())));
    }
    (service.*Handler)(call, typed_request, typed_response);
  }
};

// A call of the unary method with these types. Its request and response
// live on an arena whose first block is part of the call: a small call's
// messages (and their strings) cost no allocation of their own, and are
// freed with the call in one go.
template <typename Request, typename Response>
class TypedCall final : public UnaryCall {
 public:
  using Handler = void (BanditService::*)(ServiceCall*, const Request*,
                                          Response*);
  using Requester = void (BanditService::*)(
      grpc::ServerContext*, grpc::ByteBuffer*,
      grpc::ServerAsyncResponseWriter<grpc::ByteBuffer>*,
      grpc::CompletionQueue*, grpc::ServerCompletionQueue*, void*);
  // One unary method; static.
  struct Rpc {
    std::string full_name;
    Requester request;
    Handler handler;
  };

  // Requests a call of `method` on `cq`.
  TypedCall(BanditService* service, const Rpc* method,
            grpc::ServerCompletionQueue* cq, LiveCount* live)
      : UnaryCall(live),
        service_(service),
        method_(method),
        cq_(cq),
        arena_(ArenaOn(first_block_, sizeof(first_block_))),
        request_(*google::protobuf::Arena::CreateMessage<Request>(&arena_)),
        response_(*google::protobuf::Arena::CreateMessage<Response>(&arena_)) {
    (service_->*method_->request)(&context_, &request_bytes_, &responder_, cq_,
                                  cq_, tag());
  }

 private:
  static google::protobuf::ArenaOptions ArenaOn(char* block, size_t size) {
    google::protobuf::ArenaOptions options;
    options.initial_block = block;
    options.initial_block_size = size;
    return options;
  }

  void Run() override {
    new TypedCall(service_, method_, cq_, live());
    StartReporting(service_->reporting(), method_->full_name.c_str());
    if (absl::Status parsed = ParseRequest(request_bytes_, &request_);
        !parsed.ok()) {
      return Reply(parsed);
    }
    (service_->*method_->handler)(this, &request_, &response_);
  }

  grpc::Status SerializeResponse(grpc::ByteBuffer* out) override {
    bool own_buffer = false;
    return grpc::SerializationTraits<Response>::Serialize(response_, out,
                                                          &own_buffer);
  }

  BanditService* const service_;
  const Rpc* const method_;
  grpc::ServerCompletionQueue* const cq_;
  // Room for a Sample's request and response (about 600 bytes with five
  // context items); larger calls spill into blocks the arena allocates.
  alignas(8) char first_block_[768];
  google::protobuf::Arena arena_;
  Request& request_;
  Response& response_;
};

}  // namespace

absl::Status BanditService::Authorize(absl::string_view authorization,
                                      Role required) const {
  if (auth_ == nullptr) return absl::OkStatus();
  return auth_->Check(authorization, required);
}

absl::flat_hash_set<std::string> BanditService::SelfReportingMethods() {
  absl::flat_hash_set<std::string> methods;
  const google::protobuf::ServiceDescriptor* service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
          GeneratedService::service_full_name());
  for (int i = 0; i < service->method_count(); ++i) {
    const google::protobuf::MethodDescriptor* method = service->method(i);
    if (method->client_streaming() || method->server_streaming()) continue;
    methods.insert(
        absl::StrCat("/", service->full_name(), "/", method->name()));
  }
  return methods;
}

const CallReporting* BanditService::ReportCallsTo(std::shared_ptr<RpcLog> log,
                                                  ops::Metrics* metrics) {
  absl::MutexLock lock(&reporting_mu_);
  const CallReporting* before = reporting_.load(std::memory_order_acquire);
  reportings_.push_back(
      std::make_unique<CallReporting>(CallReporting{std::move(log), metrics}));
  reporting_.store(reportings_.back().get(), std::memory_order_release);
  return before;
}

void BanditService::RequestCalls(grpc::ServerCompletionQueue* cq,
                                 QueueTag::LiveCount* live, int per_method) {
#define BANDITD_REQUEST_CALLS(Method)                                          \
  {                                                                            \
    using Call = TypedCall<v1::Method##Request, v1::Method##Response>;         \
    static const Call::Rpc* const kMethod =                                    \
        new Call::Rpc{absl::StrCat("/", GeneratedService::service_full_name(), \
                                   "/", #Method),                              \
                      &BanditService::Request##Method,                         \
                      static_cast<Call::Handler>(&BanditService::Method)};     \
    for (int i = 0; i < per_method; ++i) new Call(this, kMethod, cq, live);    \
  }
  BANDITD_UNARY_METHODS(BANDITD_REQUEST_CALLS)
#undef BANDITD_REQUEST_CALLS
  RequestDecisionExport(this, cq, live);
}

BanditService::UnaryHandler BanditService::FindUnary(
    absl::string_view method_name) {
#define BANDITD_DIRECT(Method)                                                \
  if (method_name == #Method) {                                               \
    return &Direct<v1::Method##Request, v1::Method##Response,                 \
                   static_cast<void (BanditService::*)(                       \
                       ServiceCall*, const v1::Method##Request*,              \
                       v1::Method##Response*)>(&BanditService::Method)>::Run; \
  }
  BANDITD_UNARY_METHODS(BANDITD_DIRECT)
#undef BANDITD_DIRECT
  return nullptr;
}

void BanditService::Mutate(ServiceCall* call, core::Mutation mutation,
                           OnApplied on_applied) {
  committer_->Submit(std::move(mutation),
                     [call, on_applied = std::move(on_applied)](
                         absl::StatusOr<core::ApplyResult> result) mutable {
                       if (result.ok()) std::move(on_applied)(*result);
                       call->Reply(result.status());
                     });
}

void BanditService::CreateRoom(ServiceCall* call,
                               const v1::CreateRoomRequest* request,
                               v1::CreateRoomResponse* response) {
  if (absl::Status auth = Authorize(call, Role::kAdmin); !auth.ok()) {
    return FinishWith(call, auth);
  }
  absl::StatusOr<core::CreateRoom> create_or = CreateRoomFromProto(*request);
  if (!create_or.ok()) return FinishWith(call, create_or.status());
  core::CreateRoom create = *std::move(create_or);
  // The reply describes the room as created, not as it may be by the time
  // the reply is sent, in the BASIC view: no echo of what may be a million
  // arms.
  core::RoomInfo created{
      create.room_id, {}, create.policy, create.decay, create.linucb};
  created.arm_count = static_cast<int64_t>(create.arm_ids.size());
  return Mutate(call, std::move(create),
                [response, created = std::move(created)](
                    const core::ApplyResult&) mutable {
                  RoomToProto(created, response->mutable_room());
                });
}

void BanditService::GetRoom(ServiceCall* call,
                            const v1::GetRoomRequest* request,
                            v1::GetRoomResponse* response) {
  if (absl::Status auth = Authorize(call, Role::kClient); !auth.ok()) {
    return FinishWith(call, auth);
  }
  return FinishWith(call, GetRoomPage(*engine_, *request, response));
}

void BanditService::ListRooms(ServiceCall* call,
                              const v1::ListRoomsRequest* request,
                              v1::ListRoomsResponse* response) {
  if (absl::Status auth = Authorize(call, Role::kClient); !auth.ok()) {
    return FinishWith(call, auth);
  }
  return FinishWith(call, ListRoomsPage(*engine_, *request, response));
}

void BanditService::ListArms(ServiceCall* call,
                             const v1::ListArmsRequest* request,
                             v1::ListArmsResponse* response) {
  if (absl::Status auth = Authorize(call, Role::kClient); !auth.ok()) {
    return FinishWith(call, auth);
  }
  return FinishWith(call, ListArmsPage(*engine_, *request, response));
}

void BanditService::DeleteRoom(ServiceCall* call,
                               const v1::DeleteRoomRequest* request,
                               v1::DeleteRoomResponse* response) {
  if (absl::Status auth = Authorize(call, Role::kAdmin); !auth.ok()) {
    return FinishWith(call, auth);
  }
  return Mutate(call, core::DeleteRoom{request->room_id()},
                [](const core::ApplyResult&) {});
}

void BanditService::ResetRoom(ServiceCall* call,
                              const v1::ResetRoomRequest* request,
                              v1::ResetRoomResponse* response) {
  if (absl::Status auth = Authorize(call, Role::kAdmin); !auth.ok()) {
    return FinishWith(call, auth);
  }
  return Mutate(call, core::ResetRoom{request->room_id()},
                [](const core::ApplyResult&) {});
}

void BanditService::UpdateRoom(ServiceCall* call,
                               const v1::UpdateRoomRequest* request,
                               v1::UpdateRoomResponse* response) {
  if (absl::Status auth = Authorize(call, Role::kAdmin); !auth.ok()) {
    return FinishWith(call, auth);
  }
  absl::StatusOr<core::UpdateRoom> update = UpdateRoomFromProto(*request);
  if (!update.ok()) return FinishWith(call, update.status());
  return Mutate(call, *std::move(update),
                [this, response, room_id = request->room().room_id()](
                    const core::ApplyResult&) {
                  absl::StatusOr<core::RoomInfo> room =
                      engine_->GetRoom(room_id, core::NoArms());
                  if (room.ok()) RoomToProto(*room, response->mutable_room());
                });
}

void BanditService::ResetArm(ServiceCall* call,
                             const v1::ResetArmRequest* request,
                             v1::ResetArmResponse* response) {
  if (absl::Status auth = Authorize(call, Role::kAdmin); !auth.ok()) {
    return FinishWith(call, auth);
  }
  return Mutate(call, ResetArmFromProto(*request),
                [](const core::ApplyResult&) {});
}

void BanditService::AddArms(ServiceCall* call,
                            const v1::AddArmsRequest* request,
                            v1::AddArmsResponse* response) {
  if (absl::Status auth = Authorize(call, Role::kAdmin); !auth.ok()) {
    return FinishWith(call, auth);
  }
  core::AddArms add{request->room_id(),
                    {request->arm_ids().begin(), request->arm_ids().end()}};
  return Mutate(
      call, std::move(add),
      [this, response, room_id = request->room_id()](const core::ApplyResult&) {
        // The BASIC view: arm_count, not every arm of the room.
        absl::StatusOr<core::RoomInfo> room =
            engine_->GetRoom(room_id, core::NoArms());
        if (room.ok()) RoomToProto(*room, response->mutable_room());
      });
}

void BanditService::RemoveArm(ServiceCall* call,
                              const v1::RemoveArmRequest* request,
                              v1::RemoveArmResponse* response) {
  if (absl::Status auth = Authorize(call, Role::kAdmin); !auth.ok()) {
    return FinishWith(call, auth);
  }
  return Mutate(call, core::RemoveArm{request->room_id(), request->arm_id()},
                [](const core::ApplyResult&) {});
}

void BanditService::SetArmEnabled(ServiceCall* call,
                                  const v1::SetArmEnabledRequest* request,
                                  v1::SetArmEnabledResponse* response) {
  if (absl::Status auth = Authorize(call, Role::kAdmin); !auth.ok()) {
    return FinishWith(call, auth);
  }
  return Mutate(call,
                core::SetArmEnabled{request->room_id(), request->arm_id(),
                                    request->enabled()},
                [response, arm_id = request->arm_id(),
                 enabled = request->enabled()](const core::ApplyResult&) {
                  response->mutable_arm()->set_arm_id(arm_id);
                  response->mutable_arm()->set_enabled(enabled);
                });
}

void BanditService::Sample(ServiceCall* call, const v1::SampleRequest* request,
                           v1::SampleResponse* response) {
  if (absl::Status auth = Authorize(call, Role::kClient); !auth.ok()) {
    return FinishWith(call, auth);
  }
  if (absl::Status held = committer_->CheckRoomHeld(request->room_id());
      !held.ok()) {
    return FinishWith(call, held);
  }
  // Monte Carlo propensities beyond the default 1,000 draws (up to 100,000)
  // cost up to hundreds of milliseconds.
  const bool analysis =
      request->include_propensities() && request->propensity_draws() > 1000;
  return ReadAfter(
      call, request->min_applied_sequence(), request->room_id(), analysis,
      [this, request, response] { return SampleNow(*request, response); });
}

absl::Status BanditService::SampleNow(const v1::SampleRequest& request,
                                      v1::SampleResponse* response) {
  absl::StatusOr<core::PolicyOverride> policy =
      OverrideFromProto(request.policy());
  if (!policy.ok()) return policy.status();
  core::SampleQuery query = SampleFromProto(request, *policy);
  // Logged decisions carry their propensities, for offline evaluation.
  query.propensities =
      request.include_propensities() || decision_log_ != nullptr;
  query.propensity_draws = request.propensity_draws();
  absl::StatusOr<core::SampleResult> result = engine_->Sample(query);
  if (!result.ok()) return result.status();
  if (decisions_ != nullptr) {
    response->set_decision_id(Remember(std::move(query), *result));
  }
  response->mutable_arms()->Reserve(static_cast<int>(result->arms.size()));
  for (const core::ScoredArm& arm : result->arms) {
    v1::ScoredArm* out = response->add_arms();
    out->set_arm_id(arm.arm_id);
    out->set_score(arm.score);
    CountsToProto(arm.counts, out->mutable_counts());
    if (arm.propensity.has_value()) out->set_propensity(*arm.propensity);
  }
  response->set_propensity_draws(result->propensity_draws);
  PolicyToProto(result->policy, response->mutable_policy());
  return absl::OkStatus();
}

std::string BanditService::Remember(core::SampleQuery query,
                                    const core::SampleResult& result) {
  std::vector<std::string> arm_ids;
  arm_ids.reserve(result.arms.size());
  for (const core::ScoredArm& arm : result.arms) arm_ids.push_back(arm.arm_id);
  if (decision_log_ == nullptr) {
    return decisions_->Put(
        Decision{std::move(query.room_id), std::move(query.segment),
                 std::move(query.context_items), std::move(query.features),
                 std::move(arm_ids)});
  }
  // The log's record is serialized from the query before the cache takes
  // the query's fields.
  store::EncodedDecision logged{{},
                                absl::ToUnixMicros(absl::Now()),
                                query.room_id,
                                DecisionBodyOf(query, result)};
  logged.decision_id = decisions_->Put(
      Decision{std::move(query.room_id), std::move(query.segment),
               std::move(query.context_items), std::move(query.features),
               std::move(arm_ids)});
  std::string id = logged.decision_id;
  decision_log_->AddDecision(std::move(logged));
  return id;
}

void BanditService::Feedback(ServiceCall* call,
                             const v1::FeedbackRequest* request,
                             v1::FeedbackResponse* response) {
  if (absl::Status auth = Authorize(call, Role::kClient); !auth.ok()) {
    return FinishWith(call, auth);
  }
  absl::StatusOr<core::FeedbackBatch> batch =
      FeedbackFromProto(*request, decisions_);
  if (!batch.ok()) return FinishWith(call, batch.status());
  // Outcomes of logged decisions, added once the batch is applied.
  std::vector<store::OutcomeRecord> outcomes;
  if (decision_log_ != nullptr) {
    const int64_t now = absl::ToUnixMicros(absl::Now());
    for (int i = 0; i < request->events_size(); ++i) {
      const v1::FeedbackEvent& in = request->events(i);
      if (in.decision_id().empty()) continue;
      const core::FeedbackEvent& e = batch->events[static_cast<size_t>(i)];
      outcomes.push_back({in.decision_id(), e.arm_id, e.views, e.clicks,
                          e.reward.value_or(static_cast<double>(e.clicks)),
                          now});
    }
  }
  return Mutate(call, *std::move(batch),
                [this, response, outcomes = std::move(outcomes)](
                    const core::ApplyResult& result) mutable {
                  response->set_applied_events(result.applied_events);
                  response->set_duplicate_events(result.duplicate_events);
                  response->set_applied_sequence(result.sequence);
                  if (!outcomes.empty()) {
                    decision_log_->AddOutcomes(std::move(outcomes));
                  }
                });
}

void BanditService::GetStats(ServiceCall* call,
                             const v1::GetStatsRequest* request,
                             v1::GetStatsResponse* response) {
  if (absl::Status auth = Authorize(call, Role::kClient); !auth.ok()) {
    return FinishWith(call, auth);
  }
  if (absl::Status held = committer_->CheckRoomHeld(request->room_id());
      !held.ok()) {
    return FinishWith(call, held);
  }
  // Winner analysis draws thousands of samples per arm: 50 ms for 100 arms.
  return ReadAfter(call, request->min_applied_sequence(), request->room_id(),
                   request->has_winner_analysis(), [this, request, response] {
                     return GetStatsNow(*request, response);
                   });
}

absl::Status BanditService::GetStatsNow(const v1::GetStatsRequest& request,
                                        v1::GetStatsResponse* response) {
  // Read before the stats, so they reflect at least this much of the log.
  const uint64_t applied_sequence =
      committer_->applied_sequence(request.room_id());
  if (absl::Status s = GetStatsPage(*engine_, request, response); !s.ok()) {
    return s;
  }
  response->set_applied_sequence(applied_sequence);
  if (request.has_winner_analysis()) {
    absl::StatusOr<core::WinnerResult> winner =
        engine_->Winner(WinnerQueryFromProto(request));
    if (!winner.ok()) return winner.status();
    WinnerToProto(*winner, response);
  }
  return absl::OkStatus();
}

void BanditService::ReadAfter(ServiceCall* call, uint64_t min_applied_sequence,
                              const std::string& room_id, bool analysis,
                              absl::AnyInvocable<absl::Status() &&> read) {
  if (min_applied_sequence == 0) {
    return RunRead(call, room_id, analysis, std::move(read));
  }
  // The callback may run on the writer thread: a big room's read must not
  // run there either.
  committer_->WhenApplied(
      room_id, min_applied_sequence,
      [this, call, room_id, analysis,
       read = std::move(read)](absl::Status status) mutable {
        if (!status.ok()) return call->Reply(status);
        RunRead(call, room_id, analysis, std::move(read));
      });
}

void BanditService::RunRead(ServiceCall* call, const std::string& room_id,
                            bool analysis,
                            absl::AnyInvocable<absl::Status() &&> read) {
  if (read_pool_ == nullptr ||
      (!analysis && (read_pool_min_arms_ <= 0 ||
                     engine_->ArmCount(room_id) < read_pool_min_arms_))) {
    return FinishWith(call, std::move(read)());
  }
  // The reply (serializing a page of stats) is made on the pool too.
  if (!read_pool_->Submit([call, read = std::move(read)]() mutable {
        call->Reply(std::move(read)());
      })) {
    FinishWith(call,
               absl::ResourceExhaustedError(absl::StrCat(
                   "analyses and reads of rooms of ", read_pool_min_arms_,
                   " arms or more waiting: ", read_pool_->options().max_queued,
                   " (--big_room_max_queued_reads); retry later")));
  }
}

absl::StatusOr<store::DecisionLog*> BanditService::AdmitExport(
    absl::string_view authorization,
    const v1::ExportDecisionsRequest& request) const {
  if (absl::Status status = Authorize(authorization, Role::kAdmin);
      !status.ok()) {
    return status;
  }
  if (decision_log_ == nullptr) {
    return absl::FailedPreconditionError(
        "the decision log is off: run the server with --decision_log");
  }
  if (request.after_sequence() < 0) {
    return absl::InvalidArgumentError("after_sequence: must be >= 0");
  }
  if (request.max_decisions() < 0) {
    return absl::InvalidArgumentError("max_decisions: must be >= 0");
  }
  return decision_log_;
}

}  // namespace banditd::service
