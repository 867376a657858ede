// The engine's de-duplication of Feedback event ids: the window itself is
// an EventIdWindow (event_window.h); here, how the engine consults it under
// its dedup mutex and copies it for snapshots.

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/core/engine.h"

namespace banditd::core {

std::string EventKey(absl::string_view room_id, absl::string_view event_id) {
  return absl::StrCat(room_id, absl::string_view("\0", 1), event_id);
}

bool Engine::SeenEvent(const std::string& room_id, const std::string& event_id,
                       int64_t micros) {
  if (!event_ids_.enabled()) return false;
  std::string key = EventKey(room_id, event_id);
  if (event_ids_.Contains(key, event_id)) return true;
  event_ids_.Remember(std::move(key), micros);
  event_id_bytes_.store(event_ids_.bytes(), std::memory_order_relaxed);
  return false;
}

void Engine::ForgetEventIds(const std::string& room_id) {
  // DeleteRoom is structural: a snapshot draft taken before it is not used.
  absl::MutexLock lock(&dedup_mu_);
  // A hole keeps the window's order and count: snapshots copy it as it is
  // (an empty key), so a restart evicts in the same order as this run.
  event_ids_.ForgetPrefix(EventKey(room_id, ""));
  event_id_bytes_.store(event_ids_.bytes(), std::memory_order_relaxed);
}

std::vector<std::string> Engine::RecentEventIds(
    uint64_t* added, std::vector<int64_t>* micros) const {
  // Copied in chunks, releasing the mutex in between, so that Feedback with
  // event ids never waits for a whole million-id copy. Ids are numbered in
  // the order they were remembered (EventIdWindow).
  constexpr uint64_t kChunk = 1 << 16;
  std::vector<std::string> out;
  std::vector<int64_t> times;
  uint64_t first = 0;  // number of out[0]
  uint64_t next = 0;   // number of the next id to copy
  bool started = false;
  while (true) {
    absl::MutexLock lock(&dedup_mu_);
    const uint64_t oldest = event_ids_.first();
    if (!started) {
      first = next = oldest;
      started = true;
    }
    if (oldest > first) {  // ids evicted since the last chunk: drop them
      const uint64_t drop = std::min<uint64_t>(oldest - first, out.size());
      out.erase(out.begin(), out.begin() + drop);
      times.erase(times.begin(), times.begin() + drop);
      first += drop;
      next = std::max(next, oldest);
      first = std::max(first, oldest);
    }
    const uint64_t end = std::min(event_ids_.added(), next + kChunk);
    for (; next < end; ++next) {
      out.push_back(event_ids_.key(next));
      times.push_back(event_ids_.micros(next));
    }
    if (next == event_ids_.added()) {
      if (added != nullptr) *added = event_ids_.added();
      if (micros != nullptr) *micros = std::move(times);
      return out;
    }
  }
}

std::vector<std::string> Engine::EventIdsAddedSince(
    uint64_t since, uint64_t* added_now, uint64_t* first_now,
    std::vector<int64_t>* micros) const {
  absl::MutexLock lock(&dedup_mu_);
  *added_now = event_ids_.added();
  if (first_now != nullptr) *first_now = event_ids_.first();
  std::vector<std::string> out;
  if (micros != nullptr) micros->clear();
  const uint64_t from = std::max(since, event_ids_.first());
  if (from >= event_ids_.added()) return out;
  out.reserve(event_ids_.added() - from);
  for (uint64_t g = from; g < event_ids_.added(); ++g) {
    out.push_back(event_ids_.key(g));
    if (micros != nullptr) micros->push_back(event_ids_.micros(g));
  }
  return out;
}

}  // namespace banditd::core
