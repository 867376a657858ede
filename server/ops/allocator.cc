#include "server/ops/allocator.h"

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

}  // namespace banditd::ops
