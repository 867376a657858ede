// Engine::Rank: validates a Sample query, resolves the room's tables into
// the inputs of a Scorer (sample_scorer.h), and runs one scan over the
// eligible arms (sample_scan.h), keeping the best k in a small heap: the
// cost is linear in the arm count with no per-arm allocation.

#include <algorithm>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/random/bit_gen_ref.h"
#include "absl/random/distributions.h"
#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "server/core/engine.h"
#include "server/core/ids.h"
#include "server/core/sample_scan.h"
#include "server/core/sample_scorer.h"
#include "server/core/scoring.h"

namespace banditd::core {
namespace {

using scan::ScoreInputs;
using scan::TableView;

// The checks that need no room.
absl::Status ValidateQuery(const SampleQuery& q, int max_k,
                           int max_context_items) {
  if (absl::Status s = ValidateSegment(q.segment, "segment"); !s.ok()) return s;
  if (q.k < 0 || q.k > max_k) {
    return absl::InvalidArgumentError(
        absl::StrCat("k: must be in [0, ", max_k, "], got ", q.k));
  }
  if (q.context_items.size() > static_cast<size_t>(max_context_items)) {
    return absl::InvalidArgumentError(
        absl::StrCat("context_items: ", q.context_items.size(),
                     " items exceed the limit of ", max_context_items));
  }
  for (size_t j = 0; j < q.context_items.size(); ++j) {
    if (absl::Status s = ValidateId(q.context_items[j],
                                    absl::StrCat("context_items[", j, "]"));
        !s.ok()) {
      return s;
    }
  }
  for (size_t j = 0; j < q.candidate_arm_ids.size(); ++j) {
    if (absl::Status s = ValidateId(q.candidate_arm_ids[j],
                                    absl::StrCat("candidate_arm_ids[", j, "]"));
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

// LINUCB and LIN_TS need features the room's models take.
absl::Status ValidateLinear(const SampleQuery& q, const PolicyParams& policy,
                            const Room& room)
    ABSL_SHARED_LOCKS_REQUIRED(room.mu) {
  if (!q.features.empty()) {
    if (absl::Status s =
            ValidateFeatures(q.features, room.linucb, room.id, "features");
        !s.ok()) {
      return s;
    }
  }
  const bool linear =
      policy.kind == PolicyKind::kLinUcb || policy.kind == PolicyKind::kLinTs;
  if (!linear || !q.features.empty()) return absl::OkStatus();
  const std::string name =
      policy.kind == PolicyKind::kLinUcb ? "LINUCB" : "LIN_TS";
  if (room.linucb.dimension == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("policy.type: ", name,
                     " needs a room created with linucb.dimension > 0; room \"",
                     room.id, "\" has none"));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "features: ", name, " needs ", room.linucb.dimension, " features"));
}

// Candidate and excluded arms as sorted, distinct dense indices.
absl::Status ResolveArms(const SampleQuery& q, const Room& room,
                         std::vector<uint32_t>& candidates,
                         std::vector<uint32_t>& excluded)
    ABSL_SHARED_LOCKS_REQUIRED(room.mu) {
  candidates.reserve(q.candidate_arm_ids.size());
  for (size_t j = 0; j < q.candidate_arm_ids.size(); ++j) {
    const int64_t index = room.FindArm(q.candidate_arm_ids[j]);
    if (index < 0) {
      return absl::NotFoundError(absl::StrCat(
          "candidate_arm_ids[", j, "]: arm \"", q.candidate_arm_ids[j],
          "\" not found in room \"", room.id, "\""));
    }
    candidates.push_back(static_cast<uint32_t>(index));
  }
  std::sort(candidates.begin(), candidates.end());
  candidates.erase(std::unique(candidates.begin(), candidates.end()),
                   candidates.end());
  excluded.reserve(q.excluded_arm_ids.size());
  for (const std::string& arm_id : q.excluded_arm_ids) {
    const int64_t index = room.FindArm(arm_id);
    if (index >= 0) excluded.push_back(static_cast<uint32_t>(index));
  }
  std::sort(excluded.begin(), excluded.end());
  excluded.erase(std::unique(excluded.begin(), excluded.end()), excluded.end());
  return absl::OkStatus();
}

// Storage a call's table views may point into.
struct CallTables {
  std::vector<double> zeros;
  // The scans read the segment's counters densely: a sparse segment is
  // copied out for this call (the whole room's table is always dense).
  CounterTable dense_segment;
};

// The view of a table (decay scale applied to its ln N).
TableView ViewOf(const CounterTable& table, double scale) {
  const double log_total = SafeLog(table.enabled_views() * scale);
  if (table.sparse()) {
    return TableView{nullptr, nullptr, log_total, nullptr, nullptr, &table};
  }
  return TableView{table.views(), table.clicks(), log_total,
                   table.reward_sums(), table.reward_sq_sums()};
}

// The segment's view, and one per distinct context item; an item with no
// table falls back to the segment counters for every arm.
void ResolveTables(const SampleQuery& q, const Room& room, CallTables& storage,
                   ScoreInputs& in) ABSL_SHARED_LOCKS_REQUIRED(room.mu) {
  const Segment* segment = room.FindSegment(q.segment);
  if (segment != nullptr) {
    const CounterTable* arms = &segment->arms;
    if (arms->sparse()) {
      storage.dense_segment = arms->Dense();
      arms = &storage.dense_segment;
    }
    in.base = ViewOf(*arms, in.scale);
  } else {
    storage.zeros.assign(room.arm_ids.size(), 0.0);
    const double* z = storage.zeros.data();
    in.base = TableView{z, z, 0.0, z, z};
  }
  std::vector<absl::string_view> distinct(q.context_items.begin(),
                                          q.context_items.end());
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  in.items.reserve(distinct.size());
  for (absl::string_view item : distinct) {
    const CounterTable* table = nullptr;
    if (segment != nullptr) {
      auto it = segment->context.find(item);
      if (it != segment->context.end()) table = &it->second;
    }
    in.items.push_back(table == nullptr ? in.base : ViewOf(*table, in.scale));
  }
}

// Cold start: in a segment, each arm's counters are blended with
// prior_pseudo_views views at its room-wide rates; UCB1's N grows by the
// pseudo-views of every enabled arm that has any.
void ResolveColdStart(const SampleQuery& q, const Room& room, ScoreInputs& in)
    ABSL_SHARED_LOCKS_REQUIRED(room.mu) {
  const Segment* whole_room = room.FindSegment(std::string(kWholeRoom));
  const double pseudo = q.segment.empty() ? 0.0 : in.policy.prior_pseudo_views;
  if (!(pseudo > 0) || whole_room == nullptr) return;
  in.whole_room = &whole_room->arms;
  in.pseudo = pseudo;
  double extra = 0;
  for (uint32_t i = 0; i < room.arm_ids.size(); ++i) {
    if (room.enabled[i] && whole_room->arms.views()[i] > 0) extra += pseudo;
  }
  const Segment* segment = room.FindSegment(q.segment);
  in.base.log_total_views = SafeLog(
      (segment == nullptr ? 0.0 : segment->arms.enabled_views() * in.scale) +
      extra);
}

absl::Status NoEligibleArm(const Room& room,
                           const std::vector<uint32_t>& candidates,
                           const std::vector<uint32_t>& excluded) {
  return absl::FailedPreconditionError(absl::StrCat(
      "room \"", room.id, "\" has no enabled arm",
      candidates.empty() && excluded.empty()
          ? ""
          : " among the candidate_arm_ids and excluded_arm_ids given"));
}

// Runs the scan the call takes; false when no arm is eligible.
bool RunScan(const SampleQuery& q, const std::vector<uint32_t>& candidates,
             const scan::Eligibility& eligible, scan::Scorer& scorer,
             scan::TopK& top) {
  if (!q.candidate_arm_ids.empty()) {
    return scan::ScanCandidates(scorer, candidates, eligible, top) > 0;
  }
  if (!eligible.Any()) return false;
  const scan::BoundKind bound =
      q.full_scan ? scan::BoundKind::kNone : scorer.Bound();
  switch (bound) {
    case scan::BoundKind::kNone:
      scan::FullScan(scorer, eligible, top, q.full_scan);
      break;
    case scan::BoundKind::kReach:
      if (scorer.policy().kind == PolicyKind::kThompson) {
        scan::ThompsonScan(scorer, eligible, top);
      } else {
        scan::ReachScan(scorer, eligible, top);
      }
      break;
    case scan::BoundKind::kFloatSum:
      scan::FloatSumScan(scorer, eligible, top);
      break;
  }
  return true;
}

}  // namespace

absl::StatusOr<SampleResult> Engine::Rank(const SampleQuery& q,
                                          int max_k) const {
  if (absl::Status s = ValidateQuery(q, max_k, options_.max_context_items);
      !s.ok()) {
    return s;
  }
  absl::StatusOr<std::shared_ptr<Room>> found =
      FindRoomOr(q.room_id, "room_id");
  if (!found.ok()) return found.status();
  const Room& room = **found;
  AwaitQueuedWrites(room);
  absl::ReaderMutexLock lock(&room.mu);

  SampleResult result;
  result.policy = q.policy.ForCall(room.policy);
  if (absl::Status s = ValidatePolicy(result.policy, "policy"); !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidateLinear(q, result.policy, room); !s.ok()) {
    return s;
  }
  std::vector<uint32_t> candidates;
  std::vector<uint32_t> excluded;
  if (absl::Status s = ResolveArms(q, room, candidates, excluded); !s.ok()) {
    return s;
  }

  // Randomness: seeded for reproducible calls, else the thread's generator.
  std::optional<std::mt19937_64> seeded;
  thread_local absl::InsecureBitGen thread_gen;
  if (q.seed.has_value()) seeded.emplace(*q.seed);
  absl::BitGenRef gen = seeded.has_value() ? absl::BitGenRef(*seeded)
                                           : absl::BitGenRef(thread_gen);
  const uint64_t salt = absl::Uniform<uint64_t>(gen);

  ScoreInputs in;
  in.policy = result.policy;
  in.scale = room.counter_scale;
  CallTables storage;
  ResolveTables(q, room, storage, in);
  in.explore = in.policy.kind == PolicyKind::kEpsilonGreedy &&
               absl::Bernoulli(gen, in.policy.epsilon);
  in.explore_salt = absl::Uniform<uint64_t>(gen);
  ResolveColdStart(q, room, in);
  in.models = room.linucb_arms.data();
  in.features = &q.features;
  // Draws come from a local inline generator seeded from `gen`, so a per-arm
  // draw costs no indirect call and a seeded request stays reproducible.
  scan::Scorer scorer(in, absl::Uniform<uint64_t>(gen));
  const size_t arm_count = room.arm_ids.size();
  if (in.policy.kind == PolicyKind::kRewardUcb ||
      in.policy.kind == PolicyKind::kRewardThompson) {
    in.value_prior =
        scan::PooledValuePrior(scorer, room.enabled.data(), arm_count);
  }

  const scan::Eligibility eligible{room.enabled.data(), arm_count, excluded};
  scan::TopK top(q.k == 0 ? 1 : static_cast<size_t>(q.k), salt);
  if (!RunScan(q, candidates, eligible, scorer, top)) {
    return NoEligibleArm(room, candidates, excluded);
  }

  result.tied_arms = static_cast<int64_t>(top.tied());
  result.runner_up_score = top.runner_up();
  const std::vector<scan::Candidate> best = top.TakeSorted();
  if (q.count_ties && result.tied_arms == 0 && !best.empty()) {
    result.tied_arms = static_cast<int64_t>(
        scan::CountScoring(scorer, candidates, eligible, best.back().score));
  }
  const Segment* segment = room.FindSegment(q.segment);
  result.arms.reserve(best.size());
  for (const scan::Candidate& c : best) {
    ScoredArm arm;
    arm.arm_id = std::string(room.arm_ids[c.index]);
    arm.score = c.score;
    if (segment != nullptr) {
      const Counts stored = segment->arms.Get(c.index);
      arm.counts = {stored.views * in.scale, stored.clicks * in.scale,
                    stored.reward_sum * in.scale};
    }
    result.arms.push_back(std::move(arm));
  }
  return result;
}

}  // namespace banditd::core
