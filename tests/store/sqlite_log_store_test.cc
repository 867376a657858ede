#include "server/store/sqlite_log_store.h"

#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace banditd::store {
namespace {

class SqliteLogStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           absl::StrCat(
               "sqlite_log_store_test_", getpid(), "_",
               ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "banditd.db").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  absl::StatusOr<std::unique_ptr<SqliteLogStore>> OpenStore(
      int64_t max_page_count = 0) {
    SqliteLogStore::Options options;
    options.path = path_;
    options.max_page_count = max_page_count;
    return SqliteLogStore::Open(options);
  }

  std::vector<std::pair<int64_t, std::string>> ReadAll(LogStore& store,
                                                       int64_t after = 0) {
    std::vector<std::pair<int64_t, std::string>> out;
    EXPECT_TRUE(store
                    .Read(after,
                          [&](int64_t seq, std::string_view record) {
                            out.emplace_back(seq, std::string(record));
                            return absl::OkStatus();
                          })
                    .ok());
    return out;
  }

  // Runs raw SQL on the file with a separate connection.
  void RawExec(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    char* error = nullptr;
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error),
              SQLITE_OK)
        << (error ? error : "");
    sqlite3_free(error);
    sqlite3_close(db);
  }

  std::string FileBytes() {
    std::ifstream in(path_, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(SqliteLogStoreTest, AppendsAndReadsBackAcrossReopen) {
  {
    auto store = OpenStore();
    ASSERT_TRUE(store.ok()) << store.status();
    EXPECT_EQ((*store)->last_seq(), 0);
    ASSERT_TRUE((*store)->Append({"a", "b"}).ok());
    ASSERT_TRUE((*store)->Append({std::string("c\0d", 3)}).ok());
    EXPECT_EQ((*store)->last_seq(), 3);
  }
  auto store = OpenStore();
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->last_seq(), 3);
  auto records = ReadAll(**store);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0], std::make_pair(int64_t{1}, std::string("a")));
  EXPECT_EQ(records[2].second, std::string("c\0d", 3));
  EXPECT_EQ(ReadAll(**store, 2).size(), 1u);
}

TEST_F(SqliteLogStoreTest, SnapshotCommitLoadAndTrim) {
  auto store = OpenStore();
  ASSERT_TRUE(store.ok());
  LogStore& s = **store;
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(s.Append({absl::StrCat(i)}).ok());
  auto none = s.LoadLatestSnapshot();
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());

  ASSERT_TRUE(s.WriteSnapshotChunks(60, 0, {"x", "y"}).ok());
  // Not visible until committed.
  EXPECT_FALSE(s.LoadLatestSnapshot()->has_value());
  ASSERT_TRUE(s.WriteSnapshotChunks(60, 2, {"z"}).ok());
  // A commit claiming more chunks than were written is refused.
  EXPECT_FALSE(s.CommitSnapshot(60, 4).ok());
  ASSERT_TRUE(s.CommitSnapshot(60, 3).ok());
  auto snapshot = s.LoadLatestSnapshot();
  ASSERT_TRUE(snapshot.ok() && snapshot->has_value());
  EXPECT_EQ((*snapshot)->seq, 60);
  EXPECT_EQ((*snapshot)->chunks, (std::vector<std::string>{"x", "y", "z"}));

  // Trim in small steps until done: records <= 60 go, later ones stay.
  int rounds = 0;
  while (true) {
    absl::StatusOr<bool> more = s.Trim(7);
    ASSERT_TRUE(more.ok()) << more.status();
    ++rounds;
    if (!*more) break;
  }
  EXPECT_GE(rounds, 8);
  auto rest = ReadAll(s);
  ASSERT_EQ(rest.size(), 40u);
  EXPECT_EQ(rest.front().first, 61);

  // A newer snapshot replaces the old one; trimming drops its chunks.
  ASSERT_TRUE(s.WriteSnapshotChunks(100, 0, {"new"}).ok());
  ASSERT_TRUE(s.CommitSnapshot(100, 1).ok());
  while (*s.Trim(1000)) {
  }
  EXPECT_TRUE(ReadAll(s).empty());
  EXPECT_EQ(s.last_seq(), 100);
  store->reset();

  // After reopening, numbering continues after the snapshot.
  store = OpenStore();
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->last_seq(), 100);
  ASSERT_TRUE((*store)->Append({"next"}).ok());
  EXPECT_EQ(ReadAll(**store).front().first, 101);
  EXPECT_EQ((*(*store)->LoadLatestSnapshot())->chunks,
            std::vector<std::string>{"new"});
}

TEST_F(SqliteLogStoreTest, RefusesForeignDatabaseAndLeavesItAlone) {
  RawExec(
      "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT);"
      "INSERT INTO users VALUES(1, 'ann');");
  const std::string before = FileBytes();
  auto store = OpenStore();
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(store.status().message().find("not a banditd database"),
            std::string::npos)
      << store.status();
  EXPECT_EQ(FileBytes(), before);
}

