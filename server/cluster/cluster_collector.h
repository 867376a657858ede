#ifndef BANDITD_SERVER_CLUSTER_CLUSTER_COLLECTOR_H_
#define BANDITD_SERVER_CLUSTER_CLUSTER_COLLECTOR_H_

#include <vector>

#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"
#include "server/cluster/nats_committer.h"

namespace banditd::cluster {

// ClusterCollector reports a replica's replication state at scrape time:
//   banditd_cluster_applied_sequence         last stream sequence applied
//   banditd_cluster_replication_lag_records  stream records not yet applied
//   banditd_cluster_replication_lag_seconds  store-to-apply delay of the last
//                                            applied record (0 when idle and
//                                            caught up)
//   banditd_cluster_rejected_records_total   records whose Apply failed (as
//                                            on every replica)
//   banditd_cluster_skipped_records_total    records trimmed by retention
//                                            before this replica applied them
// and the published snapshot's: publishes, failures, early publishes,
// collected chunks, and per stream the retention watch's sequence, records
// since, trim headroom and pressure (nats_retention.cc).
class ClusterCollector final : public prometheus::Collectable {
 public:
  // `committer` must outlive the collector.
  explicit ClusterCollector(const NatsCommitter* committer)
      : committer_(committer) {}

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const NatsCommitter* const committer_;
};

}  // namespace banditd::cluster

#endif  // BANDITD_SERVER_CLUSTER_CLUSTER_COLLECTOR_H_
