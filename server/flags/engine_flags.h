#ifndef BANDITD_SERVER_FLAGS_ENGINE_FLAGS_H_
#define BANDITD_SERVER_FLAGS_ENGINE_FLAGS_H_

#include "server/core/engine.h"

namespace banditd::flags {

// The engine's options from the --max_* limits, --event_id_window*,
// --linucb_max_dimension, the analysis budgets and --big_room_arms (writes
// queued to a big room while a read holds it); one event-id window per
// stream of --cluster_streams in cluster mode.
core::EngineOptions EngineOptionsFromFlags();

}  // namespace banditd::flags

#endif  // BANDITD_SERVER_FLAGS_ENGINE_FLAGS_H_
