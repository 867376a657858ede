#include "server/store/decision_log.h"

#include <sqlite3.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "banditd/internal/v1/log.pb.h"
#include "server/store/decision_body.h"

namespace banditd::store {
namespace {

namespace pb = ::banditd::internal::v1;

// Schema 2 (PRAGMA user_version): decisions in sequence order with no
// secondary index (export filters by room while walking seq order: a linear
// scan over all its pages); outcomes keyed by decision id.
#define BANDITD_DECISION_TABLES              \
  "CREATE TABLE IF NOT EXISTS decisions ("   \
  "  seq INTEGER PRIMARY KEY AUTOINCREMENT," \
  "  decision_id TEXT NOT NULL,"             \
  "  time_us INTEGER NOT NULL,"              \
  "  room_id TEXT NOT NULL,"                 \
  "  body BLOB NOT NULL);"                   \
  "CREATE TABLE IF NOT EXISTS outcomes ("    \
  "  decision_id TEXT NOT NULL,"             \
  "  arm_id TEXT NOT NULL,"                  \
  "  views INTEGER NOT NULL,"                \
  "  clicks INTEGER NOT NULL,"               \
  "  reward REAL NOT NULL,"                  \
  "  time_us INTEGER NOT NULL);"             \
  "CREATE INDEX IF NOT EXISTS outcomes_decision ON outcomes (decision_id);"

constexpr char kSchema[] = BANDITD_DECISION_TABLES "PRAGMA user_version = 2;";

// Schema 1 (before: a unique index on decision_id, an index on room_id, and
// outcomes keyed by the decision's seq) to 2, keeping every row and the
// sequence counter, so that exports resume where they were.
constexpr char kMigrateFrom1[] =
    "BEGIN;"
    "ALTER TABLE decisions RENAME TO decisions_v1;"
    "ALTER TABLE outcomes RENAME TO outcomes_v1;"
    "DROP INDEX IF EXISTS decisions_room;"
    "DROP INDEX IF EXISTS outcomes_decision;" BANDITD_DECISION_TABLES
    "INSERT INTO decisions SELECT seq, decision_id, time_us, room_id, body "
    "  FROM decisions_v1 ORDER BY seq;"
    "INSERT INTO outcomes SELECT d.decision_id, o.arm_id, o.views, o.clicks, "
    "  o.reward, o.time_us FROM outcomes_v1 o "
    "  JOIN decisions_v1 d ON d.seq = o.decision_seq ORDER BY o.rowid;"
    "DELETE FROM sqlite_sequence WHERE name = 'decisions';"
    "UPDATE sqlite_sequence SET name = 'decisions' "
    "  WHERE name = 'decisions_v1';"
    "DROP TABLE outcomes_v1;"
    "DROP TABLE decisions_v1;"
    "PRAGMA user_version = 2;"
    "COMMIT;";
#undef BANDITD_DECISION_TABLES

absl::Status SqlError(sqlite3* db, absl::string_view what) {
  return absl::UnavailableError(
      absl::StrCat("decision log: ", what, ": ", sqlite3_errmsg(db)));
}

absl::Status Exec(sqlite3* db, const char* sql) {
  if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
    return SqlError(db, sql);
  }
  return absl::OkStatus();
}

// A statement finalized on scope exit.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) {
    rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
  }
  ~Stmt() { sqlite3_finalize(stmt_); }
  bool ok() const { return rc_ == SQLITE_OK; }
  sqlite3_stmt* get() { return stmt_; }
  void Text(int i, const std::string& s) {
    sqlite3_bind_text(stmt_, i, s.data(), static_cast<int>(s.size()),
                      SQLITE_TRANSIENT);
  }
  void Int(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  void Real(int i, double v) { sqlite3_bind_double(stmt_, i, v); }
  int Step() { return sqlite3_step(stmt_); }
  void Reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  std::string ColumnText(int c) {
    const auto* p = sqlite3_column_text(stmt_, c);
    return p == nullptr ? "" : std::string(reinterpret_cast<const char*>(p));
  }
  std::string_view ColumnBlob(int c) {
    const void* p = sqlite3_column_blob(stmt_, c);
    return {static_cast<const char*>(p),
            static_cast<size_t>(sqlite3_column_bytes(stmt_, c))};
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_ERROR;
};

std::string EncodeBody(const DecisionRecord& r) {
  DecisionBodyWriter w;
  w.Segment(r.segment)
      .ContextItems(r.context_items)
      .Features(r.features)
      .CandidateArmIds(r.candidate_arm_ids)
      .ExcludedArmIds(r.excluded_arm_ids)
      .EligibleArms(r.eligible_arms)
      .K(r.k)
      .Policy(r.policy_kind);
  for (const std::string& id : r.arm_ids) w.ArmId(id);
  w.Propensities(r.propensities.size(), [&r](size_t i) {
     return r.propensities[i];
   }).PropensityDraws(r.propensity_draws);
  return std::move(w).Finish();
}

// The schema version of an open file: 0 for a new file, 1 for one written
// before user_version was set (it has the v1 tables), else user_version.
absl::StatusOr<int> SchemaVersion(sqlite3* db) {
  Stmt version(db, "PRAGMA user_version");
  if (!version.ok() || version.Step() != SQLITE_ROW) {
    return SqlError(db, "user_version");
  }
  const int v = sqlite3_column_int(version.get(), 0);
  if (v != 0) return v;
  Stmt v1(db,
          "SELECT COUNT(*) FROM pragma_table_info('outcomes') "
          "WHERE name = 'decision_seq'");
  if (!v1.ok() || v1.Step() != SQLITE_ROW) return SqlError(db, "schema");
  return sqlite3_column_int(v1.get(), 0) > 0 ? 1 : 0;
}

absl::Status PrepareSchema(sqlite3* db) {
  absl::StatusOr<int> version = SchemaVersion(db);
  if (!version.ok()) return version.status();
  if (*version == 1) {
    if (absl::Status s = Exec(db, kMigrateFrom1); !s.ok()) {
      (void)Exec(db, "ROLLBACK");
      return s;
    }
    return absl::OkStatus();
  }
  if (*version > 2) {
    return absl::FailedPreconditionError(
        absl::StrCat("decision log: schema version ", *version,
                     " is newer than this server's (2); use a newer banditd"));
  }
  return Exec(db, kSchema);
}

bool DecodeBody(std::string_view bytes, DecisionRecord* r) {
  pb::DecisionEntry e;
  if (!e.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return false;
  }
  r->segment = e.segment();
  r->context_items.assign(e.context_items().begin(), e.context_items().end());
  r->features.assign(e.features().begin(), e.features().end());
  r->candidate_arm_ids.assign(e.candidate_arm_ids().begin(),
                              e.candidate_arm_ids().end());
  r->excluded_arm_ids.assign(e.excluded_arm_ids().begin(),
                             e.excluded_arm_ids().end());
  r->eligible_arms = e.eligible_arms();
  r->k = e.k();
  r->policy_kind = e.policy();
  r->arm_ids.assign(e.arm_ids().begin(), e.arm_ids().end());
  r->propensities.assign(e.propensities().begin(), e.propensities().end());
  r->propensity_draws = e.propensity_draws();
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<DecisionLog>> DecisionLog::Open(
    Options options) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(
          options.path.c_str(), &db,
          SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
          nullptr) != SQLITE_OK) {
    absl::Status s = SqlError(db, absl::StrCat("open ", options.path));
    sqlite3_close(db);
    return s;
  }
  // Decisions are analytics, not state: a crash may lose the last flush
  // interval's rows, so no fsync per transaction.
  absl::Status s = Exec(db, "PRAGMA journal_mode=WAL");
  if (s.ok()) s = Exec(db, "PRAGMA synchronous=NORMAL");
  if (s.ok()) s = PrepareSchema(db);
  if (!s.ok()) {
    sqlite3_close(db);
    return s;
  }
  return std::unique_ptr<DecisionLog>(new DecisionLog(std::move(options), db));
}

