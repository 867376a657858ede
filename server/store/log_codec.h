#ifndef BANDITD_SERVER_STORE_LOG_CODEC_H_
#define BANDITD_SERVER_STORE_LOG_CODEC_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "server/core/mutation.h"

namespace banditd::store {

// EncodeMutation serializes `mutation` as a banditd.internal.v1.LogRecord.
std::string EncodeMutation(const core::Mutation& mutation);

// DecodeMutation parses a LogRecord written by EncodeMutation. Returns
// DATA_LOSS when `record` is not a well-formed record (a corrupted log).
absl::StatusOr<core::Mutation> DecodeMutation(std::string_view record);

}  // namespace banditd::store

#endif  // BANDITD_SERVER_STORE_LOG_CODEC_H_
