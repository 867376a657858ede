// Engine tests: admission, state rules, event ids, reads. Over 500 lines:
// one fixture and its helpers serve every case; the Sample and policy cases
// live in their own files (sample_*_test.cc, policy_test.cc).

#include "server/core/engine.h"

#include <cmath>
#include <limits>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/core_builders.h"

namespace banditd::core {
namespace {

using ::banditd::testing::Batch;
using ::banditd::testing::Event;
using ::banditd::testing::NewRoom;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

MATCHER_P2(StatusIs, code, substring, "") {
  return arg.code() == code &&
         std::string(arg.message()).find(substring) != std::string::npos;
}

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(engine_.Apply(NewRoom("r", {"a", "b", "c"})).ok());
  }

  Counts ArmCounts(const std::string& arm, const std::string& segment = "") {
    absl::StatusOr<Stats> stats = engine_.GetStats("r", segment, false);
    EXPECT_TRUE(stats.ok()) << stats.status();
    for (const ArmStat& a : stats->arms) {
      if (a.arm_id == arm) return a.counts;
    }
    ADD_FAILURE() << "no arm " << arm;
    return {};
  }

  std::vector<std::string> ArmIds(const std::string& room = "r") {
    std::vector<std::string> ids;
    absl::StatusOr<RoomInfo> info = engine_.GetRoom(room);
    EXPECT_TRUE(info.ok()) << info.status();
    for (const ArmInfo& a : info->arms) ids.push_back(a.arm_id);
    return ids;
  }

  Engine engine_;
};

TEST_F(EngineTest, CreateRoomStoresArmsAndPolicy) {
  PolicyParams policy;
  policy.kind = PolicyKind::kThompson;
  policy.beta_prior_a = 2;
  ASSERT_TRUE(engine_.Apply(NewRoom("t", {"x", "y"}, policy)).ok());
  absl::StatusOr<RoomInfo> room = engine_.GetRoom("t");
  ASSERT_TRUE(room.ok());
  EXPECT_EQ(room->room_id, "t");
  EXPECT_EQ(room->policy, policy);
  EXPECT_THAT(ArmIds("t"), ElementsAre("x", "y"));
  EXPECT_TRUE(room->arms[0].enabled);
}