DecisionLog::DecisionLog(Options options, sqlite3* db)
    : options_(std::move(options)), db_(db) {
  writer_ = std::thread([this] { Run(); });
}

DecisionLog::~DecisionLog() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  writer_.join();
  (void)WriteQueued();
  sqlite3_close(db_);
}

namespace {

// Memory of a queued record.
size_t RecordBytes(const EncodedDecision& d) {
  return sizeof(d) + d.decision_id.capacity() + d.room_id.capacity() +
         d.body.capacity();
}

size_t RecordBytes(const OutcomeRecord& o) {
  return sizeof(o) + o.decision_id.size() + o.arm_id.size();
}

}  // namespace

bool DecisionLog::Admit(size_t bytes) {
  if (decisions_.size() + outcomes_.size() >= options_.max_queued ||
      queued_bytes_ + bytes > options_.max_queued_bytes) {
    ++stats_.dropped;
    return false;
  }
  queued_bytes_ += bytes;
  return true;
}

void DecisionLog::AddDecision(const DecisionRecord& record) {
  AddDecision(EncodedDecision{record.decision_id, record.time_micros,
                              record.room_id, EncodeBody(record)});
}

void DecisionLog::AddDecision(EncodedDecision decision) {
  const size_t bytes = RecordBytes(decision);
  absl::MutexLock lock(&mu_);
  if (Admit(bytes)) decisions_.push_back(std::move(decision));
}

