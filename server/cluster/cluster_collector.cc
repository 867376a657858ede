#include "server/cluster/cluster_collector.h"

#include <string>
#include <utility>

namespace banditd::cluster {
namespace {

prometheus::MetricFamily One(std::string name, std::string help,
                             prometheus::MetricType type, double value) {
  prometheus::MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = type;
  prometheus::ClientMetric metric;
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  family.metric.push_back(std::move(metric));
  return family;
}

}  // namespace

std::vector<prometheus::MetricFamily> ClusterCollector::Collect() const {
  const NatsCommitter::Stats stats = committer_->stats();
  std::vector<prometheus::MetricFamily> families;
  families.push_back(One("banditd_cluster_applied_sequence",
                         "Last stream sequence applied by this replica.",
                         prometheus::MetricType::Gauge,
                         static_cast<double>(stats.applied_sequence)));
  families.push_back(One("banditd_cluster_replication_lag_records",
                         "Stream records this replica has yet to apply.",
                         prometheus::MetricType::Gauge,
                         static_cast<double>(stats.pending_records)));
  families.push_back(One(
      "banditd_cluster_replication_lag_seconds",
      "Delay from JetStream storing the last applied record to this "
      "replica applying it; 0 when idle and caught up.",
      prometheus::MetricType::Gauge, absl::ToDoubleSeconds(stats.apply_lag)));
  families.push_back(One("banditd_cluster_rejected_records_total",
                         "Stream records whose Apply failed (on every replica "
                         "alike).",
                         prometheus::MetricType::Counter,
                         static_cast<double>(stats.rejected_records)));
  families.push_back(One("banditd_cluster_skipped_records_total",
                         "Stream records removed by retention before this "
                         "replica applied them; nonzero means the replica "
                         "must restart from the published snapshot.",
                         prometheus::MetricType::Counter,
                         static_cast<double>(stats.skipped_records)));
  families.push_back(One("banditd_cluster_published_snapshots_total",
                         "Snapshots this replica published to the object "
                         "store (--cluster_snapshot_bucket).",
                         prometheus::MetricType::Counter,
                         static_cast<double>(stats.published_snapshots)));
  families.push_back(
      One("banditd_cluster_last_published_sequence",
          "Stream sequence covered by the last snapshot this replica "
          "published (0: none); retention must not trim past it.",
          prometheus::MetricType::Gauge,
          static_cast<double>(stats.last_published_sequence)));
  return families;
}

}  // namespace banditd::cluster