TEST_F(EngineTest, CreateRoomErrors) {
  EXPECT_THAT(engine_.Apply(NewRoom("r", {})).status(),
              StatusIs(absl::StatusCode::kAlreadyExists, "room_id"));
  EXPECT_THAT(engine_.Apply(NewRoom("", {})).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "room_id"));
  EXPECT_THAT(engine_.Apply(NewRoom(std::string(129, 'x'), {})).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "longer than 128"));
  EXPECT_THAT(engine_.Apply(NewRoom("has space", {})).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "room_id"));
  EXPECT_THAT(engine_.Apply(NewRoom("n", {"a", "a"})).status(),
              StatusIs(absl::StatusCode::kAlreadyExists, "arm_ids[1]"));
  EXPECT_THAT(engine_.Apply(NewRoom("n", {"a", "b/c"})).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "arm_ids[1]"));
  PolicyParams bad;
  bad.epsilon = 1.5;
  EXPECT_THAT(engine_.Apply(NewRoom("n", {"a"}, bad)).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "policy.epsilon"));
  bad = {};
  bad.ucb_alpha = std::nan("");
  EXPECT_THAT(engine_.Apply(NewRoom("n", {"a"}, bad)).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "policy.ucb_alpha"));
  EXPECT_EQ(engine_.GetRoom("n").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(EngineTest, AllIdCharactersAreAccepted) {
  EXPECT_TRUE(engine_.Apply(NewRoom("AZaz09._:=-", {"country=PL"})).ok());
}

TEST_F(EngineTest, FeedbackCountsInSegmentAndWholeRoom) {
  ASSERT_TRUE(engine_
                  .Apply(Batch({Event("r", "a", 10, 2, "country=PL"),
                                Event("r", "a", 5, 1, "country=DE"),
                                Event("r", "b", 4, 0)}))
                  .ok());
  EXPECT_EQ(ArmCounts("a"), (Counts{15, 3, 3}));
  EXPECT_EQ(ArmCounts("a", "country=PL"), (Counts{10, 2, 2}));
  EXPECT_EQ(ArmCounts("a", "country=DE"), (Counts{5, 1, 1}));
  EXPECT_EQ(ArmCounts("b"), (Counts{4, 0, 0}));
  EXPECT_EQ(ArmCounts("b", "country=PL"), (Counts{0, 0, 0}));
  EXPECT_DOUBLE_EQ(engine_.GetStats("r", "", false)->total_views, 19);
}

TEST_F(EngineTest, ViewsAndClicksMayArriveSeparately) {
  ASSERT_TRUE(engine_.Apply(Batch({Event("r", "a", 1, 0)})).ok());
  ASSERT_TRUE(engine_.Apply(Batch({Event("r", "a", 0, 1)})).ok());
  EXPECT_EQ(ArmCounts("a"), (Counts{1, 1, 1}));
}

TEST_F(EngineTest, RewardDefaultsToClicksAndSumsWhenGiven) {
  ASSERT_TRUE(engine_
                  .Apply(Batch({Event("r", "a", 1, 3),
                                Event("r", "a", 1, 1, "", {}, 12.5),
                                Event("r", "a", 1, 0, "", {}, -2.0)}))
                  .ok());
  EXPECT_EQ(ArmCounts("a"), (Counts{3, 4, 13.5}));
}

TEST_F(EngineTest, ContextCountersArePerArmAndItem) {
  ASSERT_TRUE(
      engine_
          .Apply(Batch({Event("r", "a", 10, 3, "s", {"hour=13", "device=ios"}),
                        Event("r", "a", 5, 0, "s", {"hour=13"}),
                        Event("r", "b", 2, 1, "s", {"hour=13"})}))
          .ok());
  absl::StatusOr<Stats> stats = engine_.GetStats("r", "s", true);
  ASSERT_TRUE(stats.ok());
  const ArmStat& a = stats->arms[0];
  ASSERT_EQ(a.context.size(), 2u);
  EXPECT_EQ(a.context[0].context_item, "device=ios");  // sorted
  EXPECT_EQ(a.context[0].counts, (Counts{10, 3, 3}));
  EXPECT_EQ(a.context[1].context_item, "hour=13");
  EXPECT_EQ(a.context[1].counts, (Counts{15, 3, 3}));
  // UCB1 for (a, hour=13): N = 15 + 2 enabled views of that item.
  EXPECT_NEAR(a.context[1].scores.ucb1,
              3.0 / 15 + std::sqrt(2 * std::log(17.0) / 15), 1e-12);
  EXPECT_EQ(stats->arms[1].context.size(), 1u);
  EXPECT_TRUE(stats->arms[2].context.empty());
  // The whole room also has the context counters.
  EXPECT_EQ(engine_.GetStats("r", "", true)->arms[0].context[1].counts,
            (Counts{15, 3, 3}));
  // Without include_context nothing is listed.
  EXPECT_TRUE(engine_.GetStats("r", "s", false)->arms[0].context.empty());
}

TEST_F(EngineTest, DuplicateContextItemInOneEventCountsOnce) {
  ASSERT_TRUE(
      engine_.Apply(Batch({Event("r", "a", 1, 0, "", {"x=1", "x=1"})})).ok());
  EXPECT_EQ(engine_.GetStats("r", "", true)->arms[0].context[0].counts,
            (Counts{1, 0, 0}));
}

TEST_F(EngineTest, StatsScoresUseRoomParameters) {
  ASSERT_TRUE(
      engine_.Apply(Batch({Event("r", "a", 100, 5), Event("r", "b", 900, 0)}))
          .ok());
  absl::StatusOr<Stats> stats = engine_.GetStats("r", "", false);
  EXPECT_DOUBLE_EQ(stats->arms[0].scores.ctr, 0.05);
  EXPECT_NEAR(stats->arms[0].scores.ucb1, 0.4216922188849838, 1e-12);
  EXPECT_NEAR(stats->arms[0].scores.bucb, 0.09611764705882353, 1e-12);
  // Unseen arm c.
  EXPECT_EQ(stats->arms[2].scores.ctr, 0.0);
  EXPECT_EQ(stats->arms[2].scores.ucb1,
            std::numeric_limits<double>::infinity());
}

TEST_F(EngineTest, BadFeedbackNamesIndexAndFieldAndChangesNothing) {
  ASSERT_TRUE(engine_.Apply(Batch({Event("r", "a", 1, 1)})).ok());
  struct Case {
    FeedbackEvent bad;
    absl::StatusCode code;
    std::string field;
  };
  std::vector<Case> cases = {
      {Event("nope", "a", 1, 0), absl::StatusCode::kNotFound,
       "events[1].room_id"},
      {Event("r", "zz", 1, 0), absl::StatusCode::kNotFound, "events[1].arm_id"},
      {Event("r", "a", -1, 0), absl::StatusCode::kInvalidArgument,
       "events[1].views"},
      {Event("r", "a", 1, -3), absl::StatusCode::kInvalidArgument,
       "events[1].clicks"},
      {Event("r", "a", 1, 0, "", {}, std::nan("")),
       absl::StatusCode::kInvalidArgument, "events[1].reward"},
      {Event("r", "a", 1, 0, "", {}, std::numeric_limits<double>::infinity()),
       absl::StatusCode::kInvalidArgument, "events[1].reward"},
      {Event("r", "a", 1, 0, "bad segment"), absl::StatusCode::kInvalidArgument,
       "events[1].segment"},
      {Event("r", "a", 1, 0, "", {"ok", "b@d"}),
       absl::StatusCode::kInvalidArgument, "events[1].context_items[1]"},
      {Event("r", "", 1, 0), absl::StatusCode::kInvalidArgument,
       "events[1].arm_id"},
      {Event("r", "a", 1, 0, "", {}, std::nullopt, "id with space"),
       absl::StatusCode::kInvalidArgument, "events[1].event_id"},
  };
  std::vector<std::string> too_many(33, "x=1");
  cases.push_back({Event("r", "a", 1, 0, "", too_many),
                   absl::StatusCode::kInvalidArgument,
                   "events[1].context_items: 33"});
  for (const Case& c : cases) {
    const FeedbackBatch batch =
        Batch({Event("r", "b", 7, 7, "s", {"i"}), c.bad});
    EXPECT_THAT(engine_.Validate(batch), StatusIs(c.code, c.field)) << c.field;
    // A limit (the 33 items) is admission's alone; the rest are rules of
    // the state that Apply checks too.
    if (c.code == absl::StatusCode::kInvalidArgument &&
        absl::StrContains(c.field, "context_items: 33")) {
      continue;
    }
    absl::StatusOr<ApplyResult> result = engine_.Apply(batch);
    EXPECT_THAT(result.status(), StatusIs(c.code, c.field)) << c.field;
  }
  // Neither the good first event nor anything else was applied.
  EXPECT_EQ(ArmCounts("a"), (Counts{1, 1, 1}));
  EXPECT_EQ(ArmCounts("b"), (Counts{0, 0, 0}));
  EXPECT_EQ(ArmCounts("b", "s"), (Counts{0, 0, 0}));
}

TEST_F(EngineTest, BatchLimits) {
  EXPECT_THAT(engine_.Apply(Batch({})).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "events"));
  Engine small({.max_batch_events = 2});
  ASSERT_TRUE(small.Apply(NewRoom("r", {"a"})).ok());
  const FeedbackBatch three = Batch(
      {Event("r", "a", 1, 0), Event("r", "a", 1, 0), Event("r", "a", 1, 0)});
  EXPECT_THAT(small.Validate(three),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "3 events exceed the limit of 2"));
  // Limits are checked at admission only: a logged batch replays whatever
  // the limit at restart.
  EXPECT_EQ(small.Apply(three)->applied_events, 3);
}

