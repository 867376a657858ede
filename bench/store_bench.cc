// store_bench: durability benchmarks of server/store (issue 3).
//
//   store_bench [--dir=/tmp/store_bench] [--seconds=2] [--quick]
//
// 1. Durable Feedback throughput through DurableCommitter (sync durability:
//    every acknowledged batch is on disk) at 1, 8 and 64 concurrent clients
//    with batches of 1 and 1,000 events, beside SQLite's own ceiling for the
//    same records: a plain loop inserting them in big transactions.
// 2. Recovery time of a log holding 10 million events.
// 3. Snapshot pause at 1 million counters, and Feedback latency meanwhile.
//
// Clients are threads calling Committer::Submit in a closed loop (the gRPC
// layer is measured by scripts/bench_grpc.sh). Unknown flags (for example
// --benchmark_min_time from scripts/bench.sh) are ignored.

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/core/engine.h"
#include "server/store/durable_committer.h"
#include "server/store/engine_state.h"
#include "server/store/log_codec.h"
#include "server/store/snapshot_codec.h"
#include "server/store/sqlite_log_store.h"

namespace banditd {
namespace {

using store::DurableCommitter;

struct Flags {
  std::string dir = "/tmp/store_bench";
  double seconds = 2;
  bool quick = false;
  // Comma-separated parts to run: throughput, recovery, snapshot.
  std::string parts = "phases,throughput,recovery,snapshot";
  // Only these client counts and batch sizes (0: all).
  int clients = 0;
  int batch = 0;
};

constexpr int kArms = 100;

core::FeedbackBatch MakeBatch(int events, int salt) {
  core::FeedbackBatch batch;
  batch.events.reserve(events);
  for (int i = 0; i < events; ++i) {
    core::FeedbackEvent e;
    e.room_id = "bench";
    e.arm_id = absl::StrCat("arm", (i * 7 + salt) % kArms);
    e.segment = absl::StrCat("country=", (i + salt) % 20);
    e.views = 1;
    e.clicks = (i + salt) % 3 == 0 ? 1 : 0;
    batch.events.push_back(std::move(e));
  }
  return batch;
}

core::CreateRoom BenchRoom(int arms) {
  core::CreateRoom create;
  create.room_id = "bench";
  for (int i = 0; i < arms; ++i)
    create.arm_ids.push_back(absl::StrCat("arm", i));
  return create;
}

absl::StatusOr<core::ApplyResult> SubmitAndWait(store::Committer& committer,
                                                core::Mutation m) {
  absl::Notification done;
  absl::StatusOr<core::ApplyResult> result;
  committer.Submit(std::move(m), [&](absl::StatusOr<core::ApplyResult> r) {
    result = std::move(r);
    done.Notify();
  });
  done.WaitForNotification();
  return result;
}

DurableCommitter::Options QuietOptions(const std::string& dir) {
  DurableCommitter::Options options;
  options.data_dir = dir;
  options.log_recovery = false;
  options.snapshot_every_records = 0;
  options.snapshot_interval = absl::Hours(24);
  return options;
}

void Fresh(const std::string& dir) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
}

// Events per second through DurableCommitter with `clients` closed-loop
// clients sending batches of `batch` events.
double DurableThroughput(const Flags& flags, int clients, int batch,
                         bool async = false) {
  const std::string dir = flags.dir + "/durable";
  Fresh(dir);
  core::Engine engine;
  DurableCommitter::Options options = QuietOptions(dir);
  if (async) options.durability = DurableCommitter::Durability::kAsync;
  auto committer = DurableCommitter::Open(options, &engine);
  if (!committer.ok()) {
    absl::FPrintF(stderr, "%s\n", committer.status().ToString());
    std::exit(1);
  }
  (void)SubmitAndWait(**committer, BenchRoom(kArms));
  std::vector<core::FeedbackBatch> batches;
  for (int i = 0; i < 16; ++i) batches.push_back(MakeBatch(batch, i));

  std::atomic<bool> stop{false};
  std::atomic<int64_t> events{0};
  std::vector<std::thread> threads;
  const absl::Time start = absl::Now();
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      int64_t mine = 0;
      for (int i = c; !stop.load(std::memory_order_relaxed); ++i) {
        absl::StatusOr<core::ApplyResult> r =
            SubmitAndWait(**committer, batches[i % batches.size()]);
        if (!r.ok()) {
          absl::FPrintF(stderr, "%s\n", r.status().ToString());
          std::exit(1);
        }
        mine += r->applied_events;
      }
      events += mine;
    });
  }
  absl::SleepFor(absl::Seconds(flags.seconds));
  stop = true;
  for (std::thread& t : threads) t.join();
  const double elapsed = absl::ToDoubleSeconds(absl::Now() - start);
  const DurableCommitter::Stats stats = (*committer)->stats();
  absl::PrintF(
      "  %s clients=%-3d batch=%-5d %12.0f events/s  "
      "(%d groups, %.1f records/group)\n",
      async ? "async  " : "durable", clients, batch, events / elapsed,
      stats.groups,
      static_cast<double>(stats.records) / std::max<int64_t>(1, stats.groups));
  return events / elapsed;
}

