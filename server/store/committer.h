#ifndef BANDITD_SERVER_STORE_COMMITTER_H_
#define BANDITD_SERVER_STORE_COMMITTER_H_

#include <cstdint>
#include <string>
#include <utility>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/core/engine.h"
#include "server/core/mutation.h"

namespace banditd::store {

// Committer is the one path by which state changes: it orders mutations,
// makes them durable (when backed by a log) and applies them to the engine in
// log order, then reports the outcome.
class Committer {
 public:
  using Done = absl::AnyInvocable<void(absl::StatusOr<core::ApplyResult>) &&>;

  virtual ~Committer() = default;

  // Validates `mutation` against the engine, logs it, applies it, then calls
  // `done` exactly once (possibly on another thread, possibly before Submit
  // returns). Invalid mutations are rejected before they reach the log.
  virtual void Submit(core::Mutation mutation, Done done) = 0;

  // Finishes every submitted mutation, then stops accepting new ones
  // (they get UNAVAILABLE).
  virtual void Shutdown() = 0;

  // The last sequence of a shared, replicated log applied to the engine (so
  // reads reflect every record up to it); 0 for committers that own their
  // log alone. With rooms spread over several logs (streams), the first's.
  virtual uint64_t applied_sequence() const { return 0; }
  // The same for the log that holds `room_id`'s records: GetStats reports
  // it.
  virtual uint64_t applied_sequence(const std::string& room_id) const {
    return applied_sequence();
  }

  // Calls `done` once the log holding `room_id` is applied up to `sequence`
  // (read-your-writes on another replica: the sequence comes from
  // ApplyResult::sequence), or with an error naming min_applied_sequence
  // after a bounded wait. A committer that owns its log alone has applied
  // every acknowledged write: OK now.
  virtual void WhenApplied(const std::string& room_id, uint64_t sequence,
                           absl::AnyInvocable<void(absl::Status) &&> done) {
    std::move(done)(absl::OkStatus());
  }

  // OK when this process holds the state of `room_id`. A replica that holds
  // only some rooms (cluster sharding) returns FAILED_PRECONDITION naming
  // the cause for the others; Sample and GetStats check it.
  virtual absl::Status CheckRoomHeld(const std::string& room_id) const {
    return absl::OkStatus();
  }
};

}  // namespace banditd::store

#endif  // BANDITD_SERVER_STORE_COMMITTER_H_
