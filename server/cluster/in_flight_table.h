#ifndef BANDITD_SERVER_CLUSTER_IN_FLIGHT_TABLE_H_
#define BANDITD_SERVER_CLUSTER_IN_FLIGHT_TABLE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/core/mutation.h"
#include "server/store/committer.h"

namespace banditd::cluster {

// InFlightTable tracks what the callers of one cluster replica wait for:
//  - writes: each record a Submit published, until this replica applied it
//    (the consumer delivers only records stored on a quorum, so this needs
//    no ack: a stream leader that fails after storing a record never sends
//    one); or, when JetStream reports it a duplicate of the record at some
//    sequence, until that sequence is applied here. A Submit that published
//    several records (one per room) is answered once all of them have an
//    outcome, with the sum of their results or the first error;
//  - reads waiting for a minimum applied sequence (read-your-writes);
//  - which unacknowledged records to publish again (TakeResends): a record
//    whose publish went to a failed NATS node is re-sent every
//    republish_interval with the same message id (JetStream stores it once)
//    until a copy is acknowledged or the publish timeout passes, so a call
//    waits for the cluster's recovery rather than the whole timeout.
// Nothing here talks to NATS: the transport reports publishes and acks, the
// apply loop reports applied sequences, the maintenance thread expires what
// waited too long. Callbacks run outside the table's lock.
//
// Thread safety: every method is thread-safe.
class InFlightTable {
 public:
  using Result = absl::StatusOr<core::ApplyResult>;
  using ReadDone = absl::AnyInvocable<void(absl::Status) &&>;

  struct Options {
    // A write JetStream acknowledged but this replica has not applied this
    // long after its publish fails with DEADLINE_EXCEEDED.
    absl::Duration apply_timeout = absl::Seconds(2);
    // A read still waiting this long fails with UNAVAILABLE.
    absl::Duration read_wait_timeout = absl::Seconds(2);
    // FetchTarget reports what waited this long.
    absl::Duration fetch_after = absl::Milliseconds(100);
    // Every copy of a record times out this long after its first publish;
    // a record still unacknowledged a second later fails (a safety net).
    absl::Duration publish_timeout = absl::Seconds(2);
    // Re-send an unacknowledged record this often (0: never), while half
    // an interval of the publish timeout remains.
    absl::Duration republish_interval = absl::ZeroDuration();
  };

  // A record as published, kept until acknowledged to publish it again.
  struct Record {
    std::string subject;
    std::string data;
    std::string msg_id;  // Never empty: JetStream drops the copies.
  };
  // A copy to publish now: wait at most `max_wait` for its ack.
  struct Resend {
    uint64_t id = 0;
    std::shared_ptr<const Record> record;
    absl::Duration max_wait;
  };

  // One Submit.
  class Call;

  explicit InFlightTable(Options options) : options_(options) {}
  InFlightTable(const InFlightTable&) = delete;
  InFlightTable& operator=(const InFlightTable&) = delete;

  // A Submit that publishes `records` records; `done` runs once, when the
  // last of them has an outcome.
  static std::shared_ptr<Call> NewCall(store::Committer::Done done,
                                       int records);

  // Registers a record of `call` with `events` Feedback events about to be
  // published and returns its id (for the origin header), or nullopt when
  // the table is closed: then the record has failed with UNAVAILABLE.
  // With `record` (and a republish_interval) it may be re-sent.
  std::optional<uint64_t> Add(const std::shared_ptr<Call>& call, int64_t events,
                              absl::Time now,
                              std::shared_ptr<const Record> record = nullptr);
  // The record's publish failed: its call fails with `error`.
  void Fail(uint64_t id, absl::Status error);
  // One copy of record `id` failed (no acknowledgement): its call fails
  // with `error` once no other copy is pending; ignored once acknowledged.
  void CopyFailed(uint64_t id, absl::Status error);
  // JetStream stored record `id` at `seq`; `duplicate`: it already held
  // these events at `seq` (a retry), so all its events count as duplicates,
  // unless this replica applied the record at `seq` as its own (a re-sent
  // copy whose first copy was stored). Returns when the record was first
  // published, or nullopt for an unknown id (expired, not this process's,
  // or a later copy's ack).
  std::optional<absl::Time> Acked(uint64_t id, uint64_t seq, bool duplicate,
                                  absl::Time now);
  // The unacknowledged records to publish again now (at most `max`), and
  // counts them as sent: those sent republish_interval ago or more, when
  // either no acknowledgement at all arrived since, or none for an
  // interval (the stream or the connection stalled), or a record published
  // after them was acknowledged or applied (theirs was lost), or one of
  // their copies failed (CopyFailed while another is pending: "no
  // responders" while the stream elects a leader). A record merely slower
  // than the interval, behind others still being acknowledged, is not
  // re-sent: a busy healthy cluster gets no extra load.
  std::vector<Resend> TakeResends(absl::Time now, size_t max);
  // The connection to NATS failed and was replaced at `now`: every copy
  // sent before went through it and may be lost, so TakeResends returns
  // those records at once, whatever the interval.
  void ConnectionReplaced(absl::Time now);
  // Answers deferred until the caller has released its own locks.
  class [[nodiscard]] Outcomes {
   public:
    // Runs every answer, once.
    void Run() &&;

