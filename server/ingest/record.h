#ifndef BANDITD_SERVER_INGEST_RECORD_H_
#define BANDITD_SERVER_INGEST_RECORD_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/core/mutation.h"
#include "server/service/decision_cache.h"

namespace banditd::ingest {

// How a record's payload is encoded: protobuf's JSON mapping or its binary
// wire format.
enum class Format { kJson, kBinary };

// "json" or "binary" (--kafka_format).
absl::StatusOr<Format> ParseFormat(absl::string_view name);

// What a record's headers say about its payload; empty means not given.
// Views into the record's headers: valid while the record is.
struct RecordHeaders {
  // "application/json", or "application/x-protobuf" (also
  // "application/protobuf", "application/octet-stream") for binary.
  absl::string_view content_type;
  // "FeedbackEvent" or "FeedbackRequest" (with or without "banditd.v1.").
  // Binary payloads need it for a FeedbackRequest (the default is one
  // event); JSON ones are recognised without it.
  absl::string_view message;
};

// Header names read by the consumer.
inline constexpr char kContentTypeHeader[] = "content-type";
inline constexpr char kMessageHeader[] = "banditd-message";

// Translates one Kafka record into a Feedback batch, exactly as the
// Feedback RPC translates a request (service::FeedbackFromProto: decision
// ids are completed from `decisions`). Errors are INVALID_ARGUMENT (or
// NOT_FOUND for an unknown decision) naming what is wrong: "header
// content-type: ...", "payload: ...", or the field ("events[0].arm_id: ...").
// Admission (Engine::Validate) is the caller's next step.
absl::StatusOr<core::FeedbackBatch> DecodeRecord(
    absl::string_view payload, const RecordHeaders& headers,
    Format default_format, const service::DecisionCache* decisions);

// DecodeRecord for a stream of records: the same result, but the protobuf
// message a payload is parsed into is kept and reused (Clear() keeps its
// memory), so decoding a record allocates only what its events hold. Not
// thread-safe: one per consumer thread.
class RecordDecoder {
 public:
  RecordDecoder(Format default_format, const service::DecisionCache* decisions);
  ~RecordDecoder();
  RecordDecoder(const RecordDecoder&) = delete;
  RecordDecoder& operator=(const RecordDecoder&) = delete;

  absl::StatusOr<core::FeedbackBatch> Decode(absl::string_view payload,
                                             const RecordHeaders& headers);

 private:
  struct Scratch;  // record.cc: the reused protobuf message.

  const Format default_format_;
  const service::DecisionCache* const decisions_;
  std::unique_ptr<Scratch> scratch_;
};

}  // namespace banditd::ingest

#endif  // BANDITD_SERVER_INGEST_RECORD_H_
