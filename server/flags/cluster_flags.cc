// Cluster mode's flags (server/cluster).

#include "server/flags/cluster_flags.h"

#include <cstdint>

#include "absl/flags/flag.h"
#include "absl/time/time.h"

// Cluster mode (server/cluster): replicas sharing one NATS JetStream log.
ABSL_FLAG(std::string, cluster_nats, "",
          "Comma-separated NATS server URLs. When set, banditd is one replica "
          "of a cluster: writes go to a replicated JetStream stream and every "
          "replica applies it; --data_dir then holds only snapshots. Empty: "
          "one process with its SQLite log (the default).");
ABSL_FLAG(std::string, cluster_rooms, "",
          "Cluster mode: hold only rooms matching this NATS subject pattern "
          "over the room id (\"eu.>\", \"shop-1\"); others get "
          "FAILED_PRECONDITION. Empty: every room.");
ABSL_FLAG(std::string, cluster_stream, "BANDITD_EVENTS",
          "Cluster mode: the JetStream stream (subjects banditd.events.>).");
ABSL_FLAG(int, cluster_streams, 1,
          "Cluster mode: spread rooms over this many streams (by a hash of "
          "the room id: --cluster_stream, then <name>_1 ... on subjects "
          "banditd.events_1.> ...), so that their leaders, which order every "
          "write, sit on different NATS nodes. A cluster-wide setting: "
          "recorded in the first stream by the replica that creates it; a "
          "replica started with another value refuses to start. Each stream "
          "has its own event-id window (--event_id_window ids and "
          "--event_id_window_age of that stream's records). Above 1 it "
          "needs no Kafka ingest.");
ABSL_FLAG(absl::Duration, cluster_rebalance_interval, absl::Minutes(1),
          "Cluster mode, --cluster_streams above 1: every this long (give or "
          "take a fifth), move a stream's leader off a NATS node that leads "
          "two more streams than another (a node back from a failure leads "
          "none); each move pauses that stream's writes for a leader "
          "transfer. 0: spread leaders only when a replica starts.");
ABSL_FLAG(int, cluster_replicas, 3,
          "Cluster mode: replication factor of the stream when this replica "
          "creates it.");
ABSL_FLAG(absl::Duration, cluster_max_age, absl::Hours(7 * 24),
          "Cluster mode: the stream keeps records this long (when this "
          "replica creates it); a replica down longer starts from the "
          "published snapshot (--cluster_snapshot_bucket), which must be "
          "younger than this.");
ABSL_FLAG(int64_t, cluster_max_bytes, int64_t{8} << 30,
          "Cluster mode: the stream's size limit in bytes per NATS node when "
          "this replica creates it (0: none); the oldest records go first.");
ABSL_FLAG(absl::Duration, cluster_publish_timeout, absl::Seconds(2),
          "Cluster mode: how long a write waits for JetStream's ack before "
          "failing with UNAVAILABLE.");
ABSL_FLAG(absl::Duration, cluster_republish_interval, absl::Milliseconds(250),
          "Cluster mode: a write JetStream has not acknowledged is published "
          "again this often with the same message id (stored once), until "
          "acknowledged or --cluster_publish_timeout passes, when the stream "
          "seems stalled or the publish lost (a failed NATS node); a slow "
          "but healthy cluster gets no re-sends. 0: off; else at least 10ms "
          "and less than --cluster_publish_timeout.");
ABSL_FLAG(absl::Duration, cluster_apply_timeout, absl::Seconds(2),
          "Cluster mode: how long a write acknowledged by JetStream waits to "
          "be applied on this replica before failing with DEADLINE_EXCEEDED "
          "(it is durable then; a retry with the same event_ids is safe).");
ABSL_FLAG(absl::Duration, cluster_fetch_after, absl::Milliseconds(100),
          "Cluster mode: an acknowledged write not delivered by the consumer "
          "within this time is read directly from any stream peer.");
ABSL_FLAG(absl::Duration, cluster_ping_interval, absl::Milliseconds(500),
          "Cluster mode: ping interval to the NATS node; two unanswered "
          "pings move the replica to another node.");
ABSL_FLAG(absl::Duration, cluster_read_wait_timeout, absl::Seconds(2),
          "Cluster mode: how long Sample or GetStats with a "
          "min_applied_sequence waits for this replica to apply it (then "
          "UNAVAILABLE).");
ABSL_FLAG(absl::Duration, cluster_catch_up_timeout, absl::ZeroDuration(),
          "Cluster mode: longest catch-up with the stream at startup (0: no "
          "limit).");
ABSL_FLAG(absl::Duration, cluster_write_catch_up_timeout, absl::Seconds(2),
          "Cluster mode: a write naming a room or arm this replica does not "
          "know (yet: created through another replica a moment ago) waits "
          "at most this long (and --cluster_read_wait_timeout) for this "
          "replica to apply the stream up to its last sequence, then is "
          "validated again; NOT_FOUND if the room really does not exist. "
          "0: NOT_FOUND at once.");
