#include "server/store/sqlite_log_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace banditd::store {
namespace {

// Maps a SQLite result code to the status the committer reports.
absl::Status StatusFromSqlite(int rc, absl::string_view message) {
  switch (rc & 0xff) {
    case SQLITE_FULL:
      return absl::ResourceExhaustedError(absl::StrCat("disk full: ", message));
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::DataLossError(message);
    case SQLITE_MISUSE:
    case SQLITE_RANGE:
    case SQLITE_ERROR:
      return absl::InternalError(message);
    default:  // IOERR, CANTOPEN, BUSY, LOCKED, READONLY, NOMEM, PROTOCOL...
      return absl::UnavailableError(message);
  }
}

}  // namespace

// A prepared statement, reset after each use.
class SqliteLogStore::Statement {
 public:
  static absl::StatusOr<std::unique_ptr<Statement>> Prepare(
      sqlite3* db, absl::string_view sql) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) {
      return StatusFromSqlite(
          rc, absl::StrCat("prepare \"", sql, "\": ", sqlite3_errmsg(db)));
    }
    return std::unique_ptr<Statement>(new Statement(stmt));
  }
  ~Statement() { sqlite3_finalize(stmt_); }

  sqlite3_stmt* get() { return stmt_; }
  void Bind(int i, int64_t value) { sqlite3_bind_int64(stmt_, i, value); }
  void BindBlob(int i, std::string_view blob) {
    sqlite3_bind_blob64(stmt_, i, blob.data(), blob.size(), SQLITE_STATIC);
  }
  // Returns SQLITE_ROW, SQLITE_DONE or an error.
  int Step() { return sqlite3_step(stmt_); }
  void Reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  int64_t Int(int column) { return sqlite3_column_int64(stmt_, column); }
  std::string_view Blob(int column) {
    const void* data = sqlite3_column_blob(stmt_, column);
    const int size = sqlite3_column_bytes(stmt_, column);
    return {static_cast<const char*>(data), static_cast<size_t>(size)};
  }

 private:
  explicit Statement(sqlite3_stmt* stmt) : stmt_(stmt) {}
  sqlite3_stmt* stmt_;
};

