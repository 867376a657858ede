#include "server/store/memory_committer.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace banditd::store {

void MemoryCommitter::Submit(core::Mutation mutation, Done done) {
  absl::StatusOr<core::ApplyResult> result;
  {
    absl::MutexLock lock(&mu_);
    if (shut_down_) {
      result = absl::UnavailableError("server is shutting down");
    } else {
      if (auto* batch = std::get_if<core::FeedbackBatch>(&mutation)) {
        batch->logged_at_micros = absl::ToUnixMicros(absl::Now());
      }
      // Admission (limits and state), then the apply a log replay would do.
      int64_t reserved = 0;
      if (absl::Status admitted = engine_->Validate(mutation, &reserved);
          admitted.ok()) {
        result = engine_->Apply(mutation);
      } else {
        result = admitted;
      }
      engine_->ReleaseReserved(reserved);
    }
  }
  std::move(done)(std::move(result));
}

void MemoryCommitter::Shutdown() {
  absl::MutexLock lock(&mu_);
  shut_down_ = true;
}

}  // namespace banditd::store
