#include "server/cluster/in_flight_table.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace banditd::cluster {

class InFlightTable::Call {
 public:
  Call(store::Committer::Done done, int records)
      : done_(std::move(done)), remaining_(records) {}

  // One record's outcome; the last one answers the Submit.
  void Finish(Result result) {
    store::Committer::Done done;
    Result outcome;
    {
      // Records of one call finish on the ack and the consumer threads.
      absl::MutexLock lock(&mu_);
      if (result.ok()) {
        sum_.applied_events += result->applied_events;
        sum_.duplicate_events += result->duplicate_events;
        sum_.sequence = std::max(sum_.sequence, result->sequence);
      } else if (error_.ok()) {
        error_ = result.status();
      }
      if (--remaining_ > 0) return;
      done = std::move(done_);
      if (error_.ok()) {
        outcome = sum_;
      } else {
        outcome = error_;
      }
    }
    std::move(done)(std::move(outcome));
  }

 private:
  absl::Mutex mu_;
  store::Committer::Done done_ ABSL_GUARDED_BY(mu_);
  int remaining_ ABSL_GUARDED_BY(mu_);
  core::ApplyResult sum_ ABSL_GUARDED_BY(mu_);
  absl::Status error_ ABSL_GUARDED_BY(mu_);
};

void InFlightTable::Outcomes::Run() && {
  for (auto& [call, result] : write_answers_) call->Finish(std::move(result));
  for (auto& [read, status] : read_answers_) std::move(read)(std::move(status));
}

std::shared_ptr<InFlightTable::Call> InFlightTable::NewCall(
    store::Committer::Done done, int records) {
  return std::make_shared<Call>(std::move(done), records);
}

std::optional<uint64_t> InFlightTable::Add(
    const std::shared_ptr<Call>& call, int64_t events, absl::Time now,
    std::shared_ptr<const Record> record) {
  {
    absl::MutexLock lock(&mu_);
    if (!closed_) {
      const uint64_t id = next_id_++;
      Write& write = writes_[id];
      write.call = call;
      write.events = events;
      write.published = now;
      if (record != nullptr &&
          options_.republish_interval > absl::ZeroDuration()) {
        write.record = std::move(record);
        write.unacked = unacked_.emplace(std::max(now, replaced_), id);
      }
      return id;
    }
  }
  call->Finish(absl::UnavailableError("server is shutting down"));
  return std::nullopt;
}

void InFlightTable::StopResending(Write& write) {
  if (write.record == nullptr) return;
  (write.failed ? failed_ : unacked_).erase(write.unacked);
  write.record.reset();
}

void InFlightTable::Fail(uint64_t id, absl::Status error) {
  std::shared_ptr<Call> call;
  {
    absl::MutexLock lock(&mu_);
    auto it = writes_.find(id);
    if (it == writes_.end()) return;
    StopResending(it->second);
    call = std::move(it->second.call);
    writes_.erase(it);
  }
  call->Finish(std::move(error));
}

void InFlightTable::CopyFailed(uint64_t id, absl::Status error) {
  std::shared_ptr<Call> call;
  Result result;
  {
    absl::MutexLock lock(&mu_);
    auto it = writes_.find(id);
    if (it == writes_.end()) return;
    Write& write = it->second;
    // A copy was stored: the call waits for its apply.
    if (write.acked) return;
    if (--write.pending > 0) {
      // Another copy is pending, maybe in a connection that failed: this
      // record needs a new copy whatever the acks of others say (after
      // the re-send of a replaced connection, the acks of the records
      // re-sent with it would otherwise make it look merely slow).
      if (write.record != nullptr && !write.failed) {
        auto node = unacked_.extract(write.unacked);
        write.unacked = failed_.insert(std::move(node));
        write.failed = true;
      }
      return;
    }
    if (write.sent > 1) {
      result =
          absl::Status(error.code(),
                       absl::StrCat(error.message(), " (published ", write.sent,
                                    " times with the same message id)"));
    } else {
      result = std::move(error);
    }
    StopResending(write);
    call = std::move(write.call);
    writes_.erase(it);
  }
  call->Finish(std::move(result));
}

std::optional<absl::Time> InFlightTable::Acked(uint64_t id, uint64_t seq,
                                               bool duplicate, absl::Time now) {
  Outcomes out;
  absl::Time published;
  {
    absl::MutexLock lock(&mu_);
    last_ack_ = std::max(last_ack_, now);
    auto it = writes_.find(id);
    if (it == writes_.end()) return std::nullopt;
    Write& write = it->second;
    // Copies share one stored record: the first ack tells it.
    if (write.acked) return std::nullopt;
    published = write.published;
    newest_stored_ = std::max(newest_stored_, published);
    StopResending(write);
    write.acked = true;
    write.acked_at = now;
    write.seq = seq;
    if (duplicate) {
      // Unless the record at `seq` turns out to be this call's own (Applied
      // with this id answers first: a copy of a re-sent record), the events
      // were someone else's (a client's retry).
      write.duplicate = true;
      core::ApplyResult result;
      result.duplicate_events = write.events;
      result.sequence = seq;
      write.result = result;
      duplicates_.emplace(seq, id);
      CollectApplied(&out);
    }
  }
  std::move(out).Run();
  return published;
}

