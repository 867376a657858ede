#ifndef BANDITD_SERVER_OPS_METRICS_H_
#define BANDITD_SERVER_OPS_METRICS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "prometheus/collectable.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "server/store/store_metrics.h"

namespace banditd::ops {

// Metrics owns every process-wide metric and renders them in the Prometheus
// text exposition format. Counters and histograms come from prometheus-cpp;
// values computed at scrape time (rooms, arms, memory) come from
// Collectables added with AddCollectable. Thread-safe.
class Metrics final : public store::StoreMetrics {
 public:
  Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // One finished RPC. `full_method` is gRPC's "/package.Service/Method";
  // `code` is the grpc::StatusCode as a number.
  void RecordRpc(absl::string_view full_method, int code, double seconds);

  // StoreMetrics.
  void RecordCommit(absl::Duration latency, int group_size) override;
  void RecordSnapshot(absl::Duration duration) override;
  void RecordRecovery(absl::Duration duration,
                      int64_t replayed_records) override;

  // Adds a source of scrape-time metrics. `collectable` must outlive this
  // object or be removed first.
  void AddCollectable(const prometheus::Collectable* collectable);

  // The text exposition (format 0.0.4) of everything.
  std::string Render() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& rpc_requests_;
  prometheus::Family<prometheus::Histogram>& rpc_duration_;
  prometheus::Histogram& commit_duration_;
  prometheus::Histogram& commit_group_size_;
  prometheus::Histogram& snapshot_duration_;
  prometheus::Gauge& recovery_duration_;
  prometheus::Gauge& recovery_records_;

  mutable absl::Mutex mu_;
  std::vector<const prometheus::Collectable*> collectables_
      ABSL_GUARDED_BY(mu_);
};

// ProcessCollector reports process_resident_memory_bytes,
// process_virtual_memory_bytes and process_start_time_seconds from /proc.
class ProcessCollector final : public prometheus::Collectable {
 public:
  ProcessCollector();
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const double start_time_seconds_;
};

// Helpers for Collectables that build families by hand.
prometheus::MetricFamily GaugeFamily(std::string name, std::string help);
void AddGauge(prometheus::MetricFamily& family,
              std::vector<prometheus::ClientMetric::Label> labels,
              double value);

}  // namespace banditd::ops

#endif  // BANDITD_SERVER_OPS_METRICS_H_
