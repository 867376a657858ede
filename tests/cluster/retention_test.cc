// retention::Assess and Validate (server/cluster/retention.h): no NATS.

#include "server/cluster/retention.h"

#include "gtest/gtest.h"
#include "server/cluster/nats_committer.h"
#include "server/core/engine.h"

namespace banditd::cluster::retention {
namespace {

StreamState Bytes1000() {
  StreamState s;
  s.first_seq = 101;
  s.last_seq = 200;  // 100 records of 10 bytes
  s.msgs = 100;
  s.bytes = 1000;
  s.max_bytes = 1000;
  return s;
}

// Catches: pressure measured over the whole stream instead of the records
// after the snapshot, headroom off by one (S + 1 is the first record
// needed), the wrong limit named.
TEST(RetentionTest, PressureIsTheShareOfTheTightestLimitAfterTheSnapshot) {
  StreamState s = Bytes1000();
  s.published_seq = 150;  // 50 records after it: 500 of 1000 bytes.
  Assessment a = Assess(s);
  EXPECT_EQ(a.records_since, 50u);
  EXPECT_EQ(a.headroom, 50);  // seqs 101..150 may go.
  EXPECT_DOUBLE_EQ(a.pressure, 0.5);
  EXPECT_EQ(a.limit, "max_bytes");

  s.max_msgs = 80;  // 50 / 80 = 0.625: tighter than the bytes.
  a = Assess(s);
  EXPECT_DOUBLE_EQ(a.pressure, 0.625);
  EXPECT_EQ(a.limit, "max_msgs");

  s.max_age = absl::Hours(1);
  s.first_needed_age = absl::Minutes(45);  // 0.75: tighter still.
  a = Assess(s);
  EXPECT_DOUBLE_EQ(a.pressure, 0.75);
  EXPECT_EQ(a.limit, "max_age");
}

// Catches: a stream trimmed exactly up to S + 1 reported as passed, and
// one trimmed past it not reported (headroom negative, pressure 1).
TEST(RetentionTest, HeadroomTurnsNegativeOnlyWhenANeededRecordIsGone) {
  StreamState s = Bytes1000();
  s.published_seq = 100;  // the head is S + 1: nothing needed is gone.
  Assessment a = Assess(s);
  EXPECT_EQ(a.headroom, 0);
  EXPECT_DOUBLE_EQ(a.pressure, 1.0);  // all 100 records are needed.

  s.published_seq = 90;  // 91..100 are gone.
  s.max_bytes = 1 << 20;
  a = Assess(s);
  EXPECT_EQ(a.headroom, -10);
  EXPECT_DOUBLE_EQ(a.pressure, 1.0);
  EXPECT_EQ(a.records_since, 110u);
}

// Catches: no snapshot published treated as no pressure (a new replica
// then needs the whole stream from seq 1), and limits of 0 (none) divided
// by.
TEST(RetentionTest, NoSnapshotNeedsTheWholeStreamAndNoLimitsMeanNoPressure) {
  StreamState s;
  s.first_seq = 1;
  s.last_seq = 40;
  s.msgs = 40;
  s.bytes = 400;
  s.max_bytes = 1000;
  Assessment a = Assess(s);
  EXPECT_EQ(a.records_since, 40u);
  EXPECT_EQ(a.headroom, 0);
  EXPECT_DOUBLE_EQ(a.pressure, 0.4);

  s.max_bytes = 0;
  a = Assess(s);
  EXPECT_DOUBLE_EQ(a.pressure, 0);
  EXPECT_EQ(a.limit, "");

  StreamState empty;  // a new stream: first 0, last 0.
  a = Assess(empty);
  EXPECT_EQ(a.headroom, 0);
  EXPECT_EQ(a.records_since, 0u);
}

TEST(RetentionTest, ValidateNamesTheFlag) {
  EXPECT_TRUE(Validate(Thresholds()).ok());
  Thresholds t;
  t.publish_at = 1.0;
  absl::Status s = Validate(t);
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_NE(s.message().find("--cluster_snapshot_publish_at"),
            std::string::npos);
  t = Thresholds();
  t.warn_at = 0.4;  // below publish_at 0.5
  s = Validate(t);
  EXPECT_NE(s.message().find("--cluster_retention_warn_at"), std::string::npos)
      << s;
  t = Thresholds();
  t.check_every = absl::ZeroDuration();
  s = Validate(t);
  EXPECT_NE(s.message().find("--cluster_retention_check_every"),
            std::string::npos)
      << s;
}

// Catches: a threshold flag accepted at startup that the watch or the
// collector cannot honour (checked before connecting: no NATS here).
TEST(RetentionTest, CommitterRefusesBadThresholdsAtStart) {
  auto open = [](NatsCommitter::Options o) {
    o.nats_urls = "nats://127.0.0.1:1";
    o.data_dir = ::testing::TempDir() + "/retention_test";
    o.log = false;
    core::Engine engine;
    return NatsCommitter::Open(o, &engine).status();
  };
  NatsCommitter::Options o;
  o.retention.warn_at = 1.5;
  absl::Status s = open(o);
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_NE(s.message().find("--cluster_retention_warn_at"), std::string::npos)
      << s;
  o = NatsCommitter::Options();
  o.snapshot_gc_grace = absl::Seconds(7);  // < 4 x the 2 s publish timeout
  s = open(o);
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_NE(s.message().find("--cluster_snapshot_gc_grace"), std::string::npos)
      << s;
  o = NatsCommitter::Options();
  o.snapshot_publish_every = absl::Seconds(-1);
  s = open(o);
  EXPECT_NE(s.message().find("--cluster_snapshot_publish_every"),
            std::string::npos)
      << s;
  // Valid thresholds get as far as connecting (nothing listens on port 1).
  s = open(NatsCommitter::Options());
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
}

}  // namespace
}  // namespace banditd::cluster::retention