   private:
    friend class InFlightTable;
    std::vector<std::pair<std::shared_ptr<Call>, Result>> write_answers_;
    std::vector<std::pair<ReadDone, absl::Status>> read_answers_;
  };

  // This replica applied the stream record at `seq` with `result`; `id`
  // when this process published it: its call gets `result`, acknowledged
  // or not. Sequences arrive in increasing order.
  void Applied(uint64_t seq, std::optional<uint64_t> id, Result result);
  // Applied, with the answers returned instead of run: the apply loop
  // reports each record under the lock it applied it with (its consumer
  // and its fetcher would otherwise report out of order: a later record's
  // report would complete a duplicate waiting for this one, as duplicates,
  // before this one's report found the call's own record), and runs the
  // answers after releasing that lock.
  Outcomes RecordApplied(uint64_t seq, std::optional<uint64_t> id,
                         Result result);
  // The sequence this replica starts from (its snapshot's), before anything
  // is applied.
  void SetApplied(uint64_t seq);

  // Runs `done` with OK once `seq` is applied, or with UNAVAILABLE after
  // read_wait_timeout or when the table closes.
  void WhenApplied(uint64_t seq, ReadDone done, absl::Time now);

  // Fails writes acknowledged but not applied within apply_timeout of their
  // acknowledgement, writes never acknowledged a second past the publish
  // timeout, and reads that waited read_wait_timeout.
  void Expire(absl::Time now);
  // The highest sequence that a write (acknowledged) or a read has waited
  // for at least fetch_after; 0 when none.
  uint64_t FetchTarget(absl::Time now) const;

  // Waits up to `timeout` for every write to have an outcome; true if so.
  bool WaitDrained(absl::Duration timeout);
  // Fails everything still waiting with UNAVAILABLE, and from now on every
  // Add and WhenApplied too (shutdown).
  void Close();

  size_t writes() const;
  size_t reads() const;
  // Copies re-sent so far (TakeResends).
  int64_t resent() const;

 private:
  struct Write {
    std::shared_ptr<Call> call;
    bool acked = false;
    // JetStream dropped the publish as a duplicate of the record at `seq`:
    // done once that is applied.
    bool duplicate = false;
    int64_t events = 0;
    uint64_t seq = 0;
    Result result;
    absl::Time published;
    absl::Time acked_at;
    // Kept until acknowledged when it may be re-sent; its entry in
    // `unacked_` (keyed by the last send), or in `failed_` when `failed`,
    // is valid while `record` is set.
    std::shared_ptr<const Record> record;
    std::multimap<absl::Time, uint64_t>::iterator unacked;
    bool failed = false;
    // Copies published and not yet failed; copies sent in all.
    int pending = 1;
    int sent = 1;
  };
  struct Read {
    absl::Time since;
    ReadDone done;
  };
  // Moves what `applied_` now completes into `out`.
  void CollectApplied(Outcomes* out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // No more re-sends of `write`.
  void StopResending(Write& write) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  mutable absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t applied_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<uint64_t, Write> writes_ ABSL_GUARDED_BY(mu_);
  // Duplicate writes waiting for their original's apply: seq -> id.
  std::multimap<uint64_t, uint64_t> duplicates_ ABSL_GUARDED_BY(mu_);
  std::multimap<uint64_t, Read> reads_ ABSL_GUARDED_BY(mu_);
  // Re-sendable unacknowledged writes by their last send: time -> id.
  std::multimap<absl::Time, uint64_t> unacked_ ABSL_GUARDED_BY(mu_);
  // Those whose last copy failed while an earlier one is pending (in a
  // failed connection, say): re-sent an interval after that last send.
  std::multimap<absl::Time, uint64_t> failed_ ABSL_GUARDED_BY(mu_);
  // When the last acknowledgement arrived, and the latest first publish
  // of a record acknowledged or applied (TakeResends).
  absl::Time last_ack_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Time newest_stored_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Time replaced_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  int64_t resent_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace banditd::cluster

#endif  // BANDITD_SERVER_CLUSTER_IN_FLIGHT_TABLE_H_