// SQLite's ceiling: the same records inserted by a plain loop in big
// transactions (synchronous=FULL, WAL), no engine, no threads.
double SqliteCeiling(const Flags& flags, int batch) {
  const std::string dir = flags.dir + "/ceiling";
  Fresh(dir);
  std::vector<std::string> records;
  for (int i = 0; i < 16; ++i) {
    records.push_back(store::EncodeMutation(MakeBatch(batch, i)));
  }
  sqlite3* db = nullptr;
  sqlite3_open((dir + "/ceiling.db").c_str(), &db);
  sqlite3_exec(
      db,
      "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
      "CREATE TABLE log(seq INTEGER PRIMARY KEY, record BLOB NOT NULL)",
      nullptr, nullptr, nullptr);
  sqlite3_stmt* insert = nullptr;
  sqlite3_prepare_v2(db, "INSERT INTO log VALUES(?, ?)", -1, &insert, nullptr);
  // About 10 MB per transaction.
  const int per_tx =
      std::max<int>(1, static_cast<int>(10'000'000 / records[0].size()));
  int64_t seq = 0;
  const absl::Time start = absl::Now();
  const absl::Time end = start + absl::Seconds(flags.seconds);
  while (absl::Now() < end) {
    sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
    for (int i = 0; i < per_tx; ++i) {
      const std::string& r = records[seq % records.size()];
      sqlite3_bind_int64(insert, 1, ++seq);
      sqlite3_bind_blob(insert, 2, r.data(), static_cast<int>(r.size()),
                        SQLITE_STATIC);
      sqlite3_step(insert);
      sqlite3_reset(insert);
    }
    sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  }
  const double elapsed = absl::ToDoubleSeconds(absl::Now() - start);
  sqlite3_finalize(insert);
  sqlite3_close(db);
  const double rate = seq * static_cast<double>(batch) / elapsed;
  absl::PrintF(
      "  ceiling  batch=%-5d (%d records/tx, %d B/record) "
      "%12.0f events/s\n",
      batch, per_tx, records[0].size(), rate);
  return rate;
}

void Throughput(const Flags& flags) {
  absl::PrintF("== Durable Feedback throughput (sync durability)\n");
  for (int batch : {1, 1000}) {
    if (flags.batch != 0 && batch != flags.batch) continue;
    const double ceiling = SqliteCeiling(flags, batch);
    for (int clients : {1, 8, 64}) {
      if (flags.clients != 0 && clients != flags.clients) continue;
      const double rate = DurableThroughput(flags, clients, batch);
      absl::PrintF("           -> %.0f%% of the SQLite ceiling\n",
                   100 * rate / ceiling);
    }
    if (flags.clients == 0 || flags.clients == 64) {
      // For comparison: --durability=async (acknowledged before the sync).
      const double rate = DurableThroughput(flags, 64, batch, /*async=*/true);
      absl::PrintF("           -> %.0f%% of the SQLite ceiling\n",
                   100 * rate / ceiling);
    }
  }
}

