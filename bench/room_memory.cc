// Memory of a million-armed room: process RSS (VmRSS of /proc/self/status)
// after creating a room of 1,000,000 arms and one view for every arm in the
// whole-room segment (issue 17's bytes per arm: ids, index, flags and the
// whole room's counters), then after a restart: the room is written as a
// snapshot (store::EncodeSnapshot) and a fresh process (this binary with
// --load=FILE) decodes and restores it as the server does at start, and
// reports its RSS. Then, in the first process, traffic in 4 segments (the
// whole room and 3 named ones), and after a context item in each named
// segment (which the whole room also counts: 6 (segment, item) tables).
// Every arm sees these, so their tables are dense. Then the sparse case
// (the flood of issue 12): 32,000 new context items, each seen by 4 arms,
// in the whole room: tables that hold only the arms with counters. Each
// step also prints what the engine accounts (Engine::bytes_used, what
// --memory_budget_bytes limits) against the RSS it cost. With tcmalloc (the
// server's allocator) each RSS is taken after the release of free pages
// that the server's FreeMemoryReleaser makes within
// --allocator_release_interval; the two issue 17 lines also print the RSS
// before it.
//
//   ./build-perf/bench/room_memory [arms]
//   ./build-perf/bench/room_memory --load=FILE   (the restart step)

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/core/engine.h"
#include "server/ops/allocator.h"
#include "server/store/engine_state.h"
#include "server/store/snapshot_codec.h"

namespace banditd::core {
namespace {

// Resident set size in bytes, or -1.
long long RssBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0)
      return std::atoll(line.c_str() + 6) * 1024;
  }
  return -1;
}

// RSS after the server's release of free pages (one FreeMemoryReleaser
// tick; a no-op with glibc).
long long SettledRssBytes() {
  ops::ReleaseFreeMemoryOver(ops::kReleaseMinFreeBytes);
  return RssBytes();
}

// Feeds one view to every arm in `segment` (and the whole room), with
// `items` as context.
void Feed(Engine& engine, int arms, const std::string& segment,
          const std::vector<std::string>& items) {
  const int batch_size = engine.options().max_batch_events;
  for (int start = 0; start < arms; start += batch_size) {
    FeedbackBatch batch;
    batch.events.reserve(batch_size);
    for (int i = start; i < std::min(arms, start + batch_size); ++i) {
      FeedbackEvent e;
      e.room_id = "r";
      e.segment = segment;
      e.context_items = items;
      e.arm_id = absl::StrCat("arm_", i);
      e.views = 1;
      batch.events.push_back(std::move(e));
    }
    if (!engine.Apply(batch).ok()) std::abort();
  }
}

// Writes snapshot chunks as (8-byte length, bytes) records.
void WriteChunks(const std::string& path,
                 const std::vector<std::string>& chunks) {
  std::ofstream out(path, std::ios::binary);
  for (const std::string& chunk : chunks) {
    const uint64_t n = chunk.size();
    out.write(reinterpret_cast<const char*>(&n), sizeof(n));
    out.write(chunk.data(), static_cast<std::streamsize>(n));
  }
}

// The restart step, in a process of its own: RSS before and after loading
// the snapshot at `path` into an engine (as main.cc's recovery does).
int Load(const std::string& path) {
  const long long start = RssBytes();
  Engine engine;
  int64_t arms = 0;
  {
    std::vector<std::string> chunks;
    std::ifstream in(path, std::ios::binary);
    uint64_t n = 0;
    while (in.read(reinterpret_cast<char*>(&n), sizeof(n))) {
      std::string chunk(n, '\0');
      in.read(chunk.data(), static_cast<std::streamsize>(n));
      chunks.push_back(std::move(chunk));
    }
    absl::StatusOr<store::EngineState> state = store::DecodeSnapshot(chunks);
    if (!state.ok()) {
      std::fprintf(stderr, "%s\n", state.status().ToString().c_str());
      return 1;
    }
    for (const store::RoomState& room : state->rooms) {
      arms += static_cast<int64_t>(room.arm_ids.size());
    }
    store::RestoreState(*std::move(state), &engine);
  }
  const long long held = RssBytes();
  const long long loaded = SettledRssBytes();
  std::printf(
      "after restart: rss %.1f MiB, bytes per arm %.1f (rss), "
      "%.1f (accounted); %.1f before the release\n",
      (loaded - start) / (1024.0 * 1024.0),
      (loaded - start) / static_cast<double>(arms),
      engine.bytes_used() / static_cast<double>(arms),
      (held - start) / static_cast<double>(arms));
  return 0;
}

