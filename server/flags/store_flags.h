#ifndef BANDITD_SERVER_FLAGS_STORE_FLAGS_H_
#define BANDITD_SERVER_FLAGS_STORE_FLAGS_H_

#include <memory>

#include "absl/status/statusor.h"
#include "server/store/decision_log.h"
#include "server/store/durable_committer.h"

namespace banditd::flags {

// --data_dir, --durability, the snapshot and log cache flags as the store's
// options (`metrics` is left for the caller). INVALID_ARGUMENT, naming the
// flag, for a bad --durability or a negative --log_cache_bytes.
absl::StatusOr<store::DurableCommitter::Options> StoreOptionsFromFlags();

// The decision log of --decision_log, opened in --data_dir with the
// --decision_log_* retention; null when --decision_log is off. It needs
// decision ids (`decision_ids`: a decision cache or signer is on), else
// INVALID_ARGUMENT.
absl::StatusOr<std::unique_ptr<store::DecisionLog>> DecisionLogFromFlags(
    bool decision_ids);

}  // namespace banditd::flags

#endif  // BANDITD_SERVER_FLAGS_STORE_FLAGS_H_
