#include "server/store/decision_log.h"

#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "banditd/internal/v1/log.pb.h"
#include "gtest/gtest.h"
#include "server/store/decision_body.h"

namespace banditd::store {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);

class DecisionLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           absl::StrCat(
               "decision_log_test_", ::getpid(), "_",
               ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  DecisionLog::Options OptionsHere() const {
    DecisionLog::Options options;
    options.path = (dir_ / "decisions.sqlite").string();
    return options;
  }

  static std::unique_ptr<DecisionLog> Open(
      const DecisionLog::Options& options) {
    absl::StatusOr<std::unique_ptr<DecisionLog>> log =
        DecisionLog::Open(options);
    EXPECT_TRUE(log.ok()) << log.status();
    return log.ok() ? *std::move(log) : nullptr;
  }

  std::unique_ptr<DecisionLog> Open(absl::Duration max_age, int64_t max_rows) {
    DecisionLog::Options options = OptionsHere();
    options.max_age = max_age;
    options.max_rows = max_rows;
    return Open(options);
  }

  // A Sample's decision that lists `candidates` candidate arms.
  static DecisionRecord WithCandidates(int i, absl::Time at, int candidates) {
    DecisionRecord d = Decision(i, at);
    for (int c = 0; c < candidates; ++c) {
      d.candidate_arm_ids.push_back(absl::StrCat("candidate-", c));
    }
    return d;
  }

  static DecisionRecord Decision(int i, absl::Time at,
                                 const std::string& room = "shop") {
    DecisionRecord d;
    d.decision_id = absl::StrCat("d", i);
    d.time_micros = absl::ToUnixMicros(at);
    d.room_id = room;
    d.eligible_arms = 2;
    d.arm_ids = {"red"};
    d.propensities = {0.5};
    return d;
  }

  static std::vector<std::string> Ids(DecisionLog& log) {
    absl::StatusOr<std::vector<JoinedDecision>> rows = log.Read("", 0, 1000);
    EXPECT_TRUE(rows.ok()) << rows.status();
    std::vector<std::string> ids;
    if (rows.ok()) {
      for (const JoinedDecision& row : *rows) {
        ids.push_back(row.decision.decision_id);
      }
    }
    return ids;
  }

  // Rows of the outcomes table, read with SQLite directly.
  int64_t OutcomeRows() {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open((dir_ / "decisions.sqlite").c_str(), &db),
              SQLITE_OK);
    sqlite3_stmt* count = nullptr;
    sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM outcomes", -1, &count,
                       nullptr);
    const int64_t rows =
        sqlite3_step(count) == SQLITE_ROW ? sqlite3_column_int64(count, 0) : -1;
    sqlite3_finalize(count);
    sqlite3_close(db);
    return rows;
  }

  std::filesystem::path dir_;
};

TEST_F(DecisionLogTest, JoinsOutcomesPerReturnedArm) {
  auto log = Open(absl::Hours(1), 100);
  ASSERT_NE(log, nullptr);
  log->AddDecision(Decision(1, kT0));
  log->AddDecision(Decision(2, kT0, "other"));
  log->AddOutcomes({{"d1", "red", 1, 1, 2.5, 0},
                    {"d1", "red", 1, 0, 0, 0},
                    {"unknown", "red", 1, 1, 1, 0}});
  ASSERT_TRUE(log->Flush().ok());
  absl::StatusOr<std::vector<JoinedDecision>> shop = log->Read("shop", 0, 10);
  ASSERT_TRUE(shop.ok()) << shop.status();
  ASSERT_EQ(shop->size(), 1u);
  const JoinedDecision& d = (*shop)[0];
  EXPECT_EQ(d.decision.decision_id, "d1");
  EXPECT_EQ(d.decision.propensities, std::vector<double>{0.5});
  EXPECT_EQ(d.views, std::vector<double>{2});
  EXPECT_EQ(d.clicks, std::vector<double>{1});
  EXPECT_EQ(d.rewards, std::vector<double>{2.5});
  // Paging: after the first row's sequence comes the second.
  absl::StatusOr<std::vector<JoinedDecision>> rest =
      log->Read("", d.sequence, 10);
  ASSERT_TRUE(rest.ok());
  ASSERT_EQ(rest->size(), 1u);
  EXPECT_EQ((*rest)[0].decision.decision_id, "d2");
}

