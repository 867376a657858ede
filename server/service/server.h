#ifndef BANDITD_SERVER_SERVICE_SERVER_H_
#define BANDITD_SERVER_SERVICE_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/server.h"
#include "server/ops/metrics.h"
#include "server/service/bandit_service.h"
#include "server/service/queue_pollers.h"
#include "server/service/rpc_log.h"

namespace banditd::service {

struct ServerOptions {
  // host:port; port 0 picks a free one.
  std::string address = "127.0.0.1:0";
  int max_message_bytes = 64 << 20;
  // Memory gRPC's transport may hold for calls in progress (requests being
  // received and parsed, replies being sent); beyond it new calls are
  // refused with RESOURCE_EXHAUSTED. 0: no limit.
  size_t transport_memory_bytes = 0;
  // Calls open at once on one connection; 0: gRPC's default (no limit).
  int max_concurrent_streams = 0;
  // PEM certificate chain and private key; both empty serves plaintext.
  std::string tls_cert_pem;
  std::string tls_key_pem;
  // When set, every RPC's method, code and latency are recorded here; must
  // outlive the server.
  ops::Metrics* metrics = nullptr;
  // Request ids and the log line of each failed call.
  RpcLogOptions rpc_log;
  // When set, failed calls are logged here instead (rpc_log is unused), so
  // that the HTTP gateway's calls share the rate limit; must outlive the
  // server.
  RpcLog* shared_rpc_log = nullptr;
  // BanditService's calls run on the threads that poll the server's
  // completion queues: `cq_threads` threads over `completion_queues`
  // queues (at least 1 each, at most one queue per thread; threads are
  // spread evenly over the queues), each queue holding `calls_per_method`
  // requested calls of each unary method. With gRPC 1.51's epoll1 poller,
  // every polling thread beyond the first costs thread wake-ups at low load
  // (the thread that found an event wakes another to poll): with
  // `standby_pollers` only the first thread of each queue always polls, the
  // others while the queue is busy (QueuePollers).
  int cq_threads = 1;
  int completion_queues = 1;
  bool standby_pollers = true;
  int calls_per_method = 1;
  // Threads for the synchronous services (health, reflection), whose
  // streams each hold one while open: beyond, new calls of those services
  // get RESOURCE_EXHAUSTED. 0: no limit.
  int sync_max_threads = 0;
  // Health Watch streams open at once (RESOURCE_EXHAUSTED beyond).
  int health_max_watchers = 100;
};

// A started gRPC server and the threads that run BanditService's unary
// calls.
class RunningServer {
 public:
  RunningServer(const RunningServer&) = delete;
  RunningServer& operator=(const RunningServer&) = delete;
  // Shutdown(), if not done.
  ~RunningServer();

  grpc::Server& grpc() { return *server_; }
  int port() const { return port_; }
  // The calls the server holds on its queues: requested, running or
  // replying (tests).
  int64_t calls_alive() const {
    return live_calls_.load(std::memory_order_acquire);
  }

  // Refuses new calls, lets the calls in flight finish until `deadline`
  // (then cancels them), waits until every unary call's handler has
  // replied, then stops the queues and joins their threads. At most once;
  // later calls do nothing.
  void Shutdown(absl::Time deadline = absl::InfiniteFuture());

 private:
  friend absl::StatusOr<std::unique_ptr<RunningServer>> StartServer(
      const ServerOptions& options, BanditService* service);
  RunningServer() = default;

  // Declared first: destroyed after the server.
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> queues_;
  std::vector<std::unique_ptr<QueuePollers>> pollers_;
  QueueTag::LiveCount live_calls_{0};
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  bool shut_down_ = false;
};

// Starts a gRPC server with `service`, server reflection and the standard
// health service (a HealthService, reported NOT_SERVING until the caller
// marks it serving, e.g. after recovery; GetHealthCheckService() returns it).
// The port is the server's alone: UNAVAILABLE naming the address when
// another process listens on it (no SO_REUSEPORT). `service` must outlive
// the server and serves no other (gRPC's asynchronous API).
absl::StatusOr<std::unique_ptr<RunningServer>> StartServer(
    const ServerOptions& options, BanditService* service);

}  // namespace banditd::service

#endif  // BANDITD_SERVER_SERVICE_SERVER_H_