ABSL_FLAG(absl::Duration, cluster_duplicate_window, absl::Minutes(10),
          "Cluster mode: JetStream's message-id de-duplication window when "
          "this replica creates the stream: a Feedback retry with the same "
          "event ids within it is dropped by JetStream itself.");
ABSL_FLAG(std::string, cluster_snapshot_bucket, "banditd_snapshots",
          "Cluster mode: JetStream object store bucket (stream OBJ_<bucket>, "
          "readable with `nats object`) where replicas publish snapshots; a "
          "replica without a snapshot, lagging, or behind the stream's "
          "trimmed head starts from the published one. Empty: none.");
ABSL_FLAG(absl::Duration, cluster_snapshot_publish_every, absl::Minutes(10),
          "Cluster mode: after a snapshot, publish it to "
          "--cluster_snapshot_bucket when the published one is older than "
          "this (whichever replica is due first), or earlier when "
          "retention nears it (--cluster_snapshot_publish_at). 0: this "
          "replica never publishes.");
ABSL_FLAG(double, cluster_snapshot_publish_at, 0.5,
          "Cluster mode: take and publish a snapshot at once when the "
          "records after the published one use this share of the stream's "
          "tightest retention limit (max bytes, messages or age), so that "
          "retention never trims a record a new replica needs. In (0, 1).");
ABSL_FLAG(double, cluster_retention_warn_at, 0.8,
          "Cluster mode: log a warning when the records after the published "
          "snapshot use this share of the tightest retention limit (above "
          "--cluster_snapshot_publish_at, below 1).");
ABSL_FLAG(absl::Duration, cluster_retention_check_every, absl::Seconds(10),
          "Cluster mode: how often each replica compares the stream's "
          "retention limits with the published snapshot (and deletes "
          "unreferenced snapshot chunks).");
ABSL_FLAG(absl::Duration, cluster_snapshot_gc_grace, absl::Minutes(5),
          "Cluster mode: chunks of a replaced (or concurrently orphaned) "
          "published snapshot are deleted after this long, so a replica "
          "reading it meanwhile still can; at least 4x "
          "--cluster_publish_timeout.");

namespace banditd::flags {

cluster::NatsCommitter::Options ClusterOptionsFromFlags(
    const core::EngineOptions& engine_options,
    const store::DurableCommitter::Options& store_options) {
  cluster::NatsCommitter::Options options;
  options.nats_urls = absl::GetFlag(FLAGS_cluster_nats);
  options.stream = absl::GetFlag(FLAGS_cluster_stream);
  options.rooms_filter = absl::GetFlag(FLAGS_cluster_rooms);
  options.streams = absl::GetFlag(FLAGS_cluster_streams);
  options.rebalance_interval = absl::GetFlag(FLAGS_cluster_rebalance_interval);
  options.replicas = absl::GetFlag(FLAGS_cluster_replicas);
  options.max_age = absl::GetFlag(FLAGS_cluster_max_age);
  options.max_bytes = absl::GetFlag(FLAGS_cluster_max_bytes);
  options.publish_timeout = absl::GetFlag(FLAGS_cluster_publish_timeout);
  options.apply_timeout = absl::GetFlag(FLAGS_cluster_apply_timeout);
  options.republish_interval = absl::GetFlag(FLAGS_cluster_republish_interval);
  options.fetch_after = absl::GetFlag(FLAGS_cluster_fetch_after);
  options.read_wait_timeout = absl::GetFlag(FLAGS_cluster_read_wait_timeout);
  options.ping_interval = absl::GetFlag(FLAGS_cluster_ping_interval);
  options.catch_up_timeout = absl::GetFlag(FLAGS_cluster_catch_up_timeout);
  options.write_catch_up_timeout =
      absl::GetFlag(FLAGS_cluster_write_catch_up_timeout);
  options.duplicate_window = absl::GetFlag(FLAGS_cluster_duplicate_window);
  options.event_id_window = engine_options.event_id_window;
  options.event_id_window_age = engine_options.event_id_window_age;
  options.data_dir = store_options.data_dir;
  options.snapshot_every_records = store_options.snapshot_every_records;
  options.snapshot_interval = store_options.snapshot_interval;
  options.snapshot_bucket = absl::GetFlag(FLAGS_cluster_snapshot_bucket);
  options.snapshot_publish_every =
      absl::GetFlag(FLAGS_cluster_snapshot_publish_every);
  options.retention.publish_at =
      absl::GetFlag(FLAGS_cluster_snapshot_publish_at);
  options.retention.warn_at = absl::GetFlag(FLAGS_cluster_retention_warn_at);
  options.retention.check_every =
      absl::GetFlag(FLAGS_cluster_retention_check_every);
  options.snapshot_gc_grace = absl::GetFlag(FLAGS_cluster_snapshot_gc_grace);
  return options;
}

}  // namespace banditd::flags
