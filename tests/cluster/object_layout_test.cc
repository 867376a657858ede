// NATS object-store layout (server/cluster/object_layout.h) and the
// snapshot object (server/cluster/snapshot_object.h), without NATS. The
// expected strings are what nats.go writes (base64.URLEncoding, padded).

#include "server/cluster/object_layout.h"

#include <string>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "server/cluster/snapshot_object.h"

namespace banditd::cluster {
namespace {

namespace ol = object_layout;

// Catches: unpadded or standard (+/) base64, a wrong subject prefix.
TEST(ObjectLayoutTest, NamesAndSubjects) {
  EXPECT_EQ(ol::EncodeName("snapshot"), "c25hcHNob3Q=");
  EXPECT_EQ(ol::EncodeName("a?>"), "YT8-");
  EXPECT_EQ(ol::StreamName("b"), "OBJ_b");
  EXPECT_EQ(ol::ChunkSubjects("b"), "$O.b.C.>");
  EXPECT_EQ(ol::MetaSubjects("b"), "$O.b.M.>");
  EXPECT_EQ(ol::MetaSubject("b", "snapshot"), "$O.b.M.c25hcHNob3Q=");
  EXPECT_EQ(ol::ChunkSubject("b", "N1"), "$O.b.C.N1");
  EXPECT_TRUE(ol::ValidBucket("banditd_snapshots-2"));
  EXPECT_FALSE(ol::ValidBucket("a.b"));
  EXPECT_FALSE(ol::ValidBucket(""));
  const std::string nuid = ol::NewNuid();
  EXPECT_EQ(nuid.size(), 22u);
  EXPECT_TRUE(ol::ValidBucket(nuid));  // [0-9A-Za-z] only.
  EXPECT_NE(nuid, ol::NewNuid());
}

// Catches: another hash, hex instead of base64url, a missing prefix.
TEST(ObjectLayoutTest, DigestIsPaddedBase64UrlSha256) {
  EXPECT_EQ(ol::Digest("abc"),
            "SHA-256=ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0=");
  EXPECT_EQ(ol::Digest(""),
            "SHA-256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU=");
}

// Catches: a lost tail, an empty last chunk, chunks over the size.
TEST(ObjectLayoutTest, SplitChunks) {
  const std::string data(2500, 'x');
  auto chunks = ol::SplitChunks(data, 1000);
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[0].size(), 1000u);
  EXPECT_EQ(chunks[2].size(), 500u);
  EXPECT_EQ(ol::SplitChunks(std::string(2000, 'x'), 1000).size(), 2u);
  EXPECT_TRUE(ol::SplitChunks("", 1000).empty());
}

// Catches: field names other than nats.go's, a dropped field, mtime not
// RFC 3339.
TEST(ObjectLayoutTest, MetaJsonRoundTripsWithNatsFieldNames) {
  ol::ObjectInfo info;
  info.name = "n";
  info.bucket = "b";
  info.nuid = "N";
  info.size = 2500;
  info.chunks = 3;
  info.max_chunk_size = 1000;
  info.digest = ol::Digest("abc");
  info.metadata = {{"banditd_sequence", "42"}};
  info.mtime = absl::FromUnixSeconds(1700000000);
  const std::string json = ol::MetaJson(info);
  for (const char* field :
       {"\"name\":\"n\"", "\"bucket\":\"b\"", "\"nuid\":\"N\"", "\"size\":2500",
        "\"chunks\":3", "\"options\":{\"max_chunk_size\":1000}",
        "\"digest\":\"SHA-256=", "\"metadata\":{\"banditd_sequence\":\"42\"}",
        "\"mtime\":\"2023-11-14T22:13:20Z\""}) {
    EXPECT_NE(json.find(field), std::string::npos) << field << " in " << json;
  }
  EXPECT_EQ(json.find("deleted"), std::string::npos);
  absl::StatusOr<ol::ObjectInfo> parsed = ol::ParseMetaJson(json);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->name, "n");
  EXPECT_EQ(parsed->size, 2500u);
  EXPECT_EQ(parsed->chunks, 3u);
  EXPECT_EQ(parsed->max_chunk_size, 1000u);
  EXPECT_EQ(parsed->digest, info.digest);
  EXPECT_EQ(parsed->metadata, info.metadata);
  EXPECT_EQ(parsed->mtime, info.mtime);
}

