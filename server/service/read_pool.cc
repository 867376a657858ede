#include "server/service/read_pool.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "spdlog/spdlog.h"

namespace banditd::service {

ReadPool::ReadPool(const Options& options) : options_(options) {
  const int threads = std::max(options_.threads, 1);
  threads_.reserve(static_cast<size_t>(threads));
  for (int i = 0; i < threads; ++i) {
    threads_.emplace_back([this] { Loop(); });
  }
}

ReadPool::~ReadPool() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& t : threads_) t.join();
}

bool ReadPool::Submit(absl::AnyInvocable<void() &&> read) {
  absl::MutexLock lock(&mu_);
  if (static_cast<int64_t>(queue_.size()) >=
      std::max<int64_t>(options_.max_queued, 1)) {
    return false;
  }
  queue_.push_back(std::move(read));
  return true;
}

int64_t ReadPool::started() const {
  absl::MutexLock lock(&mu_);
  return started_;
}

void ReadPool::Loop() {
  if (options_.nice != 0) {
    // The thread's own id: on Linux, PRIO_PROCESS with a tid sets the
    // priority of that thread alone.
    const auto tid = static_cast<id_t>(syscall(SYS_gettid));
    errno = 0;
    const int current = getpriority(PRIO_PROCESS, tid);
    if (errno != 0 ||
        setpriority(PRIO_PROCESS, tid, current + options_.nice) != 0) {
      SPDLOG_WARN("read pool: cannot change the thread's niceness by {}: {}",
                  options_.nice, std::strerror(errno));
    }
  }
  while (true) {
    absl::AnyInvocable<void() &&> read;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &ReadPool::Wakes));
      if (queue_.empty()) return;  // stopping, and nothing left to run
      read = std::move(queue_.front());
      queue_.pop_front();
      ++started_;
    }
    std::move(read)();
  }
}

}  // namespace banditd::service
