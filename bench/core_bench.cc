// Core benchmarks: Engine::Sample (top-10) at 10 to 1,000,000 arms, per
// policy, with 0 and 5 context items, side by side with the memory-bandwidth
// floor: a loop that only reads the same counters once.
//
// Every Sample benchmark also reports allocs/call, counted by the replaced
// global operator new below; it must not grow with the arm count.
//
//   ./build-perf/bench/core_bench --benchmark_min_time=0.2

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <new>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "server/core/engine.h"
#include "tests/testing/counting_allocator.h"

using ::banditd::testing::AllocationCount;

namespace banditd::core {
namespace {

constexpr int kContextItems = 5;
constexpr int kTopK = 10;

std::string ItemName(int j) { return absl::StrCat("ctx_item_", j); }

// The counters' shape. kUniform: views uniform in [1, 1000] and clicks
// uniform in [0, views / 10]: many young arms, exact CTR ties at the top.
// kMature: views uniform in [1,000, 100,000] and a CTR drawn uniformly in
// [1 %, 5 %] per arm: a long-running room, small CTRs, few ties.
// kCold: 1 arm in 100 has views (kUniform's), the others none: a feed full
// of new items, where the index policies tie at +infinity (issue 17).
// kMature100: views uniform in [100, 1,000], CTR uniformly in [1 %, 5 %]:
// every arm has at least 100 views, and their Thompson draws overlap
// (issue 17's mature Thompson room).
enum class Data { kUniform = 0, kMature = 1, kCold = 2, kMature100 = 3 };

// A room "r" with `arms` arms, every arm seen in the whole-room segment and
// in each of kContextItems context items, with random views and clicks.
struct Fixture {
  Engine engine;
  const CounterTable* segment = nullptr;
  std::vector<const CounterTable*> items;
};

std::unique_ptr<Fixture> Build(int arms, Data data) {
  auto f = std::make_unique<Fixture>();
  CreateRoom create;
  create.room_id = "r";
  create.arm_ids.reserve(arms);
  for (int i = 0; i < arms; ++i)
    create.arm_ids.push_back(absl::StrCat("arm_", i));
  if (!f->engine.Apply(create).ok()) std::abort();

  std::mt19937_64 rng(42);
  std::vector<std::string> items;
  for (int j = 0; j < kContextItems; ++j) items.push_back(ItemName(j));
  const int batch_size = f->engine.options().max_batch_events;
  for (int start = 0; start < arms; start += batch_size) {
    FeedbackBatch batch;
    for (int i = start; i < std::min(arms, start + batch_size); ++i) {
      FeedbackEvent e;
      e.room_id = "r";
      e.arm_id = absl::StrCat("arm_", i);
      if (data == Data::kCold && i % 100 != 0) continue;
      if (data == Data::kUniform || data == Data::kCold) {
        e.views = 1 + static_cast<int64_t>(rng() % 1000);
        e.clicks = static_cast<int64_t>(rng() % (e.views / 10 + 1));
      } else if (data == Data::kMature100) {
        e.views = 100 + static_cast<int64_t>(rng() % 901);
        const double ctr =
            0.01 + 0.04 * static_cast<double>(rng() % 10001) / 1e4;
        e.clicks = static_cast<int64_t>(ctr * static_cast<double>(e.views));
      } else {
        e.views = 1000 + static_cast<int64_t>(rng() % 99001);
        const double ctr =
            0.01 + 0.04 * static_cast<double>(rng() % 10001) / 1e4;
        e.clicks = static_cast<int64_t>(ctr * static_cast<double>(e.views));
      }
      // Context items only where a benchmark asks for them.
      if (data == Data::kUniform || data == Data::kMature) {
        e.context_items = items;
      }
      batch.events.push_back(std::move(e));
    }
    if (!batch.events.empty() && !f->engine.Apply(batch).ok()) std::abort();
  }
  f->engine.ForEachRoom([&](const Room& room) {
    // The engine is never mutated again, so the pointers stay valid.
    const Segment* seg = room.FindSegment("");
    f->segment = &seg->arms;
    for (const std::string& item : items) {
      auto it = seg->context.find(item);
      if (it != seg->context.end()) f->items.push_back(&it->second);
    }
  });
  return f;
}

Fixture& Get(const benchmark::State& state) {
  static auto* cache =
      new std::map<std::pair<int, int>, std::unique_ptr<Fixture>>();
  const int arms = static_cast<int>(state.range(0));
  const int data = static_cast<int>(state.range(2));
  auto& slot = (*cache)[{arms, data}];
  if (slot == nullptr) slot = Build(arms, static_cast<Data>(data));
  return *slot;
}

// Reads views and clicks of every arm once, in the tables Sample reads
// (the segment, plus each context item): the memory-bandwidth floor. It
// sums the bit patterns as integers, which (unlike double additions) the
// compiler may reorder and so vectorizes, with the same vector clones as
// Sample's kernels; a scalar loop of double additions would be bound by the
// adder at about twice this time and flatter every ratio.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#endif
uint64_t
ScanTable(const double* __restrict v, const double* __restrict c, size_t n) {
  uint64_t sum = 0;
  for (size_t i = 0; i < n; ++i) {
    uint64_t views_bits;
    uint64_t clicks_bits;
    std::memcpy(&views_bits, v + i, sizeof views_bits);
    std::memcpy(&clicks_bits, c + i, sizeof clicks_bits);
    sum += views_bits ^ clicks_bits;
  }
  return sum;
}

uint64_t ScanTables(const std::vector<const CounterTable*>& tables) {
  uint64_t sum = 0;
  for (const CounterTable* t : tables) {
    sum += ScanTable(t->views(), t->clicks(), t->size());
  }
  return sum;
}

void BM_Floor(benchmark::State& state) {
  Fixture& f = Get(state);
  std::vector<const CounterTable*> tables{f.segment};
  if (state.range(1) > 0) {
    tables.insert(tables.end(), f.items.begin(), f.items.end());
  }
  for (auto _ : state) benchmark::DoNotOptimize(ScanTables(tables));
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

void BM_Sample(benchmark::State& state, PolicyKind kind) {
  Fixture& f = Get(state);
  SampleQuery q;
  q.room_id = "r";
  q.k = kTopK;
  q.policy.kind = kind;
  for (int j = 0; j < state.range(1); ++j)
    q.context_items.push_back(ItemName(j));
  const int64_t before = AllocationCount();
  for (auto _ : state) {
    absl::StatusOr<SampleResult> result = f.engine.Sample(q);
    if (!result.ok()) {
      state.SkipWithError(std::string(result.status().message()).c_str());
      break;
    }
    benchmark::DoNotOptimize(result);
  }
  const int64_t allocations = AllocationCount() - before;
  state.counters["allocs/call"] =
      benchmark::Counter(static_cast<double>(allocations) /
                         static_cast<double>(state.iterations()));
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

// Every size with the uniform data; the mature data at the two largest; the
// cold and the 100-view rooms at 1,000,000 arms without context items.
void Sizes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"arms", "ctx", "data"});
  for (int64_t arms : {10, 1000, 100000, 1000000}) {
    for (int64_t ctx : {0, kContextItems}) {
      b->Args({arms, ctx, static_cast<int64_t>(Data::kUniform)});
    }
  }
  for (int64_t arms : {100000, 1000000}) {
    for (int64_t ctx : {0, kContextItems}) {
      b->Args({arms, ctx, static_cast<int64_t>(Data::kMature)});
    }
  }
  for (Data data : {Data::kCold, Data::kMature100}) {
    b->Args({1000000, 0, static_cast<int64_t>(data)});
  }
  b->Unit(benchmark::kMicrosecond);
}

BENCHMARK(BM_Floor)->Apply(Sizes);
BENCHMARK_CAPTURE(BM_Sample, Ctr, PolicyKind::kCtr)->Apply(Sizes);
BENCHMARK_CAPTURE(BM_Sample, Ucb1, PolicyKind::kUcb1)->Apply(Sizes);
BENCHMARK_CAPTURE(BM_Sample, Bucb, PolicyKind::kBucb)->Apply(Sizes);
BENCHMARK_CAPTURE(BM_Sample, Thompson, PolicyKind::kThompson)->Apply(Sizes);
BENCHMARK_CAPTURE(BM_Sample, EpsilonGreedy, PolicyKind::kEpsilonGreedy)
    ->Apply(Sizes);

}  // namespace
}  // namespace banditd::core

BENCHMARK_MAIN();
