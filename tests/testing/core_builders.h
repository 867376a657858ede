#ifndef BANDITD_TESTS_TESTING_CORE_BUILDERS_H_
#define BANDITD_TESTS_TESTING_CORE_BUILDERS_H_

// Terse builders of core mutations for tests.

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/core/engine.h"
#include "server/core/mutation.h"

namespace banditd::testing {

inline core::FeedbackEvent Event(std::string room, std::string arm,
                                 int64_t views, int64_t clicks,
                                 std::string segment = "",
                                 std::vector<std::string> items = {},
                                 std::optional<double> reward = std::nullopt,
                                 std::string event_id = "") {
  core::FeedbackEvent e;
  e.room_id = std::move(room);
  e.arm_id = std::move(arm);
  e.views = views;
  e.clicks = clicks;
  e.segment = std::move(segment);
  e.context_items = std::move(items);
  e.reward = reward;
  e.event_id = std::move(event_id);
  return e;
}

inline core::FeedbackBatch Batch(std::vector<core::FeedbackEvent> events) {
  return core::FeedbackBatch{std::move(events)};
}

inline core::CreateRoom NewRoom(std::string room, std::vector<std::string> arms,
                                core::PolicyParams policy = {}) {
  core::CreateRoom create;
  create.room_id = std::move(room);
  create.arm_ids = std::move(arms);
  create.policy = policy;
  return create;
}

// One-view events of room "r" on arms[0..events), each with `items` context
// items named <tag><event>_<item>: every new tag makes new counter entries
// (memory-budget tests).
inline core::FeedbackBatch NewItemsBatch(const std::vector<std::string>& arms,
                                         const std::string& tag,
                                         int events = 10, int items = 8) {
  core::FeedbackBatch batch;
  for (int i = 0; i < events; ++i) {
    std::vector<std::string> names;
    for (int j = 0; j < items; ++j) {
      names.push_back(absl::StrCat(tag, i, "_", j));
    }
    batch.events.push_back(
        Event("r", arms[static_cast<size_t>(i)], 1, 0, "", std::move(names)));
  }
  return batch;
}

}  // namespace banditd::testing

#endif  // BANDITD_TESTS_TESTING_CORE_BUILDERS_H_
