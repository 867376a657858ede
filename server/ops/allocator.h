#ifndef BANDITD_SERVER_OPS_ALLOCATOR_H_
#define BANDITD_SERVER_OPS_ALLOCATOR_H_

#include <cstdint>
#include <thread>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace banditd::ops {

// The process's malloc: tcmalloc (gperftools, CMake option BANDITD_TCMALLOC,
// the default) or glibc's. tcmalloc keeps the pages a program frees for its
// next allocations and hands them back to the system only slowly, where
// glibc returns a large block at once: after a million-arm CreateRoom or a
// recovery, which free about as much as they keep, a tcmalloc process holds
// twice the room's size until it is told to release.

// "tcmalloc" or "glibc".
absl::string_view AllocatorName();

// Bytes tcmalloc holds free and resident (its page heap); 0 with glibc.
int64_t AllocatorFreeBytes();

// Bytes the program has allocated and not freed, as tcmalloc counts them;
// -1 with glibc.
int64_t AllocatorAllocatedBytes();

// Hands tcmalloc's free pages back to the system; a no-op with glibc.
void ReleaseFreeMemory();

// Hands the calling thread's cache of freed small objects back to the
// shared free lists (tcmalloc's MarkThreadTemporarilyIdle), from where the
// pages they fill can be released; a no-op with glibc. Each thread keeps up
// to a few hundred KiB of what it freed, so a pool of 64 HTTP threads that
// each parsed a big request holds ~32 MiB until told so. Costs about what
// the thread's next allocations take back from the shared lists: for threads
// that just handled a big request, not per call.
void ReleaseThreadCache();

// Bytes held in all threads' caches of freed small objects; -1 with glibc.
int64_t AllocatorThreadCacheBytes();

// What FreeMemoryReleaser leaves free: below this, pages stay cached for the
// next calls' allocations.
inline constexpr int64_t kReleaseMinFreeBytes = int64_t{8} << 20;

// Calls ReleaseFreeMemory if at least `min_free_bytes` are free (one tick of
// FreeMemoryReleaser). Returns whether it did.
bool ReleaseFreeMemoryOver(int64_t min_free_bytes);

// FreeMemoryReleaser: on a thread of its own, calls
// ReleaseFreeMemoryOver(min_free_bytes) every `interval` until destroyed. The
// pages small allocations churn through stay cached; a big free goes back
// within one interval.
class FreeMemoryReleaser {
 public:
  FreeMemoryReleaser(absl::Duration interval, int64_t min_free_bytes);
  ~FreeMemoryReleaser();
  FreeMemoryReleaser(const FreeMemoryReleaser&) = delete;
  FreeMemoryReleaser& operator=(const FreeMemoryReleaser&) = delete;

 private:
  absl::Notification stop_;
  std::thread thread_;
};

// /metrics families of the allocator: banditd_allocator_allocated_bytes
// (held by the program), banditd_allocator_free_bytes (free, resident, kept
// for reuse until released) and banditd_allocator_thread_cache_bytes, with an
// `allocator` label; none with glibc (it does not count them).
class AllocatorCollector final : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override;
};

}  // namespace banditd::ops

#endif  // BANDITD_SERVER_OPS_ALLOCATOR_H_
