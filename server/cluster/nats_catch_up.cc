// NatsCommitter's catch-up of writes that name a room or arm this replica
// does not know. Each replica validates a write against its own engine, so
// a Feedback sent to replica B a few milliseconds after CreateRoom went
// through replica A would fail NOT_FOUND while B has not applied the room
// yet. Instead, such a write waits until B has applied its streams up to
// the last sequence JetStream reports for them (the room's record is at or
// before it), at most --cluster_write_catch_up_timeout, and is validated
// again: the answer is that validation's (NOT_FOUND if the room really does
// not exist: one stream-info round trip when this replica is caught up).
//
// Threads: Submit hands the write to the catch-up thread (started with the
// first catch-up), which asks JetStream for the last sequences (a blocking
// request, so not on gRPC's threads), registers an InFlightTable read
// (WhenApplied: nothing blocks while waiting) and admits the write again
// once the read completes or the timeout passes.

#include <nats/nats.h>

#include <algorithm>
#include <iterator>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "server/cluster/nats_committer.h"
#include "server/cluster/nats_status.h"

namespace banditd::cluster {

struct NatsCommitter::CatchUp {
  core::Mutation mutation;
  Done done;
  std::vector<Stream*> streams;
  absl::Time deadline;
  // Streams this replica has still to apply far enough; ready at 0.
  int waiting = 0;
  bool ready = false;
};

void NatsCommitter::CatchUpThenAdmit(core::Mutation mutation,
                                     std::vector<Stream*> streams, Done done) {
  auto catch_up = std::make_shared<CatchUp>();
  catch_up->mutation = std::move(mutation);
  catch_up->done = std::move(done);
  catch_up->streams = std::move(streams);
  catch_up->deadline = absl::Now() + std::min(options_.write_catch_up_timeout,
                                              options_.read_wait_timeout);
  {
    absl::MutexLock lock(&mu_);
    ++stats_.write_catch_ups;
  }
  {
    absl::MutexLock lock(&catch_up_mu_);
    if (!catch_up_stopping_) {
      catch_up_queue_.push_back(std::move(catch_up));
      if (!catch_up_thread_.joinable()) {
        catch_up_thread_ = std::thread([this] { CatchUpLoop(); });
      }
      return;
    }
  }
  std::move(catch_up->done)(absl::UnavailableError("server is shutting down"));
}

absl::StatusOr<uint64_t> NatsCommitter::LastSequence(const Stream& stream,
                                                     absl::Duration timeout) {
  jsOptions options;
  jsOptions_Init(&options);
  options.Wait = std::max<int64_t>(1, absl::ToInt64Milliseconds(timeout));
  jsStreamInfo* si = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus s =
      js_GetStreamInfo(&si, js_, stream.name.c_str(), &options, &code);
  if (s != NATS_OK) return NatsError("stream info", s, code);
  const uint64_t last = si->State.LastSeq;
  jsStreamInfo_Destroy(si);
  return last;
}

void NatsCommitter::CatchUpLoop() {
  while (true) {
    std::vector<std::shared_ptr<CatchUp>> fresh, due;
    {
      absl::MutexLock lock(&catch_up_mu_);
      auto woken = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(catch_up_mu_) {
        return catch_up_stopping_ || !catch_up_queue_.empty() ||
               std::any_of(catching_up_.begin(), catching_up_.end(),
                           [](const auto& c) { return c->ready; });
      };
      absl::Time wake = absl::InfiniteFuture();
      for (const auto& c : catching_up_) wake = std::min(wake, c->deadline);
      catch_up_mu_.AwaitWithDeadline(absl::Condition(&woken), wake);
      if (catch_up_stopping_) return;
      fresh.swap(catch_up_queue_);
      const absl::Time now = absl::Now();
      auto is_due = [now](const std::shared_ptr<CatchUp>& c) {
        return c->ready || c->deadline <= now;
      };
      std::copy_if(catching_up_.begin(), catching_up_.end(),
                   std::back_inserter(due), is_due);
      catching_up_.erase(
          std::remove_if(catching_up_.begin(), catching_up_.end(), is_due),
          catching_up_.end());
    }
    // Validated again, without a second catch-up.
    for (const auto& c : due) {
      Admit(std::move(c->mutation), std::move(c->done),
            /*may_catch_up=*/false);
    }
    if (fresh.empty()) continue;
    // One request per stream serves every write queued meanwhile: a record
    // before it reached the stream before those writes were refused here.
    absl::Time latest = absl::InfinitePast();
    for (const auto& c : fresh) latest = std::max(latest, c->deadline);
    std::map<Stream*, absl::StatusOr<uint64_t>> last;
    for (const auto& c : fresh) {
      for (Stream* stream : c->streams) {
        if (last.count(stream) == 0) {
          last.emplace(stream, LastSequence(*stream, latest - absl::Now()));
        }
      }
    }
    const absl::Time now = absl::Now();
    for (const auto& c : fresh) {
      std::vector<std::pair<Stream*, uint64_t>> waits;
      for (Stream* stream : c->streams) {
        const absl::StatusOr<uint64_t>& seq = last.at(stream);
        // Without the sequence, the write is validated again at once.
        if (seq.ok() && *seq > stream->applied()) {
          waits.emplace_back(stream, *seq);
        }
      }
      {
        absl::MutexLock lock(&catch_up_mu_);
        if (catch_up_stopping_) {
          catch_up_queue_.push_back(c);  // StopCatchUps answers it.
          continue;
        }
        c->waiting = static_cast<int>(waits.size());
        c->ready = waits.empty();
        catching_up_.push_back(c);
      }
      // A read that times out (read_wait_timeout) or fails at shutdown ends
      // the wait as well: the write is validated again either way.
      for (const auto& [stream, seq] : waits) {
        stream->in_flight.WhenApplied(
            seq,
            [this, c](absl::Status) {
              absl::MutexLock lock(&catch_up_mu_);
              if (--c->waiting == 0) c->ready = true;
            },
            now);
      }
    }
  }
}

void NatsCommitter::StopCatchUps() {
  std::thread thread;
  {
    absl::MutexLock lock(&catch_up_mu_);
    catch_up_stopping_ = true;
    thread = std::move(catch_up_thread_);
  }
  if (thread.joinable()) thread.join();
  std::vector<std::shared_ptr<CatchUp>> left;
  {
    absl::MutexLock lock(&catch_up_mu_);
    left.swap(catch_up_queue_);
    left.insert(left.end(), catching_up_.begin(), catching_up_.end());
    catching_up_.clear();
  }
  for (const auto& c : left) {
    std::move(c->done)(absl::UnavailableError(
        "server is shutting down while this replica caught up with the "
        "stream (the write names a room or arm it does not know yet)"));
  }
}

}  // namespace banditd::cluster
