#ifndef BANDITD_SERVER_CLUSTER_NATS_COMMITTER_H_
#define BANDITD_SERVER_CLUSTER_NATS_COMMITTER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/cluster/in_flight_table.h"
#include "server/cluster/object_store.h"
#include "server/cluster/retention.h"
#include "server/cluster/snapshot_file.h"
#include "server/core/engine.h"
#include "server/core/mutation.h"
#include "server/store/committer.h"
#include "server/store/snapshotter.h"
#include "server/store/store_metrics.h"

// The NATS C client's types, kept out of this header's users.
struct __natsConnection;
struct __natsSubscription;
struct __jsCtx;
struct __natsMsg;
struct jsPubAck;
struct jsPubAckErr;

namespace banditd::cluster {

// NatsCommitter makes banditd one replica of several that share a replicated
// event log: a NATS JetStream stream (replicated by the NATS cluster, R3 by
// default), one subject per room, `<subject_prefix>.<room_id>`.
//
// Write path (Submit): validate against the local engine, stamp
// logged_at_micros, encode with the store's log codec and publish to the
// room's subject. The caller is answered only once this replica's consumer
// has applied that record: it delivers only records stored on a quorum of
// the stream's replicas (durable, whether or not JetStream's ack arrives),
// and a client reads its own writes on the replica that took them. The answer
// is Engine::Apply's result for the record as applied in stream order.
//
// A Feedback batch whose events name several rooms is split into one record
// per room (events keep their order). Each record applies all-or-nothing;
// the batch as a whole does not: if one room's publish fails, the call fails
// while other rooms' records may be applied. Retrying with the same event_ids
// is safe (duplicates are counted once).
//
// Read path: every replica consumes the stream in order (an ordered push
// consumer, filtered to the rooms it holds) on one thread, the engine's
// single writer. The stream sequence is the log sequence; applied_sequence()
// reports how far this replica is.
//
// Snapshots: when the store's Snapshotter says one is due (every
// `snapshot_every_records` applied records or `snapshot_interval`), the state
// and the stream sequence it covers are saved in <data_dir>/cluster.db; a
// restart loads it and consumes from the next sequence.
//
// Self-bootstrap (nats_bootstrap.cc): replicas publish their snapshot, with
// the stream sequence it covers, to a JetStream object store bucket
// (`snapshot_bucket`) when the published one is older than
// `snapshot_publish_every`. A replica without a snapshot, one whose
// snapshot is older than the stream's first retained record, or one more
// than `snapshot_every_records` behind, fetches the published snapshot,
// checks it (digest, stream, rooms, covered sequence) and replays from the
// sequence after it. A replica that cannot catch up (no usable snapshot
// covers the trimmed head) fails at Open with FAILED_PRECONDITION naming
// what is missing.
//
// The code is split by concern: lifecycle (this file's .cc), stream setup
// and stream-wide settings (nats_setup.cc), the publish path and its
// acknowledgements (nats_publish.cc), the apply loop and expiry
// (nats_apply.cc), Direct Get (direct_fetch.cc), snapshots
// (nats_snapshots.cc), the catch-up of writes naming a room this replica
// has not applied yet (nats_catch_up.cc); what callers wait for is an
// InFlightTable.
// This header is over 500 lines because it is the one declaration those
// files share (with its Options and their documented defaults); their code
// lives in them.
//
// Kafka ingest: a consumed batch carries its partition range (core::
// SourceRange) and is published whole, on <subject_prefix>._kafka, so the
// offsets replicate with the counts; every replica's engine fences stale
// ranges alike, whichever replica the consumer group gave the partition.
//
// Sharding: with `rooms_filter`, the replica consumes only the matching
// subjects; Submit, Sample and GetStats for other rooms get
// FAILED_PRECONDITION (CheckRoomHeld).
//
// Several streams (`streams` > 1): rooms are spread over N streams by a
// stable hash of the room id (StreamOf), so that their leaders, which order
// every write, can sit on different NATS nodes. Stream 0 is `stream` with
// subjects `<subject_prefix>.>`, stream i is `<stream>_<i>` with
// `<subject_prefix>_<i>.>`. Every replica consumes every stream; a room's
// records are applied in its stream's order (no record spans rooms, and
// Apply of one room's record depends on no other room's state; the engine
// keeps one event-id window per stream, FeedbackBatch::stream, so that its
// evictions depend on that stream's records alone, whatever the
// interleaving of streams on this replica). Sequences (FeedbackResponse,
// min_applied_sequence) are the room's stream's. N is a cluster-wide setting
// recorded in stream 0's description.
class NatsCommitter final : public store::Committer {
 public:
  struct Options {
    // Comma-separated NATS server URLs, e.g. "nats://127.0.0.1:4222,...".
    std::string nats_urls;
    std::string stream = "BANDITD_EVENTS";
    std::string subject_prefix = "banditd.events";
    // Streams rooms are spread over (stream-wide setting, recorded in the
    // first stream; a replica started with another value refuses to start).
    int streams = 1;
    // Rooms this replica holds, as a NATS subject pattern over the room id
    // ("*" is one dot-separated part, ">" the rest): "eu.>", "shop-1". Empty
    // holds every room.
    std::string rooms_filter;
    // Replication factor when this replica creates the stream.
    int replicas = 3;
    // Retention when this replica creates the stream (0: unlimited).
    absl::Duration max_age = absl::Hours(7 * 24);
    int64_t max_bytes = 0;
    // JetStream's own de-duplication window (Nats-Msg-Id) when this replica
    // creates the stream: a retried record with the same event ids within
    // it is dropped by JetStream, whatever the engine's id window holds.
    absl::Duration duplicate_window = absl::Minutes(10);
    // The engine's --event_id_window. A stream-wide setting: recorded in the
    // stream by the replica that creates it; a replica started with another
    // value refuses to start (replicas must de-duplicate alike).
    int64_t event_id_window = 0;
    // The engine's --event_id_window_age: stream-wide, like the count.
    absl::Duration event_id_window_age = absl::ZeroDuration();
    // How long a publish may wait for its JetStream acknowledgement, and
    // then for this replica to apply it.
    absl::Duration publish_timeout = absl::Seconds(2);
    absl::Duration apply_timeout = absl::Seconds(2);
    // An unacknowledged record is published again this often, with the same
    // message id (JetStream stores it once), until a copy is acknowledged or
    // publish_timeout passes: a publish lost with a failed NATS node is
    // retried once the cluster has recovered, not after the whole timeout.
    // Only when the stream seems stalled or the record lost (see
    // InFlightTable::TakeResends). 0: never; else 10ms .. publish_timeout.
    absl::Duration republish_interval = absl::Milliseconds(250);
    // An acknowledged record that the consumer has not delivered within this
    // time is read directly from any of the stream's peers (Direct Get), so
    // writes do not wait for the consumer to be re-created after a failure.
    absl::Duration fetch_after = absl::Milliseconds(100);
    // With several streams: every this long (give or take a fifth, at
    // random), move a stream's leader off a NATS node that leads two more
    // streams than another current peer (a node back from a failure leads
    // none). Each move pauses that stream's writes for a leader transfer.
    // 0: only at start.
    absl::Duration rebalance_interval = absl::Minutes(1);
    // Client pings to the NATS node; two unanswered mark the connection
    // dead (a paused node) and the client moves to another node.
    absl::Duration ping_interval = absl::Milliseconds(500);
    // How long a read with a min_applied_sequence waits for this replica
    // to apply it (then UNAVAILABLE).
    absl::Duration read_wait_timeout = absl::Seconds(2);
    // Open waits at most this long to catch up with the stream (0: no
    // limit; snapshots are taken while catching up).
    absl::Duration catch_up_timeout = absl::ZeroDuration();
    // A write that names a room or arm this replica does not know (NOT_FOUND
    // at validation) waits at most this long for this replica to apply its
    // streams up to their last sequence (asked of JetStream), then is
    // validated again: a room just created through another replica is
    // found. Also bounded by read_wait_timeout. 0: answer at once.
    absl::Duration write_catch_up_timeout = absl::Seconds(2);
    // Tests: called on the consumer's thread before it applies the record
    // at the given sequence (not for records the direct fetcher reads), so
    // a test can hold this replica's apply back.
    std::function<void(uint64_t)> before_consumer_apply_for_testing;
    // Directory of the snapshot file; created if missing.
    std::string data_dir = "./data";
    int64_t snapshot_every_records = 100'000;
    absl::Duration snapshot_interval = absl::Minutes(10);
    size_t snapshot_chunk_bytes = 1 << 20;
    // JetStream object store bucket (stream OBJ_<bucket>) where snapshots
    // are published for new or lagging replicas; empty: neither publish nor
    // fetch.
    std::string snapshot_bucket = "banditd_snapshots";
    // After a snapshot, publish it when the published one is older than
    // this and covers less (0: this replica never publishes, only fetches).
    absl::Duration snapshot_publish_every = absl::Minutes(10);
    // Retention watch (nats_retention.cc): every `check_every`, compare the
    // records after the published snapshot with each stream's retention
    // limits; publish early at `publish_at` of the tightest, warn at
    // `warn_at`. Checked at Open (retention::Validate).
    retention::Thresholds retention;
    // Unreferenced object-store chunks (a replaced snapshot, the loser of
    // two simultaneous publishes) are deleted after this grace (see
    // ObjectStore::CollectGarbage); it bounds how long a fetch may take.
    absl::Duration snapshot_gc_grace = absl::Minutes(5);
    // Log startup and snapshot summaries (info).
    bool log = true;
    // Commits (publish to acknowledgement), snapshots and the catch-up at
    // Open are reported here when set; must outlive the committer.
    store::StoreMetrics* metrics = nullptr;
  };

