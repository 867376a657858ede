#include "server/service/decision_signer.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "server/service/decision_cache.h"

namespace banditd::service {
namespace {

const std::string kKeyA(32, 'a');
const std::string kKeyB(32, 'b');
const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

Decision Example() {
  return Decision{"shop",
                  "country=PL",
                  {"hour=13", "device=ios"},
                  {0.5, -1.25},
                  {"red", "blue"}};
}

DecisionSigner Signer(std::vector<std::string> keys,
                      absl::Duration max_age = absl::Hours(1),
                      size_t max_id_bytes = 2048) {
  return DecisionSigner(std::move(keys), max_age, max_id_bytes);
}

void ExpectSame(const Decision& got, const Decision& want) {
  EXPECT_EQ(got.room_id, want.room_id);
  EXPECT_EQ(got.segment, want.segment);
  EXPECT_EQ(got.context_items, want.context_items);
  EXPECT_EQ(got.features, want.features);
  EXPECT_EQ(got.arm_ids, want.arm_ids);
}

TEST(DecisionSignerTest, AnotherServerWithTheKeyResolvesTheDecision) {
  const std::string id = Signer({kKeyA}).Sign(Example(), kNow);
  ASSERT_TRUE(DecisionSigner::IsSigned(id)) << id;
  // A second instance (another replica) with the same key.
  absl::StatusOr<Decision> got =
      Signer({kKeyA}).Verify(id, kNow + absl::Minutes(5));
  ASSERT_TRUE(got.ok()) << got.status();
  ExpectSame(*got, Example());
}

TEST(DecisionSignerTest, EqualDecisionsAtTheSameTimeGetDistinctIds) {
  const DecisionSigner signer = Signer({kKeyA});
  EXPECT_NE(signer.Sign(Example(), kNow), signer.Sign(Example(), kNow));
}

TEST(DecisionSignerTest, ForgedOrOtherKeyIdsAreRefused) {
  const std::string id = Signer({kKeyA}).Sign(Example(), kNow);
  EXPECT_EQ(Signer({kKeyB}).Verify(id, kNow).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Change the decision (another arm) and keep the MAC: refused.
  Decision other = Example();
  other.arm_ids = {"green"};
  const std::string forged_payload =
      Signer({kKeyB}).Sign(other, kNow).substr(0, id.find('.', 3));
  const std::string forged = forged_payload + id.substr(id.find('.', 3));
  EXPECT_EQ(Signer({kKeyA}).Verify(forged, kNow).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Truncated, garbage, empty MAC.
  for (const std::string& bad :
       {id.substr(0, id.size() - 3), std::string("s1.zz.zz"),
        std::string("s1."), id.substr(0, id.find('.', 3) + 1)}) {
    EXPECT_EQ(Signer({kKeyA}).Verify(bad, kNow).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

TEST(DecisionSignerTest, IdsExpireAfterMaxAge) {
  const DecisionSigner signer = Signer({kKeyA}, absl::Hours(1));
  const std::string id = signer.Sign(Example(), kNow);
  EXPECT_TRUE(signer.Verify(id, kNow + absl::Minutes(59)).ok());
  absl::Status late = signer.Verify(id, kNow + absl::Minutes(61)).status();
  EXPECT_EQ(late.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(late.message().find("decision_id_max_age"), std::string::npos)
      << late;
}

TEST(DecisionSignerTest, KeysRotate) {
  // Old servers sign with A; new ones list B first and still accept A.
  const std::string old_id = Signer({kKeyA}).Sign(Example(), kNow);
  const DecisionSigner rotated = Signer({kKeyB, kKeyA});
  EXPECT_TRUE(rotated.Verify(old_id, kNow).ok());
  const std::string new_id = rotated.Sign(Example(), kNow);
  EXPECT_TRUE(Signer({kKeyB}).Verify(new_id, kNow).ok());
  EXPECT_FALSE(Signer({kKeyA}).Verify(new_id, kNow).ok());
}

TEST(DecisionSignerTest, LargeDecisionsAreNotSignedAndFallBackToTheCache) {
  Decision big = Example();
  for (int i = 0; i < 200; ++i)
    big.arm_ids.push_back("arm-" + std::to_string(i));
  auto signer = std::make_unique<DecisionSigner>(
      std::vector<std::string>{kKeyA}, absl::Hours(1), 512);
  EXPECT_EQ(signer->Sign(big, kNow), "");
  const std::string small = signer->Sign(Example(), kNow);
  EXPECT_LE(small.size(), 512u);

  DecisionCache cache(10, size_t{1} << 20, std::move(signer));
  const std::string signed_id = cache.Put(Example());
  const std::string cached_id = cache.Put(big);
  EXPECT_TRUE(DecisionSigner::IsSigned(signed_id));
  EXPECT_FALSE(DecisionSigner::IsSigned(cached_id));
  EXPECT_EQ(cache.size(), 1u);  // only the big one is cached
  absl::StatusOr<std::shared_ptr<const Decision>> a = cache.Resolve(signed_id);
  ASSERT_TRUE(a.ok()) << a.status();
  ExpectSame(**a, Example());
  absl::StatusOr<std::shared_ptr<const Decision>> b = cache.Resolve(cached_id);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ((*b)->arm_ids.size(), big.arm_ids.size());
}

TEST(DecisionCacheTest, SignedIdsWithoutAKeyAreInvalid) {
  const std::string id = Signer({kKeyA}).Sign(Example(), kNow);
  DecisionCache cache(10);
  EXPECT_EQ(cache.Resolve(id).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(cache.Resolve("00000000000000000000000000000001").status().code(),
            absl::StatusCode::kNotFound);
}

class KeyFileTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& text) {
    std::ofstream(path_) << text;
    return path_;
  }
  void TearDown() override { std::remove(path_.c_str()); }
  std::string path_ =
      ::testing::TempDir() + "/decision_keys_" + std::to_string(::getpid());
};

TEST_F(KeyFileTest, ReadsHexAndTextKeysSkippingComments) {
  const std::string hex(64, 'f');  // 32 bytes of 0xff
  auto signer = DecisionSigner::FromFile(
      Write("# newest first\n" + hex + "\n\n" + kKeyA + "\n"), absl::Hours(1),
      2048);
  ASSERT_TRUE(signer.ok()) << signer.status();
  // Signed with the hex key's bytes, verified by a signer built from them.
  const std::string id = (*signer)->Sign(Example(), kNow);
  EXPECT_TRUE(Signer({absl::HexStringToBytes(hex)}).Verify(id, kNow).ok());
  EXPECT_TRUE(
      (*signer)->Verify(Signer({kKeyA}).Sign(Example(), kNow), kNow).ok());
}

TEST_F(KeyFileTest, RefusesShortKeysAndEmptyFiles) {
  absl::Status shortkey =
      DecisionSigner::FromFile(Write("tooshort\n"), absl::Hours(1), 2048)
          .status();
  EXPECT_EQ(shortkey.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(shortkey.message().find("line 1"), std::string::npos) << shortkey;
  EXPECT_EQ(DecisionSigner::FromFile(Write("# nothing\n"), absl::Hours(1), 2048)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecisionSigner::FromFile("/nonexistent/keys", absl::Hours(1), 2048)
                .status()
                .code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace banditd::service