TEST_F(EngineTest, SegmentLimitIsResourceExhausted) {
  Engine small({.max_segments_per_room = 2});
  ASSERT_TRUE(small.Apply(NewRoom("r", {"a"})).ok());
  ASSERT_TRUE(small
                  .Apply(Batch({Event("r", "a", 1, 0, "s1"),
                                Event("r", "a", 1, 0, "s2")}))
                  .ok());
  EXPECT_THAT(
      small.Validate(Batch({Event("r", "a", 1, 0, "s3")})),
      StatusIs(absl::StatusCode::kResourceExhausted, "events[0].segment"));
  // Existing segments still take traffic.
  EXPECT_TRUE(small.Validate(Batch({Event("r", "a", 1, 0, "s1")})).ok());
}

TEST_F(EngineTest, EventIdsDeduplicateWithinWindow) {
  Engine engine({.event_id_window = 2});
  ASSERT_TRUE(engine.Apply(NewRoom("r", {"a"})).ok());
  auto apply = [&](std::vector<std::string> ids) {
    std::vector<FeedbackEvent> events;
    for (auto& id : ids) {
      events.push_back(Event("r", "a", 1, 0, "", {}, std::nullopt, id));
    }
    return *engine.Apply(Batch(std::move(events)));
  };
  ApplyResult r = apply({"e1", "e2", "e1"});
  EXPECT_EQ(r.applied_events, 2);
  EXPECT_EQ(r.duplicate_events, 1);
  r = apply({"e2"});
  EXPECT_EQ(r.duplicate_events, 1);
  r = apply({"e3"});  // evicts e1 from the two-id window
  EXPECT_EQ(r.applied_events, 1);
  r = apply({"e1"});
  EXPECT_EQ(r.applied_events, 1);
  EXPECT_THAT(engine.CopyEventIds(0).keys,
              ElementsAre(EventKey("r", "e3"), EventKey("r", "e1")));
  EXPECT_DOUBLE_EQ(engine.GetStats("r", "", false)->arms[0].counts.views, 4);
}