  // How far this replica has applied one stream.
  struct StreamStats {
    std::string stream;
    // Last stream sequence applied, and the stream's records after it that
    // this replica will apply (as of the last record delivered).
    uint64_t applied_sequence = 0;
    uint64_t pending_records = 0;
    // Time from the last applied record's store in JetStream to its apply
    // here; 0 once nothing is pending.
    absl::Duration apply_lag;
    // The retention watch's last look (retention::Assess): the published
    // snapshot's sequence in this stream, the records after it, how many
    // more retention may trim before it trims one of those (negative: it
    // did, no new replica can join), and the share of the tightest limit
    // they use (`retention_limit`).
    uint64_t published_sequence = 0;
    uint64_t records_since_published = 0;
    int64_t trim_headroom = 0;
    double retention_pressure = 0;
    std::string retention_limit;
  };

  struct Stats {
    // The first stream's applied sequence, the pending records of all
    // streams and the largest apply lag; `streams` has each stream's.
    uint64_t applied_sequence = 0;
    uint64_t pending_records = 0;
    absl::Duration apply_lag;
    std::vector<StreamStats> streams;
    int64_t applied_records = 0;
    int64_t rejected_records = 0;
    // Records trimmed from the stream before this replica applied them (an
    // outage longer than the retention): the replica needs a new snapshot.
    int64_t skipped_records = 0;
    int64_t snapshots = 0;
    uint64_t last_snapshot_sequence = 0;
    // Records read by Direct Get because the consumer had not delivered
    // them in time, and publishes JetStream dropped as duplicates.
    int64_t fetched_records = 0;
    int64_t duplicate_publishes = 0;
    // Copies of unacknowledged records published again.
    int64_t republished_records = 0;
    // Snapshots this replica published to the object store, the last one's
    // sequence, and the sequence of the published snapshot it started from
    // (0: none).
    int64_t published_snapshots = 0;
    uint64_t last_published_sequence = 0;
    uint64_t bootstrapped_from_sequence = 0;
    // Publishes that failed, publishes made early because retention neared
    // the published snapshot, and object-store chunks of replaced or
    // orphaned snapshots this replica deleted.
    int64_t publish_failures = 0;
    int64_t early_publishes = 0;
    int64_t collected_chunks = 0;
    // Writes that named a room or arm unknown here and waited for this
    // replica to catch up with the stream before being validated again.
    int64_t write_catch_ups = 0;
  };

