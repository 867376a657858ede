// Engine: the writes queued to busy big rooms (ApplyOrQueue, ApplyQueued).
// Why: the single writer applies every room's changes in log order, and a
// Sample or GetStats of a room of a million arms holds that room's lock for
// milliseconds, on a low-priority thread (the service's big-room read pool):
// a writer waiting for it would hold up every room's writes behind it.

#include <utility>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/core/engine.h"

namespace banditd::core {

void Engine::ApplyOrQueue(const Mutation& mutation, Applied applied) {
  auto queued = std::make_shared<QueuedApply>();
  absl::StatusOr<ApplyResult> result = ApplyImpl(mutation, &queued);
  if (!result.ok() || queued->events_left == 0) {
    std::move(applied)(std::move(result));
    return;
  }
  queued->result = *std::move(result);
  queued->applied = std::move(applied);
}

int64_t Engine::ApplyQueued(bool wait) { return ApplyQueuedIn(wait, nullptr); }

Engine::RoomQueue* Engine::QueueOf(const Room* room) {
  for (RoomQueue& queue : queues_) {
    if (queue.room.get() == room) return &queue;
  }
  return nullptr;
}

// The lock is taken by TryLock or Lock depending on `wait`, which the
// analysis cannot follow; AddEvent runs only under it.
int64_t Engine::ApplyQueuedIn(bool wait,
                              const Room* only) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  std::vector<std::shared_ptr<QueuedApply>> whole;
  for (auto it = queues_.begin(); it != queues_.end();) {
    Room& room = *it->room;
    if (only != nullptr && &room != only) {
      ++it;
      continue;
    }
    if (wait) {
      room.mu.Lock();
    } else if (!room.mu.TryLock()) {
      ++it;
      continue;
    }
    const int64_t count = static_cast<int64_t>(it->events.size());
    for (QueuedEvent& queued : it->events) {
      AddEvent(room, queued.event, queued.logged_at_micros);
      if (--queued.owner->events_left == 0) {
        whole.push_back(std::move(queued.owner));
      }
    }
    room.queued_events.fetch_sub(count, std::memory_order_release);
    queued_total_.fetch_sub(count, std::memory_order_relaxed);
    room.mu.Unlock();
    it = queues_.erase(it);
  }
  // Outside every room's lock: `applied` acknowledges (and may read).
  for (const std::shared_ptr<QueuedApply>& queued : whole) {
    std::move(queued->applied)(std::move(queued->result));
  }
  return queued_events();
}

void Engine::AwaitQueuedWrites(const Room& room) const {
  // The writer applies a room's queue once it finds the lock free; a read
  // that took the lock first would keep it busy for another scan. Bounded,
  // so that a writer that stopped polling cannot stall reads for long.
  constexpr absl::Duration kPoll = absl::Microseconds(100);
  constexpr int kMaxPolls = 2000;  // 0.2 s
  for (int i = 0;
       i < kMaxPolls && room.queued_events.load(std::memory_order_acquire) > 0;
       ++i) {
    absl::SleepFor(kPoll);
  }
}

}  // namespace banditd::core