void DecisionLog::AddOutcomes(std::vector<OutcomeRecord> records) {
  absl::MutexLock lock(&mu_);
  for (OutcomeRecord& r : records) {
    if (Admit(RecordBytes(r))) outcomes_.push_back(std::move(r));
  }
}

DecisionLog::Stats DecisionLog::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

void DecisionLog::Run() {
  absl::Time next_retention = absl::Now();
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto stopping = [this]()
                          ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stop_; };
      mu_.AwaitWithTimeout(absl::Condition(&stopping), options_.flush_interval);
      if (stop_) return;
    }
    (void)WriteQueued();
    if (absl::Now() >= next_retention) {
      absl::MutexLock lock(&db_mu_);
      (void)ApplyRetention(absl::Now());
      next_retention = absl::Now() + absl::Seconds(10);
    }
  }
}

absl::Status DecisionLog::Flush() { return WriteQueued(); }

absl::Status DecisionLog::WriteQueued() {
  std::vector<EncodedDecision> decisions;
  std::vector<OutcomeRecord> outcomes;
  // Hold db_mu_ across the swap so that writes keep the queue's order.
  absl::MutexLock db_lock(&db_mu_);
  {
    absl::MutexLock lock(&mu_);
    decisions.swap(decisions_);
    outcomes.swap(outcomes_);
    queued_bytes_ = 0;
  }
  if (decisions.empty() && outcomes.empty()) return absl::OkStatus();
  absl::Status status = Exec(db_, "BEGIN");
  if (status.ok()) {
    Stmt insert(db_,
                "INSERT INTO decisions (decision_id, time_us, room_id, body) "
                "VALUES (?, ?, ?, ?)");
    Stmt outcome(db_, "INSERT INTO outcomes VALUES (?, ?, ?, ?, ?, ?)");
    if (!insert.ok() || !outcome.ok()) {
      status = SqlError(db_, "prepare");
    }
    for (size_t i = 0; status.ok() && i < decisions.size(); ++i) {
      const EncodedDecision& d = decisions[i];
      insert.Text(1, d.decision_id);
      insert.Int(2, d.time_micros);
      insert.Text(3, d.room_id);
      sqlite3_bind_blob(insert.get(), 4, d.body.data(),
                        static_cast<int>(d.body.size()), SQLITE_STATIC);
      if (insert.Step() != SQLITE_DONE) status = SqlError(db_, "insert");
      insert.Reset();
    }
    for (size_t i = 0; status.ok() && i < outcomes.size(); ++i) {
      const OutcomeRecord& o = outcomes[i];
      outcome.Text(1, o.decision_id);
      outcome.Text(2, o.arm_id);
      outcome.Int(3, o.views);
      outcome.Int(4, o.clicks);
      outcome.Real(5, o.reward);
      outcome.Int(6, o.time_micros);
      if (outcome.Step() != SQLITE_DONE) status = SqlError(db_, "outcome");
      outcome.Reset();
    }
  }
  if (status.ok()) status = Exec(db_, "COMMIT");
  {
    absl::MutexLock lock(&mu_);
    if (status.ok()) {
      stats_.decisions_written += static_cast<int64_t>(decisions.size());
      stats_.outcomes_written += static_cast<int64_t>(outcomes.size());
    } else {
      (void)Exec(db_, "ROLLBACK");
      ++stats_.write_errors;
      stats_.dropped +=
          static_cast<int64_t>(decisions.size() + outcomes.size());
    }
  }
  return status.ok() ? RetainBytes() : status;
}

