#ifndef BANDITD_SERVER_STORE_MEMORY_COMMITTER_H_
#define BANDITD_SERVER_STORE_MEMORY_COMMITTER_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "server/core/engine.h"
#include "server/store/committer.h"

namespace banditd::store {

// MemoryCommitter applies mutations straight to the engine with no log: for
// tests and for running without persistence. One mutex makes it the engine's
// single writer.
class MemoryCommitter final : public Committer {
 public:
  explicit MemoryCommitter(core::Engine* engine) : engine_(engine) {}

  void Submit(core::Mutation mutation, Done done) override;
  void Shutdown() override;

 private:
  core::Engine* const engine_;
  absl::Mutex mu_;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace banditd::store

#endif  // BANDITD_SERVER_STORE_MEMORY_COMMITTER_H_
