#include "server/ops/share_history.h"

#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/ops/http_server.h"

namespace banditd::ops {

std::string ShareHistory::Key(const std::string& room_id,
                              const std::string& segment) {
  return absl::StrCat(room_id, std::string(1, '\0'), segment);
}

void ShareHistory::Record(
    const std::string& room_id, const std::string& segment, absl::Time now,
    const std::vector<std::pair<std::string, double>>& views) {
  const size_t n = std::min(views.size(), options_.max_arms);
  absl::MutexLock lock(&mu_);
  const std::string key = Key(room_id, segment);
  auto it = rings_.find(key);
  if (it == rings_.end()) {
    if (rings_.size() >= options_.max_keys) {
      // Drop the ring recorded longest ago (empty rings first).
      auto oldest = rings_.begin();
      for (auto r = rings_.begin(); r != rings_.end(); ++r) {
        if (r->second.points.empty() ||
            (!oldest->second.points.empty() &&
             r->second.points.back().time <
                 oldest->second.points.back().time)) {
          oldest = r;
          if (r->second.points.empty()) break;
        }
      }
      rings_.erase(oldest);
    }
    it = rings_.emplace(key, Ring{}).first;
  }
  Ring& ring = it->second;
  bool same_arms = ring.arms.size() == n;
  for (size_t i = 0; same_arms && i < n; ++i) {
    same_arms = ring.arms[i] == views[i].first;
  }
  if (!same_arms) {
    ring.arms.clear();
    ring.points.clear();
    for (size_t i = 0; i < n; ++i) ring.arms.push_back(views[i].first);
  }
  if (!ring.points.empty() &&
      now - ring.points.back().time < options_.min_spacing) {
    return;
  }
  Point point{now, {}};
  point.views.reserve(n);
  for (size_t i = 0; i < n; ++i) point.views.push_back(views[i].second);
  ring.points.push_back(std::move(point));
  while (!ring.points.empty() &&
         ring.points.front().time < now - options_.window) {
    ring.points.pop_front();
  }
}

std::string ShareHistory::RenderJson(const std::string& room_id,
                                     const std::string& segment) const {
  absl::MutexLock lock(&mu_);
  auto it = rings_.find(Key(room_id, segment));
  if (it == rings_.end()) return "[]";
  const Ring& ring = it->second;
  std::string out = "[";
  bool first = true;
  std::vector<double> deltas(ring.arms.size());
  for (size_t i = 1; i < ring.points.size(); ++i) {
    double total = 0;
    for (size_t a = 0; a < ring.arms.size(); ++a) {
      const double now = ring.points[i].views[a];
      double d = now - ring.points[i - 1].views[a];
      if (d < 0) d = now;  // the room was reset in between
      deltas[a] = d;
      total += d;
    }
    if (!(total > 0)) continue;
    absl::StrAppend(&out, first ? "" : ",",
                    "{\"t\":", absl::ToUnixMillis(ring.points[i].time),
                    ",\"share\":{");
    first = false;
    for (size_t a = 0; a < ring.arms.size(); ++a) {
      absl::StrAppend(&out, a ? "," : "", JsonQuote(ring.arms[a]), ":",
                      absl::StrFormat("%.6g", deltas[a] / total));
    }
    out += "}}";
  }
  out += "]";
  return out;
}

size_t ShareHistory::keys() const {
  absl::MutexLock lock(&mu_);
  return rings_.size();
}

}  // namespace banditd::ops
