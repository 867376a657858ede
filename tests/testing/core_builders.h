#ifndef BANDITD_TESTS_TESTING_CORE_BUILDERS_H_
#define BANDITD_TESTS_TESTING_CORE_BUILDERS_H_

// Terse builders of core mutations for tests.

#include <optional>
#include <string>
#include <vector>

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

}  // namespace banditd::testing

#endif  // BANDITD_TESTS_TESTING_CORE_BUILDERS_H_