// Writes `events` Feedback events as records of `batch` events straight
// into a store, then times a cold DurableCommitter::Open (no snapshot).
void Recovery(const Flags& flags, int64_t events, int batch) {
  const std::string dir = flags.dir + "/recovery";
  Fresh(dir);
  {
    store::SqliteLogStore::Options options;
    options.path = dir + "/" + DurableCommitter::kDatabaseFile;
    options.sync_every_commit = false;
    auto log = store::SqliteLogStore::Open(options);
    if (!log.ok()) std::exit(1);
    std::vector<std::string> records;
    records.push_back(store::EncodeMutation(BenchRoom(kArms)));
    (void)(*log)->Append(records);
    records.clear();
    std::vector<std::string> pool;
    for (int i = 0; i < 16; ++i) {
      pool.push_back(store::EncodeMutation(MakeBatch(batch, i)));
    }
    for (int64_t written = 0; written < events; written += batch) {
      records.push_back(pool[records.size() % pool.size()]);
      if (records.size() * batch >= 200'000) {
        (void)(*log)->Append(records);
        records.clear();
      }
    }
    (void)(*log)->Append(records);
    (void)(*log)->Sync();
  }
  const auto size =
      std::filesystem::file_size(dir + "/" + DurableCommitter::kDatabaseFile);
  // Drop the page cache is not possible unprivileged everywhere; this is a
  // warm-cache figure, like a restart right after a crash.
  core::Engine engine;
  const absl::Time start = absl::Now();
  auto committer = DurableCommitter::Open(QuietOptions(dir), &engine);
  const absl::Duration elapsed = absl::Now() - start;
  if (!committer.ok()) {
    absl::FPrintF(stderr, "%s\n", committer.status().ToString());
    std::exit(1);
  }
  const auto& r = (*committer)->recovery();
  absl::PrintF(
      "  %d events in %d records of %d (db %.0f MB): recovered in "
      "%.2f s (%.1f M events/s)\n",
      r.events_replayed - 1, r.records_replayed, batch, size / 1e6,
      absl::ToDoubleSeconds(elapsed),
      r.events_replayed / absl::ToDoubleSeconds(elapsed) / 1e6);
}

// Builds a room with `arms` x `segments` counters, then snapshots it while a
// client keeps sending Feedback, and reports the writer's pause and the
// client's worst latency.
void SnapshotPause(const Flags& flags, int arms, int segments,
                   int64_t event_ids = 0) {
  const std::string dir = flags.dir + "/snapshot";
  Fresh(dir);
  core::Engine engine;
  auto opened = DurableCommitter::Open(QuietOptions(dir), &engine);
  if (!opened.ok()) std::exit(1);
  DurableCommitter& committer = **opened;
  (void)SubmitAndWait(committer, BenchRoom(arms));
  // Touch every (segment, arm) so every table is full size.
  for (int s = 0; s < segments; ++s) {
    core::FeedbackBatch batch;
    core::FeedbackEvent e;
    e.room_id = "bench";
    e.segment = absl::StrCat("seg", s);
    e.arm_id = absl::StrCat("arm", s % arms);
    e.views = 1;
    batch.events.push_back(e);
    (void)SubmitAndWait(committer, batch);
  }
  const int64_t counters = static_cast<int64_t>(arms) * (segments + 1);
  // Fill the de-duplication window (it is part of every snapshot).
  for (int64_t id = 0; id < event_ids;) {
    core::FeedbackBatch batch;
    for (int i = 0; i < 10'000 && id < event_ids; ++i, ++id) {
      core::FeedbackEvent e;
      e.room_id = "bench";
      e.arm_id = absl::StrCat("arm", id % arms);
      e.views = 1;
      e.event_id = absl::StrCat("evt-", id);
      batch.events.push_back(std::move(e));
    }
    (void)SubmitAndWait(committer, batch);
  }

  // Baseline and during-snapshot Feedback latency from one client.
  std::atomic<int> phase{0};  // 0 baseline, 1 snapshot running, 2 stop
  absl::Mutex mu;
  absl::Duration max_base, max_during;
  int64_t n_during = 0;
  std::thread client([&] {
    core::FeedbackBatch batch = MakeBatch(10, 1);
    for (auto& e : batch.events) e.segment = "seg1";
    while (phase.load() != 2) {
      const int p = phase.load();
      const absl::Time t0 = absl::Now();
      (void)SubmitAndWait(committer, batch);
      const absl::Duration d = absl::Now() - t0;
      absl::MutexLock lock(&mu);
      if (p == 0) max_base = std::max(max_base, d);
      if (p == 1) {
        max_during = std::max(max_during, d);
        ++n_during;
      }
    }
  });
  absl::SleepFor(absl::Milliseconds(500));
  phase = 1;
  const absl::Status status = committer.SnapshotNow();
  phase = 2;
  client.join();
  const DurableCommitter::Stats stats = committer.stats();
  absl::PrintF(
      "  %d counters (%d arms x %d tables), %d event ids: pause %.2f ms, "
      "snapshot "
      "written in %.0f ms (%s); Feedback max latency %.2f ms during it "
      "(%d calls) vs %.2f ms before\n",
      counters, arms, segments + 1, event_ids,
      absl::ToDoubleMilliseconds(stats.last_snapshot_pause),
      absl::ToDoubleMilliseconds(stats.last_snapshot_total),
      status.ok() ? "ok" : status.ToString(),
      absl::ToDoubleMilliseconds(max_during), n_during,
      absl::ToDoubleMilliseconds(max_base));
  // Snapshot size (the encoded chunks, as stored), for capacity planning.
  size_t bytes = 0;
  for (const std::string& chunk :
       store::EncodeSnapshot(store::CaptureState(engine))) {
    bytes += chunk.size();
  }
  absl::PrintF("    snapshot size %.1f MB: %.1f bytes per counter%s\n",
               bytes / 1e6, static_cast<double>(bytes) / counters,
               event_ids > 0 ? " (event ids included)" : "");
}

