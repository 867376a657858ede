#include "server/service/auth.h"

#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace banditd::service {

bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  // Compare every byte of the longer input so that the time does not depend
  // on where the first difference is.
  const size_t n = std::max(a.size(), b.size());
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? a[i] : 0;
    const unsigned char y = i < b.size() ? b[i] : 0;
    diff |= x ^ y;
  }
  return diff == 0;
}

absl::StatusOr<std::unique_ptr<Authenticator>> Authenticator::FromText(
    absl::string_view text) {
  std::vector<Entry> entries;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (fields.size() != 2) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tokens file line ", line_number, ": want \"role token\""));
    }
    Role role;
    if (fields[0] == "admin") {
      role = Role::kAdmin;
    } else if (fields[0] == "client") {
      role = Role::kClient;
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "tokens file line ", line_number, ": role must be admin or client"));
    }
    if (fields[1].size() < 16) {
      return absl::InvalidArgumentError(
          absl::StrCat("tokens file line ", line_number,
                       ": token shorter than 16 characters"));
    }
    entries.push_back({role, std::string(fields[1])});
  }
  if (entries.empty()) {
    return absl::InvalidArgumentError("tokens file has no tokens");
  }
  return std::unique_ptr<Authenticator>(new Authenticator(std::move(entries)));
}

absl::StatusOr<std::unique_ptr<Authenticator>> Authenticator::FromFile(
    const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot read tokens file ", path));
  }
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<std::unique_ptr<Authenticator>> auth = FromText(text.str());
  if (!auth.ok()) {
    return absl::Status(auth.status().code(),
                        absl::StrCat(path, ": ", auth.status().message()));
  }
  return auth;
}

absl::Status Authenticator::Check(absl::string_view authorization,
                                  Role required) const {
  absl::string_view token = absl::StripAsciiWhitespace(authorization);
  if (!absl::ConsumePrefix(&token, "Bearer ") &&
      !absl::ConsumePrefix(&token, "bearer ")) {
    return absl::UnauthenticatedError(
        "missing bearer token (metadata \"authorization: Bearer <token>\")");
  }
  token = absl::StripAsciiWhitespace(token);
  // Visit every entry whatever matches, so timing does not tell which.
  bool found = false;
  Role role = Role::kClient;
  for (const Entry& entry : entries_) {
    const bool match = ConstantTimeEquals(token, entry.token);
    if (match && !found) role = entry.role;
    found |= match;
  }
  if (!found) return absl::UnauthenticatedError("invalid bearer token");
  if (required == Role::kAdmin && role != Role::kAdmin) {
    return absl::PermissionDeniedError("this RPC needs an admin token");
  }
  return absl::OkStatus();
}

}  // namespace banditd::service
