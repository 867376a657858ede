#include "server/ops/metrics.h"

#include <unistd.h>

#include <fstream>
#include <string>
#include <tuple>
#include <utility>

#include "absl/strings/strip.h"
#include "prometheus/metric_family.h"
#include "prometheus/text_serializer.h"

namespace banditd::ops {
namespace {

// Seconds, from 100us to 10s: unary RPCs and fsync-bound commits.
const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
      0.05,   0.1,     0.25,   0.5,   1,      2.5,   10};
  return *buckets;
}

const char* CodeName(int code) {
  static constexpr const char* kNames[] = {"OK",
                                           "CANCELLED",
                                           "UNKNOWN",
                                           "INVALID_ARGUMENT",
                                           "DEADLINE_EXCEEDED",
                                           "NOT_FOUND",
                                           "ALREADY_EXISTS",
                                           "PERMISSION_DENIED",
                                           "RESOURCE_EXHAUSTED",
                                           "FAILED_PRECONDITION",
                                           "ABORTED",
                                           "OUT_OF_RANGE",
                                           "UNIMPLEMENTED",
                                           "INTERNAL",
                                           "UNAVAILABLE",
                                           "DATA_LOSS",
                                           "UNAUTHENTICATED"};
  if (code < 0 || code >= static_cast<int>(std::size(kNames))) {
    return "UNKNOWN";
  }
  return kNames[code];
}

// "/banditd.v1.BanditService/Sample" -> {"banditd.v1.BanditService",
// "Sample"}; a name without a slash is all method.
std::pair<std::string, std::string> ServiceAndMethod(
    absl::string_view full_method) {
  absl::string_view name = absl::StripPrefix(full_method, "/");
  if (size_t slash = name.rfind('/'); slash != absl::string_view::npos) {
    return {std::string(name.substr(0, slash)),
            std::string(name.substr(slash + 1))};
  }
  return {std::string(), std::string(name)};
}

double NowSeconds() {
  return absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch());
}

}  // namespace

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      rpc_requests_(prometheus::BuildCounter()
                        .Name("banditd_rpc_requests_total")
                        .Help("RPCs finished, by service, method and status "
                              "code; code!=\"OK\" are the errors.")
                        .Register(*registry_)),
      rpc_duration_(prometheus::BuildHistogram()
                        .Name("banditd_rpc_duration_seconds")
                        .Help("RPC latency from the call's start to its "
                              "status being sent.")
                        .Register(*registry_)),
      commit_duration_(
          prometheus::BuildHistogram()
              .Name("banditd_store_commit_duration_seconds")
              .Help("Group commit latency: first Submit to durable log "
                    "write.")
              .Register(*registry_)
              .Add({}, LatencyBuckets())),
      commit_group_size_(
          prometheus::BuildHistogram()
              .Name("banditd_store_commit_group_size")
              .Help("Mutations written by one group commit.")
              .Register(*registry_)
              .Add({},
                   prometheus::Histogram::BucketBoundaries{
                       1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024})),
      snapshot_duration_(
          prometheus::BuildHistogram()
              .Name("banditd_store_snapshot_duration_seconds")
              .Help("Time to write one snapshot.")
              .Register(*registry_)
              .Add({},
                   prometheus::Histogram::BucketBoundaries{
                       0.001, 0.01, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300})),
      recovery_duration_(prometheus::BuildGauge()
                             .Name("banditd_store_recovery_duration_seconds")
                             .Help("Startup recovery time (snapshot load and "
                                   "log replay).")
                             .Register(*registry_)
                             .Add({})),
      recovery_records_(prometheus::BuildGauge()
                            .Name("banditd_store_recovery_replayed_records")
                            .Help("Log records replayed at startup.")
                            .Register(*registry_)
                            .Add({})) {}

Metrics::RpcSeries* Metrics::SeriesFor(absl::string_view full_method) {
  {
    absl::ReaderMutexLock lock(&rpc_mu_);
    auto it = rpc_series_.find(full_method);
    if (it != rpc_series_.end()) return it->second.get();
  }
  absl::MutexLock lock(&rpc_mu_);
  auto it = rpc_series_.find(full_method);
  if (it != rpc_series_.end()) return it->second.get();
  if (rpc_series_.size() >= kMaxCachedMethods) return nullptr;
  auto series = std::make_unique<RpcSeries>();
  std::tie(series->service, series->method) = ServiceAndMethod(full_method);
  series->duration = &rpc_duration_.Add(
      {{"service", series->service}, {"method", series->method}},
      LatencyBuckets());
  RpcSeries* out = series.get();
  rpc_series_.emplace(std::string(full_method), std::move(series));
  return out;
}