absl::StatusOr<std::unique_ptr<SqliteLogStore>> SqliteLogStore::Open(
    Options options) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(
      options.path.c_str(), &db,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
      nullptr);
  if (rc != SQLITE_OK) {
    absl::Status status = StatusFromSqlite(
        rc, absl::StrCat("cannot open ", options.path, ": ",
                         db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
    sqlite3_close(db);
    return status;
  }
  std::unique_ptr<SqliteLogStore> store(
      new SqliteLogStore(std::move(options), db));
  if (absl::Status status = store->Initialize(); !status.ok()) {
    return absl::Status(status.code(), absl::StrCat(store->options_.path, ": ",
                                                    status.message()));
  }
  return store;
}

SqliteLogStore::SqliteLogStore(Options options, sqlite3* db)
    : options_(std::move(options)), db_(db) {}

SqliteLogStore::~SqliteLogStore() {
  insert_log_.reset();
  insert_chunk_.reset();
  sqlite3_close(db_);
}

absl::Status SqliteLogStore::Error(int rc, absl::string_view what) const {
  return StatusFromSqlite(rc, absl::StrCat(what, ": ", sqlite3_errmsg(db_)));
}

absl::Status SqliteLogStore::Exec(absl::string_view sql) {
  std::string copy(sql);
  int rc = sqlite3_exec(db_, copy.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return Error(rc, copy);
  return absl::OkStatus();
}

absl::StatusOr<int64_t> SqliteLogStore::QueryInt(absl::string_view sql) {
  absl::StatusOr<std::unique_ptr<Statement>> stmt =
      Statement::Prepare(db_, sql);
  if (!stmt.ok()) return stmt.status();
  int rc = (*stmt)->Step();
  if (rc == SQLITE_ROW) return (*stmt)->Int(0);
  if (rc == SQLITE_DONE) return 0;
  return Error(rc, sql);
}

void SqliteLogStore::RollbackIfOpen() {
  if (sqlite3_get_autocommit(db_) == 0) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
}

absl::Status SqliteLogStore::Initialize() {
  sqlite3_extended_result_codes(db_, 1);
  // Exclusive locking (set before the first read, it changes nothing in the
  // file): no shared-memory file, and a second process that opens the same
  // database gets SQLITE_BUSY instead of writing beside us.
  if (absl::Status s = Exec("PRAGMA locking_mode=EXCLUSIVE"); !s.ok()) {
    return s;
  }
  // Inspect the file before changing anything in it: a foreign or newer
  // database must be left exactly as it is.
  absl::StatusOr<int64_t> table_count =
      QueryInt("SELECT count(*) FROM sqlite_schema");
  if (!table_count.ok()) {
    if (table_count.status().code() == absl::StatusCode::kDataLoss) {
      return absl::DataLossError(absl::StrCat(
          "not a readable SQLite database (corrupt or not a database file); "
          "refusing to use it: ",
          table_count.status().message()));
    }
    return absl::Status(
        table_count.status().code(),
        absl::StrCat("cannot read the database (is another banditd using the "
                     "same data directory?): ",
                     table_count.status().message()));
  }
  absl::StatusOr<int64_t> app_id = QueryInt("PRAGMA application_id");
  absl::StatusOr<int64_t> version = QueryInt("PRAGMA user_version");
  if (!app_id.ok()) return app_id.status();
  if (!version.ok()) return version.status();
  const bool fresh = *table_count == 0 && *app_id == 0 && *version == 0;
  if (!fresh) {
    if (*app_id != kApplicationId) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "not a banditd database (application_id 0x%08x, %d tables); "
          "refusing to use it",
          *app_id, *table_count));
    }
    if (*version > kFormatVersion) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "database format version %d is newer than this binary supports "
          "(%d); upgrade banditd",
          *version, kFormatVersion));
    }
    if (*version < 1) {
      return absl::DataLossError(absl::StrFormat(
          "banditd database with invalid format version %d", *version));
    }
  }

  {
    absl::StatusOr<std::unique_ptr<Statement>> stmt =
        Statement::Prepare(db_, "PRAGMA journal_mode=WAL");
    if (!stmt.ok()) return stmt.status();
    int rc = (*stmt)->Step();
    if (rc != SQLITE_ROW) {
      return rc == SQLITE_BUSY ? absl::UnavailableError(
                                     "database is locked: is another banditd "
                                     "using the same data directory?")
                               : Error(rc, "PRAGMA journal_mode=WAL");
    }
    std::string mode(
        reinterpret_cast<const char*>(sqlite3_column_text((*stmt)->get(), 0)));
    if (mode != "wal") {
      return absl::UnavailableError(
          absl::StrCat("cannot switch to WAL journal mode (got ", mode, ")"));
    }
  }
  if (absl::Status s =
          Exec(options_.sync_every_commit ? "PRAGMA synchronous=FULL"
                                          : "PRAGMA synchronous=NORMAL");
      !s.ok()) {
    return s;
  }
  // A negative cache_size is in KiB.
  if (absl::Status s =
          Exec(absl::StrCat("PRAGMA cache_size=-",
                            std::max<int64_t>(options_.cache_bytes >> 10, 1)));
      !s.ok()) {
    return s;
  }
  if (options_.max_page_count > 0) {
    absl::StatusOr<int64_t> limit = SetMaxPageCount(options_.max_page_count);
    if (!limit.ok()) return limit.status();
  }
  if (options_.verify_on_open) {
    absl::StatusOr<std::unique_ptr<Statement>> stmt =
        Statement::Prepare(db_, "PRAGMA quick_check");
    if (!stmt.ok()) return stmt.status();
    int rc = (*stmt)->Step();
    if (rc != SQLITE_ROW) return Error(rc, "PRAGMA quick_check");
    std::string result(
        reinterpret_cast<const char*>(sqlite3_column_text((*stmt)->get(), 0)));
    if (result != "ok") {
      return absl::DataLossError(
          absl::StrCat("database is corrupt (quick_check: ", result, ")"));
    }
  }

  if (fresh) {
    absl::Status status = Transaction(false, [&]() -> absl::Status {
      return Exec(absl::StrFormat(
          "PRAGMA application_id=%d;"
          "PRAGMA user_version=%d;"
          "CREATE TABLE log(seq INTEGER PRIMARY KEY, record BLOB NOT NULL);"
          "CREATE TABLE snapshots(seq INTEGER PRIMARY KEY,"
          " chunk_count INTEGER NOT NULL, created_unix_ms INTEGER NOT NULL);"
          "CREATE TABLE snapshot_chunks(seq INTEGER NOT NULL,"
          " ordinal INTEGER NOT NULL, data BLOB NOT NULL,"
          " PRIMARY KEY(seq, ordinal));",
          kApplicationId, kFormatVersion));
    });
    if (!status.ok()) return status;
  } else {
    // Takes the exclusive lock now rather than at the first write.
    if (absl::Status s = Exec("BEGIN IMMEDIATE; COMMIT"); !s.ok()) {
      if (s.code() == absl::StatusCode::kUnavailable) {
        return absl::UnavailableError(absl::StrCat(
            "database is locked: is another banditd using the same data "
            "directory? (",
            s.message(), ")"));
      }
      return s;
    }
  }

  absl::StatusOr<int64_t> tables = QueryInt(
      "SELECT count(*) FROM sqlite_schema WHERE type='table' AND name IN "
      "('log','snapshots','snapshot_chunks')");
  if (!tables.ok()) return tables.status();
  if (*tables != 3) {
    return absl::DataLossError(
        "banditd database lacks some of its tables; refusing to use it");
  }
  absl::StatusOr<std::unique_ptr<Statement>> insert_log =
      Statement::Prepare(db_, "INSERT INTO log(seq, record) VALUES(?, ?)");
  if (!insert_log.ok()) return insert_log.status();
  insert_log_ = *std::move(insert_log);
  absl::StatusOr<std::unique_ptr<Statement>> insert_chunk = Statement::Prepare(
      db_,
      "INSERT OR REPLACE INTO snapshot_chunks(seq, ordinal, data) "
      "VALUES(?, ?, ?)");
  if (!insert_chunk.ok()) return insert_chunk.status();
  insert_chunk_ = *std::move(insert_chunk);
  return RefreshLastSeq();
}

