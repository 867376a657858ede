#include "server/service/decision_export.h"

#include <deque>
#include <utility>

#include "absl/time/clock.h"
#include "server/service/bandit_service.h"
#include "server/service/convert.h"
#include "server/service/request_parse.h"
#include "server/store/decision_body.h"

namespace banditd::service {
namespace {

constexpr int kPage = 256;

// One ExportDecisions call on the asynchronous API. Raw (bytes out):
// ExportDecisions parses its own request, as the unary methods do, so each
// message is serialized here. One operation at a time: its arrival, then
// each write, then the finish, after which it deletes itself.
class ExportCall final : public QueueTag {
 public:
  ExportCall(BanditService* service, grpc::ServerCompletionQueue* cq,
             LiveCount* live)
      : QueueTag(live), service_(service), cq_(cq), writer_(&context_) {
    service_->RequestExportDecisions(&context_, &request_bytes_, &writer_, cq_,
                                     cq_, tag());
  }

 private:
  void Proceed(bool ok) override {
    // Not ok: the server failed the requested call (shutdown), or a write
    // failed (the client went away): no operation is pending.
    if (!ok || finishing_) {
      delete this;
      return;
    }
    if (!arrived_) {
      arrived_ = true;
      new ExportCall(service_, cq_, live());
      return Start();
    }
    Next();
  }

  void Start() {
    v1::ExportDecisionsRequest request;
    absl::Status status = ParseRequest(request_bytes_, &request);
    if (status.ok()) {
      absl::StatusOr<store::DecisionLog*> log =
          service_->AdmitExport(AuthorizationOf(context_), request);
      status = log.status();
      if (log.ok()) {
        log_ = *log;
        status = log_->Flush();  // include what was decided up to now
      }
    }
    if (!status.ok()) return Finish(ToGrpcStatus(status));
    room_id_ = request.room_id();
    after_ = request.after_sequence();
    left_ = request.max_decisions() > 0 ? request.max_decisions() : -1;
    Next();
  }

  void Finish(const grpc::Status& status) {
    finishing_ = true;
    writer_.Finish(status, tag());
  }

  void Next() {
    if (left_ == 0) return Finish(grpc::Status::OK);
    if (page_.empty()) {
      absl::StatusOr<std::vector<store::JoinedDecision>> page =
          log_->Read(room_id_, after_, kPage);
      if (!page.ok()) return Finish(ToGrpcStatus(page.status()));
      if (page->empty()) return Finish(grpc::Status::OK);
      page_.assign(std::make_move_iterator(page->begin()),
                   std::make_move_iterator(page->end()));
    }
    const store::JoinedDecision& j = page_.front();
    after_ = j.sequence;
    message_.Clear();
    ToProto(j, &message_);
    page_.pop_front();
    if (left_ > 0) --left_;
    // The last write is done: its buffer may go (the serializer wants an
    // empty one).
    buffer_.Clear();
    bool own_buffer = false;
    if (grpc::Status s =
            grpc::SerializationTraits<v1::LoggedDecision>::Serialize(
                message_, &buffer_, &own_buffer);
        !s.ok()) {
      return Finish(s);
    }
    writer_.Write(buffer_, tag());
  }

  static void ToProto(const store::JoinedDecision& j, v1::LoggedDecision* out) {
    const store::DecisionRecord& d = j.decision;
    out->set_sequence(j.sequence);
    out->set_decision_id(d.decision_id);
    out->set_time_micros(d.time_micros);
    out->set_room_id(d.room_id);
    out->set_segment(d.segment);
    out->mutable_context_items()->Add(d.context_items.begin(),
                                      d.context_items.end());
    out->mutable_features()->Add(d.features.begin(), d.features.end());
    out->mutable_candidate_arm_ids()->Add(d.candidate_arm_ids.begin(),
                                          d.candidate_arm_ids.end());
    out->mutable_excluded_arm_ids()->Add(d.excluded_arm_ids.begin(),
                                         d.excluded_arm_ids.end());
    out->set_eligible_arms(d.eligible_arms);
    out->set_k(d.k);
    v1::Policy policy;
    core::PolicyParams params;
    params.kind = static_cast<core::PolicyKind>(d.policy_kind);
    PolicyToProto(params, &policy);
    out->set_policy(policy.type());
    for (size_t i = 0; i < d.arm_ids.size(); ++i) {
      v1::LoggedArm* arm = out->add_arms();
      arm->set_arm_id(d.arm_ids[i]);
      if (i < d.propensities.size()) arm->set_propensity(d.propensities[i]);
      arm->set_views(j.views[i]);
      arm->set_clicks(j.clicks[i]);
      arm->set_reward(j.rewards[i]);
    }
    out->set_propensity_draws(d.propensity_draws);
  }

  BanditService* const service_;
  grpc::ServerCompletionQueue* const cq_;
  grpc::ServerContext context_;
  grpc::ByteBuffer request_bytes_;
  grpc::ServerAsyncWriter<grpc::ByteBuffer> writer_;
  bool arrived_ = false;
  bool finishing_ = false;
  store::DecisionLog* log_ = nullptr;
  std::string room_id_;
  int64_t after_ = 0;
  int64_t left_ = -1;  // -1: no limit
  std::deque<store::JoinedDecision> page_;
  v1::LoggedDecision message_;
  grpc::ByteBuffer buffer_;
};

}  // namespace

std::string DecisionBodyOf(const core::SampleQuery& query,
                           const core::SampleResult& result) {
  store::DecisionBodyWriter w;
  w.Segment(query.segment)
      .ContextItems(query.context_items)
      .Features(query.features)
      .CandidateArmIds(query.candidate_arm_ids)
      .ExcludedArmIds(query.excluded_arm_ids)
      .EligibleArms(result.eligible_arms)
      .K(query.k == 0 ? 1 : query.k)
      .Policy(static_cast<int32_t>(result.policy.kind));
  for (const core::ScoredArm& arm : result.arms) w.ArmId(arm.arm_id);
  w.Propensities(result.arms.size(), [&result](size_t i) {
     return result.arms[i].propensity.value_or(0);
   }).PropensityDraws(result.propensity_draws);
  return std::move(w).Finish();
}

void RequestDecisionExport(BanditService* service,
                           grpc::ServerCompletionQueue* cq,
                           QueueTag::LiveCount* live) {
  new ExportCall(service, cq, live);
}

}  // namespace banditd::service
