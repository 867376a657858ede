#include "server/core/ids.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace banditd::core {
namespace {

bool IsIdChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' ||
         c == '_' || c == ':' || c == '=' || c == '-';
}

}  // namespace

bool IsValidId(absl::string_view value) {
  if (value.empty() || value.size() > kMaxIdLength) return false;
  for (char c : value) {
    if (!IsIdChar(c)) return false;
  }
  return true;
}

absl::Status ValidateId(absl::string_view value, absl::string_view field) {
  if (value.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": must not be empty"));
  }
  if (value.size() > kMaxIdLength) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": longer than ", kMaxIdLength, " characters (",
                     value.size(), ")"));
  }
  for (char c : value) {
    if (!IsIdChar(c)) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": \"", absl::CHexEscape(value),
                       "\" has a character outside [A-Za-z0-9._:=-]"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateSegment(absl::string_view value, absl::string_view field) {
  if (value.empty()) return absl::OkStatus();
  return ValidateId(value, field);
}

}  // namespace banditd::core
