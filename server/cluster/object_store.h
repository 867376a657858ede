#ifndef BANDITD_SERVER_CLUSTER_OBJECT_STORE_H_
#define BANDITD_SERVER_CLUSTER_OBJECT_STORE_H_

#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/cluster/object_layout.h"

struct __natsConnection;
struct __jsCtx;

namespace banditd::cluster {

// ObjectStore reads and writes objects of one NATS JetStream object-store
// bucket over plain JetStream calls (publish, Direct Get, purge), in the
// layout of server/cluster/object_layout.h, so `nats object get` and
// nats.go read what it writes and it reads theirs.
//
// Reads use Direct Get (any of the stream's peers answers, no consumer and
// no meta leader needed): the meta by its subject's last message, then the
// chunks one by one as the next message on the chunk subject, checked
// against the meta's size and digest.
//
// Thread safety: one call at a time.
class ObjectStore {
 public:
  struct Options {
    std::string bucket;
    // Replication factor when this store creates the bucket's stream.
    int replicas = 3;
    // How long each JetStream request (one chunk, the meta, a purge) may
    // wait for its answer.
    absl::Duration request_timeout = absl::Seconds(2);
    size_t chunk_bytes = object_layout::kDefaultChunkBytes;
  };

  struct Object {
    object_layout::ObjectInfo info;
    std::string data;
  };

  // `nc` must outlive the store. INVALID_ARGUMENT for a bad bucket name.
  static absl::StatusOr<std::unique_ptr<ObjectStore>> Create(
      __natsConnection* nc, Options options);
  ~ObjectStore();
  ObjectStore(const ObjectStore&) = delete;
  ObjectStore& operator=(const ObjectStore&) = delete;

  // Creates the bucket's stream when missing (as nats.go does: file
  // storage, discard new, rollups and Direct Get allowed).
  absl::Status EnsureBucket();

  // The latest meta of `name`, its mtime the time the server stored it.
  // NOT_FOUND naming the bucket or the object when either is missing (a
  // deleted object is missing).
  absl::StatusOr<object_layout::ObjectInfo> GetInfo(const std::string& name);

  // Stores `data` as `name` (replacing the previous object, whose chunks
  // are then purged). `info` supplies the description and metadata.
  absl::StatusOr<object_layout::ObjectInfo> Put(object_layout::ObjectInfo info,
                                                absl::string_view data);

  // The object and its data. NOT_FOUND as GetInfo; DATA_LOSS when the
  // chunks do not match the meta's size or digest (e.g. replaced while
  // reading: read again).
  absl::StatusOr<Object> Get(const std::string& name);

  const std::string& bucket() const { return options_.bucket; }

 private:
  ObjectStore(__jsCtx* js, Options options)
      : js_(js), options_(std::move(options)) {}
  absl::Status Publish(const std::string& subject, absl::string_view data,
                       bool rollup);
  absl::Status PurgeSubject(const std::string& subject);

  __jsCtx* const js_;
  const Options options_;
};

}  // namespace banditd::cluster

#endif  // BANDITD_SERVER_CLUSTER_OBJECT_STORE_H_
