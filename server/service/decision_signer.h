#ifndef BANDITD_SERVER_SERVICE_DECISION_SIGNER_H_
#define BANDITD_SERVER_SERVICE_DECISION_SIGNER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/service/decision_cache.h"

namespace banditd::service {

// DecisionSigner turns a decision into an id that carries it, signed with
// HMAC-SHA256, so that Feedback can cite it on any server that holds the
// key (cluster replicas behind a load balancer) and nothing is cached:
//
//   "s1." base64url(DecisionToken) "." base64url(first 16 bytes of the MAC)
//
// The key file holds one key per line (at least 32 bytes each, hex or raw
// text); the first signs and every one verifies, so keys rotate by adding
// the new key first and removing the old one after --decision_id_max_age.
// Ids expire after max_age; a decision whose id would pass max_id_bytes
// (many arms or context items) is not signed (Sign returns "") and the
// caller falls back to its cache.
class DecisionSigner {
 public:
  static absl::StatusOr<std::unique_ptr<DecisionSigner>> FromFile(
      const std::string& path, absl::Duration max_age, size_t max_id_bytes);
  DecisionSigner(std::vector<std::string> keys, absl::Duration max_age,
                 size_t max_id_bytes);

  // The signed id of `decision` made at `now`, or "" when it would be
  // longer than max_id_bytes.
  std::string Sign(const Decision& decision, absl::Time now) const;
  // True when `id` has the form of a signed id (else it is a cache id).
  static bool IsSigned(const std::string& id);
  // The decision `id` carries. INVALID_ARGUMENT when malformed or its MAC
  // matches no key; NOT_FOUND when it expired.
  absl::StatusOr<Decision> Verify(const std::string& id, absl::Time now) const;

  absl::Duration max_age() const { return max_age_; }

 private:
  std::string Mac(const std::string& key, const std::string& payload) const;

  std::vector<std::string> keys_;
  absl::Duration max_age_;
  size_t max_id_bytes_;
};

}  // namespace banditd::service

#endif  // BANDITD_SERVER_SERVICE_DECISION_SIGNER_H_
