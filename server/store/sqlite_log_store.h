#ifndef BANDITD_SERVER_STORE_SQLITE_LOG_STORE_H_
#define BANDITD_SERVER_STORE_SQLITE_LOG_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/store/log_store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace banditd::store {

// SqliteLogStore keeps the log and the snapshots in one SQLite database in
// WAL journal mode:
//
//   log(seq INTEGER PRIMARY KEY, record BLOB)            one row per record
//   snapshots(seq INTEGER PRIMARY KEY, chunk_count, created_unix_ms)
//   snapshot_chunks(seq, ordinal, data BLOB)             PRIMARY KEY(seq,
//   ordinal)
//
// The file is marked with PRAGMA application_id = kApplicationId and
// PRAGMA user_version = kFormatVersion. Open refuses a database that is not
// ours, of a newer format, or corrupt, and never rewrites such a file. The
// database is opened in exclusive locking mode, so a second process cannot
// use the same file at the same time.
class SqliteLogStore final : public LogStore {
 public:
  static constexpr int32_t kApplicationId = 0x42444e54;  // "BDNT"
  static constexpr int kFormatVersion = 1;

  struct Options {
    // The database file; created when missing.
    std::string path;
    // true: synchronous=FULL, every committed Append is on disk.
    // false: synchronous=NORMAL, records reach the OS at once (they survive a
    // process crash) and the disk at the next Sync (a checkpoint).
    bool sync_every_commit = true;
    // When > 0, PRAGMA max_page_count: the database cannot grow past this
    // many pages. Tests use it to simulate a full disk.
    int64_t max_page_count = 0;
    // Run PRAGMA quick_check on open (reads the whole file).
    bool verify_on_open = false;
    // SQLite's page cache (PRAGMA cache_size), in bytes. The log is written
    // at its end and read once at recovery, so a big cache only holds pages
    // that are not read again: it fills with the log's last pages and stays
    // resident (64 MiB was 33 bytes per arm of a 1M-arm room's server).
    int64_t cache_bytes = int64_t{4} << 20;
  };

  static absl::StatusOr<std::unique_ptr<SqliteLogStore>> Open(Options options);

  ~SqliteLogStore() override;
  SqliteLogStore(const SqliteLogStore&) = delete;
  SqliteLogStore& operator=(const SqliteLogStore&) = delete;

  int64_t last_seq() const override { return last_seq_; }
  absl::Status Append(absl::Span<const std::string> records) override;
  absl::Status Sync() override;
  absl::Status Read(int64_t after,
                    absl::FunctionRef<absl::Status(int64_t, std::string_view)>
                        visit) override;
  absl::Status WriteSnapshotChunks(
      int64_t seq, int64_t first_ordinal,
      absl::Span<const std::string> chunks) override;
  absl::Status CommitSnapshot(int64_t seq, int64_t chunk_count) override;
  absl::StatusOr<std::optional<StoredSnapshot>> LoadLatestSnapshot() override;
  absl::StatusOr<bool> Trim(int max_rows) override;

  // Changes PRAGMA max_page_count (0: back to SQLite's default maximum).
  // The limit cannot go below the current size. Returns the new limit.
  absl::StatusOr<int64_t> SetMaxPageCount(int64_t pages);
  // The database's current size in pages.
  absl::StatusOr<int64_t> PageCount();

 private:
  class Statement;

  SqliteLogStore(Options options, sqlite3* db);

  absl::Status Initialize();
  absl::Status Exec(absl::string_view sql);
  absl::StatusOr<int64_t> QueryInt(absl::string_view sql);
  absl::Status Error(int rc, absl::string_view what) const;
  // Rolls back a transaction left open by a failed statement.
  void RollbackIfOpen();
  // Runs `body` in BEGIN ... COMMIT with synchronous=NORMAL when the data
  // written needs no sync of its own.
  template <typename Body>
  absl::Status Transaction(bool relaxed_sync, Body body);
  absl::Status RefreshLastSeq();

  const Options options_;
  sqlite3* db_;
  int64_t last_seq_ = 0;
  int64_t snapshot_seq_ = 0;  // Of the latest committed snapshot, 0 if none.
  bool dirty_ = false;        // Appended since the last Sync.
  std::unique_ptr<Statement> insert_log_;
  std::unique_ptr<Statement> insert_chunk_;
};

}  // namespace banditd::store

#endif  // BANDITD_SERVER_STORE_SQLITE_LOG_STORE_H_
