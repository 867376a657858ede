#include "server/cluster/in_flight_table.h"

#include <memory>
#include <optional>
#include <string>
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
// it: no read-your-writes), or not answering it on its apply when no ack
// comes (the consumer delivers only records stored on a quorum: a stream
// leader that failed after storing it never acknowledges).
TEST(InFlightTableTest, WriteAnsweredOnItsApplyAckedOrNot) {
  for (bool ack_first : {true, false}) {
    InFlightTable table(Opts());
    Answer answer;
    auto call = InFlightTable::NewCall(answer.Done(), 1);
    std::optional<uint64_t> id = table.Add(call, 3, kT0);
    ASSERT_TRUE(id.has_value());
    if (ack_first) {
      ASSERT_TRUE(table.Acked(*id, 7, false, kT0).has_value());
      EXPECT_EQ(answer.calls, 0);
    }
    table.Applied(7, id, Applied(3));
    ASSERT_EQ(answer.calls, 1);
    ASSERT_TRUE(answer.result.ok()) << answer.result.status();
    EXPECT_EQ(answer.result->applied_events, 3);
    EXPECT_EQ(answer.result->sequence, 7u);
    EXPECT_EQ(table.writes(), 0u);
    // A late ack or timeout of some copy changes nothing.
    EXPECT_FALSE(table.Acked(*id, 7, false, kT0).has_value());
    table.CopyFailed(*id, absl::UnavailableError("timeout"));
    EXPECT_EQ(answer.calls, 1);
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

// Catches: timing the apply wait from the first publish rather than from
// the ack (a re-sent record acknowledged late would then fail at once), and
// an unacknowledged write that waits forever when no timeout callback comes.
TEST(InFlightTableTest, ApplyTimeoutRunsFromTheAckAndUnackedWritesExpire) {
  InFlightTable table(Opts());
  Answer late, never;
  uint64_t a = *table.Add(InFlightTable::NewCall(late.Done(), 1), 1, kT0);
  table.Add(InFlightTable::NewCall(never.Done(), 1), 1, kT0);
  table.Acked(a, 5, false, kT0 + absl::Milliseconds(1500));
  table.Expire(kT0 + absl::Milliseconds(2900));
  EXPECT_EQ(late.calls, 0);
  EXPECT_EQ(never.calls, 0);  // Publish timeout 2 s, then a 1 s grace.
  table.Expire(kT0 + absl::Milliseconds(3501));
  ASSERT_EQ(late.calls, 1);
  EXPECT_EQ(late.result.status().code(), absl::StatusCode::kDeadlineExceeded);
  ASSERT_EQ(never.calls, 1);
  EXPECT_EQ(never.result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(never.result.status().message().find("--cluster_publish_timeout"),
            std::string::npos)
      << never.result.status();
  EXPECT_EQ(table.writes(), 0u);
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

// Re-sends (TakeResends): interval 250 ms, publish timeout 2 s.
InFlightTable::Options ResendOpts() {
  InFlightTable::Options o = Opts();
  o.publish_timeout = absl::Seconds(2);
  o.republish_interval = absl::Milliseconds(250);
  return o;
}

std::shared_ptr<const InFlightTable::Record> Rec(const std::string& msg_id) {
  return std::make_shared<const InFlightTable::Record>(
      InFlightTable::Record{"banditd.events.r", "data", msg_id});
}

std::vector<uint64_t> Ids(const std::vector<InFlightTable::Resend>& resends) {
  std::vector<uint64_t> ids;
  for (const auto& r : resends) ids.push_back(r.id);
  return ids;
}

absl::Time Ms(int ms) { return kT0 + absl::Milliseconds(ms); }

// Catches: re-sending before the interval, twice within one interval, past
// the publish timeout, with a wait beyond it, or records never re-sendable
// (no record kept, or republish off).
TEST(InFlightTableTest, StalledRecordIsResentEveryIntervalUntilTheTimeout) {
  InFlightTable table(ResendOpts());
  Answer answer, plain;
  uint64_t a =
      *table.Add(InFlightTable::NewCall(answer.Done(), 1), 1, kT0, Rec("m1"));
  table.Add(InFlightTable::NewCall(plain.Done(), 1), 1, kT0);  // No record.
  EXPECT_TRUE(table.TakeResends(Ms(249), 100).empty());
  std::vector<InFlightTable::Resend> first = table.TakeResends(Ms(250), 100);
  ASSERT_EQ(Ids(first), std::vector<uint64_t>{a});
  EXPECT_EQ(first[0].record->msg_id, "m1");
  EXPECT_EQ(first[0].max_wait, absl::Milliseconds(1750));
  EXPECT_TRUE(table.TakeResends(Ms(499), 100).empty());
  int copies = 2;  // The first publish and the re-send at 250 ms.
  for (int ms = 500; ms <= 2500; ms += 250) {
    copies += static_cast<int>(table.TakeResends(Ms(ms), 100).size());
  }
  // Sent at 0, 250, ..., 1750; not at 2000 (under half an interval left).
  EXPECT_EQ(copies, 8);
  EXPECT_EQ(table.resent(), 7);

  InFlightTable off(Opts());  // republish_interval 0.
  Answer unused;
  off.Add(InFlightTable::NewCall(unused.Done(), 1), 1, kT0, Rec("m2"));
  EXPECT_TRUE(off.TakeResends(Ms(1000), 100).empty());
}

// Catches: re-sending records that are merely slow behind others still
// being acknowledged (extra load on a busy healthy cluster), or not
// re-sending one that a later record overtook (lost), or ignoring `max`.
TEST(InFlightTableTest, ResendsOnlyRecordsStalledOrOvertaken) {
  InFlightTable table(ResendOpts());
  Answer w, x, y, z;
  uint64_t earlier =
      *table.Add(InFlightTable::NewCall(w.Done(), 1), 1, Ms(-50), Rec("w"));
  uint64_t slow =
      *table.Add(InFlightTable::NewCall(x.Done(), 1), 1, kT0, Rec("x"));
  uint64_t later =
      *table.Add(InFlightTable::NewCall(y.Done(), 1), 1, Ms(100), Rec("y"));
  // Acks of older records keep arriving: the stream is busy, not stalled.
  table.Acked(earlier, 1, false, Ms(300));
  EXPECT_TRUE(table.TakeResends(Ms(400), 100).empty());
  // A record published after `slow` is acknowledged first: `slow` was lost.
  table.Acked(later, 2, false, Ms(420));
  EXPECT_EQ(Ids(table.TakeResends(Ms(450), 100)), std::vector<uint64_t>{slow});
  // Two stalled records, room for one re-send.
  uint64_t c =
      *table.Add(InFlightTable::NewCall(z.Done(), 1), 1, Ms(500), Rec("z"));
  EXPECT_EQ(Ids(table.TakeResends(Ms(750), 1)).size(), 1u);
  EXPECT_EQ(Ids(table.TakeResends(Ms(751), 1)).size(), 1u);
  EXPECT_TRUE(table.TakeResends(Ms(752), 1).empty());
  // Acknowledged: never re-sent again.
  table.Acked(slow, 3, false, Ms(800));
  table.Acked(c, 4, false, Ms(800));
  EXPECT_TRUE(table.TakeResends(Ms(1900), 100).empty());
}

// Catches: a call failed by one copy's error or timeout while another copy
// is pending or was already stored, and an error that hides the re-sends.
TEST(InFlightTableTest, CallFailsOnlyWhenItsLastCopyFails) {
  InFlightTable table(ResendOpts());
  Answer failed, stored;
  uint64_t a =
      *table.Add(InFlightTable::NewCall(failed.Done(), 1), 1, kT0, Rec("a"));
  uint64_t b =
      *table.Add(InFlightTable::NewCall(stored.Done(), 1), 1, kT0, Rec("b"));
  ASSERT_EQ(table.TakeResends(Ms(250), 100).size(), 2u);
  table.CopyFailed(a, absl::UnavailableError("no responders"));
  EXPECT_EQ(failed.calls, 0);
  table.CopyFailed(a, absl::UnavailableError("timeout"));
  ASSERT_EQ(failed.calls, 1);
  EXPECT_EQ(failed.result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(failed.result.status().message().find("published 2 times"),
            std::string::npos)
      << failed.result.status();
  // b's re-sent copy is stored; the first copy then times out.
  table.Acked(b, 9, false, Ms(300));
  table.CopyFailed(b, absl::UnavailableError("timeout"));
  EXPECT_EQ(stored.calls, 0);
  table.Applied(9, b, Applied(1));
  ASSERT_EQ(stored.calls, 1);
  ASSERT_TRUE(stored.result.ok()) << stored.result.status();
  EXPECT_EQ(stored.result->applied_events, 1);
}

// Catches: reporting a call's own events as duplicates when its first copy
// was stored and a re-sent copy's ack says "duplicate" of it; reporting a
// client retry's events (another call's record) as applied; and re-sending
// a record this replica already applied as its own.
TEST(InFlightTableTest, DuplicateAckOfOwnResentRecordCountsItsEvents) {
  InFlightTable table(ResendOpts());
  Answer own, retry, applied;
  uint64_t a =
      *table.Add(InFlightTable::NewCall(own.Done(), 1), 3, kT0, Rec("a"));
  ASSERT_EQ(table.TakeResends(Ms(250), 100).size(), 1u);
  EXPECT_TRUE(table.Acked(a, 7, /*duplicate=*/true, Ms(260)).has_value());
  EXPECT_EQ(own.calls, 0);
  table.Applied(7, a, Applied(3));
  ASSERT_EQ(own.calls, 1);
  ASSERT_TRUE(own.result.ok()) << own.result.status();
  EXPECT_EQ(own.result->applied_events, 3);
  EXPECT_EQ(own.result->duplicate_events, 0);
  EXPECT_EQ(own.result->sequence, 7u);
  // Another call's record at 8 (a client retry): these are duplicates.
  uint64_t r =
      *table.Add(InFlightTable::NewCall(retry.Done(), 1), 2, Ms(300), Rec("r"));
  table.Acked(r, 8, /*duplicate=*/true, Ms(310));
  table.Applied(8, std::nullopt, Applied(2));
  ASSERT_EQ(retry.calls, 1);
  EXPECT_EQ(retry.result->duplicate_events, 2);
  EXPECT_EQ(retry.result->applied_events, 0);
  // Applied as its own before any ack: answered, never re-sent.
  uint64_t l = *table.Add(InFlightTable::NewCall(applied.Done(), 1), 1, Ms(400),
                          Rec("l"));
  table.Applied(9, l, Applied(1));
  ASSERT_EQ(applied.calls, 1);
  EXPECT_TRUE(table.TakeResends(Ms(1000), 100).empty());
}

// Catches: waiting out the interval for copies sent through a connection
// that failed (up to an interval of extra gap), re-sending records sent
// after the new connection, or re-sending the same record twice at once.
TEST(InFlightTableTest, ConnectionReplacedResendsEarlierCopiesAtOnce) {
  InFlightTable table(ResendOpts());
  Answer a, b, c;
  uint64_t x =
      *table.Add(InFlightTable::NewCall(a.Done(), 1), 1, kT0, Rec("x"));
  uint64_t y =
      *table.Add(InFlightTable::NewCall(b.Done(), 1), 1, Ms(100), Rec("y"));
  table.ConnectionReplaced(Ms(150));
  table.Add(InFlightTable::NewCall(c.Done(), 1), 1, Ms(155), Rec("z"));
  EXPECT_EQ(Ids(table.TakeResends(Ms(160), 100)),
            (std::vector<uint64_t>{x, y}));
  EXPECT_TRUE(table.TakeResends(Ms(170), 100).empty());
  // A later replacement stamped ahead of this thread's clock.
  table.ConnectionReplaced(Ms(300));
  EXPECT_EQ(table.TakeResends(Ms(200), 100).size(), 3u);
  EXPECT_TRUE(table.TakeResends(Ms(210), 100).empty());
}

// Catches: a record whose re-sent copy failed ("no responders" while the
// stream elects a leader) left waiting for its first copy, pending in the
// failed connection, because the acks of the records re-sent with it make
// it look merely slow: the call then fails by the publish timeout.
TEST(InFlightTableTest, RecordWhoseCopyFailedIsResentAfterAnInterval) {
  InFlightTable table(ResendOpts());
  Answer a, b;
  uint64_t x =
      *table.Add(InFlightTable::NewCall(a.Done(), 1), 1, kT0, Rec("x"));
  uint64_t y =
      *table.Add(InFlightTable::NewCall(b.Done(), 1), 1, Ms(10), Rec("y"));
  table.ConnectionReplaced(Ms(1000));
  ASSERT_EQ(Ids(table.TakeResends(Ms(1000), 100)),
            (std::vector<uint64_t>{x, y}));
  // x's copy finds no stream leader yet; y's is stored.
  table.CopyFailed(x, absl::UnavailableError("no responders"));
  EXPECT_EQ(a.calls, 0);  // Its first copy is still pending.
  table.Acked(y, 5, false, Ms(1010));
  EXPECT_TRUE(table.TakeResends(Ms(1200), 100).empty());  // An interval on.
  EXPECT_EQ(Ids(table.TakeResends(Ms(1250), 100)), std::vector<uint64_t>{x});
  EXPECT_TRUE(table.TakeResends(Ms(1300), 100).empty());
  // That copy is stored: no more copies, and the first copy's timeout no
  // longer fails the call.
  table.Acked(x, 6, false, Ms(1310));
  EXPECT_TRUE(table.TakeResends(Ms(1900), 100).empty());
  table.CopyFailed(x, absl::DeadlineExceededError("timeout"));
  EXPECT_EQ(a.calls, 0);
  EXPECT_EQ(table.resent(), 3);
}

// Catches: a record sent while the stream had no leader (dropped) waiting
// for ever, and so failing by the publish timeout, because acks of
// earlier records came after its send (it looked merely slow) and the
// later records that overtook it were applied before their acks came.
TEST(InFlightTableTest, RecordOvertakenOrStalledBehindLateAcksIsResent) {
  InFlightTable table(ResendOpts());
  Answer e, a, b, l;
  uint64_t earlier =
      *table.Add(InFlightTable::NewCall(e.Done(), 1), 1, Ms(-50), Rec("e"));
  uint64_t x =
      *table.Add(InFlightTable::NewCall(a.Done(), 1), 1, kT0, Rec("x"));
  // The earlier record's ack comes after x's send: x is merely slow...
  table.Acked(earlier, 1, false, Ms(10));
  uint64_t y =
      *table.Add(InFlightTable::NewCall(b.Done(), 1), 1, Ms(200), Rec("y"));
  EXPECT_TRUE(table.TakeResends(Ms(255), 100).empty());
  // ...until no ack came for an interval.
  EXPECT_EQ(Ids(table.TakeResends(Ms(260), 100)), std::vector<uint64_t>{x});
  // Sent again at 260. y (sent before) is acked, keeping the stream busy;
  // a record published after 260 is applied before its ack: x was
  // overtaken.
  uint64_t later =
      *table.Add(InFlightTable::NewCall(l.Done(), 1), 1, Ms(320), Rec("l"));
  table.Applied(2, later, Applied(1));
  table.Acked(y, 3, false, Ms(500));
  EXPECT_EQ(table.Acked(later, 2, false, Ms(505)), std::nullopt);
  EXPECT_EQ(Ids(table.TakeResends(Ms(520), 100)), std::vector<uint64_t>{x});
  EXPECT_EQ(a.calls, 0);
}

// Catches: RecordApplied running the answers itself (the apply loop calls
// it under its apply lock: an answer that needs that lock would deadlock,
// and every answer would lengthen the lock), or losing them.
TEST(InFlightTableTest, RecordAppliedDefersTheAnswersToTheCaller) {
  InFlightTable table(Opts());
  Answer own, dup;
  ReadAnswer read;
  uint64_t a = *table.Add(InFlightTable::NewCall(own.Done(), 1), 3, kT0);
  uint64_t d = *table.Add(InFlightTable::NewCall(dup.Done(), 1), 2, kT0);
  table.Acked(d, 7, /*duplicate=*/true, kT0);
  table.WhenApplied(7, read.Done(), kT0);
  InFlightTable::Outcomes answers = table.RecordApplied(7, a, Applied(3));
  EXPECT_EQ(own.calls + dup.calls + read.calls, 0);
  EXPECT_EQ(table.writes(), 0u);  // Recorded: nothing waits any more.
  EXPECT_EQ(table.reads(), 0u);
  std::move(answers).Run();
  ASSERT_EQ(own.calls, 1);
  EXPECT_EQ(own.result->applied_events, 3);
  EXPECT_EQ(own.result->sequence, 7u);
  ASSERT_EQ(dup.calls, 1);
  EXPECT_EQ(dup.result->duplicate_events, 2);
  EXPECT_EQ(read.calls, 1);
  EXPECT_TRUE(read.status.ok());
}

}  // namespace
}  // namespace banditd::cluster
