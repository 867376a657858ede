#include "server/store/decision_log.h"

#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

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

  std::unique_ptr<DecisionLog> Open(absl::Duration max_age, int64_t max_rows) {
    DecisionLog::Options options;
    options.path = (dir_ / "decisions.sqlite").string();
    options.max_age = max_age;
    options.max_rows = max_rows;
    absl::StatusOr<std::unique_ptr<DecisionLog>> log =
        DecisionLog::Open(options);
    EXPECT_TRUE(log.ok()) << log.status();
    return log.ok() ? *std::move(log) : nullptr;
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
  log->AddOutcomes({{"d2", "red", 1, 1, 1, 0}, {"d8", "red", 1, 1, 1, 0}});
  ASSERT_TRUE(log->Flush().ok());
  // At T0 + 85 min, rows before T0 + 25 min are older than an hour: d0-d2.
  ASSERT_TRUE(log->Retain(kT0 + absl::Minutes(85)).ok());
  EXPECT_EQ(Ids(*log), (std::vector<std::string>{"d3", "d4", "d5", "d6", "d7",
                                                 "d8", "d9"}));
  absl::StatusOr<std::vector<JoinedDecision>> rows = log->Read("", 0, 100);
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->at(5).clicks, std::vector<double>{1});  // d8 kept its own
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
  DecisionLog::Options options;
  options.path = (dir_ / "decisions.sqlite").string();
  options.flush_interval = absl::Hours(1);  // only Flush writes
  options.max_queued_bytes = 64 << 10;
  absl::StatusOr<std::unique_ptr<DecisionLog>> log = DecisionLog::Open(options);
  ASSERT_TRUE(log.ok()) << log.status();
  // A Sample listing 10,000 candidates: about 300 KB queued, over the bound.
  DecisionRecord big = Decision(1, kT0);
  for (int i = 0; i < 10000; ++i) {
    big.candidate_arm_ids.push_back(absl::StrCat("candidate-", i));
  }
  (*log)->AddDecision(std::move(big));
  (*log)->AddDecision(Decision(2, kT0));
  EXPECT_EQ((*log)->stats().dropped, 1);
  ASSERT_TRUE((*log)->Flush().ok());
  EXPECT_EQ(Ids(**log), std::vector<std::string>{"d2"});
  // Flushing empties the queue's byte count: small records fit again.
  (*log)->AddDecision(Decision(3, kT0));
  ASSERT_TRUE((*log)->Flush().ok());
  EXPECT_EQ((*log)->stats().dropped, 1);
}

TEST_F(DecisionLogTest, RetentionByRowsKeepsTheNewest) {
  auto log = Open(absl::Hours(24), 3);
  ASSERT_NE(log, nullptr);
  for (int i = 0; i < 5; ++i) log->AddDecision(Decision(i, kT0));
  ASSERT_TRUE(log->Flush().ok());
  ASSERT_TRUE(log->Retain(kT0).ok());
  EXPECT_EQ(Ids(*log), (std::vector<std::string>{"d2", "d3", "d4"}));
}

}  // namespace
}  // namespace banditd::store