  static constexpr char kSnapshotFile[] = "cluster.db";

  // Loads the snapshot, connects, creates the stream if missing, consumes
  // until caught up with the stream and starts the snapshot thread.
  // `engine` must be empty, outlive the committer and from now on change
  // only through it.
  static absl::StatusOr<std::unique_ptr<NatsCommitter>> Open(
      Options options, core::Engine* engine);

  ~NatsCommitter() override;
  NatsCommitter(const NatsCommitter&) = delete;
  NatsCommitter& operator=(const NatsCommitter&) = delete;

  void Submit(core::Mutation mutation, Done done) override;
  // Fails what is in flight after a bounded wait, stops consuming and saves
  // a final snapshot.
  void Shutdown() override;
  uint64_t applied_sequence() const override {
    return streams_.front()->applied();
  }
  uint64_t applied_sequence(const std::string& room_id) const override {
    return streams_[StreamOf(room_id, options_.streams)]->applied();
  }
  absl::Status CheckRoomHeld(const std::string& room_id) const override;
  void WhenApplied(const std::string& room_id, uint64_t sequence,
                   absl::AnyInvocable<void(absl::Status) &&> done) override;

  // Saves a snapshot now (tests).
  absl::Status SnapshotNow();
  Stats stats() const;

  // The subject of `room_id`'s records; INVALID_ARGUMENT when the room id
  // has an empty dot-separated part, which has no subject.
  static absl::StatusOr<std::string> RoomSubject(const std::string& prefix,
                                                 const std::string& room_id);
  // The stream (0..streams-1) that holds `room_id`'s records: FNV-1a of the
  // room id, stable across processes, builds and languages.
  static int StreamOf(absl::string_view room_id, int streams);
  // Stream i's name and subject prefix (stream 0: the given ones).
  static std::string StreamName(const std::string& stream, int i);
  static std::string StreamPrefix(const std::string& prefix, int i);
  // NATS subject matching: "*" matches one token, ">" one or more.
  static bool SubjectMatches(const std::string& pattern,
                             const std::string& subject);

