#ifndef BANDITD_TESTS_TESTING_COUNTING_ALLOCATOR_H_
#define BANDITD_TESTS_TESTING_COUNTING_ALLOCATOR_H_

// Replaces the global operator new and delete to count allocations, so that
// tests and benchmarks can check that a path does not allocate per item.
// Include it in exactly one source file of a binary: it defines the
// replacement functions, which the program may have only once.

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>

namespace banditd::testing {

inline std::atomic<int64_t> g_allocation_count{0};

// Allocations made by the whole process so far.
inline int64_t AllocationCount() {
  return g_allocation_count.load(std::memory_order_relaxed);
}

}  // namespace banditd::testing

// operator new allocates with malloc, so delete must free: GCC cannot see
// the pairing across the replacement functions.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t size) {
  banditd::testing::g_allocation_count.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return ::operator new(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

#endif  // BANDITD_TESTS_TESTING_COUNTING_ALLOCATOR_H_
