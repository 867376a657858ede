// banditd: flags and wiring. Everything else lives in server/core (logic),
// server/store (durability) and server/service (gRPC handlers). Over 500
// lines because every flag is defined here: --help lists this file's flags.

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "server/cluster/cluster_collector.h"
#include "server/cluster/nats_committer.h"
#include "server/core/engine.h"
#include "server/ingest/ingest_collector.h"
#include "server/ingest/kafka_ingest.h"
#include "server/log/log.h"
#include "server/ops/allocator.h"
#include "server/ops/engine_collector.h"
#include "server/ops/http_server.h"
#include "server/ops/metrics.h"
#include "server/service/auth.h"
#include "server/service/bandit_service.h"
#include "server/service/decision_signer.h"
#include "server/service/http_gateway.h"
#include "server/service/openapi_doc.h"
#include "server/service/protobuf_log.h"
#include "server/service/read_pool.h"
#include "server/service/server.h"
#include "server/store/durable_committer.h"
#include "server/version.h"

ABSL_FLAG(std::string, log_format, "text",
          "Log lines on stderr: text, or json (one object per line).");
ABSL_FLAG(std::string, log_level, "info",
          "Least severity logged: debug, info, warning or error.");
ABSL_FLAG(int, log_failed_rpcs_per_second, 10,
          "Failed calls logged per second at most (one line each: method, "
          "code, duration, request id); the next line counts those dropped.");
ABSL_FLAG(std::string, host, "127.0.0.1",
          "Address to listen on; use 0.0.0.0 to accept remote clients.");
ABSL_FLAG(int, port, 50051, "gRPC port; 0 picks a free one.");
ABSL_FLAG(std::string, data_dir, "./data", "Directory of the SQLite database.");
ABSL_FLAG(int, max_batch_events, 10000, "Most events in one Feedback call.");
ABSL_FLAG(int64_t, event_id_window, 1'000'000,
          "How many recent Feedback event_ids are remembered for de-dup, "
          "at least (0: no de-duplication); per stream with "
          "--cluster_streams above 1 (each stream has its own window).");
ABSL_FLAG(absl::Duration, event_id_window_age, absl::Minutes(10),
          "How long (in log time) a Feedback event_id is remembered at "
          "least, whatever --event_id_window: covers retries after outages. "
          "The ids count against --memory_budget_bytes; 0: by count only.");
ABSL_FLAG(int64_t, decision_cache_size, 100'000,
          "How many recent Sample decisions Feedback may cite by decision_id "
          "(also bounded by --decision_cache_bytes); 0 turns decision ids "
          "off.");
ABSL_FLAG(int64_t, decision_cache_bytes, int64_t{64} << 20,
          "Memory the decision cache may hold, in bytes (a decision costs "
          "about 150 bytes plus its arm ids, context items and features); "
          "the oldest decisions are evicted first.");
ABSL_FLAG(std::string, decision_id_key_file, "",
          "File of HMAC keys (one per line, >= 32 bytes; `openssl rand -hex "
          "32`): decision ids then carry their decision, signed, and resolve "
          "on every server holding a key (cluster replicas behind a load "
          "balancer); nothing is cached but decisions too large to sign. "
          "The first key signs, all verify (rotation).");
ABSL_FLAG(absl::Duration, decision_id_max_age, absl::Hours(24),
          "Signed decision ids older than this are refused (NOT_FOUND).");
ABSL_FLAG(int64_t, decision_id_max_bytes, 2048,
          "Longest signed decision id; larger decisions (many arms, context "
          "items or features) get a cache id instead.");
ABSL_FLAG(int, linucb_max_dimension, 64,
          "Largest LinUCB feature vector a room may declare.");
ABSL_FLAG(int, http_port, 0,
          "Port of the HTTP/JSON API (every RPC, routes in /openapi.json), on "
          "--host with the same TLS and tokens as gRPC; 0 turns it off.");
ABSL_FLAG(int, http_threads, 64,
          "HTTP/JSON API worker threads: the most HTTP connections served at "
          "once (a kept-alive connection holds one).");
// Big rooms' reads on threads of their own (service/read_pool.h), so that a
// 1M-arm room's scans do not make other rooms' calls wait; and their writes
// queued while a read holds the room (Engine::ApplyOrQueue), so that the
// one writer does not wait for a scan.
ABSL_FLAG(int64_t, big_room_arms, 50000,
          "Sample and GetStats of rooms with at least this many arms (and "
          "analyses: winner analysis, more propensity draws than the default "
          "1,000) run on --big_room_read_threads dedicated threads at a lower "
          "CPU priority instead of gRPC's polling threads, and (durable mode) "
          "Feedback to such a room while a read holds it is queued to the "
          "room instead of stalling every room's writes; 0: neither.");
ABSL_FLAG(int, big_room_read_threads, 1,
          "Big rooms' reads run at once, at most (see --big_room_arms).");
ABSL_FLAG(int, big_room_read_nice, 10,
          "Niceness added to the big-room read threads (0-19): the writer and "
          "the handler threads get the CPU first.");
ABSL_FLAG(int, big_room_max_queued_reads, 1000,
          "Big rooms' reads waiting for a thread, at most; beyond, "
          "RESOURCE_EXHAUSTED.");
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
ABSL_FLAG(absl::Duration, allocator_release_interval, absl::Seconds(1),
          "How often tcmalloc's free pages go back to the system when 8 MiB "
          "or more are free (after a big room is created or recovered, "
          "about as much is free as held); 0: never, they stay for reuse.");