absl::Status SqliteLogStore::RefreshLastSeq() {
  absl::StatusOr<int64_t> log_max =
      QueryInt("SELECT coalesce(max(seq), 0) FROM log");
  if (!log_max.ok()) return log_max.status();
  absl::StatusOr<int64_t> snapshot_max =
      QueryInt("SELECT coalesce(max(seq), 0) FROM snapshots");
  if (!snapshot_max.ok()) return snapshot_max.status();
  snapshot_seq_ = *snapshot_max;
  last_seq_ = std::max(*log_max, *snapshot_max);
  return absl::OkStatus();
}

template <typename Body>
absl::Status SqliteLogStore::Transaction(bool relaxed_sync, Body body) {
  const bool switch_sync = relaxed_sync && options_.sync_every_commit;
  if (switch_sync) {
    if (absl::Status s = Exec("PRAGMA synchronous=NORMAL"); !s.ok()) return s;
  }
  absl::Status status = Exec("BEGIN");
  if (status.ok()) status = body();
  if (status.ok()) status = Exec("COMMIT");
  if (!status.ok()) RollbackIfOpen();
  if (switch_sync) {
    absl::Status s = Exec("PRAGMA synchronous=FULL");
    if (status.ok()) status = s;
  }
  return status;
}

absl::Status SqliteLogStore::Append(absl::Span<const std::string> records) {
  if (records.empty()) return absl::OkStatus();
  const int64_t first = last_seq_ + 1;
  absl::Status status = Transaction(false, [&]() -> absl::Status {
    for (size_t i = 0; i < records.size(); ++i) {
      insert_log_->Bind(1, first + static_cast<int64_t>(i));
      insert_log_->BindBlob(2, records[i]);
      int rc = insert_log_->Step();
      insert_log_->Reset();
      if (rc != SQLITE_DONE) return Error(rc, "append to log");
    }
    return absl::OkStatus();
  });
  if (status.ok()) {
    last_seq_ += static_cast<int64_t>(records.size());
    dirty_ = true;
    return status;
  }
  // A failed COMMIT can still have reached the file (an fsync error after
  // the write): read back what is there so that last_seq() tells the truth
  // and the caller can keep memory in step with the log.
  if (!RefreshLastSeq().ok()) {
    // Keep the old value; the next Append fails on the duplicate key if the
    // records did land, and refreshes again.
  }
  return status;
}

