#include "server/core/arm_ids.h"

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace banditd::core {
namespace {

// Checks every id's position both ways against a plain vector.
void ExpectSame(const ArmIds& ids, const std::vector<std::string>& want) {
  ASSERT_EQ(ids.ToVector(), want);
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(ids.Find(want[i]), static_cast<int64_t>(i)) << want[i];
  }
}

TEST(ArmIdsTest, AppendsFindsAndErasesInOrder) {
  ArmIds ids;
  EXPECT_EQ(ids.Find("a"), -1);
  for (const char* id : {"a", "bb", "ccc", "dddd"}) ids.Append(id);
  ExpectSame(ids, {"a", "bb", "ccc", "dddd"});
  EXPECT_EQ(ids.Find("b"), -1);
  EXPECT_EQ(ids.Find("abb"), -1);
  ids.Erase(1);
  ExpectSame(ids, {"a", "ccc", "dddd"});
  EXPECT_FALSE(ids.contains("bb"));
  EXPECT_EQ(ids.chars(), 8u);
  ids.Append("bb");
  ExpectSame(ids, {"a", "ccc", "dddd", "bb"});
}

// A random mix of appends and erases through index growth, probe chains
// that wrap around the table's end, and arena compaction.
TEST(ArmIdsTest, MatchesAVectorUnderRandomEdits) {
  ArmIds ids;
  std::vector<std::string> want;
  std::mt19937 rng(7);
  for (int step = 0; step < 60000; ++step) {
    if (rng() % 10 < 7 || want.empty()) {
      std::string id = absl::StrCat("id-", rng() % 20000);
      const bool known = std::find(want.begin(), want.end(), id) != want.end();
      ASSERT_EQ(ids.contains(id), known) << id;
      if (known) continue;
      ids.Append(id);
      want.push_back(id);
    } else {
      const size_t i = rng() % want.size();
      ids.Erase(i);
      want.erase(want.begin() + static_cast<std::ptrdiff_t>(i));
    }
    if (step % 4000 == 0) ExpectSame(ids, want);
  }
  ExpectSame(ids, want);
  ArmIds copy = ids;
  copy.ShrinkToFit();
  EXPECT_EQ(copy, ids);
  ExpectSame(copy, want);
}

TEST(ArmIdsTest, ReserveKeepsContents) {
  ArmIds ids;
  ids.Append("x");
  ids.Reserve(1000, 5000);
  for (int i = 0; i < 1000; ++i) ids.Append(absl::StrCat("arm_", i));
  EXPECT_EQ(ids.size(), 1001u);
  EXPECT_EQ(ids.Find("x"), 0);
  EXPECT_EQ(ids.Find("arm_999"), 1000);
  // About 8 bytes of span and at most 16 of index per id, beyond the ids.
  EXPECT_LE(ids.HeapBytes(), static_cast<int64_t>(ids.chars() * 2 + 1001 * 24));
}

}  // namespace
}  // namespace banditd::core
