// The store's flags (server/store): where and how durably the log is kept,
// its snapshots, and the decision log.

#include "server/flags/store_flags.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

ABSL_FLAG(std::string, data_dir, "./data", "Directory of the SQLite database.");

// Durability (server/store).
ABSL_FLAG(std::string, durability, "sync",
          "sync: a write is acknowledged once on disk. async: acknowledged "
          "once handed to the OS (survives a crash of the process), synced "
          "every --flush_interval (a power loss loses at most that).");
ABSL_FLAG(bool, verify_on_open, false,
          "Run SQLite's quick_check over the whole database before recovery "
          "(reads every page; recovery itself checks what it reads).");
ABSL_FLAG(int64_t, log_cache_bytes, int64_t{4} << 20,
          "SQLite page cache of the log database, in bytes: the log is "
          "appended and read back only at recovery, so more cache is resident "
          "memory that is not read again.");
ABSL_FLAG(absl::Duration, flush_interval, absl::Milliseconds(100),
          "With --durability=async, the longest time between disk syncs.");
ABSL_FLAG(int64_t, snapshot_every_records, 100'000,
          "Snapshot the state after this many log records (0: never by "
          "count).");
ABSL_FLAG(int64_t, snapshot_interval_seconds, 600,
          "Snapshot the state this often if anything changed.");

ABSL_FLAG(bool, decision_log, false,
          "Log every Sample decision (context, eligible and returned arms, "
          "propensities) and the outcomes Feedback reports for it, in "
          "<data_dir>/decisions.sqlite; ExportDecisions streams it. Needs "
          "--decision_cache_size > 0.");
ABSL_FLAG(absl::Duration, decision_log_max_age, absl::Hours(24 * 7),
          "Decision log retention: rows older than this are deleted.");
ABSL_FLAG(int64_t, decision_log_max_rows, 10'000'000,
          "Decision log retention: at most this many decisions are kept.");
ABSL_FLAG(int64_t, decision_log_max_bytes, int64_t{10} << 30,
          "Decision log retention: the file's pages in use, at most, in bytes "
          "(the oldest decisions go first; a Sample of a big room may log "
          "every candidate arm). 0: no limit.");
ABSL_FLAG(int64_t, decision_log_max_queued_bytes, int64_t{64} << 20,
          "Decision log: most bytes of decisions and outcomes waiting to be "
          "written (a Sample may list many candidates); beyond, they are "
          "dropped and counted.");

namespace banditd::flags {

absl::StatusOr<store::DurableCommitter::Options> StoreOptionsFromFlags() {
  store::DurableCommitter::Options options;
  options.data_dir = absl::GetFlag(FLAGS_data_dir);
  if (const std::string d = absl::GetFlag(FLAGS_durability); d == "async") {
    options.durability = store::DurableCommitter::Durability::kAsync;
  } else if (d != "sync") {
    return absl::InvalidArgumentError(
        absl::StrCat("--durability must be sync or async, not ", d));
  }
  options.flush_interval = absl::GetFlag(FLAGS_flush_interval);
  options.snapshot_every_records = absl::GetFlag(FLAGS_snapshot_every_records);
  options.snapshot_interval =
      absl::Seconds(absl::GetFlag(FLAGS_snapshot_interval_seconds));
  options.verify_on_open = absl::GetFlag(FLAGS_verify_on_open);
  options.log_cache_bytes = absl::GetFlag(FLAGS_log_cache_bytes);
  if (options.log_cache_bytes < 0) {
    return absl::InvalidArgumentError("--log_cache_bytes must be >= 0");
  }
  return options;
}

absl::StatusOr<std::unique_ptr<store::DecisionLog>> DecisionLogFromFlags(
    bool decision_ids) {
  if (!absl::GetFlag(FLAGS_decision_log)) return nullptr;
  if (!decision_ids) {
    return absl::InvalidArgumentError(
        "--decision_log needs decision ids: --decision_cache_size > 0 or "
        "--decision_id_key_file");
  }
  store::DecisionLog::Options options;
  options.path =
      absl::StrCat(absl::GetFlag(FLAGS_data_dir), "/decisions.sqlite");
  options.max_age = absl::GetFlag(FLAGS_decision_log_max_age);
  options.max_rows = absl::GetFlag(FLAGS_decision_log_max_rows);
  options.max_bytes = absl::GetFlag(FLAGS_decision_log_max_bytes);
  options.max_queued_bytes = static_cast<size_t>(
      std::max<int64_t>(absl::GetFlag(FLAGS_decision_log_max_queued_bytes), 0));
  return store::DecisionLog::Open(options);
}

}  // namespace banditd::flags