absl::Status DecisionLog::Retain(absl::Time now) {
  absl::MutexLock lock(&db_mu_);
  return ApplyRetention(now);
}

absl::Status DecisionLog::ApplyRetention(absl::Time now) {
  const int64_t cutoff = absl::ToUnixMicros(now - options_.max_age);
  // Rows are appended in time order (up to clock steps), so the expired
  // ones are those before the first row young enough: found by walking seq
  // order over just the expired rows, without an index on time_us.
  Stmt by_age(db_,
              "DELETE FROM decisions WHERE seq < COALESCE((SELECT seq FROM "
              "decisions WHERE time_us >= ?1 ORDER BY seq LIMIT 1), (SELECT "
              "MAX(seq) + 1 FROM decisions))");
  by_age.Int(1, cutoff);
  if (by_age.Step() != SQLITE_DONE) return SqlError(db_, "retention");
  Stmt by_rows(db_,
               "DELETE FROM decisions WHERE seq <= (SELECT MAX(seq) FROM "
               "decisions) - ?");
  by_rows.Int(1, options_.max_rows);
  if (by_rows.Step() != SQLITE_DONE) return SqlError(db_, "retention");
  return DeleteOrphanOutcomes();
}

absl::Status DecisionLog::DeleteOrphanOutcomes() {
  // An outcome comes after its decision: those older than the oldest
  // decision kept belong to none kept (all of them when none is kept).
  // Same walk as by age, over the outcomes' append order.
  return Exec(db_,
              "DELETE FROM outcomes WHERE rowid < COALESCE((SELECT rowid FROM "
              "outcomes WHERE time_us >= (SELECT time_us FROM decisions ORDER "
              "BY seq LIMIT 1) ORDER BY rowid LIMIT 1), (SELECT MAX(rowid) + 1 "
              "FROM outcomes))");
}

