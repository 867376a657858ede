#include "server/store/log_codec.h"

#include <string>
#include <variant>

#include "gtest/gtest.h"
#include "tests/testing/random_mutations.h"

namespace banditd::store {
namespace {

TEST(LogCodecTest, RoundTripsEveryKindOfMutation) {
  // Re-encoding the decoded mutation gives the same bytes: nothing is lost.
  int kinds_seen[std::variant_size_v<core::Mutation>] = {};
  for (const core::Mutation& m : testing::RandomMutations(2000, 7)) {
    ++kinds_seen[m.index()];
    const std::string bytes = EncodeMutation(m);
    absl::StatusOr<core::Mutation> decoded = DecodeMutation(bytes);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(decoded->index(), m.index());
    EXPECT_EQ(EncodeMutation(*decoded), bytes);
  }
  for (int seen : kinds_seen) EXPECT_GT(seen, 0);
}

TEST(LogCodecTest, FastFeedbackEncodingMatchesProtobuf) {
  for (const core::Mutation& m : testing::RandomMutations(2000, 8)) {
    EXPECT_EQ(EncodeMutation(m), EncodeMutationWithProtobuf(m));
  }
  // Edge cases: empty strings, empty context items, zero and negative
  // counts, a zero reward (present), large values.
  core::FeedbackEvent e;
  e.context_items = {"", "x"};
  e.views = -1;
  e.clicks = 0;
  e.reward = 0.0;
  core::FeedbackEvent big;
  big.room_id = std::string(300, 'r');
  big.views = 1LL << 62;
  big.reward = -1e300;
  for (const core::FeedbackBatch& batch :
       {core::FeedbackBatch{}, core::FeedbackBatch{{e}},
        core::FeedbackBatch{{big, e, core::FeedbackEvent{}}}}) {
    const std::string bytes = EncodeMutation(batch);
    EXPECT_EQ(bytes, EncodeMutationWithProtobuf(batch));
    absl::StatusOr<core::Mutation> decoded = DecodeMutation(bytes);
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(std::get<core::FeedbackBatch>(*decoded).events.size(),
              batch.events.size());
    EXPECT_EQ(EncodeMutation(*decoded), bytes);
    absl::StatusOr<core::Mutation> reference =
        DecodeMutationWithProtobuf(bytes);
    ASSERT_TRUE(reference.ok());
    EXPECT_EQ(EncodeMutation(*reference), bytes);
  }
}

TEST(LogCodecTest, FastDecoderAgreesWithProtobufAndRejectsTruncation) {
  for (const core::Mutation& m : testing::RandomMutations(500, 9)) {
    const std::string bytes = EncodeMutation(m);
    absl::StatusOr<core::Mutation> fast = DecodeMutation(bytes);
    absl::StatusOr<core::Mutation> slow = DecodeMutationWithProtobuf(bytes);
    ASSERT_TRUE(fast.ok() && slow.ok());
    EXPECT_EQ(EncodeMutation(*fast), EncodeMutation(*slow));
    // Every proper prefix of a record either fails or decodes to something
    // else: a torn record is never taken for the original.
    for (size_t cut : {size_t{1}, bytes.size() / 2, bytes.size() - 1}) {
      if (cut == 0 || cut >= bytes.size()) continue;
      absl::StatusOr<core::Mutation> torn =
          DecodeMutation(std::string_view(bytes).substr(0, cut));
      if (torn.ok()) {
        EXPECT_NE(EncodeMutation(*torn), bytes);
      }
    }
  }
}

TEST(LogCodecTest, KeepsFeedbackFieldsExactly) {
  core::FeedbackEvent e;
  e.room_id = "r";
  e.segment = "country=PL";
  e.context_items = {"hour=13", "device=ios"};
  e.arm_id = "a";
  e.views = 1LL << 40;
  e.clicks = 3;
  e.reward = 0.1;
  e.event_id = "ev-1";
  core::FeedbackEvent no_reward = e;
  no_reward.reward.reset();
  no_reward.reward = std::nullopt;
  absl::StatusOr<core::Mutation> decoded =
      DecodeMutation(EncodeMutation(core::FeedbackBatch{{e, no_reward}}));
  ASSERT_TRUE(decoded.ok());
  const auto& events = std::get<core::FeedbackBatch>(*decoded).events;
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].segment, "country=PL");
  EXPECT_EQ(events[0].context_items,
            (std::vector<std::string>{"hour=13", "device=ios"}));
  EXPECT_EQ(events[0].views, 1LL << 40);
  EXPECT_EQ(events[0].reward, 0.1);
  EXPECT_EQ(events[0].event_id, "ev-1");
  EXPECT_FALSE(events[1].reward.has_value());
}