TEST_F(EngineTest, EventIdsAreScopedToTheirRoom) {
  Engine engine({.event_id_window = 100});
  ASSERT_TRUE(engine.Apply(NewRoom("r1", {"a"})).ok());
  ASSERT_TRUE(engine.Apply(NewRoom("r2", {"a"})).ok());
  auto event = [](const std::string& room, const std::string& id) {
    return Event(room, "a", 1, 0, "", {}, std::nullopt, id);
  };
  // The same id in two rooms is two events; again in one room, a duplicate.
  ApplyResult r = *engine.Apply(Batch({event("r1", "e1"), event("r2", "e1")}));
  EXPECT_EQ(r.applied_events, 2);
  r = *engine.Apply(Batch({event("r2", "e1")}));
  EXPECT_EQ(r.duplicate_events, 1);
  EXPECT_DOUBLE_EQ(engine.GetStats("r1", "", false)->arms[0].counts.views, 1);
  EXPECT_DOUBLE_EQ(engine.GetStats("r2", "", false)->arms[0].counts.views, 1);
}

TEST_F(EngineTest, DeleteRoomForgetsItsEventIdsAndResetKeepsThem) {
  Engine engine({.event_id_window = 4});
  ASSERT_TRUE(engine.Apply(NewRoom("r", {"a"})).ok());
  ASSERT_TRUE(engine.Apply(NewRoom("other", {"a"})).ok());
  auto event = [](const std::string& room, const std::string& id) {
    return Event(room, "a", 1, 0, "", {}, std::nullopt, id);
  };
  ASSERT_TRUE(engine
                  .Apply(Batch({event("r", "e1"), event("other", "x"),
                                event("r", "e2")}))
                  .ok());
  // ResetRoom zeroes counters but a retry of an acknowledged event still
  // counts nothing.
  ASSERT_TRUE(engine.Apply(ResetRoom{"r"}).ok());
  EXPECT_EQ(engine.Apply(Batch({event("r", "e1")}))->duplicate_events, 1);

  ASSERT_TRUE(engine.Apply(DeleteRoom{"r"}).ok());
  ASSERT_TRUE(engine.Apply(NewRoom("r", {"a"})).ok());
  // The recreated room starts with no ids: e1 and e2 count again.
  ApplyResult recreated =
      *engine.Apply(Batch({event("r", "e1"), event("r", "e2")}));
  EXPECT_EQ(recreated.applied_events, 2);
  EXPECT_EQ(recreated.duplicate_events, 0);
  // The deleted ids left holes that age out like ids: the window holds
  // four slots, oldest first; the other room's id is still known.
  EXPECT_THAT(engine.CopyEventIds(0).keys,
              ElementsAre(EventKey("other", "x"), "", EventKey("r", "e1"),
                          EventKey("r", "e2")));
  EXPECT_EQ(engine.Apply(Batch({event("other", "x")}))->duplicate_events, 1);
  EXPECT_EQ(engine.Apply(Batch({event("r", "e2")}))->duplicate_events, 1);
}

