#ifndef BANDITD_TESTS_TESTING_HOLDING_COMMITTER_H_
#define BANDITD_TESTS_TESTING_HOLDING_COMMITTER_H_

#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "server/core/engine.h"
#include "server/store/committer.h"
#include "server/store/memory_committer.h"

namespace banditd::testing {

// A MemoryCommitter that holds mutations while `hold` is set: a write whose
// reply waits, as one being logged does.
class HoldingCommitter final : public store::Committer {
 public:
  explicit HoldingCommitter(core::Engine* engine) : inner_(engine) {}

  void Submit(core::Mutation mutation, Done done) override {
    absl::MutexLock lock(&mu_);
    if (!hold_) return inner_.Submit(std::move(mutation), std::move(done));
    held_.emplace_back(std::move(mutation), std::move(done));
  }
  void Shutdown() override { inner_.Shutdown(); }

  void Hold() {
    absl::MutexLock lock(&mu_);
    hold_ = true;
  }
  int held() {
    absl::MutexLock lock(&mu_);
    return static_cast<int>(held_.size());
  }
  // Applies the held mutations and replies to them.
  void Release() {
    std::vector<std::pair<core::Mutation, Done>> held;
    {
      absl::MutexLock lock(&mu_);
      hold_ = false;
      held.swap(held_);
    }
    for (auto& [mutation, done] : held) {
      inner_.Submit(std::move(mutation), std::move(done));
    }
  }

 private:
  store::MemoryCommitter inner_;
  absl::Mutex mu_;
  bool hold_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::pair<core::Mutation, Done>> held_ ABSL_GUARDED_BY(mu_);
};

}  // namespace banditd::testing

#endif  // BANDITD_TESTS_TESTING_HOLDING_COMMITTER_H_
