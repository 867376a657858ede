#ifndef BANDITD_SERVER_OPS_SHARE_HISTORY_H_
#define BANDITD_SERVER_OPS_SHARE_HISTORY_H_

#include <cstddef>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace banditd::ops {

// ShareHistory: for each (room, segment), a ring of timestamped per-arm view
// counts, from which the dashboard's "share over time" is derived (each
// arm's share of the views added between two points). Fed by a sampler
// every few seconds for every room (so the last hour shows when the page
// opens) and by the dashboard's own polls. Thread-safe.
//
// Memory is bounded: at most `max_keys` rings (the one recorded longest ago
// is dropped), `window / min_spacing` points each, `max_arms` counts a
// point (8 bytes each).
class ShareHistory {
 public:
  struct Options {
    absl::Duration window = absl::Hours(1);
    // Points closer than this to the previous one are not kept.
    absl::Duration min_spacing = absl::Seconds(2);
    size_t max_keys = 100;
    // Arms past this many (in room order) are left out of the shares.
    size_t max_arms = 32;
  };

  explicit ShareHistory(Options options) : options_(options) {}

  // Record keeps the first this many arms of `views`.
  size_t max_arms() const { return options_.max_arms; }

  // Records `views` (arm id, total views; in room order) at `now`. A ring
  // whose arm list changed starts over.
  void Record(const std::string& room_id, const std::string& segment,
              absl::Time now,
              const std::vector<std::pair<std::string, double>>& views);

  // The share series as JSON: [{"t": unix ms, "share": {arm: share}}...],
  // one entry per pair of points with new views. "[]" when none.
  std::string RenderJson(const std::string& room_id,
                         const std::string& segment) const;

  size_t keys() const;

 private:
  struct Point {
    absl::Time time;
    std::vector<double> views;  // parallel to Ring::arms
  };
  struct Ring {
    std::vector<std::string> arms;
    std::deque<Point> points;
  };
  static std::string Key(const std::string& room_id,
                         const std::string& segment);

  const Options options_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Ring> rings_ ABSL_GUARDED_BY(mu_);
};

}  // namespace banditd::ops

#endif  // BANDITD_SERVER_OPS_SHARE_HISTORY_H_
