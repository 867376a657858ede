#include "server/service/winner_convert.h"

#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"

namespace banditd::service {

core::WinnerQuery WinnerQueryFromProto(const v1::GetStatsRequest& request) {
  const v1::WinnerAnalysisRequest& w = request.winner_analysis();
  return core::WinnerQuery{request.room_id(), request.segment(), w.draws(),
                           w.seed(), w.loss_threshold()};
}

void WinnerToProto(const core::WinnerResult& result,
                   v1::GetStatsResponse* out) {
  const core::WinnerAnalysis& analysis = result.analysis;
  v1::WinnerSummary* summary = out->mutable_winner();
  summary->set_draws(analysis.draws);
  summary->set_can_stop(analysis.can_stop);
  summary->set_posterior(
      result.posterior == core::ArmPosterior::Kind::kBeta ? "beta" : "revenue");
  if (analysis.best >= 0) {
    summary->set_best_arm_id(
        result.arm_ids[static_cast<size_t>(analysis.best)]);
  }
  // The stats were read separately: match arms by id, not by position.
  // The reply holds one page of arms, the analysis every enabled arm: index
  // the page.
  absl::flat_hash_map<absl::string_view, v1::ArmStats*> page;
  page.reserve(static_cast<size_t>(out->arms_size()));
  for (v1::ArmStats& arm : *out->mutable_arms()) page[arm.arm_id()] = &arm;
  for (size_t i = 0; i < result.arm_ids.size(); ++i) {
    auto it = page.find(result.arm_ids[i]);
    if (it == page.end()) continue;
    const core::ArmWinner& w = analysis.arms[i];
    v1::ArmWinner* winner = it->second->mutable_winner();
    winner->set_prob_best(w.prob_best);
    winner->set_prob_best_se(w.prob_best_se);
    winner->set_expected_loss(w.expected_loss);
    winner->set_expected_loss_se(w.expected_loss_se);
  }
}

}  // namespace banditd::service
