#include "server/service/decision_cache.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace banditd::service {
namespace {

Decision WithArms(int arms) {
  Decision d{"room", "", {}, {}, {}};
  for (int i = 0; i < arms; ++i) {
    d.arm_ids.push_back("an-arm-id-long-enough-to-allocate-" +
                        std::to_string(i));
  }
  return d;
}

TEST(DecisionCacheTest, CountBoundEvictsTheOldest) {
  DecisionCache cache(2);
  const std::string a = cache.Put(WithArms(1));
  const std::string b = cache.Put(WithArms(2));
  const std::string c = cache.Put(WithArms(3));
  EXPECT_EQ(cache.Get(a), nullptr);
  ASSERT_NE(cache.Get(b), nullptr);
  EXPECT_EQ(cache.Get(b)->arm_ids.size(), 2u);
  EXPECT_EQ(cache.Get(c)->arm_ids.size(), 3u);
  EXPECT_EQ(cache.size(), 2u);
}

TEST(DecisionCacheTest, ByteBoundEvictsTheOldestAndCountsBytes) {
  const size_t big = DecisionCache::ApproximateBytes(WithArms(1000));
  // 1,000 arm ids of 36+ characters: well over 1,000 * 36 bytes.
  EXPECT_GT(big, 1000u * 36);
  DecisionCache cache(1000, 2 * big + big / 2);
  const std::string first = cache.Put(WithArms(1000));
  const std::string second = cache.Put(WithArms(1000));
  EXPECT_EQ(cache.bytes(), 2 * big);
  const std::string third = cache.Put(WithArms(1000));
  EXPECT_EQ(cache.Get(first), nullptr);
  EXPECT_NE(cache.Get(second), nullptr);
  EXPECT_NE(cache.Get(third), nullptr);
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_LE(cache.bytes(), cache.max_bytes());
  // Small decisions push the big ones out (999 entries, under the count).
  for (int i = 0; i < 999; ++i) cache.Put(WithArms(1));
  EXPECT_LE(cache.bytes(), cache.max_bytes());
  EXPECT_EQ(cache.Get(second), nullptr);
}

TEST(DecisionCacheTest, ADecisionOverTheBudgetIsNeverFound) {
  DecisionCache cache(10, 1000);
  const std::string small = cache.Put(WithArms(1));
  const std::string huge = cache.Put(WithArms(100));
  EXPECT_EQ(huge.size(), 32u);
  EXPECT_EQ(cache.Get(huge), nullptr);
  EXPECT_NE(cache.Get(small), nullptr);  // not evicted for it
}

TEST(DecisionCacheTest, ForgedOrMalformedIdsAreUnknown) {
  DecisionCache cache(10);
  std::string id = cache.Put(WithArms(1));
  ASSERT_NE(cache.Get(id), nullptr);
  std::string forged = id;
  forged[0] = forged[0] == '0' ? '1' : '0';  // another tag, same sequence
  EXPECT_EQ(cache.Get(forged), nullptr);
  EXPECT_EQ(cache.Get(id.substr(1)), nullptr);
  EXPECT_EQ(cache.Get(std::string(32, 'z')), nullptr);
  EXPECT_EQ(cache.Get(id.substr(0, 16) + "ffffffffffffffff"), nullptr);
}

}  // namespace
}  // namespace banditd::service
