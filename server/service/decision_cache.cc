#include "server/service/decision_cache.h"

#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_format.h"

namespace banditd::service {

DecisionCache::DecisionCache(size_t capacity) : capacity_(capacity) {}

std::string DecisionCache::Put(Decision decision) {
  thread_local absl::BitGen gen;
  const std::string id = absl::StrFormat(
      "%016x%016x", absl::Uniform<uint64_t>(gen), absl::Uniform<uint64_t>(gen));
  if (capacity_ == 0) return id;
  absl::MutexLock lock(&mu_);
  if (order_.size() < capacity_) {
    order_.push_back(id);
  } else {
    decisions_.erase(order_[next_]);
    order_[next_] = id;
    next_ = (next_ + 1) % capacity_;
  }
  decisions_.insert_or_assign(id, std::move(decision));
  return id;
}

std::optional<Decision> DecisionCache::Get(
    const std::string& decision_id) const {
  absl::MutexLock lock(&mu_);
  auto it = decisions_.find(decision_id);
  if (it == decisions_.end()) return std::nullopt;
  return it->second;
}

size_t DecisionCache::size() const {
  absl::MutexLock lock(&mu_);
  return decisions_.size();
}

}  // namespace banditd::service
