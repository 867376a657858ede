#ifndef BANDITD_SERVER_CORE_EVENT_WINDOW_H_
#define BANDITD_SERVER_CORE_EVENT_WINDOW_H_

#include <cstdint>
#include <deque>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace banditd::core {

// EventIdWindow remembers recent Feedback event ids for de-duplication, as
// keys (EventKey: room_id, NUL, event_id), oldest first.
//
// An id is forgotten only once it is beyond the newest `count` ids AND was
// logged at least `age` before the id being remembered now: the window
// covers a count and a time span, so a retry after an outage of up to `age`
// is still recognised whatever the traffic was meanwhile. Time is the log's
// (FeedbackBatch::logged_at_micros, stored in the record), never the wall
// clock at apply: replaying a log forgets exactly what the first run did.
//
// Ids are numbered in the order they were remembered (0, 1, ...), so that a
// snapshot can copy the window and later only the ids added since.
// An empty key is a hole (an id of a deleted room): it keeps its place and
// its number so that eviction order survives a snapshot.
//
// Thread safety: none; Engine guards it with its dedup mutex.
class EventIdWindow {
 public:
  // count <= 0 disables de-duplication (nothing is remembered).
  EventIdWindow(int64_t count, absl::Duration age);
  // keys_ views the entries' characters: a copy would view the original's,
  // a move keeps them (the deque's elements do not move).
  EventIdWindow(const EventIdWindow&) = delete;
  EventIdWindow& operator=(const EventIdWindow&) = delete;
  EventIdWindow(EventIdWindow&&) = default;

  bool enabled() const { return count_ > 0; }

  // True when `key` is held, or a legacy key (EventKey("", event_id): an id
  // of a snapshot from before ids were scoped to rooms, which matches in
  // every room).
  bool Contains(const std::string& key, absl::string_view event_id) const;
  // Remembers `key` (or a hole) logged at `micros`, then forgets what left
  // the window.
  void Remember(std::string key, int64_t micros);
  // Appends `key` as held, forgetting nothing (snapshot load: the snapshot
  // holds exactly what the window held, and evicting again while loading
  // could differ from what the first run kept).
  void Restore(std::string key, int64_t micros);
  // Turns every key starting with `prefix` into a hole.
  void ForgetPrefix(absl::string_view prefix);
  void Clear();

  // Ids ever remembered (the number of the next), the number of the oldest
  // held, and how many are held (holes included).
  uint64_t added() const { return first_ + entries_.size(); }
  uint64_t first() const { return first_; }
  size_t size() const { return entries_.size(); }
  // Id number `n`, first() <= n < added().
  const std::string& key(uint64_t n) const { return entries_[n - first_].key; }
  int64_t micros(uint64_t n) const { return entries_[n - first_].micros; }
  // Memory held, as the engine accounts it.
  int64_t bytes() const { return bytes_; }

  // The accounted cost of remembering `key`: its entry (40 bytes), its
  // characters once (the set holds a view of them) and a set slot.
  static int64_t KeyBytes(size_t key_size) {
    return static_cast<int64_t>(key_size) + 72;
  }

 private:
  struct Entry {
    std::string key;
    int64_t micros = 0;
  };
  void Add(std::string key, int64_t micros);
  void Drop(Entry& entry);

  const int64_t count_;
  const int64_t age_micros_;
  std::deque<Entry> entries_;
  uint64_t first_ = 0;
  // Views of the held entries' keys: a deque's elements stay in place as it
  // grows and shrinks at its ends, so each key is stored once.
  absl::flat_hash_set<absl::string_view> keys_;
  // Keys with an empty room (global ids of an old snapshot) held.
  size_t legacy_ = 0;
  int64_t bytes_ = 0;
};

}  // namespace banditd::core

#endif  // BANDITD_SERVER_CORE_EVENT_WINDOW_H_