ABSL_FLAG(int64_t, winner_max_samples, 10'000'000,
          "GetStats winner analysis: most posterior draws (draws x arms) per "
          "call; rooms with many arms get fewer draws.");
ABSL_FLAG(int64_t, max_propensity_samples, 1'000'000,
          "Sample propensities for Thompson policies: most arm scorings "
          "(Monte Carlo draws x eligible arms) per call.");
ABSL_FLAG(bool, decision_log, false,
          "Log every Sample decision (context, eligible and returned arms, "
          "propensities) and the outcomes Feedback reports for it, in "
          "<data_dir>/decisions.sqlite; ExportDecisions streams it. Needs "
          "--decision_cache_size > 0.");
ABSL_FLAG(absl::Duration, decision_log_max_age, absl::Hours(24 * 7),
          "Decision log retention: rows older than this are deleted.");
ABSL_FLAG(int64_t, decision_log_max_rows, 10'000'000,
          "Decision log retention: at most this many decisions are kept.");
ABSL_FLAG(int64_t, decision_log_max_bytes, int64_t{10} << 30,
          "Decision log retention: the file's pages in use, at most, in bytes "
          "(the oldest decisions go first; a Sample of a big room may log "
          "every candidate arm). 0: no limit.");
ABSL_FLAG(int64_t, decision_log_max_queued_bytes, int64_t{64} << 20,
          "Decision log: most bytes of decisions and outcomes waiting to be "
          "written (a Sample may list many candidates); beyond, they are "
          "dropped and counted.");
ABSL_FLAG(int, max_message_mb, 64, "Largest request or response, in MiB.");
ABSL_FLAG(int, transport_memory_mb, 256,
          "Memory gRPC's transport may hold for calls in progress (requests "
          "being received and parsed, replies being sent), in MiB; beyond "
          "it new calls are refused with RESOURCE_EXHAUSTED. 0: no limit.");
ABSL_FLAG(int, max_concurrent_streams, 1000,
          "Calls one gRPC connection may have open at once (HTTP/2 "
          "SETTINGS_MAX_CONCURRENT_STREAMS); more wait in the client. 0: "
          "gRPC's default (no limit).");
ABSL_FLAG(int, grpc_cq_threads, 0,
          "Threads that poll gRPC's completion queues and run the calls' "
          "handlers inline (writes wait for the log without holding one; big "
          "rooms' reads and analyses run on --big_room_read_threads); 0: one "
          "per core, at least 2, so that one slow call does not hold up every "
          "other. Each thread beyond the first of a queue that polls costs "
          "a thread wake-up per event: see --grpc_standby_pollers.");
ABSL_FLAG(bool, grpc_standby_pollers, true,
          "Only the first thread of each completion queue always polls; the "
          "others stand by, join while the queue is busy (its pollers idle "
          "under 30 % of 5 ms) or its first thread's handler runs over 2 ms, "
          "and stand by again when idle over 80 % of theirs. Saves gRPC's "
          "thread wake-ups at low load; false: every thread always polls.");
ABSL_FLAG(int, grpc_completion_queues, 0,
          "Completion queues the --grpc_cq_threads threads share (each "
          "thread polls one); 0: one with --grpc_standby_pollers (its "
          "threads stand by), else one per thread.");
ABSL_FLAG(int, grpc_calls_per_method, 1,
          "Calls of each unary method requested ahead on each completion "
          "queue.");
ABSL_FLAG(int, grpc_sync_max_threads, 128,
          "Threads of the synchronous gRPC services (health, reflection), "
          "each open stream of which holds one; beyond, their new calls get "
          "RESOURCE_EXHAUSTED (BanditService's calls do not use them). At "
          "least 8.");
ABSL_FLAG(int, health_max_watchers, 100,
          "Health Watch streams open at once, at most (RESOURCE_EXHAUSTED "
          "beyond); below --grpc_sync_max_threads, so that Check and "
          "reflection keep threads.");
ABSL_FLAG(absl::Duration, drain_grace, absl::ZeroDuration(),
          "On SIGTERM, how long to keep serving while health checks (gRPC "
          "and /healthz) report NOT_SERVING, before refusing new calls: give "
          "load balancers time to stop sending traffic.");
ABSL_FLAG(absl::Duration, drain_timeout, absl::Seconds(10),
          "On SIGTERM, how long in-flight calls get to finish.");

// Durability (server/store).
ABSL_FLAG(std::string, durability, "sync",
          "sync: a write is acknowledged once on disk. async: acknowledged "
          "once handed to the OS (survives a crash of the process), synced "
          "every --flush_interval (a power loss loses at most that).");
ABSL_FLAG(bool, verify_on_open, false,
          "Run SQLite's quick_check over the whole database before recovery "
          "(reads every page; recovery itself checks what it reads).");
ABSL_FLAG(int64_t, log_cache_bytes, int64_t{4} << 20,
          "SQLite page cache of the log database, in bytes: the log is "
          "appended and read back only at recovery, so more cache is resident "
          "memory that is not read again.");
ABSL_FLAG(absl::Duration, flush_interval, absl::Milliseconds(100),
          "With --durability=async, the longest time between disk syncs.");
ABSL_FLAG(int64_t, snapshot_every_records, 100'000,
          "Snapshot the state after this many log records (0: never by "
          "count).");
ABSL_FLAG(int64_t, snapshot_interval_seconds, 600,
          "Snapshot the state this often if anything changed.");

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

