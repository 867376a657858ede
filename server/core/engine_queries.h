#ifndef BANDITD_SERVER_CORE_ENGINE_QUERIES_H_
#define BANDITD_SERVER_CORE_ENGINE_QUERIES_H_

// What the Engine's reads take and return (engine.h): Sample, GetRoom,
// ListRooms, GetStats and winner analysis. Plain values, no engine state.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "server/core/policy.h"
#include "server/core/room.h"
#include "server/core/winner.h"

namespace banditd::core {

// Which of a room's arms a read lists: a window of the room's arm order
// (ListArms, a room's FULL view, GetStats pages), the arms with the most
// views (the dashboard's view of a big room) or named arms (GetStats).
struct ArmSelection {
  // The window starts after this arm or, when it is empty or was removed
  // since, at `start_index`.
  std::string after_arm_id;
  size_t start_index = 0;
  // At most this many arms.
  size_t limit = std::numeric_limits<size_t>::max();
  // kTopViews: instead of a window, the `limit` arms with the most views
  // in the read's segment, most first (ties in room order; no segment
  // counters: the first arms). One pass over the segment's counters that
  // keeps `limit` candidates: no copy of every arm's counters.
  enum class Order { kRoom, kTopViews };
  Order order = Order::kRoom;
  // When non-empty: exactly these arms, in this order (NOT_FOUND naming
  // "arm_ids[i]" for one not in the room); the window is ignored.
  std::vector<std::string> arm_ids;
};

// The selection that lists no arm (a room's BASIC view).
inline ArmSelection NoArms() {
  ArmSelection none;
  none.limit = 0;
  return none;
}

struct WinnerQuery {
  std::string room_id;
  std::string segment;
  // 0 means WinnerOptions' default.
  int draws = 0;
  uint64_t seed = 0;
  double loss_threshold = 0;
  // The arms analysed (their enabled ones): every arm by default, or e.g.
  // a big room's most viewed (ArmSelection::Order::kTopViews).
  ArmSelection arms = ArmSelection();
};

struct WinnerResult {
  // The selected enabled arms, in the selection's order, index-aligned
  // with analysis.arms.
  std::vector<std::string> arm_ids;
  WinnerAnalysis analysis;
  // Beta on clicks, or Normal on reward per view (reward policies).
  ArmPosterior::Kind posterior = ArmPosterior::Kind::kBeta;
};

struct SampleQuery {
  std::string room_id;
  std::string segment;
  std::vector<std::string> context_items;
  int k = 0;
  PolicyOverride policy;
  std::vector<std::string> candidate_arm_ids;
  std::vector<std::string> excluded_arm_ids;
  std::optional<uint64_t> seed;
  // LinUCB features.
  std::vector<double> features;
  // Report each returned arm's propensity (propensity.cc).
  bool propensities = false;
  // Monte Carlo draws for Thompson propensities; 0 means 1000.
  int propensity_draws = 0;
  // Tests: rank by the reference scan, which scores every eligible arm,
  // rather than by the bounded scans (sample_scan.h).
  bool full_scan = false;
  // Propensities (propensity.cc) only: set SampleResult::tied_arms by a
  // counting pass that scores every eligible arm again (deterministic
  // policies only).
  bool count_ties = false;
};

struct ScoredArm {
  std::string arm_id;
  double score = 0;
  Counts counts;
  // With SampleQuery::propensities: the probability that the call returns
  // this arm (first for k = 1, in the top k otherwise).
  std::optional<double> propensity;
};

struct SampleResult {
  std::vector<ScoredArm> arms;
  PolicyParams policy;
  // With propensities: 0 when they are exact, else the Monte Carlo draws
  // (Thompson policies) they were estimated from.
  int propensity_draws = 0;
  // The probability that the exploration floor replaced the policy's
  // ranking with a uniformly random one (0 without a floor), and whether
  // it did in this call.
  double floor_probability = 0;
  bool floor_explored = false;
  // Eligible arms (with propensities or a floor; else 0).
  int64_t eligible_arms = 0;
  // The number of eligible arms scoring exactly the last returned arm's
  // score, where the ranking knows it: when it drew among tied unseen arms
  // (a cold room), or with SampleQuery::count_ties. Else 0.
  int64_t tied_arms = 0;
  // The best score among the eligible arms the ranking scored but did not
  // return (-infinity when none); the arms it did not score score below
  // the k-th (the scans skip only arms that cannot reach it). Below the
  // k-th score, no arm outside the ranking ties there.
  double runner_up_score = -std::numeric_limits<double>::infinity();
};

struct ArmInfo {
  std::string arm_id;
  bool enabled = true;
};

struct RoomInfo {
  std::string room_id;
  // The selected arms (ArmSelection): all of them by default.
  std::vector<ArmInfo> arms;
  PolicyParams policy;
  DecayConfig decay;
  LinUcbConfig linucb;
  // Every arm of the room, listed or not.
  int64_t arm_count = 0;
  // The room index of arms[0]; more_arms: arms follow the listed window.
  size_t first_index = 0;
  bool more_arms = false;
};

struct RoomPage {
  std::vector<RoomInfo> rooms;
  // Empty on the last page, else the room_id to continue after.
  std::string next_after;
};

struct ContextStat {
  std::string context_item;
  Counts counts;
  Scores scores;
};

struct ArmStat {
  std::string arm_id;
  bool enabled = true;
  Counts counts;
  Scores scores;
  std::vector<ContextStat> context;
};

struct Stats {
  std::string room_id;
  std::string segment;
  // The selected arms (ArmSelection): all of them by default.
  std::vector<ArmStat> arms;
  double total_views = 0;
  // As in RoomInfo.
  int64_t arm_count = 0;
  size_t first_index = 0;
  bool more_arms = false;
};

}  // namespace banditd::core

#endif  // BANDITD_SERVER_CORE_ENGINE_QUERIES_H_
