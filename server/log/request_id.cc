#include "server/log/request_id.h"

#include <cstdint>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"

namespace banditd::logging {

bool IsValidRequestId(absl::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' &&
        c != '_' && c != ':' && c != '-') {
      return false;
    }
  }
  return true;
}

std::string NewRequestId() {
  thread_local absl::BitGen gen;
  // Hex of 16 random bytes (BytesToHexString: a tenth of StrFormat's cost,
  // on every call without a client-sent id).
  uint64_t bits[2] = {absl::Uniform<uint64_t>(gen),
                      absl::Uniform<uint64_t>(gen)};
  return absl::BytesToHexString(absl::string_view(
      reinterpret_cast<const char*>(bits), sizeof(bits)));
}

std::string RequestIdFrom(absl::string_view sent) {
  return IsValidRequestId(sent) ? std::string(sent) : NewRequestId();
}

}  // namespace banditd::logging