std::vector<InFlightTable::Resend> InFlightTable::TakeResends(absl::Time now,
                                                              size_t max) {
  std::vector<Resend> resends;
  absl::MutexLock lock(&mu_);
  const absl::Duration interval = options_.republish_interval;
  if (interval <= absl::ZeroDuration()) return resends;
  const absl::Time cutoff = now - interval;
  // Entries are ordered by their last send: those sent before the newest
  // stored publish were overtaken (lost), those sent after the last ack, or
  // any time before when no ack came for an interval, have seen the stream
  // stall; the rest are only slow.
  auto take = [&](std::multimap<absl::Time, uint64_t>& from, auto it) {
    const uint64_t id = it->second;
    auto next = from.erase(it);
    auto found = writes_.find(id);
    if (found == writes_.end()) return next;  // Never: erased together.
    Write& write = found->second;
    const absl::Duration left =
        write.published + options_.publish_timeout - now;
    if (left < interval / 2) {
      write.record.reset();  // Out of time: the pending copies decide.
      return next;
    }
    write.failed = false;
    write.unacked = unacked_.emplace(std::max(now, replaced_), id);
    ++write.pending;
    ++write.sent;
    ++resent_;
    resends.push_back(Resend{id, write.record, left});
    return next;
  };
  // Sent before a later record was acknowledged or before the connection
  // was replaced: the latter at once.
  // (Bounded by `now`, and a record taken is re-keyed at `now` or at the
  // replacement if another thread's clock put that later: it must not come
  // round again in this call nor count as sent before the replacement.)
  const absl::Time replaced = std::min(replaced_, now);
  const absl::Time lost = std::min(std::max(newest_stored_, replaced), now);
  for (auto it = unacked_.begin();
       it != unacked_.end() && it->first < lost && resends.size() < max;) {
    if (it->first > cutoff && it->first >= replaced) break;
    it = take(unacked_, it);
  }
  // Stalled. (Acks of earlier records arriving after a record's send do
  // not make it merely slow for ever: a record sent while the stream had
  // no leader is dropped, while the re-sent older ones get acked later.)
  for (auto it = last_ack_ <= cutoff ? unacked_.begin()
                                     : unacked_.upper_bound(last_ack_);
       it != unacked_.end() && it->first <= cutoff && resends.size() < max;) {
    it = take(unacked_, it);
  }
  for (auto it = failed_.begin();
       it != failed_.end() && it->first <= cutoff && resends.size() < max;) {
    it = take(failed_, it);
  }
  return resends;
}

void InFlightTable::Applied(uint64_t seq, std::optional<uint64_t> id,
                            Result result) {
  RecordApplied(seq, id, std::move(result)).Run();
}

InFlightTable::Outcomes InFlightTable::RecordApplied(uint64_t seq,
                                                     std::optional<uint64_t> id,
                                                     Result result) {
  Outcomes out;
  {
    absl::MutexLock lock(&mu_);
    applied_ = std::max(applied_, seq);
    if (id.has_value()) {
      auto it = writes_.find(*id);
      if (it != writes_.end()) {
        // This call's own record, delivered back by the consumer or the
        // fetcher, which see only records stored on a quorum: durable,
        // acknowledged or not (a stream leader that failed after storing
        // it never sends the ack; a later copy would be dropped unseen as
        // a duplicate). Answered with its own result, even if a copy's ack
        // said "duplicate" of it.
        Write& write = it->second;
        StopResending(write);
        // Stored, even if its ack is still to come: the records sent
        // before it and unacknowledged were overtaken.
        newest_stored_ = std::max(newest_stored_, write.published);
        if (result.ok()) result->sequence = seq;
        out.write_answers_.emplace_back(std::move(write.call),
                                        std::move(result));
        writes_.erase(it);
      }
    }
    CollectApplied(&out);
  }
  return out;
}

void InFlightTable::SetApplied(uint64_t seq) {
  absl::MutexLock lock(&mu_);
  applied_ = seq;
}

void InFlightTable::CollectApplied(Outcomes* out) {
  while (!duplicates_.empty() && duplicates_.begin()->first <= applied_) {
    const uint64_t id = duplicates_.begin()->second;
    duplicates_.erase(duplicates_.begin());
    auto it = writes_.find(id);
    if (it == writes_.end()) continue;  // Expired meanwhile.
    out->write_answers_.emplace_back(std::move(it->second.call),
                                     std::move(it->second.result));
    writes_.erase(it);
  }
  while (!reads_.empty() && reads_.begin()->first <= applied_) {
    out->read_answers_.emplace_back(std::move(reads_.begin()->second.done),
                                    absl::OkStatus());
    reads_.erase(reads_.begin());
  }
}

