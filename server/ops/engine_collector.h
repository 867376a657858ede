#ifndef BANDITD_SERVER_OPS_ENGINE_COLLECTOR_H_
#define BANDITD_SERVER_OPS_ENGINE_COLLECTOR_H_

#include <vector>

#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"
#include "server/core/engine.h"

namespace banditd::ops {

// EngineCollector reports the engine's size at scrape time: rooms, arms,
// segments and counter slots. With `per_room` it also reports, for the
// whole-room segment of every room, each arm's views, clicks and share of
// views (labels room, arm): one series per arm, so keep it off when rooms
// have many arms. Visits every room under its reader lock.
class EngineCollector final : public prometheus::Collectable {
 public:
  // `engine` must outlive the collector.
  EngineCollector(const core::Engine* engine, bool per_room)
      : engine_(engine), per_room_(per_room) {}

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const core::Engine* const engine_;
  const bool per_room_;
};

}  // namespace banditd::ops

#endif  // BANDITD_SERVER_OPS_ENGINE_COLLECTOR_H_