// Single-thread cost of each step of the durable path for one batch.
void Phases(const Flags& flags) {
  core::Engine engine;
  (void)engine.Apply(BenchRoom(kArms));
  const core::FeedbackBatch batch = MakeBatch(1000, 3);
  const int n = flags.quick ? 200 : 1000;
  auto time = [&](const char* name, auto&& body) {
    const absl::Time t0 = absl::Now();
    for (int i = 0; i < n; ++i) body();
    const double ns =
        absl::ToDoubleNanoseconds(absl::Now() - t0) / n / batch.events.size();
    absl::PrintF("  %-10s %7.1f ns/event\n", name, ns);
  };
  absl::PrintF("== Per-event cost of each step (one thread, batch 1000)\n");
  time("copy", [&] { core::FeedbackBatch copy = batch; });
  time("validate", [&] { (void)engine.Validate(batch); });
  time("encode", [&] { (void)store::EncodeMutation(batch); });
  const std::string record = store::EncodeMutation(batch);
  time("decode", [&] { (void)store::DecodeMutation(record); });
  time("apply", [&] { (void)engine.Apply(batch); });
}

int Main(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg.rfind("--dir=", 0) == 0) flags.dir = std::string(arg.substr(6));
    if (arg.rfind("--seconds=", 0) == 0) {
      (void)absl::SimpleAtod(std::string(arg.substr(10)), &flags.seconds);
    }
    if (arg == "--quick") flags.quick = true;
    if (arg.rfind("--parts=", 0) == 0) flags.parts = std::string(arg.substr(8));
    if (arg.rfind("--clients=", 0) == 0) {
      (void)absl::SimpleAtoi(std::string(arg.substr(10)), &flags.clients);
    }
    if (arg.rfind("--batch=", 0) == 0) {
      (void)absl::SimpleAtoi(std::string(arg.substr(8)), &flags.batch);
    }
  }
  if (flags.quick) flags.seconds = std::min(flags.seconds, 0.5);
  auto want = [&flags](const char* part) {
    return flags.parts.find(part) != std::string::npos;
  };
  if (want("phases")) Phases(flags);
  if (want("throughput")) Throughput(flags);
  if (want("recovery")) {
    absl::PrintF("== Recovery (warm cache, no snapshot)\n");
    Recovery(flags, flags.quick ? 1'000'000 : 10'000'000, 1000);
    Recovery(flags, flags.quick ? 100'000 : 10'000'000, 10);
  }
  if (want("snapshot")) {
    absl::PrintF("== Snapshot pause\n");
    SnapshotPause(flags, 10'000, 99);
    SnapshotPause(flags, 1'000'000, 0);
    SnapshotPause(flags, 10'000, 99, flags.quick ? 100'000 : 1'000'000);
  }
  std::filesystem::remove_all(flags.dir);
  return 0;
}

}  // namespace
}  // namespace banditd

int main(int argc, char** argv) { return banditd::Main(argc, argv); }
