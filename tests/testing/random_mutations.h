#ifndef BANDITD_TESTS_TESTING_RANDOM_MUTATIONS_H_
#define BANDITD_TESTS_TESTING_RANDOM_MUTATIONS_H_

// A reproducible random workload of every kind of mutation, and a helper that
// submits to a Committer and waits, for store tests.

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "server/core/mutation.h"
#include "server/store/committer.h"

namespace banditd::testing {

// Mutations over a few rooms: mostly Feedback (with segments, context items,
// rewards and repeated event ids), sometimes room and arm changes. Some are
// invalid against the state (e.g. feedback to a deleted room); a committer
// rejects those, and replay must agree.
inline std::vector<core::Mutation> RandomMutations(int count, uint32_t seed) {
  std::mt19937 rng(seed);
  auto pick = [&rng](int n) {
    return static_cast<int>(std::uniform_int_distribution<int>(0, n - 1)(rng));
  };
  std::vector<core::Mutation> out;
  std::vector<core::CreateRoom> configs;
  for (int r = 0; r < 4; ++r) {
    core::CreateRoom create;
    create.room_id = absl::StrCat("room", r);
    for (int a = 0; a < 5; ++a)
      create.arm_ids.push_back(absl::StrCat("arm", a));
    create.policy.kind = core::PolicyKind::kThompson;
    create.policy.beta_prior_a = 1.5 + r;
    // room0 decays by events, room1 has LinUCB models, room2 decays by time.
    if (r == 0) create.decay.half_life_events = 50;
    if (r == 1) {
      create.policy.kind = core::PolicyKind::kLinUcb;
      create.linucb.dimension = 3;
      create.linucb.lambda = 0.5;
    }
    if (r == 2) create.decay.half_life_seconds = 0.01;
    configs.push_back(create);
    // room3 exists only once re-created below.
    if (r < 3) out.push_back(create);
  }
  int next_arm = 5;
  int next_event = 0;
  for (int i = 0; i < count; ++i) {
    const int room_index = pick(4);
    const std::string room = absl::StrCat("room", room_index);
    const int kind = pick(100);
    if (kind < 2) {
      // Sometimes invalid: both half-lives set, or a negative epsilon.
      core::UpdateRoom update;
      update.room_id = room;
      if (pick(2) == 0) update.policy.epsilon = 0.1 * (pick(12) - 1);
      if (pick(2) == 0) update.policy.beta_prior_a = 0.5 + pick(4);
      if (pick(3) == 0) update.policy.kind = core::PolicyKind::kUcb1;
      if (pick(3) == 0) update.half_life_events = pick(3) == 0 ? 0 : 20;
      if (pick(3) == 0) update.half_life_seconds = pick(2) == 0 ? 0 : 0.02;
      out.push_back(std::move(update));
    } else if (kind < 4) {
      core::ResetArm reset{room, absl::StrCat("arm", pick(3)), std::nullopt};
      if (pick(2) == 0) reset.segment = pick(3) == 0 ? "" : "seg1";
      out.push_back(std::move(reset));
    } else if (kind < 85) {
      core::FeedbackBatch batch;
      const int events = 1 + pick(8);
      for (int e = 0; e < events; ++e) {
        core::FeedbackEvent event;
        event.room_id = room;
        // Mostly the arms every room starts with.
        event.arm_id =
            absl::StrCat("arm", pick(5) == 0 ? pick(next_arm) : pick(2));
        event.segment = pick(3) == 0 ? "" : absl::StrCat("seg", pick(4));
        for (int c = pick(3); c > 0; --c) {
          event.context_items.push_back(absl::StrCat("item=", pick(5)));
        }
        event.views = 1 + pick(3);
        event.clicks = pick(2);
        if (pick(4) == 0) event.reward = 0.25 * pick(10);
        if (room == "room1") {
          event.features = {1.0, 0.5 * pick(4), -0.25 * pick(3)};
        }
        if (pick(2) == 0) {
          // Sometimes repeat a recent id.
          const int id = pick(5) == 0 && next_event > 0
                             ? next_event - 1 - pick(std::min(next_event, 20))
                             : next_event++;
          event.event_id = absl::StrCat("ev", id);
        }
        batch.events.push_back(std::move(event));
      }
      out.push_back(std::move(batch));
    } else if (kind < 89) {
      out.push_back(core::AddArms{room, {absl::StrCat("arm", next_arm++)}});
    } else if (kind < 92) {
      out.push_back(
          core::RemoveArm{room, absl::StrCat("arm", 2 + pick(next_arm - 2))});
    } else if (kind < 96) {
      out.push_back(core::SetArmEnabled{
          room, absl::StrCat("arm", pick(next_arm)), pick(2) == 0});
    } else if (kind < 98) {
      out.push_back(core::ResetRoom{room});
    } else if (kind < 99 && pick(3) == 0) {
      out.push_back(core::DeleteRoom{room});
    } else {
      core::CreateRoom create = configs[room_index];
      create.arm_ids = {"arm0", "arm1"};
      out.push_back(std::move(create));
    }
  }
  return out;
}

// Submits `mutation` and waits for its callback.
inline absl::StatusOr<core::ApplyResult> SubmitAndWait(
    store::Committer& committer, core::Mutation mutation) {
  absl::Notification done;
  absl::StatusOr<core::ApplyResult> result;
  committer.Submit(std::move(mutation),
                   [&](absl::StatusOr<core::ApplyResult> r) {
                     result = std::move(r);
                     done.Notify();
                   });
  done.WaitForNotification();
  return result;
}

}  // namespace banditd::testing

#endif  // BANDITD_TESTS_TESTING_RANDOM_MUTATIONS_H_
