// The engine's de-duplication of Feedback event ids: one EventIdWindow
// (event_window.h) per log stream (FeedbackBatch::stream); here, how the
// engine consults them under its dedup mutex and copies them for snapshots.

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/core/engine.h"

namespace banditd::core {

std::string EventKey(absl::string_view room_id, absl::string_view event_id) {
  return absl::StrCat(room_id, absl::string_view("\0", 1), event_id);
}

EventIdWindow& Engine::WindowOf(int stream) {
  // A stream beyond the count cannot come from a committer of this
  // configuration; folding it keeps Apply total and deterministic.
  return event_ids_[stream <= 0
                        ? 0
                        : static_cast<size_t>(stream) % event_ids_.size()];
}

const EventIdWindow& Engine::WindowOf(int stream) const {
  return event_ids_[stream <= 0
                        ? 0
                        : static_cast<size_t>(stream) % event_ids_.size()];
}

void Engine::CountEventIdBytes() {
  int64_t bytes = 0;
  for (const EventIdWindow& window : event_ids_) bytes += window.bytes();
  event_id_bytes_.store(bytes, std::memory_order_relaxed);
}

bool Engine::SeenEvent(EventIdWindow& window, const std::string& room_id,
                       const std::string& event_id, int64_t micros) {
  if (!window.enabled()) return false;
  std::string key = EventKey(room_id, event_id);
  if (window.Contains(key, event_id)) return true;
  const int64_t before = window.bytes();
  window.Remember(std::move(key), micros);
  event_id_bytes_.fetch_add(window.bytes() - before, std::memory_order_relaxed);
  return false;
}

void Engine::ForgetEventIds(const std::string& room_id) {
  // DeleteRoom is structural: a snapshot draft taken before it is not used.
  absl::MutexLock lock(&dedup_mu_);
  // A hole keeps the window's order and count: snapshots copy it as it is
  // (an empty key), so a restart evicts in the same order as this run. Only
  // the room's stream's window holds its ids; the others find none.
  const std::string prefix = EventKey(room_id, "");
  for (EventIdWindow& window : event_ids_) window.ForgetPrefix(prefix);
  CountEventIdBytes();
}

EventIdsCopy Engine::CopyEventIds(int stream) const {
  // Copied in chunks, releasing the mutex in between, so that Feedback with
  // event ids never waits for a whole million-id copy. Ids are numbered in
  // the order they were remembered (EventIdWindow).
  constexpr uint64_t kChunk = 1 << 16;
  EventIdsCopy out;
  uint64_t first = 0;  // number of out.keys[0]
  uint64_t next = 0;   // number of the next id to copy
  bool started = false;
  while (true) {
    absl::MutexLock lock(&dedup_mu_);
    const EventIdWindow& window = WindowOf(stream);
    const uint64_t oldest = window.first();
    if (!started) {
      first = next = oldest;
      started = true;
    }
    if (oldest > first) {  // ids evicted since the last chunk: drop them
      const uint64_t drop = std::min<uint64_t>(oldest - first, out.keys.size());
      out.keys.erase(out.keys.begin(), out.keys.begin() + drop);
      out.micros.erase(out.micros.begin(), out.micros.begin() + drop);
      first += drop;
      next = std::max(next, oldest);
      first = std::max(first, oldest);
    }
    const uint64_t end = std::min(window.added(), next + kChunk);
    for (; next < end; ++next) {
      out.keys.push_back(window.key(next));
      out.micros.push_back(window.micros(next));
    }
    if (next == window.added()) {
      out.added = window.added();
      return out;
    }
  }
}

void Engine::CopyEventIdsAddedSince(int stream, EventIdsCopy* copy) const {
  absl::MutexLock lock(&dedup_mu_);
  const EventIdWindow& window = WindowOf(stream);
  // The copy holds ids [added_then - size, added_then); the window now
  // holds [first(), added()): keep the copy's still held, then append the
  // newer ones.
  const uint64_t copy_first =
      copy->added - static_cast<uint64_t>(copy->keys.size());
  const size_t drop = static_cast<size_t>(std::min<uint64_t>(
      window.first() > copy_first ? window.first() - copy_first : 0,
      copy->keys.size()));
  copy->keys.erase(copy->keys.begin(), copy->keys.begin() + drop);
  copy->micros.erase(copy->micros.begin(), copy->micros.begin() + drop);
  for (uint64_t g = std::max(copy->added, window.first()); g < window.added();
       ++g) {
    copy->keys.push_back(window.key(g));
    copy->micros.push_back(window.micros(g));
  }
  copy->added = window.added();
}

}  // namespace banditd::core