void InFlightTable::WhenApplied(uint64_t seq, ReadDone done, absl::Time now) {
  absl::Status status;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) {
      status = absl::UnavailableError(
          "min_applied_sequence: the server is shutting down; read from "
          "another replica");
    } else if (applied_ < seq) {
      reads_.emplace(seq, Read{now, std::move(done)});
      return;
    }
  }
  std::move(done)(std::move(status));
}

void InFlightTable::Expire(absl::Time now) {
  Outcomes out;
  {
    absl::MutexLock lock(&mu_);
    // Acknowledged records not applied here in time: the write is durable
    // in the stream, but this replica cannot report its outcome.
    for (auto it = writes_.begin(); it != writes_.end();) {
      Write& write = it->second;
      if (write.acked && now - write.acked_at > options_.apply_timeout) {
        out.write_answers_.emplace_back(
            std::move(write.call),
            absl::DeadlineExceededError(absl::StrCat(
                "stored in the stream at seq ", write.seq,
                " but not applied on this replica within ",
                absl::FormatDuration(options_.apply_timeout),
                "; it will be: retry with the same event_ids to be sure")));
        writes_.erase(it++);
      } else if (!write.acked &&
                 now - write.published >
                     options_.publish_timeout + absl::Seconds(1)) {
        // The client library times every copy out by the publish timeout;
        // this only guards against a lost callback.
        StopResending(write);
        out.write_answers_.emplace_back(
            std::move(write.call),
            absl::UnavailableError(absl::StrCat(
                "JetStream did not acknowledge the publish within ",
                absl::FormatDuration(options_.publish_timeout),
                " (--cluster_publish_timeout); it may still be applied: "
                "retry with the same event_ids")));
        writes_.erase(it++);
      } else {
        ++it;
      }
    }
    for (auto it = reads_.begin(); it != reads_.end();) {
      if (now - it->second.since < options_.read_wait_timeout) {
        ++it;
        continue;
      }
      out.read_answers_.emplace_back(
          std::move(it->second.done),
          absl::UnavailableError(absl::StrCat(
              "min_applied_sequence: this replica has applied the stream up "
              "to seq ",
              applied_, ", not yet ", it->first, ", after waiting ",
              absl::FormatDuration(options_.read_wait_timeout),
              " (--cluster_read_wait_timeout); retry, or read from the "
              "replica that took the write")));
      it = reads_.erase(it);
    }
  }
  std::move(out).Run();
}

uint64_t InFlightTable::FetchTarget(absl::Time now) const {
  absl::MutexLock lock(&mu_);
  uint64_t target = 0;
  // Reads waiting for a sequence the consumer is late with.
  for (const auto& [seq, read] : reads_) {
    if (now - read.since >= options_.fetch_after) {
      target = std::max(target, seq);
    }
  }
  for (const auto& [id, write] : writes_) {
    if (write.acked && now - write.acked_at >= options_.fetch_after) {
      target = std::max(target, write.seq);
    }
  }
  return target;
}

bool InFlightTable::WaitDrained(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto drained = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return writes_.empty();
  };
  return mu_.AwaitWithTimeout(absl::Condition(&drained), timeout);
}

void InFlightTable::Close() {
  Outcomes out;
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
    for (auto& [seq, read] : reads_) {
      out.read_answers_.emplace_back(
          std::move(read.done),
          absl::UnavailableError("min_applied_sequence: the server is "
                                 "shutting down; read from another replica"));
    }
    reads_.clear();
    for (auto& [id, write] : writes_) {
      out.write_answers_.emplace_back(
          std::move(write.call),
          absl::UnavailableError(
              write.acked
                  ? "stored in the stream, but the server shut down before "
                    "applying it"
                  : "server shut down before JetStream acknowledged the "
                    "publish; it may still be applied: retry with the same "
                    "event_ids"));
    }
    writes_.clear();
    duplicates_.clear();
    unacked_.clear();
    failed_.clear();
  }
  std::move(out).Run();
}

size_t InFlightTable::writes() const {
  absl::MutexLock lock(&mu_);
  return writes_.size();
}

void InFlightTable::ConnectionReplaced(absl::Time now) {
  absl::MutexLock lock(&mu_);
  replaced_ = std::max(replaced_, now);
}

int64_t InFlightTable::resent() const {
  absl::MutexLock lock(&mu_);
  return resent_;
}

size_t InFlightTable::reads() const {
  absl::MutexLock lock(&mu_);
  return reads_.size();
}

}  // namespace banditd::cluster
