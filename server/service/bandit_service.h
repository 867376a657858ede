#ifndef BANDITD_SERVER_SERVICE_BANDIT_SERVICE_H_
#define BANDITD_SERVER_SERVICE_BANDIT_SERVICE_H_

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "banditd/v1/banditd.grpc.pb.h"
#include "google/protobuf/message.h"
#include "grpcpp/support/byte_buffer.h"
#include "server/core/engine.h"
#include "server/ops/metrics.h"
#include "server/service/auth.h"
#include "server/service/decision_cache.h"
#include "server/service/read_pool.h"
#include "server/service/rpc_log.h"
#include "server/service/unary_call.h"
#include "server/store/committer.h"
#include "server/store/decision_log.h"

namespace banditd::service {

// The unary methods of BanditService, for lists kept in step (the raw
// gRPC methods and their definitions, FindUnary).
#define BANDITD_UNARY_METHODS(X) \
  X(CreateRoom)                  \
  X(GetRoom)                     \
  X(ListRooms)                   \
  X(ListArms)                    \
  X(DeleteRoom)                  \
  X(ResetRoom)                   \
  X(UpdateRoom)                  \
  X(ResetArm)                    \
  X(AddArms)                     \
  X(RemoveArm)                   \
  X(SetArmEnabled)               \
  X(Sample)                      \
  X(Feedback)                    \
  X(GetStats)

// Every method is raw (its request arrives as bytes), so that
// bytes that do not parse get INVALID_ARGUMENT with a message: gRPC 1.51's
// generated handlers answer UNIMPLEMENTED with an empty one. Every method
// is on the asynchronous API (UnaryCall, RequestDecisionExport), run by
// the threads that poll the server's completion queues: no callback
// method, so gRPC starts no callback threads, which would poll the
// connections too and hand each call over (a thread switch per call).
using GeneratedService = v1::BanditService;
// clang-format off
using BanditServiceBase =
    GeneratedService::WithRawMethod_CreateRoom<
    GeneratedService::WithRawMethod_GetRoom<
    GeneratedService::WithRawMethod_ListRooms<
    GeneratedService::WithRawMethod_ListArms<
    GeneratedService::WithRawMethod_DeleteRoom<
    GeneratedService::WithRawMethod_ResetRoom<
    GeneratedService::WithRawMethod_UpdateRoom<
    GeneratedService::WithRawMethod_ResetArm<
    GeneratedService::WithRawMethod_AddArms<
    GeneratedService::WithRawMethod_RemoveArm<
    GeneratedService::WithRawMethod_SetArmEnabled<
    GeneratedService::WithRawMethod_Sample<
    GeneratedService::WithRawMethod_Feedback<
    GeneratedService::WithRawMethod_GetStats<
    GeneratedService::WithRawMethod_ExportDecisions<
    GeneratedService::Service>>>>>>>>>>>>>>>;
// clang-format on

// BanditService handlers: validate and translate the request, then either
// read from the engine (Sample, GetStats, GetRoom, ListRooms) or submit a
// mutation to the committer and reply once it is durable and applied. No
// handler blocks a gRPC thread while a mutation is being logged. With an
// Authenticator, every handler first checks the call's token (Authorize):
// a rejected call changes nothing.
class BanditService final : public BanditServiceBase {
 public:
  // `engine`, `committer`, `auth` and `decisions` must outlive the service;
  // a null `auth` lets every call through; with null `decisions` Sample
  // returns no decision_id and Feedback rejects them. With a
  // `decision_log` (which needs `decisions`), every Sample is logged with
  // its propensities, and Feedback citing a decision adds its outcome.
  BanditService(const core::Engine* engine, store::Committer* committer,
                const Authenticator* auth = nullptr,
                DecisionCache* decisions = nullptr,
                store::DecisionLog* decision_log = nullptr)
      : engine_(engine),
        committer_(committer),
        auth_(auth),
        decisions_(decisions),
        decision_log_(decisions == nullptr ? nullptr : decision_log) {}

  // Sample and GetStats of rooms of at least `min_arms` arms, and analyses
  // (GetStats with winner analysis, Sample with more propensity draws than
  // the default) of any room, run on `pool` (which must outlive the
  // service), not on the threads that poll gRPC's queues, where they would
  // hold up every other call; a full queue refuses them with
  // RESOURCE_EXHAUSTED. Call before serving.
  void SetReadPool(ReadPool* pool, int64_t min_arms) {
    read_pool_ = pool;
    read_pool_min_arms_ = min_arms;
  }

  // Requests `per_method` calls of each unary method, and one
  // ExportDecisions call, on `cq` (after the server started); each call,
  // when it arrives, requests the next one, parses its request
  // (ParseRequest) and runs its handler below on the thread that polls
  // `cq`, which passes every event to QueueTag::OnEvent. `live` counts the
  // calls until they end.
  void RequestCalls(grpc::ServerCompletionQueue* cq, QueueTag::LiveCount* live,
                    int per_method);
  // The full names of the unary methods: their calls report themselves
  // (UnaryCall), the interceptors skip them.
  static absl::flat_hash_set<std::string> SelfReportingMethods();
  // From now on, gRPC calls report to `log` and `metrics` (may be null);
  // returns the reporting before. The service keeps every reporting it was
  // given (calls begun under one may still be running).
  const CallReporting* ReportCallsTo(std::shared_ptr<RpcLog> log,
                                     ops::Metrics* metrics)
      ABSL_LOCKS_EXCLUDED(reporting_mu_);
  // Goes back to a reporting ReportCallsTo returned.
  void RestoreReporting(const CallReporting* reporting) {
    reporting_.store(reporting, std::memory_order_release);
  }
  // Where the calls arriving now report (null: nowhere).
  const CallReporting* reporting() const {
    return reporting_.load(std::memory_order_acquire);
  }

