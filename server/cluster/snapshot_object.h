#ifndef BANDITD_SERVER_CLUSTER_SNAPSHOT_OBJECT_H_
#define BANDITD_SERVER_CLUSTER_SNAPSHOT_OBJECT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/cluster/object_layout.h"
#include "server/cluster/snapshot_file.h"

// A replica's snapshot as an object-store object, for new or lagging
// replicas to start from (NatsCommitter publishes and fetches it). The
// data is the snapshot's chunks, each prefixed by its length (8 bytes,
// little endian) after a format line; the object's metadata says which
// stream (name, creation time) and which rooms (the consumer's filter
// subject) it covers and up to which stream sequence.
namespace banditd::cluster::snapshot_object {

// The object's name: one per stream and room filter, e.g.
// "BANDITD_EVENTS/banditd.events.>".
std::string ObjectName(absl::string_view stream, absl::string_view filter);

// Metadata keys.
inline constexpr char kStream[] = "banditd_stream";
inline constexpr char kStreamCreated[] = "banditd_stream_created";
inline constexpr char kSequence[] = "banditd_sequence";
inline constexpr char kRooms[] = "banditd_rooms";
inline constexpr char kFormat[] = "banditd_format";
// Positions in streams 1..N-1 (rooms spread over N streams), as
// "<stream>:<created>:<seq>,..."; absent with one stream.
inline constexpr char kMoreStreams[] = "banditd_more_streams";

// The object (meta without bucket, nuid, size, digest) and its data.
struct Encoded {
  object_layout::ObjectInfo info;
  std::string data;
};
Encoded Encode(const SnapshotFile::Snapshot& snapshot,
               absl::string_view filter);

// The snapshot in an object; DATA_LOSS or INVALID_ARGUMENT naming what is
// wrong when the metadata or the data are not a snapshot's.
absl::StatusOr<SnapshotFile::Snapshot> Decode(
    const object_layout::ObjectInfo& info, absl::string_view data);

}  // namespace banditd::cluster::snapshot_object

#endif  // BANDITD_SERVER_CLUSTER_SNAPSHOT_OBJECT_H_