int Run(int arms, const char* self) {
  const long long start = RssBytes();
  Engine engine;
  {
    CreateRoom create;
    create.room_id = "r";
    for (int i = 0; i < arms; ++i) {
      create.arm_ids.push_back(absl::StrCat("arm_", i));
    }
    if (!engine.Apply(create).ok()) return 1;
  }
  const long long created = SettledRssBytes();
  // Counters in the whole-room segment only: every arm seen once.
  Feed(engine, arms, "", {});
  const long long held = RssBytes();
  const long long whole = SettledRssBytes();
  std::printf("1M-arm room, whole-room counters only (issue 17), %s\n",
              std::string(ops::AllocatorName()).c_str());
  std::printf(
      "after setup:   rss %.1f MiB, bytes per arm %.1f (rss), "
      "%.1f (accounted); %.1f before the release\n",
      (whole - start) / (1024.0 * 1024.0),
      (whole - start) / static_cast<double>(arms),
      engine.bytes_used() / static_cast<double>(arms),
      (held - start) / static_cast<double>(arms));
  {
    const std::string path =
        absl::StrCat("/tmp/room_memory_snapshot_", getpid(), ".bin");
    WriteChunks(path, store::EncodeSnapshot(store::CaptureState(engine)));
    std::fflush(stdout);
    const int rc = std::system(absl::StrCat(self, " --load=", path).c_str());
    std::remove(path.c_str());
    if (rc != 0) return 1;
  }

  // Traffic in the whole room and 3 named segments: 4 segment tables.
  const long long segments_start = SettledRssBytes();
  for (int s = 1; s <= 3; ++s) Feed(engine, arms, absl::StrCat("seg", s), {});
  const long long segments = SettledRssBytes();
  // One context item in each: 4 (segment, item) tables.
  for (int s = 1; s <= 3; ++s) {
    Feed(engine, arms, absl::StrCat("seg", s), {absl::StrCat("item", s)});
  }
  const long long items = SettledRssBytes();
  const int64_t accounted_items = engine.bytes_used();
  // Sparse: blocks of 32 new items, each block seen by 4 arms (one event
  // per arm with the block's 32 items): 4 entries per item table.
  constexpr int kSparseItems = 32'000;
  constexpr int kArmsPerItem = 4;
  {
    FeedbackBatch batch;
    for (int block = 0; block < kSparseItems / 32; ++block) {
      std::vector<std::string> block_items;
      for (int j = 0; j < 32; ++j) {
        block_items.push_back(absl::StrCat("flood_", block, "_", j));
      }
      for (int a = 0; a < kArmsPerItem; ++a) {
        FeedbackEvent e;
        e.room_id = "r";
        e.context_items = block_items;
        e.arm_id = absl::StrCat("arm_", (block * 7919 + a * 104729) % arms);
        e.views = 1;
        batch.events.push_back(std::move(e));
      }
      if (batch.events.size() >= 1000) {
        if (!engine.Apply(batch).ok()) std::abort();
        batch.events.clear();
      }
    }
    if (!batch.events.empty() && !engine.Apply(batch).ok()) std::abort();
  }
  const long long sparse = SettledRssBytes();
  const int64_t accounted_sparse = engine.bytes_used();
  // Each event also counts in the whole room, with its items: count tables.
  size_t segment_tables = 0;
  size_t item_tables = 0;
  engine.ForEachRoom([&](const Room& room) {
    for (const auto& [name, segment] : room.segments) {
      ++segment_tables;
      item_tables += segment.context.size();
    }
  });

  const double mib = 1024.0 * 1024.0;
  const double slots = static_cast<double>(segment_tables) * arms;
  std::printf("arms                         %d\n", arms);
  std::printf("rss at start                 %.1f MiB\n", start / mib);
  std::printf("rss with room (ids, 1 table) %.1f MiB\n", created / mib);
  std::printf("rss with 4 segments          %.1f MiB\n", segments / mib);
  std::printf("rss with 4 context items     %.1f MiB\n", items / mib);
  std::printf("room: bytes per arm (id, index, flag, whole-room table) %.1f\n",
              (created - start) / static_cast<double>(arms));
  std::printf("bytes per added (arm, segment) slot          %.1f\n",
              (segments - segments_start) / (3.0 * arms));
  std::printf("all bytes / (arm, segment) slots, ids incl.  %.1f\n",
              (segments - start) / slots);
  std::printf("tables: %zu segments, %zu (segment, item)\n", segment_tables,
              item_tables);
  std::printf("bytes per (arm, context item) counter slot  %.1f\n",
              (items - segments) / (static_cast<double>(item_tables) * arms));
  const double entries = static_cast<double>(kSparseItems) * kArmsPerItem;
  std::printf("sparse: %d items x %d arms = %.0f (arm, item) entries\n",
              kSparseItems, kArmsPerItem, entries);
  std::printf("rss with sparse items        %.1f MiB\n", sparse / mib);
  std::printf("bytes per sparse (arm, item) entry, rss, tables incl.   %.1f\n",
              (sparse - items) / entries);
  std::printf("bytes per sparse (arm, item) entry, accounted          %.1f\n",
              (accounted_sparse - accounted_items) / entries);
  std::printf("(a dense table per item would take %.0f bytes per entry)\n",
              32.0 * arms / kArmsPerItem);
  std::printf("accounted / rss over the run: %.2f\n",
              accounted_sparse / static_cast<double>(sparse - start));
  return 0;
}

}  // namespace
}  // namespace banditd::core

int main(int argc, char** argv) {
  if (argc > 1 && absl::StartsWith(argv[1], "--load=")) {
    return banditd::core::Load(argv[1] + 7);
  }
  // The restart runs this binary again (the shell's /proc/self is not it).
  char self[4096] = {};
  if (readlink("/proc/self/exe", self, sizeof(self) - 1) <= 0) return 1;
  return banditd::core::Run(argc > 1 ? std::atoi(argv[1]) : 1'000'000, self);
}
