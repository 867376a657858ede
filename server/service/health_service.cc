#include "server/service/health_service.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace banditd::service {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

namespace {

const grpc::Status& ShuttingDown() {
  static const grpc::Status* status = new grpc::Status(
      grpc::StatusCode::UNAVAILABLE, "server is shutting down");
  return *status;
}

}  // namespace

// How often an idle Watch stream checks whether its client went away.
constexpr absl::Duration kCancelPoll = absl::Milliseconds(200);

HealthService::HealthService(int max_watchers) : max_watchers_(max_watchers) {
  statuses_[""] = HealthCheckResponse::SERVING;
}

HealthService::~HealthService() {
  // The server is shut down before its health service is destroyed, which
  // ends every stream; wait for them to return.
  Shutdown();
  absl::MutexLock lock(&mu_);
  while (watchers_ > 0) changed_.Wait(&mu_);
}

HealthService::ServingStatus HealthService::StatusLocked(
    const std::string& service_name) const {
  auto it = statuses_.find(service_name);
  return it == statuses_.end() ? HealthCheckResponse::SERVICE_UNKNOWN
                               : it->second;
}

void HealthService::SetServingStatus(const std::string& service_name,
                                     bool serving) {
  absl::MutexLock lock(&mu_);
  const ServingStatus status = serving && !shutdown_
                                   ? HealthCheckResponse::SERVING
                                   : HealthCheckResponse::NOT_SERVING;
  auto [it, inserted] = statuses_.try_emplace(service_name, status);
  if (!inserted && it->second == status) return;
  it->second = status;
  changed_.SignalAll();
}

void HealthService::SetServingStatus(bool serving) {
  absl::MutexLock lock(&mu_);
  if (shutdown_) return;
  const ServingStatus status =
      serving ? HealthCheckResponse::SERVING : HealthCheckResponse::NOT_SERVING;
  for (auto& [name, current] : statuses_) {
    if (current == status) continue;
    current = status;
    changed_.SignalAll();
  }
}

void HealthService::Shutdown() {
  absl::MutexLock lock(&mu_);
  if (shutdown_) return;
  shutdown_ = true;
  for (auto& [name, current] : statuses_) {
    current = HealthCheckResponse::NOT_SERVING;
  }
  changed_.SignalAll();
}

grpc::Status HealthService::Check(grpc::ServerContext* context,
                                  const HealthCheckRequest* request,
                                  HealthCheckResponse* response) {
  absl::MutexLock lock(&mu_);
  const ServingStatus status = StatusLocked(request->service());
  if (status == HealthCheckResponse::SERVICE_UNKNOWN) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown service");
  }
  response->set_status(status);
  return grpc::Status::OK;
}

grpc::Status HealthService::Watch(
    grpc::ServerContext* context, const HealthCheckRequest* request,
    grpc::ServerWriter<HealthCheckResponse>* writer) {
  absl::MutexLock lock(&mu_);
  if (watchers_ >= max_watchers_) {
    return grpc::Status(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        absl::StrCat("health Watch streams open: ", max_watchers_,
                     " (--health_max_watchers); retry later"));
  }
  ++watchers_;
  std::optional<ServingStatus> sent;
  grpc::Status end;
  while (true) {
    const ServingStatus status = StatusLocked(request->service());
    if (status != sent) {
      // Written without the lock: a client that reads slowly holds up
      // nobody else.
      HealthCheckResponse response;
      response.set_status(status);
      mu_.Unlock();
      const bool written = writer->Write(response);
      mu_.Lock();
      if (!written) {
        end = grpc::Status(grpc::StatusCode::CANCELLED, "write failed");
        break;
      }
      sent = status;
      continue;  // the status may have changed during the write
    }
    // After the last status (a drain's NOT_SERVING) went out.
    if (shutdown_) {
      end = ShuttingDown();
      break;
    }
    if (context->IsCancelled()) {
      end = grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
      break;
    }
    changed_.WaitWithTimeout(&mu_, kCancelPoll);
  }
  if (--watchers_ == 0) changed_.SignalAll();
  return end;
}

size_t HealthService::watchers() const {
  absl::MutexLock lock(&mu_);
  return static_cast<size_t>(watchers_);
}

}  // namespace banditd::service
