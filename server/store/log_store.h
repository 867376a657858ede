#ifndef BANDITD_SERVER_STORE_LOG_STORE_H_
#define BANDITD_SERVER_STORE_LOG_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace banditd::store {

// A snapshot as stored: the chunks of the engine state after applying every
// log record up to and including `seq`.
struct StoredSnapshot {
  int64_t seq = 0;
  std::vector<std::string> chunks;
};

// LogStore is durable storage for the write-ahead log and its snapshots. The
// records and chunks are opaque bytes here; the committer encodes them.
//
// Sequence numbers start at 1 and increase by one per record, with no gaps.
//
// Errors: RESOURCE_EXHAUSTED when the disk (or the configured page limit) is
// full, UNAVAILABLE for other I/O errors, DATA_LOSS for a corrupt store. A
// failed call leaves the store as it was: a failed Append appends nothing.
//
// Thread safety: none. One thread (the committer's writer) uses a LogStore,
// except that Open-time recovery runs before that thread starts.
class LogStore {
 public:
  virtual ~LogStore() = default;

  // The sequence number of the last appended record (0 for a new store).
  // Records trimmed away after a snapshot still count.
  virtual int64_t last_seq() const = 0;

  // Appends `records` in one atomic write as last_seq() + 1, + 2, ... When
  // the store syncs every commit (sync durability), the records are on disk
  // when Append returns OK; otherwise they are durable after the next Sync.
  virtual absl::Status Append(absl::Span<const std::string> records) = 0;

  // Makes every appended record durable. Cheap when there is nothing to do.
  virtual absl::Status Sync() = 0;

  // Calls `visit` for each record with seq > `after`, in order, stopping at
  // the first error `visit` returns.
  virtual absl::Status Read(
      int64_t after,
      absl::FunctionRef<absl::Status(int64_t seq, std::string_view record)>
          visit) = 0;

  // Snapshots are written in pieces so that no single write stalls the log:
  // WriteSnapshotChunks any number of times with consecutive ordinals
  // starting at 0, then CommitSnapshot, which makes the snapshot the latest
  // one atomically. A snapshot that is never committed is ignored (and its
  // chunks are removed by Trim).
  virtual absl::Status WriteSnapshotChunks(
      int64_t seq, int64_t first_ordinal,
      absl::Span<const std::string> chunks) = 0;
  virtual absl::Status CommitSnapshot(int64_t seq, int64_t chunk_count) = 0;

  // The latest committed snapshot, or nullopt when there is none.
  virtual absl::StatusOr<std::optional<StoredSnapshot>>
  LoadLatestSnapshot() = 0;

  // Deletes at most about `max_rows` rows made obsolete by the latest
  // snapshot (log records it covers, older snapshots, uncommitted chunks).
  // Returns true when more remain.
  virtual absl::StatusOr<bool> Trim(int max_rows) = 0;
};

}  // namespace banditd::store

#endif  // BANDITD_SERVER_STORE_LOG_STORE_H_
