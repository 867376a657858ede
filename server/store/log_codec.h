#ifndef BANDITD_SERVER_STORE_LOG_CODEC_H_
#define BANDITD_SERVER_STORE_LOG_CODEC_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "server/core/mutation.h"

namespace banditd::store {

// EncodeMutation serializes `mutation` as a banditd.internal.v1.LogRecord.
std::string EncodeMutation(const core::Mutation& mutation);

// Sets logged_at_micros on a record made by EncodeMutation from a
// FeedbackBatch whose logged_at_micros was 0, as if it had been set before
// encoding (the committer stamps records in log order, after encoding them).
void SetLoggedAtMicros(int64_t micros, std::string* record);

// The same bytes as EncodeMutation, built through the generated LogRecord
// message: the reference that the hand-written fast path is tested against.
std::string EncodeMutationWithProtobuf(const core::Mutation& mutation);

// DecodeMutation parses a LogRecord written by EncodeMutation. Returns
// DATA_LOSS when `record` is not a well-formed record (a corrupted log).
absl::StatusOr<core::Mutation> DecodeMutation(std::string_view record);

// DecodeMutation through the generated LogRecord parser only (the fast path
// for Feedback batches falls back to it on anything unexpected).
absl::StatusOr<core::Mutation> DecodeMutationWithProtobuf(
    std::string_view record);

}  // namespace banditd::store

#endif  // BANDITD_SERVER_STORE_LOG_CODEC_H_
