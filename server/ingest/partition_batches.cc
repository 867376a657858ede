#include "server/ingest/partition_batches.h"

#include <algorithm>
#include <iterator>
#include <utility>

#include "absl/time/clock.h"

namespace banditd::ingest {

void GatherRecord(int batch_cap, int64_t offset,
                  std::vector<core::FeedbackEvent> events, bool refused,
                  bool dead_letter, PartitionState* part) {
  const bool single = offset < part->single_until;
  if (part->gathered.empty() || part->gathered.back().sealed ||
      (!events.empty() &&
       part->gathered.back().batch.events.size() + events.size() >
           static_cast<size_t>(batch_cap))) {
    if (!part->gathered.empty()) part->gathered.back().sealed = true;
    GatheredBatch& g = part->gathered.emplace_back();
    g.from = part->next_from;
    g.since = absl::Now();
  }
  GatheredBatch& g = part->gathered.back();
  const int64_t weight = std::max<int64_t>(1, events.size());
  g.weight += weight;
  part->gathered_events += weight;
  g.batch.events.insert(g.batch.events.end(),
                        std::make_move_iterator(events.begin()),
                        std::make_move_iterator(events.end()));
  g.next = offset + 1;
  ++g.records;
  if (refused) ++g.refused;
  g.dead_letters |= dead_letter;
  part->next_from = g.next;
  if (single || g.batch.events.size() >= static_cast<size_t>(batch_cap)) {
    g.sealed = true;
  }
}

}  // namespace banditd::ingest
