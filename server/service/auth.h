#ifndef BANDITD_SERVER_SERVICE_AUTH_H_
#define BANDITD_SERVER_SERVICE_AUTH_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace banditd::service {

// What an RPC requires. An admin token may call every RPC; a client token
// only the client RPCs: Sample, Feedback, GetStats and the read-only
// GetRoom and ListRooms. Changes to rooms and arms need admin.
enum class Role { kClient, kAdmin };

// Authenticator checks the bearer token of a call ("authorization: Bearer
// <token>" metadata) against a fixed set of tokens, each with a role.
// Tokens are compared in constant time and never appear in a status message
// or log line. Immutable after creation, so thread-safe.
class Authenticator {
 public:
  // Parses a tokens file: one "role token" per line, role "admin" or
  // "client"; blank lines and lines starting with '#' are ignored. Errors
  // give the line number, never the token.
  static absl::StatusOr<std::unique_ptr<Authenticator>> FromText(
      absl::string_view text);
  static absl::StatusOr<std::unique_ptr<Authenticator>> FromFile(
      const std::string& path);

  // OK when `authorization` (the metadata value) carries a token whose role
  // allows `required`. UNAUTHENTICATED when it is missing, malformed or
  // unknown; PERMISSION_DENIED for a client token on an admin RPC.
  absl::Status Check(absl::string_view authorization, Role required) const;

 private:
  struct Entry {
    Role role;
    std::string token;
  };
  explicit Authenticator(std::vector<Entry> entries)
      : entries_(std::move(entries)) {}

  const std::vector<Entry> entries_;
};

// True when equal; the time taken depends only on the lengths.
bool ConstantTimeEquals(absl::string_view a, absl::string_view b);

}  // namespace banditd::service

#endif  // BANDITD_SERVER_SERVICE_AUTH_H_