absl::Status SqliteLogStore::Sync() {
  if (options_.sync_every_commit || !dirty_) return absl::OkStatus();
  // In WAL mode with synchronous=NORMAL a checkpoint first syncs the WAL,
  // which makes every committed record durable.
  int rc = sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                     nullptr, nullptr);
  if (rc != SQLITE_OK) return Error(rc, "checkpoint");
  dirty_ = false;
  return absl::OkStatus();
}

absl::Status SqliteLogStore::Read(
    int64_t after,
    absl::FunctionRef<absl::Status(int64_t, std::string_view)> visit) {
  absl::StatusOr<std::unique_ptr<Statement>> stmt = Statement::Prepare(
      db_, "SELECT seq, record FROM log WHERE seq > ? ORDER BY seq");
  if (!stmt.ok()) return stmt.status();
  (*stmt)->Bind(1, after);
  while (true) {
    int rc = (*stmt)->Step();
    if (rc == SQLITE_DONE) return absl::OkStatus();
    if (rc != SQLITE_ROW) return Error(rc, "read log");
    if (absl::Status s = visit((*stmt)->Int(0), (*stmt)->Blob(1)); !s.ok()) {
      return s;
    }
  }
}

absl::Status SqliteLogStore::WriteSnapshotChunks(
    int64_t seq, int64_t first_ordinal, absl::Span<const std::string> chunks) {
  return Transaction(true, [&]() -> absl::Status {
    for (size_t i = 0; i < chunks.size(); ++i) {
      insert_chunk_->Bind(1, seq);
      insert_chunk_->Bind(2, first_ordinal + static_cast<int64_t>(i));
      insert_chunk_->BindBlob(3, chunks[i]);
      int rc = insert_chunk_->Step();
      insert_chunk_->Reset();
      if (rc != SQLITE_DONE) return Error(rc, "write snapshot chunk");
    }
    return absl::OkStatus();
  });
}

absl::Status SqliteLogStore::CommitSnapshot(int64_t seq, int64_t chunk_count) {
  if (seq <= snapshot_seq_ || seq > last_seq_) {
    return absl::InternalError(
        absl::StrCat("snapshot at seq ", seq, " is not newer than ",
                     snapshot_seq_, " or is past the log end ", last_seq_));
  }
  absl::Status status = Transaction(false, [&]() -> absl::Status {
    absl::StatusOr<int64_t> present = QueryInt(
        absl::StrCat("SELECT count(*) FROM snapshot_chunks WHERE seq=", seq,
                     " AND ordinal<", chunk_count));
    if (!present.ok()) return present.status();
    if (*present != chunk_count) {
      return absl::InternalError(absl::StrCat("snapshot at seq ", seq, " has ",
                                              *present, " of ", chunk_count,
                                              " chunks"));
    }
    return Exec(absl::StrCat(
        "INSERT INTO snapshots(seq, chunk_count, created_unix_ms) VALUES(", seq,
        ",", chunk_count, ",", absl::ToUnixMillis(absl::Now()), ")"));
  });
  if (status.ok()) snapshot_seq_ = seq;
  return status;
}

