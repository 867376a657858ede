#include "server/cluster/in_flight_table.h"

#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace banditd::cluster {
namespace {

using Result = InFlightTable::Result;

// Records what a Submit or a read was answered, and how often.
struct Answer {
  int calls = 0;
  Result result = absl::UnknownError("not answered");
  store::Committer::Done Done() {
    return [this](Result r) {
      ++calls;
      result = std::move(r);
    };
  }
};

struct ReadAnswer {
  int calls = 0;
  absl::Status status = absl::UnknownError("not answered");
  InFlightTable::ReadDone Done() {
    return [this](absl::Status s) {
      ++calls;
      status = std::move(s);
    };
  }
};

core::ApplyResult Applied(int64_t events) {
  core::ApplyResult r;
  r.applied_events = events;
  return r;
}

InFlightTable::Options Opts() {
  InFlightTable::Options o;
  o.apply_timeout = absl::Seconds(2);
  o.read_wait_timeout = absl::Seconds(3);
  o.fetch_after = absl::Milliseconds(100);
  return o;
}

const absl::Time kT0 = absl::FromUnixSeconds(1000);

// Catches: answering a write on its ack alone (before this replica applied
// it: no read-your-writes) or on its apply alone (before it is durable).
TEST(InFlightTableTest, WriteAnsweredAfterAckAndApplyInEitherOrder) {
  for (bool ack_first : {true, false}) {
    InFlightTable table(Opts());
    Answer answer;
    auto call = InFlightTable::NewCall(answer.Done(), 1);
    std::optional<uint64_t> id = table.Add(call, 3, kT0);
    ASSERT_TRUE(id.has_value());
    if (ack_first) {
      ASSERT_TRUE(table.Acked(*id, 7, false, kT0).has_value());
    } else {
      table.Applied(7, id, Applied(3));
    }
    EXPECT_EQ(answer.calls, 0);
    if (ack_first) {
      table.Applied(7, id, Applied(3));
    } else {
      ASSERT_TRUE(table.Acked(*id, 7, false, kT0).has_value());
    }
    ASSERT_EQ(answer.calls, 1);
    ASSERT_TRUE(answer.result.ok()) << answer.result.status();
    EXPECT_EQ(answer.result->applied_events, 3);
    EXPECT_EQ(answer.result->sequence, 7u);
    EXPECT_EQ(table.writes(), 0u);
  }
}

// Catches: a multi-room Submit answered by its first record, or results
// not summed; an error lost behind a later success.
TEST(InFlightTableTest, CallOfSeveralRecordsSumsThemAndKeepsTheError) {
  InFlightTable table(Opts());
  Answer ok, failed;
  auto call = InFlightTable::NewCall(ok.Done(), 2);
  uint64_t a = *table.Add(call, 2, kT0), b = *table.Add(call, 5, kT0);
  table.Acked(a, 10, false, kT0);
  table.Applied(10, a, Applied(2));
  EXPECT_EQ(ok.calls, 0);
  table.Acked(b, 11, false, kT0);
  table.Applied(11, b, Applied(5));
  ASSERT_EQ(ok.calls, 1);
  ASSERT_TRUE(ok.result.ok());
  EXPECT_EQ(ok.result->applied_events, 7);
  EXPECT_EQ(ok.result->sequence, 11u);

  auto bad = InFlightTable::NewCall(failed.Done(), 2);
  uint64_t c = *table.Add(bad, 1, kT0), d = *table.Add(bad, 1, kT0);
  table.Fail(c, absl::UnavailableError("publish failed"));
  table.Acked(d, 12, false, kT0);
  table.Applied(12, d, Applied(1));
  ASSERT_EQ(failed.calls, 1);
  EXPECT_EQ(failed.result.status().code(), absl::StatusCode::kUnavailable);
}

// Catches: a duplicate publish answered before the original is applied
// here (the client would not read its write), or counted as applied.
TEST(InFlightTableTest, DuplicateWaitsForTheOriginalsApply) {
  InFlightTable table(Opts());
  table.SetApplied(4);
  Answer answer;
  uint64_t id = *table.Add(InFlightTable::NewCall(answer.Done(), 1), 6, kT0);
  table.Acked(id, 5, /*duplicate=*/true, kT0);
  EXPECT_EQ(answer.calls, 0);
  table.Applied(5, std::nullopt, Applied(6));  // Another replica's record.
  ASSERT_EQ(answer.calls, 1);
  ASSERT_TRUE(answer.result.ok());
  EXPECT_EQ(answer.result->applied_events, 0);
  EXPECT_EQ(answer.result->duplicate_events, 6);
  EXPECT_EQ(answer.result->sequence, 5u);

  // A duplicate of a record already applied is answered at its ack.
  Answer late;
  uint64_t again = *table.Add(InFlightTable::NewCall(late.Done(), 1), 6, kT0);
  table.Acked(again, 5, true, kT0);
  EXPECT_EQ(late.calls, 1);
}

// Catches: reads answered before their sequence, never answered, or
// waiting forever.
TEST(InFlightTableTest, ReadsWaitForTheirSequenceThenTimeOut) {
  InFlightTable table(Opts());
  table.SetApplied(3);
  ReadAnswer now, soon, never;
  table.WhenApplied(3, now.Done(), kT0);
  EXPECT_EQ(now.calls, 1);
  EXPECT_TRUE(now.status.ok());
  table.WhenApplied(5, soon.Done(), kT0);
  table.WhenApplied(9, never.Done(), kT0);
  table.Applied(4, std::nullopt, Applied(1));
  EXPECT_EQ(soon.calls, 0);
  table.Applied(5, std::nullopt, Applied(1));
  EXPECT_EQ(soon.calls, 1);
  EXPECT_TRUE(soon.status.ok());
  table.Expire(kT0 + absl::Seconds(2));  // Not yet read_wait_timeout.
  EXPECT_EQ(never.calls, 0);
  table.Expire(kT0 + absl::Seconds(3));
  ASSERT_EQ(never.calls, 1);
  EXPECT_EQ(never.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(never.status.message().find("not yet 9"), std::string::npos)
      << never.status;
}

// Catches: expiring writes that are not yet acknowledged (the publish
// timeout answers those) or expiring too early.
TEST(InFlightTableTest, ExpiresAcknowledgedButUnappliedWrites) {
  InFlightTable table(Opts());
  Answer acked, unacked;
  uint64_t a = *table.Add(InFlightTable::NewCall(acked.Done(), 1), 1, kT0);
  table.Add(InFlightTable::NewCall(unacked.Done(), 1), 1, kT0);
  table.Acked(a, 20, false, kT0);
  table.Expire(kT0 + absl::Seconds(2));
  EXPECT_EQ(acked.calls, 0);
  table.Expire(kT0 + absl::Seconds(2) + absl::Milliseconds(1));
  ASSERT_EQ(acked.calls, 1);
  EXPECT_EQ(acked.result.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_NE(acked.result.status().message().find("seq 20"), std::string::npos);
  EXPECT_EQ(unacked.calls, 0);
  EXPECT_EQ(table.writes(), 1u);
}

// Catches: the direct fetcher not told about a late write or read, or
// told at once (it would race the consumer for every record).
TEST(InFlightTableTest, FetchTargetIsTheHighestLateSequence) {
  InFlightTable table(Opts());
  Answer w1, w2;
  ReadAnswer r;
  uint64_t a = *table.Add(InFlightTable::NewCall(w1.Done(), 1), 1, kT0);
  uint64_t b = *table.Add(InFlightTable::NewCall(w2.Done(), 1), 1, kT0);
  table.Acked(a, 30, false, kT0);
  table.Acked(b, 31, false, kT0 + absl::Milliseconds(50));
  table.WhenApplied(25, r.Done(), kT0);
  EXPECT_EQ(table.FetchTarget(kT0 + absl::Milliseconds(99)), 0u);
  EXPECT_EQ(table.FetchTarget(kT0 + absl::Milliseconds(100)), 30u);
  EXPECT_EQ(table.FetchTarget(kT0 + absl::Milliseconds(150)), 31u);
  table.Applied(31, b, Applied(1));
  table.Applied(30, a, Applied(1));  // Out of order is tolerated.
  EXPECT_EQ(table.FetchTarget(kT0 + absl::Seconds(1)), 0u);
}

// Catches: a shutdown that leaves callers waiting, or accepts new ones.
TEST(InFlightTableTest, CloseAnswersEverythingAndRefusesMore) {
  InFlightTable table(Opts());
  Answer acked, unacked, later;
  ReadAnswer read, late_read;
  uint64_t a = *table.Add(InFlightTable::NewCall(acked.Done(), 1), 1, kT0);
  table.Add(InFlightTable::NewCall(unacked.Done(), 1), 1, kT0);
  table.Acked(a, 3, false, kT0);
  table.WhenApplied(3, read.Done(), kT0);
  EXPECT_FALSE(table.WaitDrained(absl::Milliseconds(1)));
  table.Close();
  EXPECT_TRUE(table.WaitDrained(absl::Milliseconds(1)));
  EXPECT_EQ(acked.result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(acked.result.status().message().find("stored in the stream"),
            std::string::npos);
  EXPECT_NE(unacked.result.status().message().find("retry with the same"),
            std::string::npos);
  EXPECT_EQ(read.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(
      table.Add(InFlightTable::NewCall(later.Done(), 1), 1, kT0).has_value());
  EXPECT_EQ(later.calls, 1);
  EXPECT_EQ(later.result.status().code(), absl::StatusCode::kUnavailable);
  table.WhenApplied(1, late_read.Done(), kT0);
  EXPECT_EQ(late_read.status.code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace banditd::cluster
