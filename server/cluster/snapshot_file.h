#ifndef BANDITD_SERVER_CLUSTER_SNAPSHOT_FILE_H_
#define BANDITD_SERVER_CLUSTER_SNAPSHOT_FILE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

struct sqlite3;

namespace banditd::cluster {

// SnapshotFile keeps one replica's latest snapshot in a small SQLite file:
// the engine state's chunks (store::EncodeSnapshot), the stream sequence
// they cover (one per stream when rooms are spread over several), and which
// stream that sequence counts in (its name and creation time, so a snapshot of
// a deleted and recreated stream is not taken for one of the current stream).
//
// Thread safety: none; one thread at a time.
class SnapshotFile {
 public:
  // Where a snapshot stands in one stream.
  struct Position {
    std::string stream;
    int64_t created = 0;
    uint64_t seq = 0;
    bool operator==(const Position& o) const {
      return stream == o.stream && created == o.created && seq == o.seq;
    }
  };
  struct Snapshot {
    // Position in the first stream (the only one unless rooms are spread
    // over several: --cluster_streams).
    uint64_t seq = 0;
    std::string stream;
    int64_t stream_created = 0;
    // Positions in the other streams (1..N-1), in order.
    std::vector<Position> more;
    std::vector<std::string> chunks;
  };

  static absl::StatusOr<std::unique_ptr<SnapshotFile>> Open(
      const std::string& path);
  ~SnapshotFile();
  SnapshotFile(const SnapshotFile&) = delete;
  SnapshotFile& operator=(const SnapshotFile&) = delete;

  // The saved snapshot, or nullopt when there is none.
  absl::StatusOr<std::optional<Snapshot>> Load();
  // Replaces the saved snapshot atomically (one transaction, synced).
  absl::Status Save(const Snapshot& snapshot);

 private:
  explicit SnapshotFile(sqlite3* db) : db_(db) {}
  absl::Status Exec(const char* sql);

  sqlite3* const db_;
};

}  // namespace banditd::cluster

#endif  // BANDITD_SERVER_CLUSTER_SNAPSHOT_FILE_H_