// Kafka ingest (server/ingest): Feedback records consumed exactly once.
ABSL_FLAG(std::string, kafka_brokers, "",
          "Comma-separated Kafka bootstrap servers. When set, banditd "
          "consumes Feedback records from --kafka_topics, exactly once: each "
          "partition's offset is logged with the counts it produced. Empty: "
          "no Kafka.");
ABSL_FLAG(std::string, kafka_topics, "",
          "Comma-separated topics of Feedback records.");
ABSL_FLAG(std::string, kafka_group, "banditd",
          "Consumer group: replicas of one cluster share it, each consuming "
          "some partitions.");
ABSL_FLAG(std::string, kafka_dead_letter_topic, "",
          "Topic that receives records that fail decoding or admission, with "
          "the error in headers (banditd-error, banditd-error-code, "
          "banditd-source-topic/-partition/-offset). Empty: such records "
          "are counted and logged only.");
ABSL_FLAG(std::string, kafka_format, "json",
          "Payload encoding of records without a content-type header: json "
          "(protobuf JSON mapping) or binary. Either holds one FeedbackEvent "
          "or a FeedbackRequest (binary: header banditd-message).");
ABSL_FLAG(int, kafka_batch_events, 1000,
          "Most events in one logged batch of Kafka records.");
ABSL_FLAG(absl::Duration, kafka_linger, absl::Milliseconds(5),
          "How long a batch of Kafka records waits for more before it is "
          "logged.");
ABSL_FLAG(int64_t, kafka_max_gathered_events, 20'000,
          "Backpressure: a Kafka partition pauses while this many of its "
          "events wait for the writer (beyond 16 batches in the log's queue).");
ABSL_FLAG(absl::Duration, kafka_missing_room_wait, absl::Seconds(2),
          "How long a Kafka record whose room or arm is not found is read "
          "again (its partition paused briefly) before it is dead-lettered: "
          "in cluster mode the room may have been created on another replica "
          "moments ago. The same error is then dead-lettered at once for a "
          "minute. 0: dead-letter at once.");
ABSL_FLAG(std::string, kafka_start, "earliest",
          "Where a partition with no logged position starts: earliest or "
          "latest.");
ABSL_FLAG(std::string, kafka_security_protocol, "",
          "librdkafka security.protocol: plaintext, ssl, sasl_plaintext or "
          "sasl_ssl (empty: librdkafka's default, plaintext).");
ABSL_FLAG(std::string, kafka_sasl_mechanism, "",
          "librdkafka sasl.mechanism, e.g. PLAIN or SCRAM-SHA-512.");
ABSL_FLAG(std::string, kafka_sasl_username, "", "SASL user name.");
ABSL_FLAG(std::string, kafka_sasl_password_file, "",
          "File holding the SASL password (trailing newline ignored).");
ABSL_FLAG(std::string, kafka_ssl_ca_location, "",
          "PEM file of the CA that signed the brokers' certificates.");
ABSL_FLAG(std::string, kafka_properties, "",
          "Further librdkafka properties, comma-separated name=value pairs "
          "(e.g. session.timeout.ms=10000).");

// Operations: TLS, tokens, metrics and the dashboard.
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain; with --tls_key, gRPC is served over TLS.");
ABSL_FLAG(std::string, tls_key, "", "PEM private key for --tls_cert.");
ABSL_FLAG(bool, allow_insecure, false,
          "Allow plaintext gRPC on a non-loopback --host (without TLS).");
ABSL_FLAG(std::string, auth_tokens_file, "",
          "File of \"role token\" lines (role admin or client). When set, "
          "every BanditService call needs \"authorization: Bearer <token>\"; "
          "health and reflection stay open.");
ABSL_FLAG(int, metrics_port, 0,
          "HTTP port for /metrics and the dashboard; 0 turns HTTP off.");
ABSL_FLAG(std::string, metrics_host, "127.0.0.1",
          "Address of the HTTP endpoint. It has no authentication: keep it on "
          "loopback or a trusted network.");
ABSL_FLAG(bool, metrics_per_room, false,
          "Export per-room, per-arm views, clicks and view share (one series "
          "per arm: mind the cardinality).");
ABSL_FLAG(bool, dashboard, true,
          "Serve the dashboard (/ and /api/...) on --metrics_port.");
ABSL_FLAG(int, dashboard_history_rooms, 100,
          "The dashboard's \"share over time\" keeps the last hour of this "
          "many rooms (the first by id), sampled every "
          "--dashboard_history_interval; 0: only while a page watches.");
ABSL_FLAG(absl::Duration, dashboard_history_interval, absl::Seconds(10),
          "How often the dashboard's share history samples every room.");