TEST_F(EngineTest, GlobalIdsOfAnOldSnapshotMatchInEveryRoom) {
  Engine engine({.event_id_window = 3});
  std::vector<std::unique_ptr<Room>> rooms;
  for (const char* id : {"r1", "r2"}) {
    auto room = std::make_unique<Room>(id);
    absl::MutexLock lock(&room->mu);
    room->MutableSegment("");
    room->AddArms({"a"});
    rooms.push_back(std::move(room));
  }
  EventIdsCopy old;
  old.keys = {EventKey("", "old")};
  engine.ReplaceRooms(std::move(rooms), {old});
  auto event = [](const std::string& room, const std::string& id) {
    return Event(room, "a", 1, 0, "", {}, std::nullopt, id);
  };
  EXPECT_EQ(engine.Apply(Batch({event("r1", "old")}))->duplicate_events, 1);
  EXPECT_EQ(engine.Apply(Batch({event("r2", "old")}))->duplicate_events, 1);
  // Once it leaves the window the legacy id matches nowhere.
  ASSERT_TRUE(engine
                  .Apply(Batch({event("r1", "n1"), event("r1", "n2"),
                                event("r1", "n3")}))
                  .ok());
  EXPECT_EQ(engine.Apply(Batch({event("r2", "old")}))->applied_events, 1);
}

