#ifndef BANDITD_SERVER_CORE_ARM_IDS_H_
#define BANDITD_SERVER_CORE_ARM_IDS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace banditd::core {

// ArmIds holds a room's arm ids in their order, and finds an id's position.
//
// Million-arm rooms are the point: every id's characters sit in one arena,
// each arm has one 8-byte span (offset and length) and a uint32 position in
// an open-addressing hash index (linear probing, at most 3/4 full). That is
// about 14 to 19 bytes per arm besides its characters, and no heap node per
// arm; a std::string per arm plus a flat_hash_map<std::string, uint32_t>
// cost about 80 to 100 (and scattered small allocations that a restart's
// snapshot load left as fragmentation).
//
// Positions shift down when an arm is erased, as in a vector. Erased ids
// stay in the arena as garbage until it is half the arena, then it is
// compacted (amortised O(1) per erase).
class ArmIds {
 public:
  // Longest id stored (core ids are at most 128 characters).
  static constexpr size_t kMaxLength = 0xffff;

  ArmIds() = default;

  size_t size() const { return spans_.size(); }
  bool empty() const { return spans_.empty(); }
  absl::string_view operator[](size_t i) const {
    const uint64_t span = spans_[i];
    return absl::string_view(arena_.data() + (span >> 16), span & 0xffff);
  }
  // The position of `id`, or -1.
  int64_t Find(absl::string_view id) const;
  bool contains(absl::string_view id) const { return Find(id) >= 0; }

  // Appends `id` (1 to kMaxLength characters, not in the list yet).
  void Append(absl::string_view id);
  // Makes room for `count` ids of `chars` characters in all without
  // reallocating.
  void Reserve(size_t count, size_t chars);
  // Removes the id at `index`; the ids after it move down by one.
  void Erase(size_t index);
  // Releases spare capacity (after loading a snapshot).
  void ShrinkToFit();

  // Heap bytes held: arena, spans and index, at their capacity.
  int64_t HeapBytes() const;
  // Characters of the live ids.
  size_t chars() const { return arena_.size() - garbage_; }

  std::vector<std::string> ToVector() const;

  // The same ids in the same order.
  friend bool operator==(const ArmIds& a, const ArmIds& b);
  friend bool operator!=(const ArmIds& a, const ArmIds& b) { return !(a == b); }

 private:
  static size_t Hash(absl::string_view id);
  // The slot holding position `index` (which must be present).
  size_t SlotOf(size_t index) const;
  // Rebuilds the index with `capacity` slots (a power of two).
  void Rehash(size_t capacity);
  void Insert(uint32_t index);
  // Rewrites the arena without erased ids.
  void Compact();

  std::vector<char> arena_;
  // offset << 16 | length, per position.
  std::vector<uint64_t> spans_;
  // 0 when empty, else position + 1.
  std::vector<uint32_t> slots_;
  // Arena characters of erased ids.
  size_t garbage_ = 0;
};

}  // namespace banditd::core

#endif  // BANDITD_SERVER_CORE_ARM_IDS_H_
