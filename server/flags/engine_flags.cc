// The engine's flags (server/core): batch size, event-id de-duplication and
// the limits on what clients can make the server hold.

#include "server/flags/engine_flags.h"

#include <algorithm>
#include <cstdint>

#include "absl/flags/flag.h"
#include "absl/time/time.h"
#include "server/flags/cluster_flags.h"
#include "server/flags/service_flags.h"

ABSL_FLAG(int, max_batch_events, 10000, "Most events in one Feedback call.");
ABSL_FLAG(int64_t, event_id_window, 1'000'000,
          "How many recent Feedback event_ids are remembered for de-dup, "
          "at least (0: no de-duplication); per stream with "
          "--cluster_streams above 1 (each stream has its own window).");
ABSL_FLAG(absl::Duration, event_id_window_age, absl::Minutes(10),
          "How long (in log time) a Feedback event_id is remembered at "
          "least, whatever --event_id_window: covers retries after outages. "
          "The ids count against --memory_budget_bytes; 0: by count only.");

ABSL_FLAG(int, linucb_max_dimension, 64,
          "Largest LinUCB feature vector a room may declare.");

// Limits on what clients can make the server hold (RESOURCE_EXHAUSTED
// beyond). Enforced when a request is admitted, never on log replay: they
// can be lowered at any restart without losing anything already logged.
ABSL_FLAG(int, max_context_items, 32,
          "Most context items in one Feedback event or Sample call.");
ABSL_FLAG(int, max_rooms, 10000, "Most rooms the server holds.");
ABSL_FLAG(int, max_arms_per_room, 10'000'000, "Most arms in one room.");
ABSL_FLAG(int, max_segments_per_room, 1000,
          "Most segments (besides the whole room) in one room.");
ABSL_FLAG(int, max_context_items_per_segment, 10000,
          "Most distinct context items counted in one segment of a room.");
ABSL_FLAG(int64_t, memory_budget_bytes, int64_t{8} << 30,
          "Most memory the engine holds, as it accounts it (counters, arm "
          "ids, LinUCB models, event ids; /metrics banditd_memory_bytes_used)."
          " Default 8 GiB.");

ABSL_FLAG(int64_t, winner_max_samples, 10'000'000,
          "GetStats winner analysis: most posterior draws (draws x arms) per "
          "call; rooms with many arms get fewer draws.");
ABSL_FLAG(int64_t, max_propensity_samples, 1'000'000,
          "Sample propensities for Thompson policies: most arm scorings "
          "(Monte Carlo draws x eligible arms) per call.");

namespace banditd::flags {

core::EngineOptions EngineOptionsFromFlags() {
  core::EngineOptions options;
  options.max_batch_events = absl::GetFlag(FLAGS_max_batch_events);
  options.event_id_window = absl::GetFlag(FLAGS_event_id_window);
  options.event_id_window_age = absl::GetFlag(FLAGS_event_id_window_age);
  // One event-id window per stream the log is read from: in cluster mode,
  // each of --cluster_streams (NatsCommitter numbers them), else one.
  options.event_id_streams =
      absl::GetFlag(FLAGS_cluster_nats).empty()
          ? 1
          : std::max(1, absl::GetFlag(FLAGS_cluster_streams));
  options.max_linucb_dimension = absl::GetFlag(FLAGS_linucb_max_dimension);
  options.max_context_items = absl::GetFlag(FLAGS_max_context_items);
  options.max_rooms = absl::GetFlag(FLAGS_max_rooms);
  options.max_arms_per_room = absl::GetFlag(FLAGS_max_arms_per_room);
  options.max_segments_per_room = absl::GetFlag(FLAGS_max_segments_per_room);
  options.max_context_items_per_segment =
      absl::GetFlag(FLAGS_max_context_items_per_segment);
  options.memory_budget_bytes = absl::GetFlag(FLAGS_memory_budget_bytes);
  options.max_winner_samples = absl::GetFlag(FLAGS_winner_max_samples);
  options.max_propensity_samples = absl::GetFlag(FLAGS_max_propensity_samples);
  options.queue_writes_min_arms = absl::GetFlag(FLAGS_big_room_arms);
  return options;
}

}  // namespace banditd::flags
