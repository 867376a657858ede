#include "server/ops/allocator.h"

#include <string>
#include <utility>

#include "server/ops/metrics.h"

#include <cstddef>

#ifdef BANDITD_TCMALLOC
#include <gperftools/malloc_extension.h>
#endif

namespace banditd::ops {
namespace {

#ifdef BANDITD_TCMALLOC
int64_t NumericProperty(const char* name) {
  size_t value = 0;
  if (!MallocExtension::instance()->GetNumericProperty(name, &value)) {
    return -1;
  }
  return static_cast<int64_t>(value);
}
#endif

}  // namespace

absl::string_view AllocatorName() {
#ifdef BANDITD_TCMALLOC
  return "tcmalloc";
#else
  return "glibc";
#endif
}

int64_t AllocatorFreeBytes() {
#ifdef BANDITD_TCMALLOC
  return NumericProperty("tcmalloc.pageheap_free_bytes");
#else
  return 0;
#endif
}

int64_t AllocatorAllocatedBytes() {
#ifdef BANDITD_TCMALLOC
  return NumericProperty("generic.current_allocated_bytes");
#else
  return -1;
#endif
}

void ReleaseFreeMemory() {
#ifdef BANDITD_TCMALLOC
  MallocExtension::instance()->ReleaseFreeMemory();
#endif
}

void ReleaseThreadCache() {
#ifdef BANDITD_TCMALLOC
  MallocExtension::instance()->MarkThreadTemporarilyIdle();
#endif
}

int64_t AllocatorThreadCacheBytes() {
#ifdef BANDITD_TCMALLOC
  return NumericProperty("tcmalloc.current_total_thread_cache_bytes");
#else
  return -1;
#endif
}

bool ReleaseFreeMemoryOver(int64_t min_free_bytes) {
  if (AllocatorFreeBytes() < min_free_bytes) return false;
  ReleaseFreeMemory();
  return true;
}

FreeMemoryReleaser::FreeMemoryReleaser(absl::Duration interval,
                                       int64_t min_free_bytes)
    : thread_([this, interval, min_free_bytes] {
        while (!stop_.WaitForNotificationWithTimeout(interval)) {
          ReleaseFreeMemoryOver(min_free_bytes);
        }
      }) {}

FreeMemoryReleaser::~FreeMemoryReleaser() {
  stop_.Notify();
  thread_.join();
}

std::vector<prometheus::MetricFamily> AllocatorCollector::Collect() const {
  std::vector<prometheus::MetricFamily> families;
  const int64_t allocated = AllocatorAllocatedBytes();
  if (allocated < 0) return families;  // glibc
  const std::vector<prometheus::ClientMetric::Label> labels = {
      {"allocator", std::string(AllocatorName())}};
  const std::pair<const char*, const char*> names[] = {
      {"banditd_allocator_allocated_bytes",
       "Bytes the server has allocated and not freed."},
      {"banditd_allocator_free_bytes",
       "Bytes the allocator holds free and resident for reuse (released to "
       "the system every --allocator_release_interval above 8 MiB)."},
      {"banditd_allocator_thread_cache_bytes",
       "Bytes of freed small objects in the threads' caches."}};
  const int64_t values[] = {allocated, AllocatorFreeBytes(),
                            AllocatorThreadCacheBytes()};
  for (size_t i = 0; i < 3; ++i) {
    families.push_back(GaugeFamily(names[i].first, names[i].second));
    AddGauge(families.back(), labels, static_cast<double>(values[i]));
  }
  return families;
}

}  // namespace banditd::ops