TEST_F(SqliteLogStoreTest, RefusesNewerFormatVersion) {
  { ASSERT_TRUE(OpenStore().ok()); }
  RawExec(
      absl::StrCat("PRAGMA user_version=", SqliteLogStore::kFormatVersion + 1));
  const std::string before = FileBytes();
  auto store = OpenStore();
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(store.status().message().find("newer"), std::string::npos)
      << store.status();
  EXPECT_EQ(FileBytes(), before);
}

TEST_F(SqliteLogStoreTest, RefusesAFileThatIsNotADatabase) {
  {
    std::ofstream out(path_, std::ios::binary);
    for (int i = 0; i < 1000; ++i) out << "this is not a database ";
  }
  const std::string before = FileBytes();
  auto store = OpenStore();
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss)
      << store.status();
  EXPECT_EQ(FileBytes(), before);
}

TEST_F(SqliteLogStoreTest, RefusesACorruptDatabase) {
  {
    auto store = OpenStore();
    ASSERT_TRUE(store.ok());
    for (int i = 0; i < 200; ++i) {
      ASSERT_TRUE((*store)->Append({std::string(1000, 'a' + i % 26)}).ok());
    }
    // A checkpoint moves everything into the main file.
    ASSERT_TRUE((*store)->Sync().ok());
  }
  RawExec("PRAGMA wal_checkpoint(TRUNCATE)");
  // Overwrite the second page (the root of a table) with junk.
  {
    std::fstream f(path_, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(4096);
    const std::string junk(4096, '\x5a');
    f.write(junk.data(), junk.size());
  }
  SqliteLogStore::Options options;
  options.path = path_;
  options.verify_on_open = true;
  auto store = SqliteLogStore::Open(options);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss)
      << store.status();
}

TEST_F(SqliteLogStoreTest, SecondOpenOfTheSameFileIsRefused) {
  auto first = OpenStore();
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE((*first)->Append({"a"}).ok());
  auto second = OpenStore();
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable)
      << second.status();
  EXPECT_TRUE((*first)->Append({"b"}).ok());
}

TEST_F(SqliteLogStoreTest, DiskFullFailsCleanlyAndRecovers) {
  auto store = OpenStore();
  ASSERT_TRUE(store.ok());
  SqliteLogStore& s = **store;
  ASSERT_TRUE(s.Append({"first"}).ok());
  absl::StatusOr<int64_t> pages = s.PageCount();
  ASSERT_TRUE(pages.ok());
  ASSERT_TRUE(s.SetMaxPageCount(*pages + 2).ok());

  const std::string big(3000, 'x');
  int appended = 0;
  absl::Status status;
  while ((status = s.Append({big, big})).ok()) ++appended;
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  const int64_t last = s.last_seq();
  EXPECT_EQ(last, 1 + 2 * appended);
  // Nothing of the failed append is visible.
  EXPECT_EQ(static_cast<int64_t>(ReadAll(s).size()), last);

  ASSERT_TRUE(s.SetMaxPageCount(0).ok());
  ASSERT_TRUE(s.Append({big, big}).ok());
  EXPECT_EQ(s.last_seq(), last + 2);
  EXPECT_EQ(static_cast<int64_t>(ReadAll(s).size()), last + 2);
}

TEST_F(SqliteLogStoreTest, AsyncModeSyncsByCheckpoint) {
  SqliteLogStore::Options options;
  options.path = path_;
  options.sync_every_commit = false;
  {
    auto store = SqliteLogStore::Open(options);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->Append({"a", "b"}).ok());
    ASSERT_TRUE((*store)->Sync().ok());
    ASSERT_TRUE((*store)->Append({"c"}).ok());
  }
  auto store = SqliteLogStore::Open(options);
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->last_seq(), 3);
}

TEST_F(SqliteLogStoreTest, PageCacheStaysWithinCacheBytes) {
  SqliteLogStore::Options options;
  options.path = path_;
  options.sync_every_commit = false;
  options.cache_bytes = 1 << 20;
  {
    auto store = SqliteLogStore::Open(options);
    ASSERT_TRUE(store.ok()) << store.status();
    const int64_t before = sqlite3_memory_used();
    ASSERT_GT(before, 0) << "SQLite built without memory statistics";
    // 16 MiB of log, written and read back: a cache of them all (as the
    // 64 MiB cache held) would keep them resident.
    const std::string record(64 << 10, 'r');
    for (int group = 0; group < 16; ++group) {
      ASSERT_TRUE((*store)->Append(std::vector<std::string>(16, record)).ok());
    }
    EXPECT_EQ(ReadAll(**store).size(), 256u);
    EXPECT_LT(sqlite3_memory_used() - before, int64_t{4} << 20);
  }
}

}  // namespace
}  // namespace banditd::store