TEST_F(EngineTest, CopyEventIdsAcrossChunksAndWrapAround) {
  // More ids than one copy chunk (65,536) and than the window: the copy is
  // the last `window` ids, oldest first, and the counts line up.
  constexpr int kWindow = 100'000;
  Engine engine({.event_id_window = kWindow});
  ASSERT_TRUE(engine.Apply(NewRoom("r", {"a"})).ok());
  int next = 0;
  auto feed = [&](int count) {
    for (int done = 0; done < count; done += 5000) {
      std::vector<FeedbackEvent> events;
      for (int i = 0; i < 5000; ++i) {
        events.push_back(Event("r", "a", 1, 0, "", {}, std::nullopt,
                               absl::StrCat("e", next++)));
      }
      ASSERT_TRUE(engine.Apply(Batch(std::move(events))).ok());
    }
  };
  feed(70'000);
  EventIdsCopy copy = engine.CopyEventIds(0);
  EXPECT_EQ(copy.added, 70'000u);
  ASSERT_EQ(copy.keys.size(), 70'000u);
  ASSERT_EQ(copy.micros.size(), 70'000u);
  EXPECT_EQ(copy.keys.front(), EventKey("r", "e0"));
  EXPECT_EQ(copy.keys.back(), EventKey("r", "e69999"));
  feed(60'000);
  // Brought up to date: the 30,000 oldest dropped, 60,000 newer appended.
  EventIdsCopy updated = copy;
  engine.CopyEventIdsAddedSince(0, &updated);
  EXPECT_EQ(updated.added, 130'000u);
  ASSERT_EQ(updated.keys.size(), static_cast<size_t>(kWindow));
  EXPECT_EQ(updated.keys.front(), EventKey("r", "e30000"));
  EXPECT_EQ(updated.keys[40'000], EventKey("r", "e70000"));
  EXPECT_EQ(updated.keys.back(), EventKey("r", "e129999"));
  copy = engine.CopyEventIds(0);
  EXPECT_EQ(copy.keys, updated.keys);
  EXPECT_EQ(copy.added, 130'000u);
}

TEST_F(EngineTest, DisabledArmKeepsCountersAndLeavesUcbTotal) {
  ASSERT_TRUE(
      engine_.Apply(Batch({Event("r", "a", 10, 1), Event("r", "b", 30, 3)}))
          .ok());
  ASSERT_TRUE(engine_.Apply(SetArmEnabled{"r", "b", false}).ok());
  absl::StatusOr<Stats> stats = engine_.GetStats("r", "", false);
  EXPECT_DOUBLE_EQ(stats->total_views, 10);
  EXPECT_FALSE(stats->arms[1].enabled);
  EXPECT_EQ(stats->arms[1].counts, (Counts{30, 3, 3}));
  // A disabled arm still learns.
  ASSERT_TRUE(engine_.Apply(Batch({Event("r", "b", 5, 0)})).ok());
  EXPECT_DOUBLE_EQ(engine_.GetStats("r", "", false)->total_views, 10);
  ASSERT_TRUE(engine_.Apply(SetArmEnabled{"r", "b", true}).ok());
  EXPECT_DOUBLE_EQ(engine_.GetStats("r", "", false)->total_views, 45);
  // Setting the same state twice is harmless.
  ASSERT_TRUE(engine_.Apply(SetArmEnabled{"r", "b", true}).ok());
  EXPECT_DOUBLE_EQ(engine_.GetStats("r", "", false)->total_views, 45);
}

TEST_F(EngineTest, AddAndRemoveArmsKeepOrderAndCounters) {
  ASSERT_TRUE(engine_
                  .Apply(Batch({Event("r", "a", 1, 0, "s", {"i"}),
                                Event("r", "b", 2, 0, "s", {"i"}),
                                Event("r", "c", 3, 0, "s", {"i"})}))
                  .ok());
  ASSERT_TRUE(engine_.Apply(AddArms{"r", {"d", "e"}}).ok());
  EXPECT_THAT(ArmIds(), ElementsAre("a", "b", "c", "d", "e"));
  EXPECT_EQ(ArmCounts("d", "s"), (Counts{}));
  ASSERT_TRUE(engine_.Apply(RemoveArm{"r", "b"}).ok());
  EXPECT_THAT(ArmIds(), ElementsAre("a", "c", "d", "e"));
  EXPECT_EQ(ArmCounts("c", "s"), (Counts{3, 0, 0}));
  EXPECT_EQ(engine_.GetStats("r", "s", true)->arms[1].context[0].counts,
            (Counts{3, 0, 0}));
  EXPECT_DOUBLE_EQ(engine_.GetStats("r", "s", false)->total_views, 4);
  // Feedback to the moved arms lands on the right counters.
  ASSERT_TRUE(engine_.Apply(Batch({Event("r", "e", 9, 0)})).ok());
  EXPECT_EQ(ArmCounts("e"), (Counts{9, 0, 0}));
  // A re-added arm starts from zero.
  ASSERT_TRUE(engine_.Apply(AddArms{"r", {"b"}}).ok());
  EXPECT_EQ(ArmCounts("b", "s"), (Counts{}));
}

TEST_F(EngineTest, ArmErrors) {
  EXPECT_THAT(engine_.Apply(AddArms{"r", {"d", "a"}}).status(),
              StatusIs(absl::StatusCode::kAlreadyExists, "arm_ids[1]"));
  EXPECT_THAT(ArmIds(), ElementsAre("a", "b", "c"));  // "d" not added either
  EXPECT_THAT(engine_.Apply(AddArms{"r", {}}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "arm_ids"));
  EXPECT_THAT(engine_.Apply(AddArms{"x", {"d"}}).status(),
              StatusIs(absl::StatusCode::kNotFound, "room_id"));
  EXPECT_THAT(engine_.Apply(RemoveArm{"r", "zz"}).status(),
              StatusIs(absl::StatusCode::kNotFound, "arm_id"));
  EXPECT_THAT(engine_.Apply(SetArmEnabled{"r", "zz", false}).status(),
              StatusIs(absl::StatusCode::kNotFound, "arm_id"));
  Engine small({.max_arms_per_room = 3});
  EXPECT_THAT(small.Validate(NewRoom("r", {"a", "b", "c", "d"})),
              StatusIs(absl::StatusCode::kResourceExhausted, "at most 3"));
  Engine one_room({.max_rooms = 1});
  ASSERT_TRUE(one_room.Apply(NewRoom("r", {"a"})).ok());
  EXPECT_THAT(one_room.Validate(NewRoom("r2", {"a"})),
              StatusIs(absl::StatusCode::kResourceExhausted, "--max_rooms"));
}

TEST_F(EngineTest, ResetZeroesCountersAndKeepsArms) {
  ASSERT_TRUE(engine_.Apply(SetArmEnabled{"r", "c", false}).ok());
  ASSERT_TRUE(engine_.Apply(Batch({Event("r", "a", 10, 1, "s", {"i"})})).ok());
  ASSERT_TRUE(engine_.Apply(ResetRoom{"r"}).ok());
  EXPECT_EQ(ArmCounts("a"), (Counts{}));
  EXPECT_EQ(ArmCounts("a", "s"), (Counts{}));
  EXPECT_TRUE(engine_.GetStats("r", "s", true)->arms[0].context.empty());
  absl::StatusOr<RoomInfo> room = engine_.GetRoom("r");
  EXPECT_THAT(ArmIds(), ElementsAre("a", "b", "c"));
  EXPECT_FALSE(room->arms[2].enabled);
}

TEST_F(EngineTest, DeleteRoom) {
  ASSERT_TRUE(engine_.Apply(DeleteRoom{"r"}).ok());
  EXPECT_EQ(engine_.GetRoom("r").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(engine_.Apply(DeleteRoom{"r"}).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(engine_.Apply(Batch({Event("r", "a", 1, 0)})).status().code(),
            absl::StatusCode::kNotFound);
  // The id is free again.
  EXPECT_TRUE(engine_.Apply(NewRoom("r", {"z"})).ok());
}

TEST_F(EngineTest, ListRoomsPages) {
  for (std::string id : {"m", "b", "z", "k"}) {
    ASSERT_TRUE(engine_.Apply(NewRoom(id, {"a"})).ok());
  }
  RoomPage page = engine_.ListRooms(2, "");
  ASSERT_EQ(page.rooms.size(), 2u);
  EXPECT_EQ(page.rooms[0].room_id, "b");
  EXPECT_EQ(page.rooms[1].room_id, "k");
  EXPECT_EQ(page.next_after, "k");
  page = engine_.ListRooms(2, page.next_after);
  EXPECT_EQ(page.rooms[0].room_id, "m");
  EXPECT_EQ(page.rooms[1].room_id, "r");
  page = engine_.ListRooms(2, page.next_after);
  ASSERT_EQ(page.rooms.size(), 1u);
  EXPECT_EQ(page.rooms[0].room_id, "z");
  EXPECT_EQ(page.next_after, "");
  EXPECT_EQ(engine_.ListRooms(0, "").rooms.size(), 5u);
}

TEST_F(EngineTest, StatsOfUnseenSegmentAreZeros) {
  absl::StatusOr<Stats> stats = engine_.GetStats("r", "country=PL", true);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->arms.size(), 3u);
  EXPECT_EQ(stats->total_views, 0);
  EXPECT_THAT(engine_.GetStats("r", "b@d", false).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "segment"));
  EXPECT_THAT(engine_.GetStats("q", "", false).status(),
              StatusIs(absl::StatusCode::kNotFound, "room_id"));
}

TEST_F(EngineTest, ValidateChangesNothing) {
  ASSERT_TRUE(engine_.Validate(Batch({Event("r", "a", 5, 1)})).ok());
  ASSERT_TRUE(engine_.Validate(DeleteRoom{"r"}).ok());
  EXPECT_EQ(ArmCounts("a"), (Counts{}));
  EXPECT_TRUE(engine_.GetRoom("r").ok());
}

}  // namespace
}  // namespace banditd::core
