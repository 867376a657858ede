#include "server/cluster/snapshot_file.h"

#include <sqlite3.h>

#include <utility>

#include "absl/strings/str_cat.h"

namespace banditd::cluster {
namespace {

absl::Status SqliteError(sqlite3* db, const char* what) {
  return absl::UnavailableError(
      absl::StrCat("cluster snapshot file: ", what, ": ", sqlite3_errmsg(db)));
}

// Finalizes a statement when it goes out of scope.
struct Statement {
  sqlite3_stmt* stmt = nullptr;
  ~Statement() { sqlite3_finalize(stmt); }
};

}  // namespace

absl::StatusOr<std::unique_ptr<SnapshotFile>> SnapshotFile::Open(
    const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                      nullptr) != SQLITE_OK) {
    absl::Status status = absl::UnavailableError(
        absl::StrCat("cannot open ", path, ": ", sqlite3_errmsg(db)));
    sqlite3_close(db);
    return status;
  }
  std::unique_ptr<SnapshotFile> file(new SnapshotFile(db));
  if (absl::Status s = file->Exec(
          "PRAGMA journal_mode=WAL;"
          "PRAGMA synchronous=FULL;"
          "CREATE TABLE IF NOT EXISTS cluster_snapshot("
          "  id INTEGER PRIMARY KEY CHECK (id = 1),"
          "  seq INTEGER NOT NULL, stream TEXT NOT NULL,"
          "  stream_created INTEGER NOT NULL, chunk_count INTEGER NOT NULL);"
          "CREATE TABLE IF NOT EXISTS cluster_snapshot_chunks("
          "  ordinal INTEGER PRIMARY KEY, data BLOB NOT NULL);"
          // Positions in streams 1..N-1 (--cluster_streams > 1).
          "CREATE TABLE IF NOT EXISTS cluster_snapshot_streams("
          "  ordinal INTEGER PRIMARY KEY, stream TEXT NOT NULL,"
          "  created INTEGER NOT NULL, seq INTEGER NOT NULL);");
      !s.ok()) {
    return s;
  }
  return file;
}

SnapshotFile::~SnapshotFile() { sqlite3_close(db_); }