 private:
  // One of the streams rooms are spread over: its consumer, how far this
  // replica has applied it, and what callers wait for on it.
  struct Stream {
    Stream(NatsCommitter* owner, int index, InFlightTable::Options options)
        : owner(owner), index(index), in_flight(options) {}
    uint64_t applied() const {
      return applied_seq.load(std::memory_order_acquire);
    }
    NatsCommitter* const owner;
    const int index;
    std::string name;    // BANDITD_EVENTS, BANDITD_EVENTS_1, ...
    std::string prefix;  // banditd.events, banditd.events_1, ...
    std::string filter;  // The consumer's filter subject.
    // At Open: the stream's creation time and its first and last sequence.
    int64_t created = 0;
    uint64_t first_seq = 0;
    uint64_t last_seq = 0;
    __natsSubscription* sub = nullptr;
    std::atomic<uint64_t> applied_seq{0};
    InFlightTable in_flight;
    std::thread fetcher;
  };

  NatsCommitter(Options options, core::Engine* engine);

  absl::Status Start();
  absl::Status Connect();
  // Reads (or creates) every stream; stream 0 first, whose description holds
  // the stream-wide settings.
  absl::Status EnsureStreams();
  absl::Status EnsureStream(Stream& stream);
  // With several streams: asks JetStream (leader stepdown with a preferred
  // peer) to move leaders so that no NATS node leads two more streams than
  // another; JetStream places them at random, and a node that failed leads
  // none when it returns. Best effort, logged; returns the leaders moved.
  int SpreadLeaders();
  // Runs SpreadLeaders every rebalance_interval (+-20 %, so that replicas
  // do not move the same leader at once) until Shutdown.
  void RebalanceLoop();
  // Records the stream-wide settings in a stream that lacks them (an older
  // replica created it) and checks this replica's against them.
  absl::Status CheckStreamSettings(const Stream& stream,
                                   const std::string& description);
  absl::Status Subscribe(Stream& stream, uint64_t start_seq);
  absl::Status WaitCaughtUp(Stream& stream);
  // Publishes a record of `call`; `resendable`: it may be re-sent (every
  // record but a Kafka batch, whose offsets fence a late copy instead).
  void Publish(Stream& stream, std::string subject, std::string record,
               std::string msg_id, int64_t events,
               const std::shared_ptr<InFlightTable::Call>& call,
               bool resendable);
  // One copy of record `id` (js_PublishMsgAsync); `resend` marks a re-sent
  // copy (a header, so that its ack releases its slot). UNAVAILABLE naming
  // `what` when the library refuses it.
  absl::Status PublishCopy(const char* what, const std::string& subject,
                           const std::string& data, const std::string& msg_id,
                           uint64_t id, absl::Duration max_wait, bool resend);
  // Re-sends what the streams' InFlightTables say is due (nats_publish.cc).
  void RepublishLoop();
  // The stream whose subjects `subject` is on (an acknowledged publish).
  Stream* StreamOfSubject(absl::string_view subject);
  // A batch consumed from Kafka (FeedbackBatch::source): one record,
  // never split by room, on <subject_prefix>.<kSourcedSubject>.
  void SubmitSourced(core::FeedbackBatch batch, Done done, bool may_catch_up);
  // Submit's body; `may_catch_up`: a NOT_FOUND at validation waits for this
  // replica to catch up (CatchUpThenAdmit) instead of being answered.
  void Admit(core::Mutation mutation, Done done, bool may_catch_up);

