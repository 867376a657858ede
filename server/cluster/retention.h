#ifndef BANDITD_SERVER_CLUSTER_RETENTION_H_
#define BANDITD_SERVER_CLUSTER_RETENTION_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"

// How close a stream's retention limits are to trimming the records a new
// replica needs: every record after the sequence S that the published
// snapshot covers. Pure: NatsCommitter's retention watch
// (nats_retention.cc) reads the inputs from JetStream and acts on the
// result (publish early, warn, report on /metrics).
namespace banditd::cluster::retention {

// What a stream holds and the limits it is trimmed by (JetStream's stream
// info), and the published snapshot's position in it.
struct StreamState {
  uint64_t first_seq = 0;  // 0 or last_seq + 1 when empty
  uint64_t last_seq = 0;
  uint64_t msgs = 0;
  uint64_t bytes = 0;
  // Limits; <= 0: none.
  int64_t max_bytes = 0;
  int64_t max_msgs = 0;
  absl::Duration max_age;
  // The published snapshot's sequence S in this stream (0: none published,
  // so a new replica needs the stream from seq 1), and the age of record
  // S + 1 (zero when the stream ends at S).
  uint64_t published_seq = 0;
  absl::Duration first_needed_age;
};

struct Assessment {
  // Records after S: what a new replica replays.
  uint64_t records_since = 0;
  // S + 1 - first_seq: records retention may still trim before it trims
  // one a new replica needs; negative when it already has.
  int64_t headroom = 0;
  // The largest share of a limit (bytes, messages, age) that the records
  // after S use: at 1.0 retention starts trimming them. Bytes are
  // estimated from the stream's mean record size. 0 without limits.
  double pressure = 0;
  // The limit `pressure` is about ("max_bytes", "max_msgs", "max_age"), or
  // "" without limits.
  std::string limit;
};

Assessment Assess(const StreamState& state);

// The thresholds (fractions of the tightest limit, see Assessment::pressure)
// and how often the watch looks: flags, checked at startup.
struct Thresholds {
  // Publish a snapshot (even within --cluster_snapshot_publish_every) when
  // the pressure reaches this.
  double publish_at = 0.5;
  // Log a warning at this pressure.
  double warn_at = 0.8;
  absl::Duration check_every = absl::Seconds(10);
};

// INVALID_ARGUMENT naming the flag: 0 < publish_at < warn_at < 1,
// check_every > 0.
absl::Status Validate(const Thresholds& thresholds);

}  // namespace banditd::cluster::retention

#endif  // BANDITD_SERVER_CLUSTER_RETENTION_H_
