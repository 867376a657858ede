// Engine::Winner: posteriors of a segment's selected enabled arms, then
// AnalyzeWinner.

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "server/core/arm_selection.h"
#include "server/core/engine.h"
#include "server/core/ids.h"
#include "server/core/scoring.h"

namespace banditd::core {
namespace {

constexpr int kMaxWinnerDraws = 1'000'000;

bool IsRewardPolicy(PolicyKind kind) {
  return kind == PolicyKind::kRewardUcb || kind == PolicyKind::kRewardThompson;
}

}  // namespace

absl::StatusOr<WinnerResult> Engine::Winner(const WinnerQuery& query) const {
  if (absl::Status s = ValidateSegment(query.segment, "segment"); !s.ok()) {
    return s;
  }
  if (query.draws < 0 || query.draws > kMaxWinnerDraws) {
    return absl::InvalidArgumentError(
        absl::StrCat("winner_analysis.draws: must be in [0, ", kMaxWinnerDraws,
                     "], got ", query.draws));
  }
  if (!std::isfinite(query.loss_threshold) || query.loss_threshold < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("winner_analysis.loss_threshold: must be finite and "
                     ">= 0, got ",
                     query.loss_threshold));
  }
  absl::StatusOr<std::shared_ptr<Room>> found =
      FindRoomOr(query.room_id, "room_id");
  if (!found.ok()) return found.status();
  WinnerResult result;
  std::vector<ArmPosterior> posteriors;
  {
    const Room& room = **found;
    AwaitQueuedWrites(room);
    absl::ReaderMutexLock lock(&room.mu);
    const Segment* segment = room.FindSegment(query.segment);
    const double scale = room.counter_scale;
    const PolicyParams& policy = room.policy;
    const bool reward = IsRewardPolicy(policy.kind);
    result.posterior =
        reward ? ArmPosterior::Kind::kRevenue : ArmPosterior::Kind::kBeta;
    const CounterTable* table = segment == nullptr ? nullptr : &segment->arms;
    // REWARD_THOMPSON's posterior (revenue.h): the value prior pools the
    // conversions of every enabled arm (of every stored slot: an arm
    // without one adds nothing).
    ValuePrior prior;
    if (reward && table != nullptr) {
      double conversions = 0, value_sum = 0, value_sq = 0;
      for (size_t e = 0; e < table->entries(); ++e) {
        const size_t arm = table->sparse() ? table->entry_arms()[e] : e;
        if (!room.enabled[arm]) continue;
        conversions += table->clicks()[e] * scale;
        value_sum += table->reward_sums()[e] * scale;
        value_sq += table->reward_sq_sums()[e] * scale;
      }
      prior = RoomValuePrior(conversions, value_sum, value_sq);
    }
    size_t first = 0;
    bool more = false;
    absl::StatusOr<std::vector<uint32_t>> selected =
        SelectArms(room, query.arms, table, &first, &more);
    if (!selected.ok()) return selected.status();
    for (uint32_t i : *selected) {
      if (!room.enabled[i]) continue;
      result.arm_ids.emplace_back(room.arm_ids[i]);
      // Through the slot lookup: a segment's table may be sparse.
      const Counts counts = table == nullptr ? Counts{} : table->Get(i);
      const double views = counts.views * scale;
      const double clicks = counts.clicks * scale;
      ArmPosterior& p = posteriors.emplace_back();
      p.a = BetaAlpha(clicks, policy.beta_prior_a);
      p.b = BetaBeta(views, clicks, policy.beta_prior_b);
      if (reward) {
        p.kind = ArmPosterior::Kind::kRevenue;
        p.value =
            PosteriorValue(prior, clicks, counts.reward_sum * scale,
                           table == nullptr ? 0.0 : table->RewardSq(i) * scale);
      }
    }
  }
  WinnerOptions options;
  if (query.draws > 0) options.draws = query.draws;
  // Large rooms get fewer draws (reported, with their standard errors).
  if (!posteriors.empty()) {
    const int64_t budget =
        std::max<int64_t>(1, options_.max_winner_samples /
                                 static_cast<int64_t>(posteriors.size()));
    options.draws = static_cast<int>(std::min<int64_t>(options.draws, budget));
  }
  options.seed = query.seed;
  options.loss_threshold = query.loss_threshold;
  result.analysis = AnalyzeWinner(posteriors, options);
  return result;
}

}  // namespace banditd::core