absl::Status SnapshotFile::Exec(const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    absl::Status status = absl::UnavailableError(
        absl::StrCat("cluster snapshot file: ", error ? error : "error"));
    sqlite3_free(error);
    return status;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<SnapshotFile::Snapshot>> SnapshotFile::Load() {
  Statement head;
  if (sqlite3_prepare_v2(db_,
                         "SELECT seq, stream, stream_created, chunk_count "
                         "FROM cluster_snapshot WHERE id = 1",
                         -1, &head.stmt, nullptr) != SQLITE_OK) {
    return SqliteError(db_, "prepare");
  }
  const int rc = sqlite3_step(head.stmt);
  if (rc == SQLITE_DONE) return std::nullopt;
  if (rc != SQLITE_ROW) return SqliteError(db_, "read");
  Snapshot snapshot;
  snapshot.seq = static_cast<uint64_t>(sqlite3_column_int64(head.stmt, 0));
  snapshot.stream =
      reinterpret_cast<const char*>(sqlite3_column_text(head.stmt, 1));
  snapshot.stream_created = sqlite3_column_int64(head.stmt, 2);
  const int64_t count = sqlite3_column_int64(head.stmt, 3);
  Statement chunks;
  if (sqlite3_prepare_v2(db_,
                         "SELECT data FROM cluster_snapshot_chunks "
                         "ORDER BY ordinal",
                         -1, &chunks.stmt, nullptr) != SQLITE_OK) {
    return SqliteError(db_, "prepare");
  }
  int step;
  while ((step = sqlite3_step(chunks.stmt)) == SQLITE_ROW) {
    const void* data = sqlite3_column_blob(chunks.stmt, 0);
    const int size = sqlite3_column_bytes(chunks.stmt, 0);
    snapshot.chunks.emplace_back(static_cast<const char*>(data), size);
  }
  if (step != SQLITE_DONE) return SqliteError(db_, "read chunks");
  Statement more;
  if (sqlite3_prepare_v2(db_,
                         "SELECT stream, created, seq FROM "
                         "cluster_snapshot_streams ORDER BY ordinal",
                         -1, &more.stmt, nullptr) != SQLITE_OK) {
    return SqliteError(db_, "prepare");
  }
  while ((step = sqlite3_step(more.stmt)) == SQLITE_ROW) {
    Position position;
    position.stream =
        reinterpret_cast<const char*>(sqlite3_column_text(more.stmt, 0));
    position.created = sqlite3_column_int64(more.stmt, 1);
    position.seq = static_cast<uint64_t>(sqlite3_column_int64(more.stmt, 2));
    snapshot.more.push_back(std::move(position));
  }
  if (step != SQLITE_DONE) return SqliteError(db_, "read streams");
  if (static_cast<int64_t>(snapshot.chunks.size()) != count) {
    return absl::DataLossError(
        absl::StrCat("cluster snapshot at seq ", snapshot.seq, " should have ",
                     count, " chunks, has ", snapshot.chunks.size()));
  }
  return snapshot;
}

absl::Status SnapshotFile::Save(const Snapshot& snapshot) {
  if (absl::Status s = Exec("BEGIN IMMEDIATE;"
                            "DELETE FROM cluster_snapshot_chunks;"
                            "DELETE FROM cluster_snapshot_streams;"
                            "DELETE FROM cluster_snapshot;");
      !s.ok()) {
    return s;
  }
  absl::Status status;
  {
    Statement insert;
    if (sqlite3_prepare_v2(db_,
                           "INSERT INTO cluster_snapshot_chunks(ordinal, data) "
                           "VALUES(?, ?)",
                           -1, &insert.stmt, nullptr) != SQLITE_OK) {
      status = SqliteError(db_, "prepare");
    }
    for (size_t i = 0; status.ok() && i < snapshot.chunks.size(); ++i) {
      sqlite3_bind_int64(insert.stmt, 1, static_cast<int64_t>(i));
      sqlite3_bind_blob(insert.stmt, 2, snapshot.chunks[i].data(),
                        static_cast<int>(snapshot.chunks[i].size()),
                        SQLITE_STATIC);
      if (sqlite3_step(insert.stmt) != SQLITE_DONE) {
        status = SqliteError(db_, "write chunk");
      }
      sqlite3_reset(insert.stmt);
    }
    Statement more;
    if (status.ok() &&
        sqlite3_prepare_v2(db_,
                           "INSERT INTO cluster_snapshot_streams(ordinal, "
                           "stream, created, seq) VALUES(?, ?, ?, ?)",
                           -1, &more.stmt, nullptr) != SQLITE_OK) {
      status = SqliteError(db_, "prepare");
    }
    for (size_t i = 0; status.ok() && i < snapshot.more.size(); ++i) {
      const Position& position = snapshot.more[i];
      sqlite3_bind_int64(more.stmt, 1, static_cast<int64_t>(i));
      sqlite3_bind_text(more.stmt, 2, position.stream.c_str(), -1,
                        SQLITE_TRANSIENT);
      sqlite3_bind_int64(more.stmt, 3, position.created);
      sqlite3_bind_int64(more.stmt, 4, static_cast<int64_t>(position.seq));
      if (sqlite3_step(more.stmt) != SQLITE_DONE) {
        status = SqliteError(db_, "write stream position");
      }
      sqlite3_reset(more.stmt);
    }
    Statement head;
    if (status.ok() &&
        sqlite3_prepare_v2(db_,
                           "INSERT INTO cluster_snapshot(id, seq, stream, "
                           "stream_created, chunk_count) VALUES(1, ?, ?, ?, ?)",
                           -1, &head.stmt, nullptr) != SQLITE_OK) {
      status = SqliteError(db_, "prepare");
    }
    if (status.ok()) {
      sqlite3_bind_int64(head.stmt, 1, static_cast<int64_t>(snapshot.seq));
      sqlite3_bind_text(head.stmt, 2, snapshot.stream.c_str(), -1,
                        SQLITE_TRANSIENT);
      sqlite3_bind_int64(head.stmt, 3, snapshot.stream_created);
      sqlite3_bind_int64(head.stmt, 4,
                         static_cast<int64_t>(snapshot.chunks.size()));
      if (sqlite3_step(head.stmt) != SQLITE_DONE) {
        status = SqliteError(db_, "write snapshot");
      }
    }
  }
  if (!status.ok()) {
    Exec("ROLLBACK;").IgnoreError();
    return status;
  }
  return Exec("COMMIT;");
}

}  // namespace banditd::cluster