TEST_F(DecisionLogTest, RetentionByAgeDeletesOnlyExpiredRowsAndTheirOutcomes) {
  auto log = Open(absl::Hours(1), 1000);
  ASSERT_NE(log, nullptr);
  for (int i = 0; i < 10; ++i) {
    log->AddDecision(Decision(i, kT0 + absl::Minutes(10 * i)));
  }
  // Each outcome reported a minute after its decision (Feedback's time).
  log->AddOutcomes(
      {{"d2", "red", 1, 1, 1, absl::ToUnixMicros(kT0 + absl::Minutes(21))},
       {"d8", "red", 1, 1, 1, absl::ToUnixMicros(kT0 + absl::Minutes(81))}});
  ASSERT_TRUE(log->Flush().ok());
  // At T0 + 85 min, rows before T0 + 25 min are older than an hour: d0-d2.
  ASSERT_TRUE(log->Retain(kT0 + absl::Minutes(85)).ok());
  EXPECT_EQ(Ids(*log), (std::vector<std::string>{"d3", "d4", "d5", "d6", "d7",
                                                 "d8", "d9"}));
  absl::StatusOr<std::vector<JoinedDecision>> rows = log->Read("", 0, 100);
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->at(5).clicks, std::vector<double>{1});  // d8 kept its own
  EXPECT_EQ(OutcomeRows(), 1);                            // d2's went
  // Everything expired: the table empties (no row young enough).
  ASSERT_TRUE(log->Retain(kT0 + absl::Hours(10)).ok());
  EXPECT_TRUE(Ids(*log).empty());
  // Nothing expired: nothing deleted.
  log->AddDecision(Decision(20, kT0 + absl::Hours(10)));
  ASSERT_TRUE(log->Flush().ok());
  ASSERT_TRUE(log->Retain(kT0 + absl::Hours(10)).ok());
  EXPECT_EQ(Ids(*log), std::vector<std::string>{"d20"});
}

TEST_F(DecisionLogTest, QueueIsBoundedInBytes) {
  DecisionLog::Options options = OptionsHere();
  options.flush_interval = absl::Hours(1);  // only Flush writes
  options.max_queued_bytes = 64 << 10;
  std::unique_ptr<DecisionLog> log = Open(options);
  ASSERT_NE(log, nullptr);
  // A Sample listing 10,000 candidates: about 300 KB queued, over the bound.
  log->AddDecision(WithCandidates(1, kT0, 10000));
  log->AddDecision(Decision(2, kT0));
  EXPECT_EQ(log->stats().dropped, 1);
  ASSERT_TRUE(log->Flush().ok());
  EXPECT_EQ(Ids(*log), std::vector<std::string>{"d2"});
  // Flushing empties the queue's byte count: small records fit again.
  log->AddDecision(Decision(3, kT0));
  ASSERT_TRUE(log->Flush().ok());
  EXPECT_EQ(log->stats().dropped, 1);
}

TEST_F(DecisionLogTest, RetentionByRowsKeepsTheNewest) {
  auto log = Open(absl::Hours(24), 3);
  ASSERT_NE(log, nullptr);
  for (int i = 0; i < 5; ++i) log->AddDecision(Decision(i, kT0));
  ASSERT_TRUE(log->Flush().ok());
  ASSERT_TRUE(log->Retain(kT0).ok());
  EXPECT_EQ(Ids(*log), (std::vector<std::string>{"d2", "d3", "d4"}));
}

TEST_F(DecisionLogTest, RetentionByBytesKeepsTheFileWithinItsBoundNewestFirst) {
  DecisionLog::Options options = OptionsHere();
  options.flush_interval = absl::Hours(1);  // only Flush writes
  options.max_bytes = 2 << 20;
  std::unique_ptr<DecisionLog> log = Open(options);
  ASSERT_NE(log, nullptr);
  // 200 decisions of a big room, each listing 1,000 candidates (~16 KB):
  // about 3 MB of rows, written 20 at a time.
  for (int i = 0; i < 200; ++i) {
    log->AddDecision(WithCandidates(i, kT0, 1000));
    if (i % 20 == 19) {
      ASSERT_TRUE(log->Flush().ok());
    }
  }
  const std::vector<std::string> kept = Ids(*log);
  ASSERT_FALSE(kept.empty());
  EXPECT_LT(kept.size(), 200u);
  EXPECT_EQ(kept.back(), "d199");  // the newest stay, in order
  EXPECT_EQ(kept.front(),
            absl::StrCat("d", 200 - static_cast<int>(kept.size())));
  EXPECT_EQ(log->stats().deleted_for_bytes,
            200 - static_cast<int64_t>(kept.size()));
  // Pages in use stay within the bound: deleted pages are reused.
  const int64_t file_bytes = static_cast<int64_t>(
      std::filesystem::file_size(dir_ / "decisions.sqlite"));
  EXPECT_LE(file_bytes, options.max_bytes + (1 << 20));
}

