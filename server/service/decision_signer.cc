#include "server/service/decision_signer.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <fstream>
#include <sstream>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "banditd/internal/v1/decision_token.pb.h"

namespace banditd::service {
namespace {

constexpr absl::string_view kPrefix = "s1.";
// 128 bits of HMAC-SHA256: forging an id takes 2^128 guesses.
constexpr size_t kMacBytes = 16;
constexpr size_t kMinKeyBytes = 32;

bool IsHex(absl::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<DecisionSigner>> DecisionSigner::FromFile(
    const std::string& path, absl::Duration max_age, size_t max_id_bytes) {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("--decision_id_key_file: cannot read ", path));
  }
  std::stringstream text;
  text << in.rdbuf();
  std::vector<std::string> keys;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text.str(), '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || absl::StartsWith(line, "#")) continue;
    // 64 or more hex digits are read as bytes (openssl rand -hex 32).
    std::string key =
        line.size() % 2 == 0 && line.size() >= 2 * kMinKeyBytes && IsHex(line)
            ? absl::HexStringToBytes(line)
            : std::string(line);
    if (key.size() < kMinKeyBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("--decision_id_key_file: ", path, " line ", line_number,
                       ": a key needs at least ", kMinKeyBytes,
                       " bytes (e.g. `openssl rand -hex 32`)"));
    }
    keys.push_back(std::move(key));
  }
  if (keys.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--decision_id_key_file: ", path, " holds no key"));
  }
  return std::make_unique<DecisionSigner>(std::move(keys), max_age,
                                          max_id_bytes);
}

DecisionSigner::DecisionSigner(std::vector<std::string> keys,
                               absl::Duration max_age, size_t max_id_bytes)
    : keys_(std::move(keys)), max_age_(max_age), max_id_bytes_(max_id_bytes) {}

std::string DecisionSigner::Mac(const std::string& key,
                                const std::string& payload) const {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(payload.data()), payload.size(),
       mac, &length);
  return std::string(reinterpret_cast<const char*>(mac), kMacBytes);
}

std::string DecisionSigner::Sign(const Decision& decision,
                                 absl::Time now) const {
  internal::v1::DecisionToken token;
  token.set_room_id(decision.room_id);
  token.set_segment(decision.segment);
  for (const std::string& item : decision.context_items) {
    token.add_context_items(item);
  }
  for (double x : decision.features) token.add_features(x);
  for (const std::string& arm : decision.arm_ids) token.add_arm_ids(arm);
  token.set_issued_at_micros(absl::ToUnixMicros(now));
  thread_local absl::BitGen gen;
  token.set_nonce(absl::Uniform<uint64_t>(gen));
  const size_t payload_bytes = token.ByteSizeLong();
  // base64 grows 4/3; the prefix, the dot and the MAC come on top.
  if (kPrefix.size() + (payload_bytes + 2) / 3 * 4 + 1 + 24 > max_id_bytes_) {
    return "";
  }
  const std::string payload = token.SerializeAsString();
  return absl::StrCat(kPrefix, absl::WebSafeBase64Escape(payload), ".",
                      absl::WebSafeBase64Escape(Mac(keys_.front(), payload)));
}

bool DecisionSigner::IsSigned(const std::string& id) {
  return absl::StartsWith(id, kPrefix);
}

absl::StatusOr<Decision> DecisionSigner::Verify(const std::string& id,
                                                absl::Time now) const {
  absl::string_view rest(id);
  std::vector<absl::string_view> parts;
  if (absl::ConsumePrefix(&rest, kPrefix)) {
    parts = absl::StrSplit(rest, '.');
  }
  std::string payload;
  std::string mac;
  if (parts.size() != 2 || !absl::WebSafeBase64Unescape(parts[0], &payload) ||
      !absl::WebSafeBase64Unescape(parts[1], &mac) || mac.size() != kMacBytes) {
    return absl::InvalidArgumentError("not a well-formed signed decision id");
  }
  // Every key is tried, whatever matches, so timing does not tell which.
  bool valid = false;
  for (const std::string& key : keys_) {
    valid |=
        CRYPTO_memcmp(Mac(key, payload).data(), mac.data(), kMacBytes) == 0;
  }
  internal::v1::DecisionToken token;
  if (!valid || !token.ParseFromString(payload)) {
    return absl::InvalidArgumentError(
        "its signature matches no key of --decision_id_key_file (forged, or "
        "signed by a server with other keys)");
  }
  const absl::Time issued = absl::FromUnixMicros(token.issued_at_micros());
  if (now - issued > max_age_) {
    return absl::NotFoundError(
        absl::StrCat("expired: issued ", absl::FormatDuration(now - issued),
                     " ago, ids live --decision_id_max_age=",
                     absl::FormatDuration(max_age_)));
  }
  Decision decision;
  decision.room_id = token.room_id();
  decision.segment = token.segment();
  decision.context_items.assign(token.context_items().begin(),
                                token.context_items().end());
  decision.features.assign(token.features().begin(), token.features().end());
  decision.arm_ids.assign(token.arm_ids().begin(), token.arm_ids().end());
  return decision;
}

}  // namespace banditd::service
