#ifndef BANDITD_SERVER_STORE_COMMITTER_H_
#define BANDITD_SERVER_STORE_COMMITTER_H_

#include "absl/functional/any_invocable.h"
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
};

}  // namespace banditd::store

#endif  // BANDITD_SERVER_STORE_COMMITTER_H_
