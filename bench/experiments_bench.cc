// Costs of the experiment features in the core (Google Benchmark):
//   * GetStats alone and with winner analysis (default 10,000 draws, capped
//     at 10,000,000 posterior draws per call) at 100 and 10,000 arms;
//   * Sample with and without propensities (UCB1 exact, Thompson Monte
//     Carlo with 1000 draws) at 100 arms, and UCB1 with and without
//     propensities in a cold room of 1,000,000 arms (1 % seen, k = 10).
// Run: build/bench/experiments_bench (scripts/bench_experiments.sh).

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "server/core/engine.h"

namespace banditd::core {
namespace {

// A room of `arms` arms with 100-10,000 views each at 1-5 % click rates.
Engine& RoomWith(int arms) {
  static auto* engines = new std::vector<std::pair<int, Engine*>>();
  for (auto& [n, e] : *engines) {
    if (n == arms) return *e;
  }
  auto* engine = new Engine();
  CreateRoom create;
  create.room_id = "r";
  for (int i = 0; i < arms; ++i) create.arm_ids.push_back(absl::StrCat("a", i));
  (void)engine->Apply(create);
  FeedbackBatch batch;
  for (int i = 0; i < arms; ++i) {
    FeedbackEvent e;
    e.room_id = "r";
    e.arm_id = absl::StrCat("a", i);
    e.views = 100 + (i * 7919) % 9900;
    e.clicks = e.views * (1 + i % 5) / 100;
    batch.events.push_back(e);
    if (batch.events.size() == 5000) {
      (void)engine->Apply(batch);
      batch.events.clear();
    }
  }
  if (!batch.events.empty()) (void)engine->Apply(batch);
  engines->emplace_back(arms, engine);
  return *engine;
}

void BM_GetStats(benchmark::State& state) {
  Engine& engine = RoomWith(static_cast<int>(state.range(0)));
  for (auto _ : state)
    benchmark::DoNotOptimize(engine.GetStats("r", "", false));
}
BENCHMARK(BM_GetStats)->Arg(100)->Arg(10000)->Unit(benchmark::kMicrosecond);

void BM_GetStatsWithWinner(benchmark::State& state) {
  Engine& engine = RoomWith(static_cast<int>(state.range(0)));
  int draws = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(engine.GetStats("r", "", false));
    absl::StatusOr<WinnerResult> w = engine.Winner({"r", "", 0, 1, 0.001});
    draws = w->analysis.draws;
    benchmark::DoNotOptimize(w);
  }
  state.counters["draws"] = draws;
}
BENCHMARK(BM_GetStatsWithWinner)
    ->Arg(100)
    ->Arg(10000)
    ->Unit(benchmark::kMillisecond);

void BM_Sample(benchmark::State& state, PolicyKind kind, bool propensities) {
  Engine& engine = RoomWith(100);
  SampleQuery q;
  q.room_id = "r";
  q.k = 1;
  q.policy.kind = kind;
  q.propensities = propensities;
  for (auto _ : state) benchmark::DoNotOptimize(engine.Sample(q));
}
BENCHMARK_CAPTURE(BM_Sample, ucb1, PolicyKind::kUcb1, false)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Sample, ucb1_propensities, PolicyKind::kUcb1, true)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Sample, thompson, PolicyKind::kThompson, false)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Sample, thompson_propensities, PolicyKind::kThompson, true)
    ->Unit(benchmark::kMicrosecond);

// A cold room: 1,000,000 arms, the first 10,000 (1 %) seen, as in
// core_bench's cold data; k = 10 unseen arms tie at +infinity among 990,000.
Engine& ColdRoom() {
  static Engine* engine = [] {
    auto* e = new Engine();
    constexpr int kArms = 1'000'000;
    CreateRoom create;
    create.room_id = "r";
    for (int i = 0; i < kArms; ++i) {
      create.arm_ids.push_back(absl::StrCat("a", i));
    }
    (void)e->Apply(create);
    FeedbackBatch batch;
    for (int i = 0; i < kArms / 100; ++i) {
      FeedbackEvent event;
      event.room_id = "r";
      event.arm_id = absl::StrCat("a", i);
      event.views = 100 + (i * 7919) % 9900;
      event.clicks = event.views * (1 + i % 5) / 100;
      batch.events.push_back(event);
    }
    (void)e->Apply(batch);
    return e;
  }();
  return *engine;
}

void BM_SampleCold(benchmark::State& state, bool propensities) {
  Engine& engine = ColdRoom();
  SampleQuery q;
  q.room_id = "r";
  q.k = 10;
  q.policy.kind = PolicyKind::kUcb1;
  q.propensities = propensities;
  for (auto _ : state) benchmark::DoNotOptimize(engine.Sample(q));
}
BENCHMARK_CAPTURE(BM_SampleCold, ucb1_cold_1M_arms, false)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_SampleCold, ucb1_propensities_cold_1M_arms, true)
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace banditd::core

BENCHMARK_MAIN();