prometheus::Counter& Metrics::RequestsFor(RpcSeries& series, int code) {
  std::atomic<prometheus::Counter*>& slot = series.requests[code];
  prometheus::Counter* counter = slot.load(std::memory_order_acquire);
  if (counter == nullptr) {
    // Family::Add returns the existing series for the same labels, so two
    // threads racing here store the same pointer.
    counter = &rpc_requests_.Add({{"service", series.service},
                                  {"method", series.method},
                                  {"code", CodeName(code)}});
    slot.store(counter, std::memory_order_release);
  }
  return *counter;
}

void Metrics::RecordRpc(absl::string_view full_method, int code,
                        double seconds) {
  RpcSeries* series = SeriesFor(full_method);
  if (series != nullptr && code >= 0 &&
      code < static_cast<int>(series->requests.size())) {
    RequestsFor(*series, code).Increment();
    series->duration->Observe(seconds);
    return;
  }
  // Uncached: the labels are built for this call.
  const auto [service, method] = ServiceAndMethod(full_method);
  rpc_requests_
      .Add({{"service", service}, {"method", method}, {"code", CodeName(code)}})
      .Increment();
  rpc_duration_
      .Add({{"service", service}, {"method", method}}, LatencyBuckets())
      .Observe(seconds);
}

void Metrics::RecordCommit(absl::Duration latency, int group_size) {
  commit_duration_.Observe(absl::ToDoubleSeconds(latency));
  commit_group_size_.Observe(group_size);
}

void Metrics::RecordSnapshot(absl::Duration duration) {
  snapshot_duration_.Observe(absl::ToDoubleSeconds(duration));
}

void Metrics::RecordRecovery(absl::Duration duration,
                             int64_t replayed_records) {
  recovery_duration_.Set(absl::ToDoubleSeconds(duration));
  recovery_records_.Set(static_cast<double>(replayed_records));
}

void Metrics::AddCollectable(const prometheus::Collectable* collectable) {
  absl::MutexLock lock(&mu_);
  collectables_.push_back(collectable);
}

std::string Metrics::Render() const {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  {
    absl::MutexLock lock(&mu_);
    for (const prometheus::Collectable* collectable : collectables_) {
      std::vector<prometheus::MetricFamily> more = collectable->Collect();
      for (prometheus::MetricFamily& family : more) {
        families.push_back(std::move(family));
      }
    }
  }
  return prometheus::TextSerializer().Serialize(families);
}

ProcessCollector::ProcessCollector() : start_time_seconds_(NowSeconds()) {}

std::vector<prometheus::MetricFamily> ProcessCollector::Collect() const {
  std::vector<prometheus::MetricFamily> families;
  // /proc/self/statm: size resident shared text lib data dt, in pages.
  std::ifstream statm("/proc/self/statm");
  double size_pages = 0, resident_pages = 0;
  if (statm >> size_pages >> resident_pages) {
    const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
    families.push_back(GaugeFamily("process_resident_memory_bytes",
                                   "Resident memory size in bytes."));
    AddGauge(families.back(), {}, resident_pages * page);
    families.push_back(GaugeFamily("process_virtual_memory_bytes",
                                   "Virtual memory size in bytes."));
    AddGauge(families.back(), {}, size_pages * page);
  }
  families.push_back(
      GaugeFamily("process_start_time_seconds",
                  "Start time of the process since unix epoch in seconds."));
  AddGauge(families.back(), {}, start_time_seconds_);
  return families;
}

prometheus::MetricFamily GaugeFamily(std::string name, std::string help) {
  prometheus::MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = prometheus::MetricType::Gauge;
  return family;
}

void AddGauge(prometheus::MetricFamily& family,
              std::vector<prometheus::ClientMetric::Label> labels,
              double value) {
  prometheus::ClientMetric metric;
  metric.label = std::move(labels);
  metric.gauge.value = value;
  family.metric.push_back(std::move(metric));
}

}  // namespace banditd::ops
