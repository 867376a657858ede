#ifndef BANDITD_SERVER_CORE_IDS_H_
#define BANDITD_SERVER_CORE_IDS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace banditd::core {

inline constexpr size_t kMaxIdLength = 128;

// True when `value` is 1 to 128 characters from [A-Za-z0-9._:=-]: the
// allocation-free check for hot paths; ValidateId builds the error.
bool IsValidId(absl::string_view value);

// Returns OK when `value` is 1 to 128 characters from [A-Za-z0-9._:=-],
// otherwise INVALID_ARGUMENT whose message starts with `field`.
absl::Status ValidateId(absl::string_view value, absl::string_view field);

// Like ValidateId, but the empty string (the whole-room segment) is allowed.
absl::Status ValidateSegment(absl::string_view value, absl::string_view field);

}  // namespace banditd::core

#endif  // BANDITD_SERVER_CORE_IDS_H_
