#include "server/ingest/kafka_record.h"

#include <sys/types.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace banditd::ingest {

RecordHeaders HeadersOf(const rd_kafka_message_t& message) {
  RecordHeaders headers;
  if (rd_kafka_headers_t* h = nullptr;
      rd_kafka_message_headers(&message, &h) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const void* value = nullptr;
    size_t size = 0;
    if (rd_kafka_header_get_last(h, kContentTypeHeader, &value, &size) ==
            RD_KAFKA_RESP_ERR_NO_ERROR &&
        value != nullptr) {
      headers.content_type =
          absl::string_view(static_cast<const char*>(value), size);
    }
    if (rd_kafka_header_get_last(h, kMessageHeader, &value, &size) ==
            RD_KAFKA_RESP_ERR_NO_ERROR &&
        value != nullptr) {
      headers.message =
          absl::string_view(static_cast<const char*>(value), size);
    }
  }
  return headers;
}

rd_kafka_resp_err_t ProduceDeadLetter(rd_kafka_t* producer,
                                      const std::string& topic,
                                      const rd_kafka_message_t& message,
                                      const absl::Status& error,
                                      uint64_t opaque) {
  // The record's own headers, then banditd's.
  rd_kafka_headers_t* in = nullptr;
  rd_kafka_headers_t* headers =
      rd_kafka_message_headers(&message, &in) == RD_KAFKA_RESP_ERR_NO_ERROR
          ? rd_kafka_headers_copy(in)
          : rd_kafka_headers_new(5);
  auto add = [headers](const char* name, absl::string_view value) {
    rd_kafka_header_add(headers, name, -1, value.data(),
                        static_cast<ssize_t>(value.size()));
  };
  add("banditd-error", error.message());
  add("banditd-error-code", absl::StatusCodeToString(error.code()));
  add("banditd-source-topic", rd_kafka_topic_name(message.rkt));
  add("banditd-source-partition", absl::StrCat(message.partition));
  add("banditd-source-offset", absl::StrCat(message.offset));
  // The value and key are copied (RD_KAFKA_MSG_F_COPY); the headers are
  // taken over on success.
  const rd_kafka_resp_err_t err = rd_kafka_producev(
      producer, RD_KAFKA_V_TOPIC(topic.c_str()),
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
      RD_KAFKA_V_VALUE(message.payload, message.len),
      RD_KAFKA_V_KEY(message.key, message.key_len), RD_KAFKA_V_HEADERS(headers),
      RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(opaque)), RD_KAFKA_V_END);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) rd_kafka_headers_destroy(headers);
  return err;
}

}  // namespace banditd::ingest
