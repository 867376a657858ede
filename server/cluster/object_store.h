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
// Replacing an object does not delete the previous object's chunks at
// once: a replica may be reading them. CollectGarbage deletes chunks that
// no meta references once they have been unreferenced for `gc_grace`
// (see there), which also removes the loser's chunks when two writers
// replace the same object at the same instant.
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
    // Unreferenced chunks are kept this long (a reader of the replaced
    // object, or a writer between its last chunk and its meta, needs
    // them); a Put that stalls for a quarter of it before storing its meta
    // gives up instead of publishing a meta whose chunks may be gone.
    absl::Duration gc_grace = absl::Minutes(5);
  };

  // What CollectGarbage found and did.
  struct Collected {
    // Chunk subjects (objects) deleted, and their chunks.
    int objects = 0;
    uint64_t chunks = 0;
    // Unreferenced chunk subjects kept because they are within the grace.
    int kept = 0;
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

  // Stores `data` as `name`, replacing the previous object (whose chunks
  // CollectGarbage deletes later). `info` supplies the description and
  // metadata. Each chunk carries the header Banditd-Meta: <meta subject>,
  // naming the object it belongs to. DATA_LOSS when, after storing the meta,
  // its chunks are not all there (deleted by a collector meanwhile): the
  // object is broken until the next Put.
  absl::StatusOr<object_layout::ObjectInfo> Put(object_layout::ObjectInfo info,
                                                absl::string_view data);

  // The object and its data. NOT_FOUND as GetInfo; DATA_LOSS when the
  // chunks do not match the meta's size or digest (e.g. replaced while
  // reading: read again).
  absl::StatusOr<Object> Get(const std::string& name);

  // Deletes the chunks that no meta of the bucket references, unless
  //  * their last chunk is younger than gc_grace (a Put in progress), or
  //  * the meta that replaced them is younger than gc_grace: a reader that
  //    read the old meta before the replacement has had gc_grace to read
  //    its chunks (the replacing meta is at most as old as the current meta
  //    of the object named in the chunks' Banditd-Meta header, or, for
  //    chunks without it, written by other clients, as the newest meta).
  // Ages are the server's store times against this host's clock: keep the
  // grace well above the clock skew.
  absl::StatusOr<Collected> CollectGarbage();

  const std::string& bucket() const { return options_.bucket; }

 private:
  ObjectStore(__jsCtx* js, Options options)
      : js_(js), options_(std::move(options)) {}
  // A meta (rolls up the subject) when `chunk_of` is empty, else a chunk of
  // the object whose meta subject it names.
  absl::Status Publish(const std::string& subject, absl::string_view data,
                       const std::string& chunk_of);
  absl::Status PurgeSubject(const std::string& subject);
  // Messages per subject of the bucket matching `filter`.
  absl::StatusOr<std::map<std::string, uint64_t>> SubjectCounts(
      const std::string& filter);
  // The last message on a subject: its store time, Banditd-Meta header
  // and (`with_data`) data.
  struct Last {
    absl::Time stored;
    std::string meta_subject;
    std::string data;
  };
  // NOT_FOUND when the subject has no message.
  absl::StatusOr<Last> LastMsg(const std::string& subject, bool with_data);

  __jsCtx* const js_;
  const Options options_;
};

}  // namespace banditd::cluster

#endif  // BANDITD_SERVER_CLUSTER_OBJECT_STORE_H_
