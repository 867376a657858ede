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

// A gauge with one value per stream, labelled stream="<name>".
prometheus::MetricFamily PerStream(
    std::string name, std::string help,
    const std::vector<NatsCommitter::StreamStats>& streams,
    double (*value)(const NatsCommitter::StreamStats&)) {
  prometheus::MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = prometheus::MetricType::Gauge;
  for (const NatsCommitter::StreamStats& stream : streams) {
    prometheus::ClientMetric metric;
    metric.label.push_back({"stream", stream.stream});
    metric.gauge.value = value(stream);
    family.metric.push_back(std::move(metric));
  }
  return family;
}

}  // namespace

std::vector<prometheus::MetricFamily> ClusterCollector::Collect() const {
  const NatsCommitter::Stats stats = committer_->stats();
  std::vector<prometheus::MetricFamily> families;
  // Per stream (one, or --cluster_streams): sequences of different streams
  // do not add up.
  families.push_back(
      PerStream("banditd_cluster_applied_sequence",
                "Last stream sequence applied by this replica, per stream.",
                stats.streams, [](const NatsCommitter::StreamStats& s) {
                  return static_cast<double>(s.applied_sequence);
                }));
  families.push_back(
      PerStream("banditd_cluster_replication_lag_records",
                "Stream records this replica has yet to apply, per stream.",
                stats.streams, [](const NatsCommitter::StreamStats& s) {
                  return static_cast<double>(s.pending_records);
                }));
  families.push_back(
      PerStream("banditd_cluster_replication_lag_seconds",
                "Delay from JetStream storing the last applied record to this "
                "replica applying it, per stream; 0 when idle and caught up.",
                stats.streams, [](const NatsCommitter::StreamStats& s) {
                  return absl::ToDoubleSeconds(s.apply_lag);
                }));
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
  families.push_back(One("banditd_cluster_republished_records_total",
                         "Copies of unacknowledged records this replica "
                         "published again (--cluster_republish_interval); "
                         "JetStream stores each record once.",
                         prometheus::MetricType::Counter,
                         static_cast<double>(stats.republished_records)));
  families.push_back(One("banditd_cluster_write_catch_ups_total",
                         "Writes naming a room or arm this replica did not "
                         "know that waited for it to catch up with the "
                         "stream before validating again "
                         "(--cluster_write_catch_up_timeout).",
                         prometheus::MetricType::Counter,
                         static_cast<double>(stats.write_catch_ups)));
  families.push_back(One("banditd_cluster_published_snapshots_total",
                         "Snapshots this replica published to the object "
                         "store (--cluster_snapshot_bucket).",
                         prometheus::MetricType::Counter,
                         static_cast<double>(stats.published_snapshots)));
  families.push_back(
      One("banditd_cluster_last_published_sequence",
          "Stream sequence covered by the last snapshot this replica "
          "published (0: none); see also "
          "banditd_cluster_published_snapshot_sequence (any replica's).",
          prometheus::MetricType::Gauge,
          static_cast<double>(stats.last_published_sequence)));
  families.push_back(One("banditd_cluster_snapshot_publish_failures_total",
                         "Snapshot publishes of this replica that failed "
                         "(logged; retried at the next snapshot).",
                         prometheus::MetricType::Counter,
                         static_cast<double>(stats.publish_failures)));
  families.push_back(One("banditd_cluster_early_publishes_total",
                         "Snapshots this replica published before "
                         "--cluster_snapshot_publish_every because retention "
                         "neared the published one.",
                         prometheus::MetricType::Counter,
                         static_cast<double>(stats.early_publishes)));
  families.push_back(One("banditd_cluster_collected_snapshot_chunks_total",
                         "Object-store chunks of replaced or orphaned "
                         "snapshots this replica deleted.",
                         prometheus::MetricType::Counter,
                         static_cast<double>(stats.collected_chunks)));
  // The retention watch's last look, per stream.
  families.push_back(PerStream(
      "banditd_cluster_published_snapshot_sequence",
      "Stream sequence covered by the published snapshot (any replica's), "
      "per stream; 0: none.",
      stats.streams, [](const NatsCommitter::StreamStats& s) {
        return static_cast<double>(s.published_sequence);
      }));
  families.push_back(PerStream(
      "banditd_cluster_records_since_published_snapshot",
      "Stream records after the published snapshot: what a new replica "
      "replays, per stream.",
      stats.streams, [](const NatsCommitter::StreamStats& s) {
        return static_cast<double>(s.records_since_published);
      }));
  families.push_back(PerStream(
      "banditd_cluster_trim_headroom_records",
      "Records retention may still trim from the stream's head before it "
      "trims one after the published snapshot; negative: it did, and no new "
      "replica can join until a newer snapshot is published.",
      stats.streams, [](const NatsCommitter::StreamStats& s) {
        return static_cast<double>(s.trim_headroom);
      }));
  families.push_back(PerStream(
      "banditd_cluster_retention_pressure",
      "Share of the stream's tightest retention limit used by the records "
      "after the published snapshot; publish early at "
      "--cluster_snapshot_publish_at, warn at --cluster_retention_warn_at, "
      "trimmed past it at 1.",
      stats.streams, [](const NatsCommitter::StreamStats& s) {
        return s.retention_pressure;
      }));
  return families;
}

}  // namespace banditd::cluster