TEST_F(DecisionLogTest, BodyWriterWritesWhatProtobufWrites) {
  DecisionBodyWriter w;
  w.Segment("mobile")
      .ContextItems({"i1", ""})
      .Features(std::vector<double>{0.5, -2})
      .CandidateArmIds({"red", "blue", "green"})
      .ExcludedArmIds({"green"})
      .EligibleArms(2)
      .K(2)
      .Policy(7);
  w.ArmId("blue").ArmId("red");
  const double p[] = {1.0, 0.25};
  w.Propensities(2, [&p](size_t i) { return p[i]; }).PropensityDraws(1000);
  const std::string body = std::move(w).Finish();

  internal::v1::DecisionEntry e;
  e.set_segment("mobile");
  e.add_context_items("i1");
  e.add_context_items("");
  e.add_features(0.5);
  e.add_features(-2);
  for (const char* id : {"red", "blue", "green"}) e.add_candidate_arm_ids(id);
  e.add_excluded_arm_ids("green");
  e.set_eligible_arms(2);
  e.set_k(2);
  e.set_policy(static_cast<internal::v1::PolicyKind>(7));
  e.add_arm_ids("blue");
  e.add_arm_ids("red");
  e.add_propensities(1.0);
  e.add_propensities(0.25);
  e.set_propensity_draws(1000);
  EXPECT_EQ(body, e.SerializeAsString());
  // Defaults are omitted, and an empty arm id is still an element.
  DecisionBodyWriter empty;
  empty.Segment("").EligibleArms(0).ArmId("");
  internal::v1::DecisionEntry one_arm;
  one_arm.add_arm_ids("");
  EXPECT_EQ(std::move(empty).Finish(), one_arm.SerializeAsString());
}

TEST_F(DecisionLogTest, OpensAVersionOneFileKeepingRowsOutcomesAndSequence) {
  const std::string path = (dir_ / "decisions.sqlite").string();
  {  // The schema written before version 2, with two decisions (the
     // second deleted, so that the sequence counter is past every row)
     // and an outcome.
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    DecisionBodyWriter w;
    w.Segment("mobile").EligibleArms(2).ArmId("red");
    w.Propensities(1, [](size_t) { return 0.5; });
    const std::string body = std::move(w).Finish();
    const std::string sql = absl::StrCat(
        "CREATE TABLE decisions (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
        "decision_id TEXT NOT NULL UNIQUE, time_us INTEGER NOT NULL, room_id "
        "TEXT NOT NULL, body BLOB NOT NULL);"
        "CREATE INDEX decisions_room ON decisions (room_id, seq);"
        "CREATE TABLE outcomes (decision_seq INTEGER NOT NULL, arm_id TEXT "
        "NOT NULL, views INTEGER NOT NULL, clicks INTEGER NOT NULL, reward "
        "REAL NOT NULL, time_us INTEGER NOT NULL);"
        "CREATE INDEX outcomes_decision ON outcomes (decision_seq);"
        "INSERT INTO decisions VALUES (7, 'd7', 5, 'shop', x'",
        absl::BytesToHexString(body),
        "');"
        "INSERT INTO decisions VALUES (8, 'd8', 6, 'shop', x'00');"
        "DELETE FROM decisions WHERE seq = 8;"
        "INSERT INTO outcomes VALUES (7, 'red', 3, 2, 1.5, 9);");
    ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr),
              SQLITE_OK)
        << sqlite3_errmsg(db);
    sqlite3_close(db);
  }
  auto log = Open(absl::Hours(24 * 365 * 100), 1000);
  ASSERT_NE(log, nullptr);
  absl::StatusOr<std::vector<JoinedDecision>> rows = log->Read("shop", 0, 10);
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].sequence, 7);
  EXPECT_EQ((*rows)[0].decision.segment, "mobile");
  EXPECT_EQ((*rows)[0].decision.arm_ids, std::vector<std::string>{"red"});
  EXPECT_EQ((*rows)[0].views, std::vector<double>{3});
  EXPECT_EQ((*rows)[0].rewards, std::vector<double>{1.5});
  // New rows continue after the highest sequence ever given (8).
  log->AddDecision(Decision(9, kT0));
  ASSERT_TRUE(log->Flush().ok());
  rows = log->Read("", 7, 10);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].sequence, 9);
  // Opening again finds version 2: nothing to migrate, rows kept.
  log.reset();
  log = Open(absl::Hours(24 * 365 * 100), 1000);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(Ids(*log), (std::vector<std::string>{"d7", "d9"}));
}

}  // namespace
}  // namespace banditd::store
