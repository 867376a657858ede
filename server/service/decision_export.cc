#include "server/service/decision_export.h"

#include <deque>
#include <utility>

#include "absl/time/clock.h"
#include "server/service/convert.h"
#include "server/store/decision_body.h"

namespace banditd::service {
namespace {

constexpr int kPage = 256;

// Raw (bytes out): ExportDecisions parses its own request, as the unary
// methods do, so each message is serialized here.
class ExportReactor : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  ExportReactor(store::DecisionLog* log, const v1::ExportDecisionsRequest& r)
      : log_(log),
        room_id_(r.room_id()),
        after_(r.after_sequence()),
        left_(r.max_decisions() > 0 ? r.max_decisions() : -1) {
    // Include what was decided up to now.
    if (absl::Status s = log_->Flush(); !s.ok()) {
      Finish(ToGrpcStatus(s));
      return;
    }
    Next();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "stream closed"));
      return;
    }
    Next();
  }
  void OnDone() override { delete this; }

 private:
  void Next() {
    if (left_ == 0) {
      Finish(grpc::Status::OK);
      return;
    }
    if (page_.empty()) {
      absl::StatusOr<std::vector<store::JoinedDecision>> page =
          log_->Read(room_id_, after_, kPage);
      if (!page.ok()) {
        Finish(ToGrpcStatus(page.status()));
        return;
      }
      if (page->empty()) {
        Finish(grpc::Status::OK);
        return;
      }
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
      Finish(s);
      return;
    }
    StartWrite(&buffer_);
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

  store::DecisionLog* const log_;
  const std::string room_id_;
  int64_t after_;
  int64_t left_;  // -1: no limit
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

grpc::ServerWriteReactor<grpc::ByteBuffer>* StartDecisionExport(
    store::DecisionLog* log, const v1::ExportDecisionsRequest& request) {
  return new ExportReactor(log, request);
}

}  // namespace banditd::service
