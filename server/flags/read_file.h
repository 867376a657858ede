#ifndef BANDITD_SERVER_FLAGS_READ_FILE_H_
#define BANDITD_SERVER_FLAGS_READ_FILE_H_

#include <string>

#include "absl/status/statusor.h"

namespace banditd::flags {

// The whole file a flag names (a certificate, a key, a password);
// NOT_FOUND "cannot read <path>" when it cannot be opened.
absl::StatusOr<std::string> ReadFile(const std::string& path);

}  // namespace banditd::flags

#endif  // BANDITD_SERVER_FLAGS_READ_FILE_H_
