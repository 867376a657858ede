#include "server/core/source_offsets.h"

#include "absl/strings/str_cat.h"

namespace banditd::core {

absl::Status SourceOffsets::CheckShape(const SourceRange& range,
                                       const std::string& field) {
  if (range.topic.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".topic: must not be empty"));
  }
  if (range.partition < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".partition: must be >= 0, got ", range.partition));
  }
  if (range.from_offset < 0 || range.next_offset <= range.from_offset) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": offsets [", range.from_offset, ", ", range.next_offset,
        ") must satisfy 0 <= from_offset < next_offset"));
  }
  return absl::OkStatus();
}

absl::Status SourceOffsets::CheckNext(const SourceRange& range) const {
  absl::MutexLock lock(&mu_);
  auto it = next_.find(Key(range.topic, range.partition));
  if (it == next_.end() || it->second == range.from_offset) {
    return absl::OkStatus();
  }
  return absl::AbortedError(absl::StrCat(
      "source: ", range.topic, "/", range.partition, " is at offset ",
      it->second, ", not ", range.from_offset,
      " where this batch starts (consumed elsewhere or already applied)"));
}

void SourceOffsets::Advance(const SourceRange& range) {
  absl::MutexLock lock(&mu_);
  next_[Key(range.topic, range.partition)] = range.next_offset;
}

std::optional<int64_t> SourceOffsets::Get(const std::string& topic,
                                          int32_t partition) const {
  absl::MutexLock lock(&mu_);
  auto it = next_.find(Key(topic, partition));
  if (it == next_.end()) return std::nullopt;
  return it->second;
}

std::vector<SourceOffset> SourceOffsets::All() const {
  absl::MutexLock lock(&mu_);
  std::vector<SourceOffset> out;
  out.reserve(next_.size());
  for (const auto& [key, next] : next_) {
    out.push_back({key.first, key.second, next});
  }
  return out;
}

void SourceOffsets::Replace(const std::vector<SourceOffset>& offsets) {
  absl::MutexLock lock(&mu_);
  next_.clear();
  for (const SourceOffset& o : offsets) {
    next_[Key(o.topic, o.partition)] = o.next_offset;
  }
}

}  // namespace banditd::core
