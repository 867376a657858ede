#ifndef BANDITD_SERVER_SERVICE_READ_POOL_H_
#define BANDITD_SERVER_SERVICE_READ_POOL_H_

#include <cstdint>
#include <deque>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"

namespace banditd::service {

// A few dedicated threads, at a lower CPU priority, for the reads of big
// rooms (a Sample scan or a GetStats page of a 1M-arm room takes
// milliseconds). gRPC runs every handler on the few threads that poll its
// completion queues (--grpc_cq_threads, one by default), and the writer
// thread completes every write: a scan run there makes every other call,
// and a small room's Feedback, wait for it. Run
// here instead, a big room's reads use at most `threads` cores, and the
// kernel prefers the handler threads and the writer whenever they have work.
class ReadPool {
 public:
  struct Options {
    // Reads run at once, at most.
    int threads = 1;
    // Added to the threads' niceness (setpriority on each thread; Linux
    // lets a thread lower its own priority, not raise it back).
    int nice = 10;
    // Reads waiting for a thread, at most: Submit refuses more.
    int max_queued = 1000;
  };

  explicit ReadPool(const Options& options);
  // Runs what is queued, then joins the threads.
  ~ReadPool();
  ReadPool(const ReadPool&) = delete;
  ReadPool& operator=(const ReadPool&) = delete;

  // Queues `read`; false (and `read` is dropped unrun) when max_queued
  // reads are already waiting.
  bool Submit(absl::AnyInvocable<void() &&> read);

  const Options& options() const { return options_; }
  // Reads taken off the queue to run so far (tests): counted before each
  // runs, so a client that has its answer sees it counted.
  int64_t started() const;

 private:
  void Loop();
  bool Wakes() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || !queue_.empty();
  }

  const Options options_;
  mutable absl::Mutex mu_;
  std::deque<absl::AnyInvocable<void() &&>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int64_t started_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::thread> threads_;
};

}  // namespace banditd::service

#endif  // BANDITD_SERVER_SERVICE_READ_POOL_H_