  // ExportDecisions' admission (RequestDecisionExport's calls): the log to
  // stream, or why the call may not.
  absl::StatusOr<store::DecisionLog*> AdmitExport(
      absl::string_view authorization,
      const v1::ExportDecisionsRequest& request) const;

  // Runs a unary RPC without gRPC (the HTTP gateway): the same handler, so
  // the same tokens, validation, admission and durability. `request` and
  // `response` are messages of the method's types and must live until `call`
  // is finished (Reply: once, maybe on another thread).
  using UnaryHandler = void (*)(BanditService& service, ServiceCall* call,
                                const google::protobuf::Message& request,
                                google::protobuf::Message* response);
  // The handler of the unary RPC `method_name` ("Sample"); null for a
  // streaming or unknown one.
  static UnaryHandler FindUnary(absl::string_view method_name);

 private:
  // Handlers: `call` is finished (Reply) once, maybe on another thread.
  void CreateRoom(ServiceCall* call, const v1::CreateRoomRequest* request,
                  v1::CreateRoomResponse* response);
  void GetRoom(ServiceCall* call, const v1::GetRoomRequest* request,
               v1::GetRoomResponse* response);
  void ListRooms(ServiceCall* call, const v1::ListRoomsRequest* request,
                 v1::ListRoomsResponse* response);
  void ListArms(ServiceCall* call, const v1::ListArmsRequest* request,
                v1::ListArmsResponse* response);
  void DeleteRoom(ServiceCall* call, const v1::DeleteRoomRequest* request,
                  v1::DeleteRoomResponse* response);
  void ResetRoom(ServiceCall* call, const v1::ResetRoomRequest* request,
                 v1::ResetRoomResponse* response);
  void UpdateRoom(ServiceCall* call, const v1::UpdateRoomRequest* request,
                  v1::UpdateRoomResponse* response);
  void ResetArm(ServiceCall* call, const v1::ResetArmRequest* request,
                v1::ResetArmResponse* response);
  void AddArms(ServiceCall* call, const v1::AddArmsRequest* request,
               v1::AddArmsResponse* response);
  void RemoveArm(ServiceCall* call, const v1::RemoveArmRequest* request,
                 v1::RemoveArmResponse* response);
  void SetArmEnabled(ServiceCall* call, const v1::SetArmEnabledRequest* request,
                     v1::SetArmEnabledResponse* response);
  void Sample(ServiceCall* call, const v1::SampleRequest* request,
              v1::SampleResponse* response);
  void Feedback(ServiceCall* call, const v1::FeedbackRequest* request,
                v1::FeedbackResponse* response);
  void GetStats(ServiceCall* call, const v1::GetStatsRequest* request,
                v1::GetStatsResponse* response);

  using OnApplied = absl::AnyInvocable<void(const core::ApplyResult&) &&>;

  // Submits `mutation` and finishes the call when the committer reports;
  // `on_applied` fills the response on success.
  void Mutate(ServiceCall* call, core::Mutation mutation, OnApplied on_applied);

  // Puts the decision in the cache (and the decision log) and returns its id.
  std::string Remember(core::SampleQuery query,
                       const core::SampleResult& result);
  // Runs `read` once this replica has applied `min_applied_sequence` (a
  // write's FeedbackResponse.applied_sequence, read-your-writes on any
  // replica) and finishes the call with its status; at once when 0.
  void ReadAfter(ServiceCall* call, uint64_t min_applied_sequence,
                 const std::string& room_id, bool analysis,
                 absl::AnyInvocable<absl::Status() &&> read);
  // Runs `read` and finishes the call: on the read pool when it is an
  // `analysis` or the room is big (SetReadPool), else here.
  void RunRead(ServiceCall* call, const std::string& room_id, bool analysis,
               absl::AnyInvocable<absl::Status() &&> read);
  absl::Status SampleNow(const v1::SampleRequest& request,
                         v1::SampleResponse* response);
  absl::Status GetStatsNow(const v1::GetStatsRequest& request,
                           v1::GetStatsResponse* response);

  // OK when the call may run an RPC that needs `required`.
  absl::Status Authorize(absl::string_view authorization, Role required) const;
  absl::Status Authorize(const ServiceCall* call, Role required) const {
    return Authorize(call->authorization(), required);
  }

  const core::Engine* const engine_;
  store::Committer* const committer_;
  const Authenticator* const auth_;
  DecisionCache* const decisions_;
  store::DecisionLog* const decision_log_;
  ReadPool* read_pool_ = nullptr;
  int64_t read_pool_min_arms_ = 0;
  // The latest of reportings_, read by every call without a lock.
  std::atomic<const CallReporting*> reporting_{nullptr};
  absl::Mutex reporting_mu_;
  std::vector<std::unique_ptr<CallReporting>> reportings_
      ABSL_GUARDED_BY(reporting_mu_);
};

}  // namespace banditd::service

#endif  // BANDITD_SERVER_SERVICE_BANDIT_SERVICE_H_