absl::Status DecisionLog::RetainBytes() {
  if (options_.max_bytes <= 0) return absl::OkStatus();
  // A few rounds at most: each deletes the share of the rows that the
  // excess is of the file, plus a tenth so that not every write deletes.
  for (int round = 0; round < 4; ++round) {
    Stmt pages(db_,
               "SELECT (SELECT page_count FROM pragma_page_count()) - "
               "(SELECT freelist_count FROM pragma_freelist_count()), "
               "(SELECT page_size FROM pragma_page_size()), "
               "(SELECT MIN(seq) FROM decisions), "
               "(SELECT MAX(seq) FROM decisions)");
    if (pages.Step() != SQLITE_ROW) return SqlError(db_, "retention by bytes");
    const int64_t used = sqlite3_column_int64(pages.get(), 0) *
                         sqlite3_column_int64(pages.get(), 1);
    if (used <= options_.max_bytes ||
        sqlite3_column_type(pages.get(), 2) == SQLITE_NULL) {
      return absl::OkStatus();
    }
    const int64_t first = sqlite3_column_int64(pages.get(), 2);
    const int64_t last = sqlite3_column_int64(pages.get(), 3);
    const double share =
        (static_cast<double>(used) - 0.9 * options_.max_bytes) / used;
    const int64_t cut =
        first +
        static_cast<int64_t>(share * static_cast<double>(last - first + 1));
    Stmt drop(db_, "DELETE FROM decisions WHERE seq <= ?");
    drop.Int(1, std::min(cut, last));
    if (drop.Step() != SQLITE_DONE) return SqlError(db_, "retention by bytes");
    const int deleted = sqlite3_changes(db_);
    {
      absl::MutexLock lock(&mu_);
      stats_.deleted_for_bytes += deleted;
    }
    absl::Status outcomes = DeleteOrphanOutcomes();
    if (!outcomes.ok()) return outcomes;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<JoinedDecision>> DecisionLog::Read(
    const std::string& room_id, int64_t after, int limit) {
  absl::MutexLock lock(&db_mu_);
  Stmt select(db_,
              room_id.empty()
                  ? "SELECT seq, decision_id, time_us, room_id, body FROM "
                    "decisions WHERE seq > ?1 ORDER BY seq LIMIT ?2"
                  : "SELECT seq, decision_id, time_us, room_id, body FROM "
                    "decisions WHERE room_id = ?3 AND seq > ?1 ORDER BY seq "
                    "LIMIT ?2");
  if (!select.ok()) return SqlError(db_, "prepare read");
  select.Int(1, after);
  select.Int(2, limit);
  if (!room_id.empty()) select.Text(3, room_id);
  std::vector<JoinedDecision> out;
  int rc;
  while ((rc = select.Step()) == SQLITE_ROW) {
    JoinedDecision& j = out.emplace_back();
    j.sequence = sqlite3_column_int64(select.get(), 0);
    j.decision.decision_id = select.ColumnText(1);
    j.decision.time_micros = sqlite3_column_int64(select.get(), 2);
    j.decision.room_id = select.ColumnText(3);
    if (!DecodeBody(select.ColumnBlob(4), &j.decision)) {
      return absl::DataLossError(
          absl::StrCat("decision log: row ", j.sequence, " does not parse"));
    }
    const size_t n = j.decision.arm_ids.size();
    j.views.assign(n, 0);
    j.clicks.assign(n, 0);
    j.rewards.assign(n, 0);
  }
  if (rc != SQLITE_DONE) return SqlError(db_, "read");
  if (absl::Status s = JoinOutcomes(out); !s.ok()) return s;
  return out;
}

absl::Status DecisionLog::JoinOutcomes(std::vector<JoinedDecision>& out) {
  if (out.empty()) return absl::OkStatus();
  Stmt sums(db_,
            "SELECT arm_id, SUM(views), SUM(clicks), SUM(reward) FROM "
            "outcomes WHERE decision_id = ? GROUP BY arm_id");
  if (!sums.ok()) return SqlError(db_, "prepare read outcomes");
  for (JoinedDecision& j : out) {
    sums.Text(1, j.decision.decision_id);
    int rc;
    while ((rc = sums.Step()) == SQLITE_ROW) {
      const std::string arm = sums.ColumnText(0);
      for (size_t i = 0; i < j.decision.arm_ids.size(); ++i) {
        if (j.decision.arm_ids[i] != arm) continue;
        j.views[i] = static_cast<double>(sqlite3_column_int64(sums.get(), 1));
        j.clicks[i] = static_cast<double>(sqlite3_column_int64(sums.get(), 2));
        j.rewards[i] = sqlite3_column_double(sums.get(), 3);
      }
    }
    if (rc != SQLITE_DONE) return SqlError(db_, "read outcomes");
    sums.Reset();
  }
  return absl::OkStatus();
}

}  // namespace banditd::store