namespace {

bool IsLoopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host == "[::1]" ||
         absl::StartsWith(host, "127.");
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// --kafka_* flags as KafkaIngest options.
absl::StatusOr<banditd::ingest::KafkaIngest::Options> KafkaOptionsFromFlags() {
  banditd::ingest::KafkaIngest::Options options;
  options.brokers = absl::GetFlag(FLAGS_kafka_brokers);
  options.topics = absl::StrSplit(absl::GetFlag(FLAGS_kafka_topics), ',',
                                  absl::SkipWhitespace());
  options.group = absl::GetFlag(FLAGS_kafka_group);
  options.dead_letter_topic = absl::GetFlag(FLAGS_kafka_dead_letter_topic);
  absl::StatusOr<banditd::ingest::Format> format =
      banditd::ingest::ParseFormat(absl::GetFlag(FLAGS_kafka_format));
  if (!format.ok()) return format.status();
  options.format = *format;
  options.batch_events = absl::GetFlag(FLAGS_kafka_batch_events);
  options.linger = absl::GetFlag(FLAGS_kafka_linger);
  options.max_gathered_events =
      std::max<int64_t>(1, absl::GetFlag(FLAGS_kafka_max_gathered_events));
  options.missing_room_wait = absl::GetFlag(FLAGS_kafka_missing_room_wait);
  const std::string start = absl::GetFlag(FLAGS_kafka_start);
  if (start != "earliest" && start != "latest") {
    return absl::InvalidArgumentError(
        "--kafka_start must be earliest or latest");
  }
  options.start_at_end = start == "latest";
  auto add = [&](const char* name, const std::string& value) {
    if (!value.empty()) options.properties.emplace_back(name, value);
  };
  add("security.protocol", absl::GetFlag(FLAGS_kafka_security_protocol));
  add("sasl.mechanism", absl::GetFlag(FLAGS_kafka_sasl_mechanism));
  add("sasl.username", absl::GetFlag(FLAGS_kafka_sasl_username));
  add("ssl.ca.location", absl::GetFlag(FLAGS_kafka_ssl_ca_location));
  if (const std::string path = absl::GetFlag(FLAGS_kafka_sasl_password_file);
      !path.empty()) {
    absl::StatusOr<std::string> password = ReadFile(path);
    if (!password.ok()) return password.status();
    add("sasl.password",
        std::string(absl::StripTrailingAsciiWhitespace(*password)));
  }
  for (absl::string_view pair :
       absl::StrSplit(absl::GetFlag(FLAGS_kafka_properties), ',',
                      absl::SkipWhitespace())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(pair, '=');
    if (kv.first.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--kafka_properties: \"", pair, "\" is not name=value"));
    }
    options.properties.push_back(std::move(kv));
  }
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "real-time multi-armed bandit decision service.\n"
      "Usage: banditd [--port=50051] [--data_dir=./data] ... "
      "[--flagfile=FILE]\n"
      "--help lists banditd's flags; --helpfull adds Abseil's own.");
  // --help shows the flags of this file (by default Abseil looks for the
  // program's name in the file's path, which server/main.cc lacks).
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view file) {
    return absl::EndsWith(file, "server/main.cc");
  };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  usage.normalize_filename = [](absl::string_view file) {
    while (absl::ConsumePrefix(&file, "../")) {
    }
    return std::string(file);
  };
  usage.version_string = [] {
    return absl::StrCat("banditd ", banditd::kVersion, " (git ",
                        banditd::kGitCommit, ")\n");
  };
  absl::SetFlagsUsageConfig(usage);
  absl::ParseCommandLine(argc, argv);
  banditd::logging::Options log_options;
  absl::Status log_flags = banditd::logging::ParseFormat(
      absl::GetFlag(FLAGS_log_format), &log_options.format);
  if (log_flags.ok()) {
    log_flags = banditd::logging::ParseLevel(absl::GetFlag(FLAGS_log_level),
                                             &log_options.min_level);
  }
  if (!log_flags.ok()) {
    absl::FPrintF(stderr, "banditd: %s\n", log_flags.message());
    return 1;
  }
  banditd::logging::Init(log_options);
  banditd::service::RouteGrpcLogs();
  // Unparsable requests make libprotobuf log a line each: rate-limited.
  banditd::service::RateLimitProtobufLogs();
  if (absl::GetFlag(FLAGS_transport_memory_mb) > 0 &&
      absl::GetFlag(FLAGS_transport_memory_mb) <
          2 * absl::GetFlag(FLAGS_max_message_mb)) {
    // A request is held twice while it is parsed (bytes and message): below
    // this the largest allowed request could never be received.
    SPDLOG_ERROR("{}", absl::StrCat("--transport_memory_mb (",
                                    absl::GetFlag(FLAGS_transport_memory_mb),
                                    ") must be 0 or at least twice "
                                    "--max_message_mb (",
                                    absl::GetFlag(FLAGS_max_message_mb), ")"));
    return 1;
  }
  // Deadlock detection is a debugging aid (absl/synchronization/mutex.h) that
  // Debian's Abseil leaves on: ~5 % of server CPU in every mutex operation.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  // Block the stop signals in every thread; main waits for them below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  // tcmalloc keeps what a recovery or a big CreateRoom frees; this thread
  // hands it back to the system (started after the mask: it inherits it).
  std::unique_ptr<banditd::ops::FreeMemoryReleaser> releaser;
  if (const absl::Duration interval =
          absl::GetFlag(FLAGS_allocator_release_interval);
      interval > absl::ZeroDuration() &&
      banditd::ops::AllocatorName() == "tcmalloc") {
    releaser = std::make_unique<banditd::ops::FreeMemoryReleaser>(
        interval, banditd::ops::kReleaseMinFreeBytes);
  }

  banditd::core::EngineOptions engine_options;
  engine_options.max_batch_events = absl::GetFlag(FLAGS_max_batch_events);
  engine_options.event_id_window = absl::GetFlag(FLAGS_event_id_window);
  engine_options.event_id_window_age = absl::GetFlag(FLAGS_event_id_window_age);
  // One event-id window per stream the log is read from: in cluster mode,
  // each of --cluster_streams (NatsCommitter numbers them), else one.
  engine_options.event_id_streams =
      absl::GetFlag(FLAGS_cluster_nats).empty()
          ? 1
          : std::max(1, absl::GetFlag(FLAGS_cluster_streams));
  engine_options.max_linucb_dimension =
      absl::GetFlag(FLAGS_linucb_max_dimension);
  engine_options.max_context_items = absl::GetFlag(FLAGS_max_context_items);
  engine_options.max_rooms = absl::GetFlag(FLAGS_max_rooms);
  engine_options.max_arms_per_room = absl::GetFlag(FLAGS_max_arms_per_room);
  engine_options.max_segments_per_room =
      absl::GetFlag(FLAGS_max_segments_per_room);
  engine_options.max_context_items_per_segment =
      absl::GetFlag(FLAGS_max_context_items_per_segment);
  engine_options.memory_budget_bytes = absl::GetFlag(FLAGS_memory_budget_bytes);
  engine_options.max_winner_samples = absl::GetFlag(FLAGS_winner_max_samples);
  engine_options.max_propensity_samples =
      absl::GetFlag(FLAGS_max_propensity_samples);
  engine_options.queue_writes_min_arms = absl::GetFlag(FLAGS_big_room_arms);
  banditd::core::Engine engine(engine_options);
  banditd::ops::Metrics metrics;
  banditd::ops::ProcessCollector process_collector;
  banditd::ops::EngineCollector engine_collector(
      &engine, absl::GetFlag(FLAGS_metrics_per_room));
  metrics.AddCollectable(&process_collector);
  banditd::ops::AllocatorCollector allocator_collector;
  metrics.AddCollectable(&allocator_collector);
  metrics.AddCollectable(&engine_collector);
  // The HTTP endpoint starts before recovery, so that /healthz says 503
  // "recovering" (and a port in use is found) before a long replay.
  std::unique_ptr<banditd::ops::HttpServer> http;
  if (absl::GetFlag(FLAGS_metrics_port) != 0) {
    banditd::ops::HttpServerOptions http_options;
    http_options.host = absl::GetFlag(FLAGS_metrics_host);
    http_options.port = absl::GetFlag(FLAGS_metrics_port);
    http_options.dashboard = absl::GetFlag(FLAGS_dashboard);
    http_options.history_rooms = absl::GetFlag(FLAGS_dashboard_history_rooms);
    http_options.history_interval =
        absl::GetFlag(FLAGS_dashboard_history_interval);
    absl::StatusOr<std::unique_ptr<banditd::ops::HttpServer>> started =
        banditd::ops::HttpServer::Start(http_options, &metrics, &engine);
    if (!started.ok()) {
      SPDLOG_ERROR("{}", std::string(started.status().message()));
      return 1;
    }
    http = *std::move(started);
    SPDLOG_INFO(
        "{}",
        absl::StrCat("metrics", http_options.dashboard ? " and dashboard" : "",
                     " on http://", http_options.host, ":", http->port(), "/"));
  }
  banditd::store::DurableCommitter::Options store_options;
  store_options.data_dir = absl::GetFlag(FLAGS_data_dir);
  if (const std::string d = absl::GetFlag(FLAGS_durability); d == "async") {
    store_options.durability =
        banditd::store::DurableCommitter::Durability::kAsync;
  } else if (d != "sync") {
    SPDLOG_ERROR("{}",
                 absl::StrCat("--durability must be sync or async, not ", d));
    return 1;
  }
  store_options.flush_interval = absl::GetFlag(FLAGS_flush_interval);
  store_options.snapshot_every_records =
      absl::GetFlag(FLAGS_snapshot_every_records);
  store_options.snapshot_interval =
      absl::Seconds(absl::GetFlag(FLAGS_snapshot_interval_seconds));
  store_options.verify_on_open = absl::GetFlag(FLAGS_verify_on_open);
  store_options.log_cache_bytes = absl::GetFlag(FLAGS_log_cache_bytes);
  if (store_options.log_cache_bytes < 0) {
    SPDLOG_ERROR("--log_cache_bytes must be >= 0");
    return 1;
  }
  store_options.metrics = &metrics;
  std::unique_ptr<banditd::store::Committer> opened_committer;
  std::unique_ptr<banditd::cluster::ClusterCollector> cluster_collector;
  if (const std::string urls = absl::GetFlag(FLAGS_cluster_nats);
      !urls.empty()) {
    banditd::cluster::NatsCommitter::Options cluster_options;
    cluster_options.nats_urls = urls;
    cluster_options.stream = absl::GetFlag(FLAGS_cluster_stream);
    cluster_options.rooms_filter = absl::GetFlag(FLAGS_cluster_rooms);
    cluster_options.streams = absl::GetFlag(FLAGS_cluster_streams);
    cluster_options.rebalance_interval =
        absl::GetFlag(FLAGS_cluster_rebalance_interval);
    cluster_options.replicas = absl::GetFlag(FLAGS_cluster_replicas);
    cluster_options.max_age = absl::GetFlag(FLAGS_cluster_max_age);
    cluster_options.max_bytes = absl::GetFlag(FLAGS_cluster_max_bytes);
    cluster_options.publish_timeout =
        absl::GetFlag(FLAGS_cluster_publish_timeout);
    cluster_options.apply_timeout = absl::GetFlag(FLAGS_cluster_apply_timeout);
    cluster_options.republish_interval =
        absl::GetFlag(FLAGS_cluster_republish_interval);
    cluster_options.fetch_after = absl::GetFlag(FLAGS_cluster_fetch_after);
    cluster_options.read_wait_timeout =
        absl::GetFlag(FLAGS_cluster_read_wait_timeout);
    cluster_options.ping_interval = absl::GetFlag(FLAGS_cluster_ping_interval);
    cluster_options.catch_up_timeout =
        absl::GetFlag(FLAGS_cluster_catch_up_timeout);
    cluster_options.duplicate_window =
        absl::GetFlag(FLAGS_cluster_duplicate_window);
    cluster_options.event_id_window = engine_options.event_id_window;
    cluster_options.event_id_window_age = engine_options.event_id_window_age;
    cluster_options.data_dir = store_options.data_dir;
    cluster_options.snapshot_every_records =
        store_options.snapshot_every_records;
    cluster_options.snapshot_interval = store_options.snapshot_interval;
    cluster_options.snapshot_bucket =
        absl::GetFlag(FLAGS_cluster_snapshot_bucket);
    cluster_options.snapshot_publish_every =
        absl::GetFlag(FLAGS_cluster_snapshot_publish_every);
    cluster_options.retention.publish_at =
        absl::GetFlag(FLAGS_cluster_snapshot_publish_at);
    cluster_options.retention.warn_at =
        absl::GetFlag(FLAGS_cluster_retention_warn_at);
    cluster_options.retention.check_every =
        absl::GetFlag(FLAGS_cluster_retention_check_every);
    cluster_options.snapshot_gc_grace =
        absl::GetFlag(FLAGS_cluster_snapshot_gc_grace);
    cluster_options.metrics = &metrics;
    absl::StatusOr<std::unique_ptr<banditd::cluster::NatsCommitter>> nats =
        banditd::cluster::NatsCommitter::Open(cluster_options, &engine);
    if (!nats.ok()) {
      SPDLOG_ERROR("{}", absl::StrCat("cannot join the cluster: ",
                                      nats.status().ToString()));
      return 1;
    }
    cluster_collector =
        std::make_unique<banditd::cluster::ClusterCollector>(nats->get());
    metrics.AddCollectable(cluster_collector.get());
    opened_committer = *std::move(nats);
  } else {
    absl::StatusOr<std::unique_ptr<banditd::store::DurableCommitter>> opened =
        banditd::store::DurableCommitter::Open(store_options, &engine);
    if (!opened.ok()) {
      SPDLOG_ERROR("{}", absl::StrCat("cannot open the store: ",
                                      opened.status().ToString()));
      return 1;
    }
    opened_committer = *std::move(opened);
  }
  banditd::store::Committer& committer = *opened_committer;
  // Recovery freed about as much as it keeps (the snapshot's decode): hand it
  // back before serving rather than at the releaser's next tick.
  if (releaser != nullptr) {
    banditd::ops::ReleaseFreeMemoryOver(banditd::ops::kReleaseMinFreeBytes);
  }
  std::unique_ptr<banditd::service::Authenticator> auth;
  if (const std::string path = absl::GetFlag(FLAGS_auth_tokens_file);
      !path.empty()) {
    absl::StatusOr<std::unique_ptr<banditd::service::Authenticator>> loaded =
        banditd::service::Authenticator::FromFile(path);
    if (!loaded.ok()) {
      SPDLOG_ERROR("{}", std::string(loaded.status().message()));
      return 1;
    }
    auth = *std::move(loaded);
  }
  std::unique_ptr<const banditd::service::DecisionSigner> signer;
  if (const std::string path = absl::GetFlag(FLAGS_decision_id_key_file);
      !path.empty()) {
    absl::StatusOr<std::unique_ptr<banditd::service::DecisionSigner>> loaded =
        banditd::service::DecisionSigner::FromFile(
            path, absl::GetFlag(FLAGS_decision_id_max_age),
            static_cast<size_t>(std::max<int64_t>(
                absl::GetFlag(FLAGS_decision_id_max_bytes), 0)));
    if (!loaded.ok()) {
      SPDLOG_ERROR("{}", std::string(loaded.status().message()));
      return 1;
    }
    signer = *std::move(loaded);
  }
  std::unique_ptr<banditd::service::DecisionCache> decisions;
  if (absl::GetFlag(FLAGS_decision_cache_size) > 0 || signer != nullptr) {
    decisions = std::make_unique<banditd::service::DecisionCache>(
        static_cast<size_t>(
            std::max<int64_t>(absl::GetFlag(FLAGS_decision_cache_size), 0)),
        static_cast<size_t>(
            std::max<int64_t>(absl::GetFlag(FLAGS_decision_cache_bytes), 0)),
        std::move(signer));
  }
  std::unique_ptr<banditd::store::DecisionLog> decision_log;
  if (absl::GetFlag(FLAGS_decision_log)) {
    if (decisions == nullptr) {
      SPDLOG_ERROR(
          "--decision_log needs decision ids: --decision_cache_size > 0 or "
          "--decision_id_key_file");
      return 1;
    }
    banditd::store::DecisionLog::Options log_options;
    log_options.path =
        absl::StrCat(absl::GetFlag(FLAGS_data_dir), "/decisions.sqlite");
    log_options.max_age = absl::GetFlag(FLAGS_decision_log_max_age);
    log_options.max_rows = absl::GetFlag(FLAGS_decision_log_max_rows);
    log_options.max_bytes = absl::GetFlag(FLAGS_decision_log_max_bytes);
    log_options.max_queued_bytes = static_cast<size_t>(std::max<int64_t>(
        absl::GetFlag(FLAGS_decision_log_max_queued_bytes), 0));
    absl::StatusOr<std::unique_ptr<banditd::store::DecisionLog>> opened =
        banditd::store::DecisionLog::Open(log_options);
    if (!opened.ok()) {
      SPDLOG_ERROR("{}", std::string(opened.status().message()));
      return 1;
    }
    decision_log = *std::move(opened);
  }
  // Declared before the service: destroyed after the server has stopped.
  std::unique_ptr<banditd::service::ReadPool> big_room_reads;
  if (absl::GetFlag(FLAGS_big_room_arms) > 0) {
    banditd::service::ReadPool::Options pool_options;
    pool_options.threads =
        std::max(absl::GetFlag(FLAGS_big_room_read_threads), 1);
    pool_options.nice =
        std::clamp(absl::GetFlag(FLAGS_big_room_read_nice), 0, 19);
    pool_options.max_queued =
        std::max(absl::GetFlag(FLAGS_big_room_max_queued_reads), 1);
    big_room_reads = std::make_unique<banditd::service::ReadPool>(pool_options);
  }
  banditd::service::BanditService service(&engine, &committer, auth.get(),
                                          decisions.get(), decision_log.get());
  service.SetReadPool(big_room_reads.get(), absl::GetFlag(FLAGS_big_room_arms));

  banditd::service::ServerOptions server_options;
  server_options.address =
      absl::StrCat(absl::GetFlag(FLAGS_host), ":", absl::GetFlag(FLAGS_port));
  server_options.max_message_bytes = absl::GetFlag(FLAGS_max_message_mb) << 20;
  server_options.transport_memory_bytes =
      static_cast<size_t>(std::max(0, absl::GetFlag(FLAGS_transport_memory_mb)))
      << 20;
  server_options.max_concurrent_streams =
      std::max(0, absl::GetFlag(FLAGS_max_concurrent_streams));
  server_options.metrics = &metrics;
  {
    const int cores =
        std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
    const int threads = absl::GetFlag(FLAGS_grpc_cq_threads);
    const int queues = absl::GetFlag(FLAGS_grpc_completion_queues);
    const int calls = absl::GetFlag(FLAGS_grpc_calls_per_method);
    if (threads < 0 || threads > 1024 || queues < 0 || calls < 1 ||
        calls > 1000) {
      SPDLOG_ERROR(
          "{}", absl::StrCat("--grpc_cq_threads (", threads,
                             ") must be 0-1024, --grpc_completion_queues (",
                             queues, ") at least 0, --grpc_calls_per_method (",
                             calls, ") 1-1000"));
      return 1;
    }
    server_options.cq_threads = threads == 0 ? std::max(2, cores) : threads;
    server_options.standby_pollers = absl::GetFlag(FLAGS_grpc_standby_pollers);
    server_options.completion_queues =
        queues == 0 ? (server_options.standby_pollers
                           ? 1
                           : server_options.cq_threads)
                    : std::min(queues, server_options.cq_threads);
    server_options.calls_per_method = calls;
    const int sync_threads = absl::GetFlag(FLAGS_grpc_sync_max_threads);
    const int watchers = absl::GetFlag(FLAGS_health_max_watchers);
    if (sync_threads < 8 || watchers < 1 || watchers > sync_threads - 4) {
      SPDLOG_ERROR("{}", absl::StrCat("--grpc_sync_max_threads (", sync_threads,
                                      ") must be at least 8, and "
                                      "--health_max_watchers (",
                                      watchers, ") from 1 to ",
                                      std::max(8, sync_threads) - 4,
                                      " (4 threads left for Check and "
                                      "reflection)"));
      return 1;
    }
    server_options.sync_max_threads = sync_threads;
    server_options.health_max_watchers = watchers;
  }
  // One log of failed calls, gRPC's and HTTP's: one rate limit.
  server_options.rpc_log.failed_per_second =
      absl::GetFlag(FLAGS_log_failed_rpcs_per_second);
  banditd::service::RpcLog rpc_log(server_options.rpc_log);
  server_options.shared_rpc_log = &rpc_log;
  if (!absl::GetFlag(FLAGS_tls_cert).empty() ||
      !absl::GetFlag(FLAGS_tls_key).empty()) {
    absl::StatusOr<std::string> cert = ReadFile(absl::GetFlag(FLAGS_tls_cert));
    absl::StatusOr<std::string> key = ReadFile(absl::GetFlag(FLAGS_tls_key));
    if (!cert.ok() || !key.ok()) {
      SPDLOG_ERROR("{}",
                   std::string((cert.ok() ? key : cert).status().message()));
      return 1;
    }
    server_options.tls_cert_pem = *std::move(cert);
    server_options.tls_key_pem = *std::move(key);
  } else if (!IsLoopback(absl::GetFlag(FLAGS_host)) &&
             !absl::GetFlag(FLAGS_allow_insecure)) {
    SPDLOG_ERROR(
        "{}", absl::StrCat("refusing plaintext gRPC on non-loopback host ",
                           absl::GetFlag(FLAGS_host),
                           ": pass --tls_cert/--tls_key, or --allow_insecure"));
    return 1;
  }
  absl::StatusOr<std::unique_ptr<banditd::service::RunningServer>> running =
      banditd::service::StartServer(server_options, &service);
  if (!running.ok()) {
    SPDLOG_ERROR("{}", std::string(running.status().message()));
    return 1;
  }
  banditd::service::RunningServer& server = **running;
  // The HTTP/JSON API runs the service's own handlers, so it shares its
  // tokens, validation and durability.
  std::unique_ptr<banditd::service::HttpGateway> gateway;
  if (absl::GetFlag(FLAGS_http_port) != 0) {
    banditd::service::HttpGatewayOptions gateway_options;
    gateway_options.host = absl::GetFlag(FLAGS_host);
    gateway_options.port = absl::GetFlag(FLAGS_http_port);
    gateway_options.tls_cert_file = absl::GetFlag(FLAGS_tls_cert);
    gateway_options.tls_key_file = absl::GetFlag(FLAGS_tls_key);
    gateway_options.threads = absl::GetFlag(FLAGS_http_threads);
    gateway_options.release_thread_cache = &banditd::ops::ReleaseThreadCache;
    gateway_options.max_body_bytes = server_options.max_message_bytes;
    gateway_options.max_body_bytes_in_flight =
        server_options.transport_memory_bytes;
    gateway_options.max_response_bytes = server_options.max_message_bytes;
    gateway_options.openapi_json = banditd::service::kOpenApiJson;
    absl::StatusOr<std::unique_ptr<banditd::service::HttpGateway>> started =
        banditd::service::HttpGateway::Start(gateway_options, &service,
                                             &metrics, &rpc_log);
    if (!started.ok()) {
      SPDLOG_ERROR("{}", std::string(started.status().message()));
      return 1;
    }
    gateway = *std::move(started);
    SPDLOG_INFO(
        "{}",
        absl::StrCat("HTTP/JSON API on ",
                     gateway_options.tls_cert_file.empty() ? "http" : "https",
                     "://", gateway_options.host, ":", gateway->port(), "/"));
  }
  // Kafka records take the Feedback path: the same admission and log.
  std::unique_ptr<banditd::ingest::KafkaIngest> kafka;
  std::unique_ptr<banditd::ingest::IngestCollector> kafka_collector;
  if (!absl::GetFlag(FLAGS_kafka_brokers).empty()) {
    if (!absl::GetFlag(FLAGS_cluster_rooms).empty()) {
      SPDLOG_ERROR(
          "--kafka_brokers needs replicas that hold every room: leave "
          "--cluster_rooms empty");
      return 1;
    }
    if (!absl::GetFlag(FLAGS_cluster_nats).empty() &&
        absl::GetFlag(FLAGS_cluster_streams) > 1) {
      SPDLOG_ERROR(
          "--kafka_brokers needs --cluster_streams=1: a consumed batch spans "
          "rooms and moves its partition's offset in one record, which has "
          "no one stream when rooms are spread over several");
      return 1;
    }
    absl::StatusOr<banditd::ingest::KafkaIngest::Options> kafka_options =
        KafkaOptionsFromFlags();
    absl::StatusOr<std::unique_ptr<banditd::ingest::KafkaIngest>> started =
        kafka_options.ok() ? banditd::ingest::KafkaIngest::Start(
                                 *std::move(kafka_options), &engine, &committer,
                                 decisions.get())
                           : kafka_options.status();
    if (!started.ok()) {
      SPDLOG_ERROR("{}", std::string(started.status().message()));
      return 1;
    }
    kafka = *std::move(started);
    kafka_collector =
        std::make_unique<banditd::ingest::IngestCollector>(kafka.get());
    metrics.AddCollectable(kafka_collector.get());
    SPDLOG_INFO("consuming Kafka topics {} as group {}",
                absl::GetFlag(FLAGS_kafka_topics),
                absl::GetFlag(FLAGS_kafka_group));
  }
  grpc::HealthCheckServiceInterface* health =
      server.grpc().GetHealthCheckService();
  health->SetServingStatus(true);
  if (http != nullptr) {
    http->SetState(banditd::ops::HttpServer::State::kServing);
  }
  SPDLOG_INFO(
      "{}", absl::StrCat(
                "serving on ", absl::GetFlag(FLAGS_host), ":", server.port(),
                server_options.tls_cert_pem.empty() ? " (plaintext)" : " (TLS)",
                auth != nullptr ? " with token auth" : ""));

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  SPDLOG_INFO("received signal {}, draining", signal_number);
  health->SetServingStatus(false);
  if (http != nullptr) {
    http->SetState(banditd::ops::HttpServer::State::kDraining);
  }
  // Load balancers see NOT_SERVING (health, /healthz) and move traffic away
  // while calls are still served.
  if (const absl::Duration grace = absl::GetFlag(FLAGS_drain_grace);
      grace > absl::ZeroDuration()) {
    SPDLOG_INFO("{}", absl::StrCat("reporting NOT_SERVING for ",
                                   absl::FormatDuration(grace),
                                   " before refusing new calls"));
    absl::SleepFor(grace);
  }
  // Ends the Health.Watch streams, which would otherwise hold the drain
  // below for its whole timeout.
  health->Shutdown();
  // New HTTP calls are refused from here, like new gRPC calls; both kinds in
  // flight have until the same deadline.
  const absl::Time drain_deadline =
      absl::Now() + absl::GetFlag(FLAGS_drain_timeout);
  if (gateway != nullptr) gateway->Drain();
  server.Shutdown(drain_deadline);
  if (gateway != nullptr) gateway->Stop(drain_deadline);
  // Its last batches are logged before the committer stops.
  if (kafka != nullptr) kafka->Stop();
  committer.Shutdown();
  if (http != nullptr) http->Stop();
  SPDLOG_INFO("stopped");
  return 0;
}
