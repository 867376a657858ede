#include "server/cluster/retention.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace banditd::cluster::retention {

Assessment Assess(const StreamState& state) {
  Assessment out;
  const uint64_t s = state.published_seq;
  out.records_since = state.last_seq > s ? state.last_seq - s : 0;
  out.headroom = static_cast<int64_t>(s + 1) -
                 static_cast<int64_t>(std::max<uint64_t>(state.first_seq, 1));
  auto consider = [&out](double pressure, const char* limit) {
    if (pressure > out.pressure || out.limit.empty()) {
      out.pressure = pressure;
      out.limit = limit;
    }
  };
  // Trimmed past S already: every limit has done its worst.
  const bool trimmed = out.headroom < 0;
  if (state.max_bytes > 0) {
    // Bytes of the records after S, at the stream's mean record size.
    const double bytes =
        state.msgs == 0
            ? 0
            : static_cast<double>(state.bytes) *
                  static_cast<double>(std::min(out.records_since, state.msgs)) /
                  static_cast<double>(state.msgs);
    consider(trimmed ? 1.0 : bytes / static_cast<double>(state.max_bytes),
             "max_bytes");
  }
  if (state.max_msgs > 0) {
    consider(trimmed ? 1.0
                     : static_cast<double>(out.records_since) /
                           static_cast<double>(state.max_msgs),
             "max_msgs");
  }
  if (state.max_age > absl::ZeroDuration()) {
    consider(trimmed
                 ? 1.0
                 : absl::FDivDuration(state.first_needed_age, state.max_age),
             "max_age");
  }
  return out;
}

absl::Status Validate(const Thresholds& t) {
  if (!(t.publish_at > 0 && t.publish_at < 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--cluster_snapshot_publish_at must be above 0 and below 1 (a share "
        "of the stream's tightest retention limit), not ",
        t.publish_at));
  }
  if (!(t.warn_at > t.publish_at && t.warn_at < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--cluster_retention_warn_at must be above "
                     "--cluster_snapshot_publish_at (",
                     t.publish_at, ") and below 1, not ", t.warn_at));
  }
  if (t.check_every <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--cluster_retention_check_every must be positive, not ",
                     absl::FormatDuration(t.check_every)));
  }
  return absl::OkStatus();
}

}  // namespace banditd::cluster::retention
