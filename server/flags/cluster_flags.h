#ifndef BANDITD_SERVER_FLAGS_CLUSTER_FLAGS_H_
#define BANDITD_SERVER_FLAGS_CLUSTER_FLAGS_H_

#include <string>

#include "absl/flags/declare.h"
#include "server/cluster/nats_committer.h"
#include "server/core/engine.h"
#include "server/store/durable_committer.h"

// Read by the engine's and Kafka's flags too: cluster mode (non-empty), its
// stream count and its rooms filter.
ABSL_DECLARE_FLAG(std::string, cluster_nats);
ABSL_DECLARE_FLAG(std::string, cluster_rooms);
ABSL_DECLARE_FLAG(int, cluster_streams);

namespace banditd::flags {

// The --cluster_* flags as NatsCommitter options; the event-id window and
// the snapshot settings are the engine's and the store's. `metrics` is
// left for the caller.
cluster::NatsCommitter::Options ClusterOptionsFromFlags(
    const core::EngineOptions& engine_options,
    const store::DurableCommitter::Options& store_options);

}  // namespace banditd::flags

#endif  // BANDITD_SERVER_FLAGS_CLUSTER_FLAGS_H_
