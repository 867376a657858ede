#include "server/service/decision_cache.h"

#include <algorithm>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/service/decision_signer.h"

namespace banditd::service {
namespace {

constexpr char kHex[] = "0123456789abcdef";

void PutHex(uint64_t value, char* out) {
  for (int i = 15; i >= 0; --i) {
    out[i] = kHex[value & 15];
    value >>= 4;
  }
}

// The 16 hex digits at `in` (either case), or nullopt.
std::optional<uint64_t> GetHex(const char* in) {
  uint64_t value = 0;
  for (int i = 0; i < 16; ++i) {
    const char c = in[i];
    int digit;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      digit = c - 'A' + 10;
    } else {
      return std::nullopt;
    }
    value = value << 4 | static_cast<uint64_t>(digit);
  }
  return value;
}

}  // namespace

DecisionCache::DecisionCache(size_t max_entries, size_t max_bytes)
    : DecisionCache(max_entries, max_bytes, nullptr) {}

DecisionCache::DecisionCache(size_t max_entries, size_t max_bytes,
                             std::unique_ptr<const DecisionSigner> signer)
    : max_entries_(max_entries),
      max_bytes_(max_bytes),
      signer_(std::move(signer)) {}

DecisionCache::~DecisionCache() = default;

size_t DecisionCache::ApproximateBytes(const Decision& d) {
  // Per string: its heap buffer when longer than the small-string buffer.
  auto str = [](const std::string& s) {
    return sizeof(std::string) + (s.size() > 15 ? s.capacity() + 1 : 0);
  };
  size_t bytes = sizeof(Entry) + sizeof(Decision) + 32;  // + control block
  bytes += str(d.room_id) + str(d.segment);
  for (const std::string& item : d.context_items) bytes += str(item);
  for (const std::string& arm : d.arm_ids) bytes += str(arm);
  bytes += d.features.size() * sizeof(double);
  return bytes;
}

std::string DecisionCache::Put(Decision decision) {
  if (signer_ != nullptr) {
    std::string id = signer_->Sign(decision, absl::Now());
    if (!id.empty()) return id;
  }
  thread_local absl::BitGen gen;
  const uint64_t tag = absl::Uniform<uint64_t>(gen);
  const size_t bytes = ApproximateBytes(decision);
  uint64_t sequence = 0;
  if (max_entries_ == 0 || bytes > max_bytes_) {
    sequence = absl::Uniform<uint64_t>(gen) | (uint64_t{1} << 63);
  } else {
    auto shared = std::make_shared<const Decision>(std::move(decision));
    std::vector<std::shared_ptr<const Decision>> evicted;  // freed unlocked
    absl::MutexLock lock(&mu_);
    while (!entries_.empty() &&
           (entries_.size() >= max_entries_ || bytes_ + bytes > max_bytes_)) {
      bytes_ -= entries_.front().bytes;
      evicted.push_back(std::move(entries_.front().decision));
      entries_.pop_front();
      ++first_sequence_;
    }
    sequence = first_sequence_ + entries_.size();
    entries_.push_back({tag, bytes, std::move(shared)});
    bytes_ += bytes;
  }
  std::string id(32, '0');
  PutHex(tag, id.data());
  PutHex(sequence, id.data() + 16);
  return id;
}

std::shared_ptr<const Decision> DecisionCache::Get(
    const std::string& decision_id) const {
  if (decision_id.size() != 32) return nullptr;
  const std::optional<uint64_t> tag = GetHex(decision_id.data());
  const std::optional<uint64_t> sequence = GetHex(decision_id.data() + 16);
  if (!tag || !sequence) return nullptr;
  absl::MutexLock lock(&mu_);
  if (*sequence < first_sequence_ ||
      *sequence - first_sequence_ >= entries_.size()) {
    return nullptr;
  }
  const Entry& entry = entries_[*sequence - first_sequence_];
  if (entry.tag != *tag) return nullptr;
  return entry.decision;
}

absl::StatusOr<std::shared_ptr<const Decision>> DecisionCache::Resolve(
    const std::string& decision_id) const {
  if (DecisionSigner::IsSigned(decision_id)) {
    if (signer_ == nullptr) {
      return absl::InvalidArgumentError(
          "a signed decision id, but this server has no "
          "--decision_id_key_file");
    }
    absl::StatusOr<Decision> decision =
        signer_->Verify(decision_id, absl::Now());
    if (!decision.ok()) return decision.status();
    return std::make_shared<const Decision>(*std::move(decision));
  }
  std::shared_ptr<const Decision> decision = Get(decision_id);
  if (decision == nullptr) {
    return absl::NotFoundError(absl::StrCat(
        "unknown, or evicted from the decision cache (at most ", max_entries_,
        " decisions and ", max_bytes_,
        " bytes; ids resolve only on the server that made them unless "
        "--decision_id_key_file is set)"));
  }
  return decision;
}

size_t DecisionCache::size() const {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

size_t DecisionCache::bytes() const {
  absl::MutexLock lock(&mu_);
  return bytes_;
}

}  // namespace banditd::service
