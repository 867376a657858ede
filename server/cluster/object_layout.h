#ifndef BANDITD_SERVER_CLUSTER_OBJECT_LAYOUT_H_
#define BANDITD_SERVER_CLUSTER_OBJECT_LAYOUT_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

// The layout of a NATS JetStream object store (what nats.go's ObjectStore
// and the `nats object` CLI read and write), for libnats versions that have
// no object-store API. A bucket is the stream OBJ_<bucket> with subjects
// $O.<bucket>.C.> (chunks) and $O.<bucket>.M.> (meta), rollups and Direct
// Get allowed. An object is its chunks, published to $O.<bucket>.C.<nuid>,
// then one JSON meta message on $O.<bucket>.M.<base64url(name)> with the
// header "Nats-Rollup: sub", so the stream keeps only the latest meta of a
// name. Pure functions: no NATS here (server/cluster/object_store.h does
// the I/O).
namespace banditd::cluster::object_layout {

// nats.go's default chunk size; a chunk must stay below the server's
// max_payload (1 MiB by default).
inline constexpr size_t kDefaultChunkBytes = 128 * 1024;

// The meta message of an object (nats.go ObjectInfo; JSON field names in
// the comments).
struct ObjectInfo {
  std::string name;         // "name"
  std::string description;  // "description", omitted when empty
  std::map<std::string, std::string> metadata;  // "metadata"
  uint32_t max_chunk_size = 0;                  // "options": {"max_chunk_size"}
  std::string bucket;                           // "bucket"
  std::string nuid;      // "nuid": the chunks' subject token
  uint64_t size = 0;     // "size": bytes of the object
  absl::Time mtime;      // "mtime" (readers use the message's time)
  uint32_t chunks = 0;   // "chunks"
  std::string digest;    // "digest": "SHA-256=<base64url, padded>"
  bool deleted = false;  // "deleted"
};

// Whether `bucket` is a valid bucket name ([A-Za-z0-9_-]+, as nats.go).
bool ValidBucket(absl::string_view bucket);
std::string StreamName(absl::string_view bucket);     // OBJ_<bucket>
std::string ChunkSubjects(absl::string_view bucket);  // $O.<bucket>.C.>
std::string MetaSubjects(absl::string_view bucket);   // $O.<bucket>.M.>
std::string ChunkSubject(absl::string_view bucket, absl::string_view nuid);
std::string MetaSubject(absl::string_view bucket, absl::string_view name);

// Padded base64url of the name (nats.go encodeName), a valid subject token.
std::string EncodeName(absl::string_view name);
// "SHA-256=" followed by the padded base64url SHA-256 of `data`.
std::string Digest(absl::string_view data);
// 22 random characters of [0-9A-Za-z], like a NATS NUID.
std::string NewNuid();
// `data` cut into pieces of at most `chunk_bytes` (none for empty data).
std::vector<absl::string_view> SplitChunks(absl::string_view data,
                                           size_t chunk_bytes);

std::string MetaJson(const ObjectInfo& info);
// INVALID_ARGUMENT naming the field when the JSON is not an object meta.
absl::StatusOr<ObjectInfo> ParseMetaJson(absl::string_view json);

}  // namespace banditd::cluster::object_layout

#endif  // BANDITD_SERVER_CLUSTER_OBJECT_LAYOUT_H_
