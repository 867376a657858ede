#ifndef BANDITD_SERVER_SERVICE_HEALTH_SERVICE_H_
#define BANDITD_SERVER_SERVICE_HEALTH_SERVICE_H_

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/health_check_service_interface.h"

namespace banditd::service {

// HealthService implements grpc.health.v1.Health (Check and Watch) in place
// of gRPC's built-in one, whose Watch streams stay open through
// Server::Shutdown and so hold a SIGTERM for the whole drain timeout.
// Here Shutdown() reports NOT_SERVING to every Watch stream and then ends it
// (UNAVAILABLE), so the server's drain waits only for real calls.
//
// It is both the server's HealthCheckServiceInterface (what
// grpc::Server::GetHealthCheckService() returns) and the registered service.
// Thread-safe.
//
// On gRPC's synchronous API: a server with a callback method runs gRPC's
// callback threads, which poll every connection and hand BanditService's
// calls over to the threads of its completion queues (a thread switch per
// call); synchronous methods beside asynchronous ones run on threads that
// do not poll. Each Watch stream holds one of those threads, so there are
// at most `max_watchers` (RESOURCE_EXHAUSTED beyond).
class HealthService final : public grpc::HealthCheckServiceInterface,
                            public grpc::health::v1::Health::Service {
 public:
  using ServingStatus = grpc::health::v1::HealthCheckResponse::ServingStatus;

  // The whole server ("") starts SERVING, as in gRPC's default service;
  // StartServer marks it NOT_SERVING until recovery is done.
  explicit HealthService(int max_watchers = 100);
  ~HealthService() override;

  // Sets (and registers) one service's status. After Shutdown: NOT_SERVING.
  void SetServingStatus(const std::string& service_name, bool serving) override;
  // Sets every registered service's status; a no-op after Shutdown.
  void SetServingStatus(bool serving) override;
  // Every service NOT_SERVING for good; every open Watch stream is sent that
  // status and then finished with UNAVAILABLE, and later Watch calls are
  // finished the same way at once. Check keeps answering. Idempotent.
  void Shutdown() override;

  grpc::Status Check(grpc::ServerContext* context,
                     const grpc::health::v1::HealthCheckRequest* request,
                     grpc::health::v1::HealthCheckResponse* response) override;
  // Sends the status, then every change (a change made during a write
  // replaces any earlier one not yet sent), until the client goes away
  // or Shutdown.
  grpc::Status Watch(grpc::ServerContext* context,
                     const grpc::health::v1::HealthCheckRequest* request,
                     grpc::ServerWriter<grpc::health::v1::HealthCheckResponse>*
                         writer) override;

  // Open Watch streams (tests).
  size_t watchers() const;

 private:
  // The status Watch reports for `service_name`.
  ServingStatus StatusLocked(const std::string& service_name) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int max_watchers_;
  mutable absl::Mutex mu_;
  // Signalled on every change of a status, on Shutdown, and when the last
  // Watch stream ends.
  absl::CondVar changed_;
  absl::flat_hash_map<std::string, ServingStatus> statuses_
      ABSL_GUARDED_BY(mu_);
  int watchers_ ABSL_GUARDED_BY(mu_) = 0;
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace banditd::service

#endif  // BANDITD_SERVER_SERVICE_HEALTH_SERVICE_H_
