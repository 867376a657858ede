#include "server/service/decision_cache.h"

#include <algorithm>
#include <utility>

#include "absl/random/random.h"

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

DecisionCache::DecisionCache(size_t capacity) : capacity_(capacity) {}

std::string DecisionCache::Put(Decision decision) {
  thread_local absl::BitGen gen;
  const uint64_t tag = absl::Uniform<uint64_t>(gen);
  uint64_t sequence = 0;
  if (capacity_ == 0) {
    sequence = absl::Uniform<uint64_t>(gen);
  } else {
    Decision evicted;  // destroyed after the lock is released
    absl::MutexLock lock(&mu_);
    if (ring_.empty()) ring_.resize(capacity_);
    sequence = ++last_sequence_;
    Slot& slot = ring_[sequence % capacity_];
    evicted = std::move(slot.decision);
    slot.tag = tag;
    slot.sequence = sequence;
    slot.decision = std::move(decision);
  }
  std::string id(32, '0');
  PutHex(tag, id.data());
  PutHex(sequence, id.data() + 16);
  return id;
}

std::optional<Decision> DecisionCache::Get(
    const std::string& decision_id) const {
  if (decision_id.size() != 32 || capacity_ == 0) return std::nullopt;
  const std::optional<uint64_t> tag = GetHex(decision_id.data());
  const std::optional<uint64_t> sequence = GetHex(decision_id.data() + 16);
  if (!tag || !sequence || *sequence == 0) return std::nullopt;
  absl::MutexLock lock(&mu_);
  if (ring_.empty()) return std::nullopt;
  const Slot& slot = ring_[*sequence % capacity_];
  if (slot.sequence != *sequence || slot.tag != *tag) return std::nullopt;
  return slot.decision;
}

size_t DecisionCache::size() const {
  absl::MutexLock lock(&mu_);
  return static_cast<size_t>(
      std::min<uint64_t>(last_sequence_, static_cast<uint64_t>(capacity_)));
}

}  // namespace banditd::service
