// NatsCommitter's direct fetcher: reads records that callers wait for but
// the ordered consumer has not delivered, with JetStream's Direct Get,
// which any of the stream's peers answers (leader or follower) without a
// consumer and without the meta leader. After a NATS node failure the
// ordered consumer is re-created only once the cluster has a meta leader
// and a stream leader again; writes that JetStream has already acknowledged
// (stored on a quorum) are applied meanwhile through this path.

#include <nats/nats.h>

#include <algorithm>
#include <atomic>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "server/cluster/nats_committer.h"
#include "server/log/log.h"

namespace banditd::cluster {

namespace {

// A header of a Direct Get reply, or "" when missing.
std::string Header(natsMsg* msg, const char* name) {
  const char* value = nullptr;
  if (natsMsgHeader_Get(msg, name, &value) != NATS_OK || value == nullptr) {
    return "";
  }
  return value;
}

}  // namespace

void NatsCommitter::FetchLoop(Stream& stream) {
  while (true) {
    uint64_t target = 0;
    {
      absl::MutexLock lock(&mu_);
      auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !consuming_;
      };
      mu_.AwaitWithTimeout(
          absl::Condition(&stop),
          std::max(options_.fetch_after / 2, absl::Milliseconds(5)));
      if (!consuming_) return;
    }
    target = stream.in_flight.FetchTarget(absl::Now());
    // Reads record by record from the next unapplied sequence; the filter
    // skips other rooms' records when this replica holds only some.
    int timeouts = 0;
    while (stream.applied() < target) {
      jsOptions jo;
      jsOptions_Init(&jo);
      // Any stream peer may take the request, a paused one too: wait
      // briefly (a live peer answers within a millisecond on a LAN) and
      // retry, the next request likely reaching another peer.
      jo.Wait = std::max<int64_t>(
          20, absl::ToInt64Milliseconds(options_.fetch_after) / 2);
      jsDirectGetMsgOptions dg;
      jsDirectGetMsgOptions_Init(&dg);
      dg.Sequence = stream.applied() + 1;
      if (!options_.rooms_filter.empty()) {
        dg.NextBySubject = stream.filter.c_str();
      }
      natsMsg* msg = nullptr;
      natsStatus s = js_DirectGetMsg(&msg, js_, stream.name.c_str(), &jo, &dg);
      if (s != NATS_OK) {
        static std::atomic<int> logged{0};
        if (options_.log && logged.fetch_add(1) < 200) {
          SPDLOG_WARN("direct get of {} seq {}: {} {}", stream.name,
                      dg.Sequence, natsStatus_GetText(s),
                      nats_GetLastError(nullptr));
        }
        nats_GetLastError(nullptr);
        if (msg != nullptr) natsMsg_Destroy(msg);
        // Not stored on that peer yet, or no peer answered in time.
        if (s == NATS_TIMEOUT && ++timeouts < 10) continue;
        break;
      }
      uint64_t seq = 0;
      absl::SimpleAtoi(Header(msg, "Nats-Sequence"), &seq);
      absl::Time stored = absl::Now();
      std::string error;
      absl::ParseTime(absl::RFC3339_full, Header(msg, "Nats-Time-Stamp"),
                      &stored, &error);
      if (seq == 0) {
        natsMsg_Destroy(msg);
        break;
      }
      ApplyRecord(stream, seq, std::nullopt, absl::ToUnixNanos(stored), msg);
      natsMsg_Destroy(msg);
      absl::MutexLock lock(&mu_);
      ++stats_.fetched_records;
      if (!consuming_) return;
    }
  }
}

}  // namespace banditd::cluster