// What nats.go writes (Put leaves mtime zero; headers as lists).
TEST(ObjectLayoutTest, ParsesNatsGoMeta) {
  absl::StatusOr<ol::ObjectInfo> parsed = ol::ParseMetaJson(
      R"({"name":"f","headers":{"A":["1"]},"options":{"max_chunk_size":131072},)"
      R"("bucket":"b","nuid":"X","size":5,"mtime":"0001-01-01T00:00:00Z",)"
      R"("chunks":1,"digest":"SHA-256=abc="})");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->nuid, "X");
  EXPECT_EQ(parsed->max_chunk_size, 131072u);
  absl::StatusOr<ol::ObjectInfo> deleted = ol::ParseMetaJson(
      R"({"name":"f","bucket":"b","nuid":"X","size":0,"chunks":0,)"
      R"("mtime":"0001-01-01T00:00:00Z","deleted":true})");
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_TRUE(deleted->deleted);
  EXPECT_FALSE(ol::ParseMetaJson("[]").ok());
  EXPECT_FALSE(ol::ParseMetaJson(R"({"bucket":"b"})").ok());  // No name.
  absl::StatusOr<ol::ObjectInfo> bad = ol::ParseMetaJson(R"({"name":1})");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("\"name\""), std::string::npos);
}

// Catches: chunk boundaries lost, the covered sequence or stream not
// recorded, a truncated object accepted.
TEST(SnapshotObjectTest, RoundTripsAndRejectsTruncation) {
  SnapshotFile::Snapshot snapshot;
  snapshot.seq = 1234;
  snapshot.stream = "S";
  snapshot.stream_created = 99;
  snapshot.chunks = {"first", "", std::string(300, '\0')};
  snapshot_object::Encoded encoded = snapshot_object::Encode(snapshot, "p.>");
  EXPECT_EQ(encoded.info.name, "S/p.>");
  EXPECT_EQ(encoded.info.metadata.at(snapshot_object::kSequence), "1234");
  EXPECT_EQ(encoded.info.metadata.at(snapshot_object::kRooms), "p.>");
  absl::StatusOr<SnapshotFile::Snapshot> decoded =
      snapshot_object::Decode(encoded.info, encoded.data);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->seq, 1234u);
  EXPECT_EQ(decoded->stream, "S");
  EXPECT_EQ(decoded->stream_created, 99);
  EXPECT_EQ(decoded->chunks, snapshot.chunks);

  const std::string truncated = encoded.data.substr(0, encoded.data.size() - 1);
  EXPECT_TRUE(absl::IsDataLoss(
      snapshot_object::Decode(encoded.info, truncated).status()));
  ol::ObjectInfo no_seq = encoded.info;
  no_seq.metadata.erase(snapshot_object::kSequence);
  EXPECT_FALSE(snapshot_object::Decode(no_seq, encoded.data).ok());
}

// Catches: positions in streams 1..N-1 lost or reordered on the way through
// the object's metadata (a bootstrap would replay those streams from 0 or
// from another stream's position).
TEST(SnapshotObjectTest, KeepsThePositionInEveryStream) {
  SnapshotFile::Snapshot snapshot;
  snapshot.seq = 7;
  snapshot.stream = "S";
  snapshot.stream_created = 1;
  snapshot.more = {{"S_1", 2, 40}, {"S_2", 3, 9}};
  snapshot.chunks = {"x"};
  snapshot_object::Encoded encoded = snapshot_object::Encode(snapshot, "p.>");
  EXPECT_EQ(encoded.info.metadata.at(snapshot_object::kMoreStreams),
            "S_1:2:40,S_2:3:9");
  absl::StatusOr<SnapshotFile::Snapshot> decoded =
      snapshot_object::Decode(encoded.info, encoded.data);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->more, snapshot.more);
  // One stream: no such key, nothing more.
  snapshot.more.clear();
  encoded = snapshot_object::Encode(snapshot, "p.>");
  EXPECT_EQ(encoded.info.metadata.count(snapshot_object::kMoreStreams), 0u);
  encoded.info.metadata[snapshot_object::kMoreStreams] = "S_1:x:40";
  EXPECT_TRUE(absl::IsInvalidArgument(
      snapshot_object::Decode(encoded.info, encoded.data).status()));
}

}  // namespace
}  // namespace banditd::cluster