  // Catch-up of writes that failed validation with NOT_FOUND
  // (nats_catch_up.cc): the catch-up thread asks JetStream for the last
  // sequence of `streams`, waits (InFlightTable::WhenApplied, no thread
  // blocked) until this replica has applied them that far or
  // write_catch_up_timeout passes, then admits the write again without a
  // catch-up, answering with that validation's result.
  struct CatchUp;
  void CatchUpThenAdmit(core::Mutation mutation, std::vector<Stream*> streams,
                        Done done);
  void CatchUpLoop();
  // Fails the writes still catching up (UNAVAILABLE) and joins the thread.
  void StopCatchUps();
  // The stream's last sequence, asked of JetStream (one request).
  absl::StatusOr<uint64_t> LastSequence(const Stream& stream,
                                        absl::Duration timeout);
  static constexpr char kSourcedSubject[] = "_kafka";
  // The InFlightTable id in a record's origin header when this process
  // published it.
  std::optional<uint64_t> OwnId(__natsMsg* msg) const;

  // The client library replaced a failed connection (nats_setup.cc).
  static void OnReconnected(__natsConnection* nc, void* closure);
  static void OnMessage(__natsConnection* nc, __natsSubscription* sub,
                        __natsMsg* msg, void* closure);
  static void OnAck(__jsCtx* js, __natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae,
                    void* closure);
  void HandleMessage(Stream& stream, __natsMsg* msg);
  void HandleAck(__natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae);
  // Applies the stream record at `seq` unless it already was (the consumer
  // and the direct fetcher may both deliver it) and completes the calls it
  // finishes. `pending`: the stream's records after it, when known.
  void ApplyRecord(Stream& stream, uint64_t seq,
                   std::optional<uint64_t> pending, int64_t stored_ns,
                   __natsMsg* msg);
  // Reads acknowledged records that the consumer is late with by Direct
  // Get from any stream peer (server/cluster/direct_fetch.cc).
  void FetchLoop(Stream& stream);

  // Expires writes and reads that waited too long (nats_apply.cc).
  void MaintenanceLoop();
  // Runs on the snapshotter's thread (`publish`: then also publishes it
  // when due), and once more at Shutdown.
  absl::Status TakeSnapshot(bool publish);
  // The snapshot to start from: the local one, or the published one when
  // this replica has none, lags more than a snapshot period, or the stream
  // no longer holds the records after its own (nats_bootstrap.cc).
  // nullopt: replay the stream from its start.
  absl::StatusOr<std::optional<SnapshotFile::Snapshot>> ChooseSnapshot(
      std::optional<SnapshotFile::Snapshot> local);
  // The published snapshot if it is usable here, else why not.
  absl::StatusOr<SnapshotFile::Snapshot> FetchPublished();
  // Whether `snapshot` covers exactly this replica's streams (names and
  // creation times; not the sequences); else why not.
  absl::Status CheckSnapshotStreams(const SnapshotFile::Snapshot& snapshot,
                                    absl::string_view what) const;
  // `snapshot`'s position in stream i (empty when it covers fewer streams).
  static SnapshotFile::Position SnapshotPosition(
      const SnapshotFile::Snapshot& snapshot, int i);
  // `snapshot`'s sequence in stream i.
  static uint64_t SnapshotSeq(const SnapshotFile::Snapshot& snapshot, int i) {
    return SnapshotPosition(snapshot, i).seq;
  }
  // Publishes `snapshot` unless the published one is newer or recent
  // (recent does not count when the retention watch asked for a publish).
  void MaybePublish(const SnapshotFile::Snapshot& snapshot);
  // The retention watch's thread (nats_retention.cc): every
  // options_.retention.check_every, CheckRetention, then the object
  // store's garbage collection when this replica publishes.
  void RetentionLoop();
  void CheckRetention();
  // How the published snapshot's positions are read: NOT_FOUND when none.
  absl::StatusOr<std::vector<uint64_t>> PublishedPositions();