absl::StatusOr<std::optional<StoredSnapshot>>
SqliteLogStore::LoadLatestSnapshot() {
  absl::StatusOr<std::unique_ptr<Statement>> head = Statement::Prepare(
      db_, "SELECT seq, chunk_count FROM snapshots ORDER BY seq DESC LIMIT 1");
  if (!head.ok()) return head.status();
  int rc = (*head)->Step();
  if (rc == SQLITE_DONE) return std::nullopt;
  if (rc != SQLITE_ROW) return Error(rc, "read snapshots");
  StoredSnapshot snapshot;
  snapshot.seq = (*head)->Int(0);
  const int64_t chunk_count = (*head)->Int(1);
  absl::StatusOr<std::unique_ptr<Statement>> chunks = Statement::Prepare(
      db_,
      "SELECT ordinal, data FROM snapshot_chunks WHERE seq = ? AND "
      "ordinal < ? ORDER BY ordinal");
  if (!chunks.ok()) return chunks.status();
  (*chunks)->Bind(1, snapshot.seq);
  (*chunks)->Bind(2, chunk_count);
  while ((rc = (*chunks)->Step()) == SQLITE_ROW) {
    if ((*chunks)->Int(0) != static_cast<int64_t>(snapshot.chunks.size())) {
      break;
    }
    snapshot.chunks.emplace_back((*chunks)->Blob(1));
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    return Error(rc, "read snapshot chunks");
  }
  if (static_cast<int64_t>(snapshot.chunks.size()) != chunk_count) {
    return absl::DataLossError(
        absl::StrCat("snapshot at seq ", snapshot.seq, " is missing chunks (",
                     snapshot.chunks.size(), " of ", chunk_count, ")"));
  }
  return snapshot;
}

absl::StatusOr<bool> SqliteLogStore::Trim(int max_rows) {
  if (snapshot_seq_ == 0) return false;
  bool more = false;
  absl::Status status = Transaction(true, [&]() -> absl::Status {
    absl::StatusOr<int64_t> min_seq =
        QueryInt("SELECT coalesce(min(seq), 0) FROM log");
    if (!min_seq.ok()) return min_seq.status();
    if (*min_seq != 0 && *min_seq <= snapshot_seq_) {
      const int64_t upto = std::min(snapshot_seq_, *min_seq + max_rows - 1);
      if (absl::Status s =
              Exec(absl::StrCat("DELETE FROM log WHERE seq <= ", upto));
          !s.ok()) {
        return s;
      }
      more = upto < snapshot_seq_;
    }
    // Chunks are about a megabyte each: delete a few per call.
    const int max_chunks = std::max(1, max_rows / 2000);
    if (absl::Status s = Exec(absl::StrCat(
            "DELETE FROM snapshot_chunks WHERE rowid IN (SELECT rowid FROM "
            "snapshot_chunks WHERE seq < ",
            snapshot_seq_, " LIMIT ", max_chunks, ")"));
        !s.ok()) {
      return s;
    }
    if (sqlite3_changes(db_) == max_chunks) more = true;
    return Exec(
        absl::StrCat("DELETE FROM snapshots WHERE seq < ", snapshot_seq_));
  });
  if (!status.ok()) return status;
  return more;
}

absl::StatusOr<int64_t> SqliteLogStore::SetMaxPageCount(int64_t pages) {
  return QueryInt(
      absl::StrCat("PRAGMA max_page_count=", pages > 0 ? pages : 4294967294LL));
}

absl::StatusOr<int64_t> SqliteLogStore::PageCount() {
  return QueryInt("PRAGMA page_count");
}

}  // namespace banditd::store
