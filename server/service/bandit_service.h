#ifndef BANDITD_SERVER_SERVICE_BANDIT_SERVICE_H_
#define BANDITD_SERVER_SERVICE_BANDIT_SERVICE_H_

#include "absl/functional/any_invocable.h"
#include "banditd/v1/banditd.grpc.pb.h"
#include "server/core/engine.h"
#include "server/service/auth.h"
#include "server/service/decision_cache.h"
#include "server/store/committer.h"
#include "server/store/decision_log.h"

namespace banditd::service {

// BanditService handlers: validate and translate the request, then either
// read from the engine (Sample, GetStats, GetRoom, ListRooms) or submit a
// mutation to the committer and reply once it is durable and applied. No
// handler blocks a gRPC thread while a mutation is being logged. With an
// Authenticator, every handler first checks the call's token (Authorize):
// a rejected call changes nothing.
class BanditService final : public v1::BanditService::CallbackService {
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

  grpc::ServerUnaryReactor* CreateRoom(
      grpc::CallbackServerContext* context,
      const v1::CreateRoomRequest* request,
      v1::CreateRoomResponse* response) override;
  grpc::ServerUnaryReactor* GetRoom(grpc::CallbackServerContext* context,
                                    const v1::GetRoomRequest* request,
                                    v1::GetRoomResponse* response) override;
  grpc::ServerUnaryReactor* ListRooms(grpc::CallbackServerContext* context,
                                      const v1::ListRoomsRequest* request,
                                      v1::ListRoomsResponse* response) override;
  grpc::ServerUnaryReactor* DeleteRoom(
      grpc::CallbackServerContext* context,
      const v1::DeleteRoomRequest* request,
      v1::DeleteRoomResponse* response) override;
  grpc::ServerUnaryReactor* ResetRoom(grpc::CallbackServerContext* context,
                                      const v1::ResetRoomRequest* request,
                                      v1::ResetRoomResponse* response) override;
  grpc::ServerUnaryReactor* UpdateRoom(
      grpc::CallbackServerContext* context,
      const v1::UpdateRoomRequest* request,
      v1::UpdateRoomResponse* response) override;
  grpc::ServerUnaryReactor* ResetArm(grpc::CallbackServerContext* context,
                                     const v1::ResetArmRequest* request,
                                     v1::ResetArmResponse* response) override;
  grpc::ServerUnaryReactor* AddArms(grpc::CallbackServerContext* context,
                                    const v1::AddArmsRequest* request,
                                    v1::AddArmsResponse* response) override;
  grpc::ServerUnaryReactor* RemoveArm(grpc::CallbackServerContext* context,
                                      const v1::RemoveArmRequest* request,
                                      v1::RemoveArmResponse* response) override;
  grpc::ServerUnaryReactor* SetArmEnabled(
      grpc::CallbackServerContext* context,
      const v1::SetArmEnabledRequest* request,
      v1::SetArmEnabledResponse* response) override;
  grpc::ServerUnaryReactor* Sample(grpc::CallbackServerContext* context,
                                   const v1::SampleRequest* request,
                                   v1::SampleResponse* response) override;
  grpc::ServerUnaryReactor* Feedback(grpc::CallbackServerContext* context,
                                     const v1::FeedbackRequest* request,
                                     v1::FeedbackResponse* response) override;
  grpc::ServerUnaryReactor* GetStats(grpc::CallbackServerContext* context,
                                     const v1::GetStatsRequest* request,
                                     v1::GetStatsResponse* response) override;
  grpc::ServerWriteReactor<v1::LoggedDecision>* ExportDecisions(
      grpc::CallbackServerContext* context,
      const v1::ExportDecisionsRequest* request) override;

 private:
  using OnApplied = absl::AnyInvocable<void(const core::ApplyResult&) &&>;

  // Submits `mutation` and finishes the call when the committer reports;
  // `on_applied` fills the response on success.
  grpc::ServerUnaryReactor* Mutate(grpc::CallbackServerContext* context,
                                   core::Mutation mutation,
                                   OnApplied on_applied);

  // Puts the decision in the cache (and the decision log) and returns its id.
  std::string Remember(core::SampleQuery query,
                       const core::SampleResult& result);
  // Runs `read` once this replica has applied `min_applied_sequence` (a
  // write's FeedbackResponse.applied_sequence, read-your-writes on any
  // replica) and finishes the call with its status; at once when 0.
  grpc::ServerUnaryReactor* ReadAfter(
      grpc::CallbackServerContext* context, uint64_t min_applied_sequence,
      absl::AnyInvocable<absl::Status() &&> read);
  absl::Status SampleNow(const v1::SampleRequest& request,
                         v1::SampleResponse* response);
  absl::Status GetStatsNow(const v1::GetStatsRequest& request,
                           v1::GetStatsResponse* response);

  // OK when the call may run an RPC that needs `required`.
  absl::Status Authorize(const grpc::CallbackServerContext* context,
                         Role required) const;

  const core::Engine* const engine_;
  store::Committer* const committer_;
  const Authenticator* const auth_;
  DecisionCache* const decisions_;
  store::DecisionLog* const decision_log_;
};

}  // namespace banditd::service

#endif  // BANDITD_SERVER_SERVICE_BANDIT_SERVICE_H_