  const Options options_;
  core::Engine* const engine_;
  std::string filter_subject_;
  // Distinguishes this process's records in the stream.
  std::string origin_;
  std::unique_ptr<SnapshotFile> snapshot_file_;  // Snapshotter thread.
  // Null without a bucket; Open's thread, then the snapshotter's.
  std::unique_ptr<ObjectStore> objects_;
  bool bucket_ready_ = false;  // Snapshotter thread.
  // The retention watch's own store (a store serves one call at a time).
  std::unique_ptr<ObjectStore> watch_objects_;
  // Set by the retention watch: publish at the next snapshot even if the
  // published one is recent.
  std::atomic<bool> publish_due_{false};
  std::thread retention_;
  // The retention watch's last warning and early publish request (both
  // rate-limited).
  absl::Time last_retention_warning_ = absl::InfinitePast();
  absl::Time last_early_request_ = absl::InfinitePast();

  __natsConnection* nc_ = nullptr;
  __jsCtx* js_ = nullptr;

  // Fixed after the constructor.
  std::vector<std::unique_ptr<Stream>> streams_;
  std::atomic<int64_t> last_logged_micros_{0};
  // Set when the stream dropped records before this replica applied them:
  // its state is wrong, so it saves no snapshot that a restart would load.
  std::atomic<bool> diverged_{false};

  // Held while applying a record (of any stream: the engine has one
  // writer); the snapshot copy takes it to exclude Apply.
  absl::Mutex apply_mu_;
  // Bumped (under apply_mu_) after applying a record that is not Feedback.
  std::atomic<int64_t> structure_epoch_{0};

  store::Snapshotter snapshotter_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool consuming_ ABSL_GUARDED_BY(mu_) = true;
  Stats stats_ ABSL_GUARDED_BY(mu_);
  // Per stream.
  std::vector<absl::Time> last_delivery_ ABSL_GUARDED_BY(mu_);
  // The sum of the last snapshot's positions (they only grow).
  uint64_t last_snapshot_total_ ABSL_GUARDED_BY(mu_) = 0;
  // Why the last publish failed ("" after a success), for the watch's
  // warnings.
  std::string last_publish_error_ ABSL_GUARDED_BY(mu_);

  std::thread maintenance_;
  // Re-sent copies awaiting their ack or timeout; re-sends stop at a quarter
  // of the client library's limit of pending publishes, so that they never
  // stall new ones.
  std::thread republisher_;
  bool republishing_ ABSL_GUARDED_BY(mu_) = true;
  std::thread rebalancer_;
  bool rebalancing_ ABSL_GUARDED_BY(mu_) = true;
  std::atomic<int64_t> resends_pending_{0};
  // Message ids of records without event ids (<origin>-m<n>).
  std::atomic<uint64_t> next_msg_id_{0};
  absl::Mutex shutdown_mu_;
  bool shut_down_ ABSL_GUARDED_BY(shutdown_mu_) = false;

  absl::Mutex catch_up_mu_;
  // Writes awaiting the streams' last sequences, and those waiting to apply
  // them; the thread starts with the first catch-up.
  std::vector<std::shared_ptr<CatchUp>> catch_up_queue_
      ABSL_GUARDED_BY(catch_up_mu_);
  std::vector<std::shared_ptr<CatchUp>> catching_up_
      ABSL_GUARDED_BY(catch_up_mu_);
  bool catch_up_stopping_ ABSL_GUARDED_BY(catch_up_mu_) = false;
  std::thread catch_up_thread_ ABSL_GUARDED_BY(catch_up_mu_);
};

}  // namespace banditd::cluster

#endif  // BANDITD_SERVER_CLUSTER_NATS_COMMITTER_H_