TEST(LogCodecTest, KeepsPolicyAndFlags) {
  core::CreateRoom create;
  create.room_id = "r";
  create.arm_ids = {"a", "b"};
  create.policy.kind = core::PolicyKind::kEpsilonGreedy;
  create.policy.epsilon = 0.25;
  absl::StatusOr<core::Mutation> decoded =
      DecodeMutation(EncodeMutation(create));
  ASSERT_TRUE(decoded.ok());
  const auto& out = std::get<core::CreateRoom>(*decoded);
  EXPECT_EQ(out.arm_ids, create.arm_ids);
  EXPECT_EQ(out.policy, create.policy);

  decoded =
      DecodeMutation(EncodeMutation(core::SetArmEnabled{"r", "a", false}));
  ASSERT_TRUE(decoded.ok());
  EXPECT_FALSE(std::get<core::SetArmEnabled>(*decoded).enabled);
}

// The default policy of new rooms is resolved by the service before the
// CreateRoom is logged; the record carries the kind, so a room created when
// the default was UCB1 replays as UCB1 under any later default.
TEST(LogCodecTest, CreateRoomKeepsTheResolvedKindWhateverTheDefault) {
  for (core::PolicyKind kind :
       {core::PolicyKind::kUcb1, core::PolicyKind::kKlUcb,
        core::PolicyKind::kLinTs}) {
    core::CreateRoom create;
    create.room_id = "r";
    create.policy.kind = kind;
    absl::StatusOr<core::Mutation> decoded =
        DecodeMutation(EncodeMutation(create));
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(std::get<core::CreateRoom>(*decoded).policy.kind, kind);
  }
}

TEST(LogCodecTest, RejectsGarbageAndEmptyRecords) {
  EXPECT_EQ(DecodeMutation("\xff\xff\xff\xff garbage").status().code(),
            absl::StatusCode::kDataLoss);
  // An empty record parses but holds no mutation (e.g. one from a newer
  // version with a kind this binary does not know).
  EXPECT_EQ(DecodeMutation("").status().code(), absl::StatusCode::kDataLoss);
}

TEST(LogCodecTest, KeepsTheSourceRangeOfKafkaBatches) {
  core::FeedbackEvent e;
  e.room_id = "r";
  e.arm_id = "a";
  e.views = 3;
  for (std::vector<core::FeedbackEvent> events :
       {std::vector<core::FeedbackEvent>{e},
        std::vector<core::FeedbackEvent>{}}) {
    core::FeedbackBatch batch;
    batch.events = events;
    batch.source = core::SourceRange{"clicks", 7, 1200, 1300};
    std::string bytes = EncodeMutation(batch);
    EXPECT_EQ(bytes, EncodeMutationWithProtobuf(batch));
    // The committer stamps the time after encoding, as for every batch.
    SetLoggedAtMicros(42, &bytes);
    absl::StatusOr<core::Mutation> decoded = DecodeMutation(bytes);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    const auto& out = std::get<core::FeedbackBatch>(*decoded);
    ASSERT_TRUE(out.source.has_value());
    EXPECT_EQ(out.source->topic, "clicks");
    EXPECT_EQ(out.source->partition, 7);
    EXPECT_EQ(out.source->from_offset, 1200);
    EXPECT_EQ(out.source->next_offset, 1300);
    EXPECT_EQ(out.events.size(), events.size());
    EXPECT_EQ(out.logged_at_micros, 42);
  }
  // A batch of the Feedback RPC has none.
  core::FeedbackBatch plain;
  plain.events = {e};
  absl::StatusOr<core::Mutation> decoded =
      DecodeMutation(EncodeMutation(plain));
  ASSERT_TRUE(decoded.ok());
  EXPECT_FALSE(std::get<core::FeedbackBatch>(*decoded).source.has_value());
}

}  // namespace
}  // namespace banditd::store
