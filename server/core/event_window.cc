#include "server/core/event_window.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace banditd::core {

EventIdWindow::EventIdWindow(int64_t count, absl::Duration age)
    : count_(count),
      age_micros_(std::max<int64_t>(0, absl::ToInt64Microseconds(age))) {}

bool EventIdWindow::Contains(const std::string& key,
                             absl::string_view event_id) const {
  if (keys_.contains(key)) return true;
  return legacy_ > 0 &&
         keys_.contains(absl::StrCat(absl::string_view("\0", 1), event_id));
}

void EventIdWindow::Add(std::string key, int64_t micros) {
  entries_.push_back(Entry{std::move(key), micros});
  const std::string& held = entries_.back().key;
  if (!held.empty()) {
    if (held.front() == '\0') ++legacy_;
    bytes_ += KeyBytes(held.size());
    keys_.insert(held);
  }
}

void EventIdWindow::Restore(std::string key, int64_t micros) {
  Add(std::move(key), micros);
}

void EventIdWindow::Remember(std::string key, int64_t micros) {
  Add(std::move(key), micros);
  // Beyond the count and old enough, measured against the record being
  // applied: deterministic in log order, and with no clock of its own that
  // a snapshot would have to keep. A record without a log time (micros 0:
  // logs of before it was stamped, engine tests) evicts by count alone.
  const bool by_count_only = age_micros_ == 0 || micros <= 0;
  const int64_t horizon = micros - age_micros_;
  while (static_cast<int64_t>(entries_.size()) > count_ &&
         (by_count_only || entries_.front().micros <= horizon)) {
    Drop(entries_.front());
    entries_.pop_front();
    ++first_;
  }
}

void EventIdWindow::Drop(Entry& entry) {
  if (entry.key.empty()) return;
  if (entry.key.front() == '\0') --legacy_;
  bytes_ -= KeyBytes(entry.key.size());
  keys_.erase(entry.key);  // before the characters it views go
  entry.key.clear();
}

void EventIdWindow::ForgetPrefix(absl::string_view prefix) {
  for (Entry& entry : entries_) {
    if (!entry.key.empty() && absl::StartsWith(entry.key, prefix)) Drop(entry);
  }
}

void EventIdWindow::Clear() {
  entries_.clear();
  keys_.clear();
  first_ = 0;
  legacy_ = 0;
  bytes_ = 0;
}

}  // namespace banditd::core
