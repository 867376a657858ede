#ifndef BANDITD_SERVER_INGEST_PARTITION_BATCHES_H_
#define BANDITD_SERVER_INGEST_PARTITION_BATCHES_H_

#include <cstdint>
#include <deque>
#include <vector>

#include "absl/time/time.h"
#include "server/core/engine.h"

namespace banditd::ingest {

// What KafkaIngest's consumer thread (alone) keeps of one assigned
// partition: the batches gathered from its records, waiting to be
// submitted with their offset ranges, and where reading stands.

// A batch gathered from one partition: the records [from, next).
struct GatheredBatch {
  core::FeedbackBatch batch;
  int64_t from = 0;
  int64_t next = 0;
  int64_t records = 0;
  // Of which refused (dead-lettered): they move the position only.
  int64_t refused = 0;
  // What it adds to PartitionState::gathered_events.
  int64_t weight = 0;
  // Takes no more records: submitted as soon as the partition may.
  bool sealed = false;
  // Holds dead-lettered records: their delivery is awaited first.
  bool dead_letters = false;
  absl::Time since;
};

struct PartitionState {
  // Bumped by every rewind; batches of older generations are ignored.
  uint64_t generation = 0;
  // The generation when the partition was assigned.
  uint64_t first_generation = 0;
  // Start of the next gathered range; -1: the first record's offset.
  int64_t next_from = -1;
  std::deque<GatheredBatch> gathered;
  // Events (and refused records) in `gathered`.
  int64_t gathered_events = 0;
  // Batches in the committer (of this and earlier generations).
  int in_flight = 0;
  bool paused = false;
  absl::Time resume_at = absl::InfinitePast();
  // Records below this offset are submitted one per batch, so that the
  // committer's refusal names one record (after a batch was refused).
  int64_t single_until = -1;
  int64_t high_watermark = -1;
  // The record whose room or arm was not found, held since `missing_since`
  // (KafkaIngest::Options::missing_room_wait); -1: none.
  int64_t missing_offset = -1;
  absl::Time missing_since;
};

// Adds the record at `offset` (its `events`; none when `refused`, with
// `dead_letter` when a copy went to the dead-letter topic) to the
// partition's open batch, or to a new one when the open one is sealed or
// would exceed `batch_cap` events. A batch is sealed at `batch_cap` events,
// and at once below `single_until` (one record per batch). A record counts
// its events, at least 1, in `gathered_events`.
void GatherRecord(int batch_cap, int64_t offset,
                  std::vector<core::FeedbackEvent> events, bool refused,
                  bool dead_letter, PartitionState* part);

}  // namespace banditd::ingest

#endif  // BANDITD_SERVER_INGEST_PARTITION_BATCHES_H_
