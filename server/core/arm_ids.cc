#include "server/core/arm_ids.h"

#include <algorithm>
#include <cstring>

#include "absl/hash/hash.h"

namespace banditd::core {

size_t ArmIds::Hash(absl::string_view id) {
  return absl::Hash<absl::string_view>{}(id);
}

int64_t ArmIds::Find(absl::string_view id) const {
  if (slots_.empty()) return -1;
  const size_t mask = slots_.size() - 1;
  for (size_t i = Hash(id) & mask;; i = (i + 1) & mask) {
    const uint32_t slot = slots_[i];
    if (slot == 0) return -1;
    if ((*this)[slot - 1] == id) return static_cast<int64_t>(slot) - 1;
  }
}

size_t ArmIds::SlotOf(size_t index) const {
  const size_t mask = slots_.size() - 1;
  size_t i = Hash((*this)[index]) & mask;
  while (slots_[i] != index + 1) i = (i + 1) & mask;
  return i;
}

void ArmIds::Insert(uint32_t index) {
  const size_t mask = slots_.size() - 1;
  size_t i = Hash((*this)[index]) & mask;
  while (slots_[i] != 0) i = (i + 1) & mask;
  slots_[i] = index + 1;
}

void ArmIds::Rehash(size_t capacity) {
  slots_.assign(capacity, 0);
  for (size_t i = 0; i < spans_.size(); ++i) {
    Insert(static_cast<uint32_t>(i));
  }
}

namespace {

// Grows `v` geometrically: reserving the exact size on every small append
// would copy the whole vector each time.
template <typename T>
void Grow(std::vector<T>& v, size_t extra) {
  const size_t needed = v.size() + extra;
  if (needed > v.capacity()) v.reserve(std::max(needed, v.capacity() * 2));
}

}  // namespace

void ArmIds::Reserve(size_t count, size_t chars) {
  Grow(arena_, chars);
  Grow(spans_, count);
  size_t capacity = std::max<size_t>(slots_.size(), 16);
  while ((spans_.size() + count) * 4 > capacity * 3) capacity *= 2;
  if (capacity != slots_.size()) Rehash(capacity);
}

void ArmIds::Append(absl::string_view id) {
  if ((spans_.size() + 1) * 4 > slots_.size() * 3) {
    Rehash(std::max<size_t>(16, slots_.size() * 2));
  }
  const uint64_t offset = arena_.size();
  arena_.insert(arena_.end(), id.begin(), id.end());
  spans_.push_back(offset << 16 | std::min(id.size(), kMaxLength));
  Insert(static_cast<uint32_t>(spans_.size() - 1));
}

void ArmIds::Erase(size_t index) {
  // Backward-shift deletion keeps every probe chain unbroken without
  // tombstones.
  const size_t mask = slots_.size() - 1;
  size_t hole = SlotOf(index);
  for (size_t j = (hole + 1) & mask; slots_[j] != 0; j = (j + 1) & mask) {
    const size_t home = Hash((*this)[slots_[j] - 1]) & mask;
    // Move slot j into the hole unless its home lies cyclically in
    // (hole, j].
    const bool stays = hole <= j ? (hole < home && home <= j)
                                 : (hole < home || home <= j);
    if (!stays) {
      slots_[hole] = slots_[j];
      hole = j;
    }
  }
  slots_[hole] = 0;
  const uint32_t erased = static_cast<uint32_t>(index) + 1;
  for (uint32_t& slot : slots_) slot -= slot > erased ? 1 : 0;
  garbage_ += spans_[index] & 0xffff;
  spans_.erase(spans_.begin() + static_cast<ptrdiff_t>(index));
  if (garbage_ > 4096 && garbage_ * 2 > arena_.size()) Compact();
}

void ArmIds::Compact() {
  std::vector<char> arena;
  arena.reserve(arena_.size() - garbage_);
  for (uint64_t& span : spans_) {
    const uint64_t offset = arena.size();
    const char* begin = arena_.data() + (span >> 16);
    arena.insert(arena.end(), begin, begin + (span & 0xffff));
    span = offset << 16 | (span & 0xffff);
  }
  arena_ = std::move(arena);
  garbage_ = 0;
}

void ArmIds::ShrinkToFit() {
  if (garbage_ > 0) Compact();
  arena_.shrink_to_fit();
  spans_.shrink_to_fit();
}

int64_t ArmIds::HeapBytes() const {
  return static_cast<int64_t>(arena_.capacity() +
                              spans_.capacity() * sizeof(uint64_t) +
                              slots_.capacity() * sizeof(uint32_t));
}

std::vector<std::string> ArmIds::ToVector() const {
  std::vector<std::string> out;
  out.reserve(size());
  for (size_t i = 0; i < size(); ++i) out.emplace_back((*this)[i]);
  return out;
}

bool operator==(const ArmIds& a, const ArmIds& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

}  // namespace banditd::core
