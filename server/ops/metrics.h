#ifndef BANDITD_SERVER_OPS_METRICS_H_
#define BANDITD_SERVER_OPS_METRICS_H_

#include <array>
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
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
  // One method's series, looked up once: prometheus-cpp's Family::Add builds
  // and hashes a label map under its own lock, which cost two label maps
  // and about 2 % of the server's CPU on every call (perf, Sample at c = 32).
  struct RpcSeries {
    std::string service;
    std::string method;
    prometheus::Histogram* duration = nullptr;
    // Per grpc::StatusCode 0..16, created on the first call with that code.
    std::array<std::atomic<prometheus::Counter*>, 17> requests{};
  };
  // At most this many methods are cached (gRPC reports only registered
  // methods; the cap keeps any other name from growing the map).
  static constexpr size_t kMaxCachedMethods = 256;

  RpcSeries* SeriesFor(absl::string_view full_method);
  prometheus::Counter& RequestsFor(RpcSeries& series, int code);

  std::shared_ptr<prometheus::Registry> registry_;
  absl::Mutex rpc_mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<RpcSeries>> rpc_series_
      ABSL_GUARDED_BY(rpc_mu_);
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
