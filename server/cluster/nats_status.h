#ifndef BANDITD_SERVER_CLUSTER_NATS_STATUS_H_
#define BANDITD_SERVER_CLUSTER_NATS_STATUS_H_

#include <nats/nats.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace banditd::cluster {

// UNAVAILABLE naming `what`, the NATS status, the JetStream error code when
// set and the library's last error text (which this call consumes).
inline absl::Status NatsError(const char* what, natsStatus s,
                              jsErrCode code = static_cast<jsErrCode>(0)) {
  std::string text = absl::StrCat(what, ": ", natsStatus_GetText(s));
  if (code != 0) absl::StrAppend(&text, " (JetStream error ", code, ")");
  const char* last = nats_GetLastError(nullptr);
  if (last != nullptr && *last != '\0') absl::StrAppend(&text, ": ", last);
  return absl::UnavailableError(text);
}

}  // namespace banditd::cluster

#endif  // BANDITD_SERVER_CLUSTER_NATS_STATUS_H_
