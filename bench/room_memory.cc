// Memory of a million-armed room: process RSS (VmRSS of /proc/self/status)
// after creating a room of 1,000,000 arms, after traffic in 4 segments (the
// whole room and 3 named ones), and after a context item in each named
// segment (which the whole room also counts: 6 (segment, item) tables).
//
//   ./build-perf/bench/room_memory [arms]

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/core/engine.h"

namespace banditd::core {
namespace {

// Resident set size in bytes, or -1.
long long RssBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atoll(line.c_str() + 6) * 1024;
  }
  return -1;
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

int Run(int arms) {
  const long long start = RssBytes();
  Engine engine;
  CreateRoom create;
  create.room_id = "r";
  for (int i = 0; i < arms; ++i) create.arm_ids.push_back(absl::StrCat("arm_", i));
  if (!engine.Apply(create).ok()) return 1;
  create.arm_ids = {};
  create.arm_ids.shrink_to_fit();
  const long long created = RssBytes();

  // Traffic in the whole room and 3 named segments: 4 segment tables.
  for (int s = 1; s <= 3; ++s) Feed(engine, arms, absl::StrCat("seg", s), {});
  const long long segments = RssBytes();
  // One context item in each: 4 (segment, item) tables.
  for (int s = 1; s <= 3; ++s) {
    Feed(engine, arms, absl::StrCat("seg", s), {absl::StrCat("item", s)});
  }
  const long long items = RssBytes();
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
              (segments - created) / (3.0 * arms));
  std::printf("all bytes / (arm, segment) slots, ids incl.  %.1f\n",
              (segments - start) / slots);
  std::printf("tables: %zu segments, %zu (segment, item)\n", segment_tables,
              item_tables);
  std::printf("bytes per (arm, context item) counter slot  %.1f\n",
              (items - segments) / (static_cast<double>(item_tables) * arms));
  return 0;
}

}  // namespace
}  // namespace banditd::core

int main(int argc, char** argv) {
  return banditd::core::Run(argc > 1 ? std::atoi(argv[1]) : 1'000'000);
}
