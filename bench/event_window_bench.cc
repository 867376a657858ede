// The event-id window's cost per Feedback event: Engine::Apply of one-event
// batches with a fresh event_id each (the window remembers it and evicts the
// oldest), beside the floor of the same batches without an id. The window
// is one per stream (FeedbackBatch::stream); `streams` spreads 12 rooms over
// that many windows as a cluster with --cluster_streams does; `split`
// divides the count between the windows (the same ids held in all), where
// otherwise each window holds the count (N times the ids).
//
//   ./build/bench/event_window_bench --benchmark_min_time=1

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "server/core/engine.h"

namespace banditd::core {
namespace {

constexpr int kRooms = 12;
constexpr int64_t kWindow = 100'000;

// Rooms r0..r11 of 10 arms; with `window`, a full window of `kWindow` ids
// (count only, or every id of the last minute at 1 ms per event).
struct Fixture {
  Fixture(bool aged, int streams, int64_t window)
      : engine({.event_id_window = window,
                .event_id_window_age =
                    aged ? absl::Minutes(1) : absl::ZeroDuration(),
                .event_id_streams = streams}),
        streams(streams) {
    for (int r = 0; r < kRooms; ++r) {
      CreateRoom create;
      create.room_id = absl::StrCat("r", r);
      for (int a = 0; a < 10; ++a) create.arm_ids.push_back(absl::StrCat(a));
      (void)engine.Apply(create);
    }
  }
  absl::Status Feed(bool with_id) {
    const int room = static_cast<int>(next % kRooms);
    FeedbackEvent e;
    e.room_id = absl::StrCat("r", room);
    e.arm_id = absl::StrCat(3);
    e.views = 1;
    if (with_id) e.event_id = absl::StrCat("event-", next);
    FeedbackBatch batch;
    batch.events.push_back(std::move(e));
    batch.logged_at_micros = 1'700'000'000'000'000 + next * 1000;
    batch.stream = room % streams;
    ++next;
    return engine.Apply(batch).status();
  }
  Engine engine;
  const int streams;
  int64_t next = 0;
};

// Args: with an id (0/1), aged window (0/1), streams, split (0/1).
void BM_FeedbackEvent(benchmark::State& state) {
  const bool with_id = state.range(0) != 0;
  const int streams = static_cast<int>(state.range(2));
  Fixture f(state.range(1) != 0, streams,
            state.range(3) != 0 ? kWindow / streams : kWindow);
  // Fill the window first: the steady state evicts one id per event.
  for (int64_t i = 0; with_id && i < 2 * kWindow; ++i) (void)f.Feed(true);
  for (auto _ : state) {
    if (absl::Status s = f.Feed(with_id); !s.ok()) {
      state.SkipWithError(std::string(s.message()).c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["window_bytes"] = static_cast<double>(f.engine.bytes_used());
}

BENCHMARK(BM_FeedbackEvent)
    ->ArgNames({"id", "aged", "streams", "split"})
    ->Args({0, 0, 1, 0})
    ->Args({1, 0, 1, 0})
    ->Args({1, 1, 1, 0})
    ->Args({1, 0, 3, 0})
    ->Args({1, 1, 3, 0})
    ->Args({1, 0, 3, 1})
    ->Args({1, 1, 3, 1})
    ->Unit(benchmark::kNanosecond);

}  // namespace
}  // namespace banditd::core

BENCHMARK_MAIN();
