#include "server/service/health_service.h"

#include <optional>

namespace banditd::service {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

// One Watch stream: sends the current status, then every change, one write
// at a time (a change that arrives during a write replaces any pending one).
// Its reactions never run inline with StartWrite or Finish, so they may be
// called under mu_ (as gRPC's own health service does).
class HealthService::Watcher final
    : public grpc::ServerWriteReactor<HealthCheckResponse> {
 public:
  Watcher(HealthService* owner, std::string service_name)
      : owner_(owner), service_name_(std::move(service_name)) {}

  const std::string& service_name() const { return service_name_; }

  void Send(ServingStatus status) {
    absl::MutexLock lock(&mu_);
    if (finishing_ || end_status_.has_value()) return;
    if (writing_) {
      pending_ = status;
      return;
    }
    WriteLocked(status);
  }

  // Finishes the stream once the write in flight (if any) is done.
  void End(const grpc::Status& status) {
    absl::MutexLock lock(&mu_);
    EndLocked(status);
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) {
      EndLocked(grpc::Status(grpc::StatusCode::CANCELLED, "write failed"));
      return;
    }
    // A status queued behind this write goes out before an end that came
    // meanwhile: SIGTERM queues NOT_SERVING, then ends the stream.
    if (pending_.has_value()) {
      const ServingStatus next = *pending_;
      pending_.reset();
      WriteLocked(next);
      return;
    }
    if (end_status_.has_value()) FinishLocked();
  }

  void OnCancel() override {
    End(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
  }

  void OnDone() override {
    owner_->Unregister(this);
    delete this;
  }

 private:
  void WriteLocked(ServingStatus status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    response_.set_status(status);
    writing_ = true;
    StartWrite(&response_);
  }

  void EndLocked(const grpc::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (end_status_.has_value()) return;
    end_status_ = status;
    // A pending status is still worth sending: a drain's NOT_SERVING.
    if (!writing_ && pending_.has_value()) {
      const ServingStatus next = *pending_;
      pending_.reset();
      WriteLocked(next);
      return;
    }
    if (!writing_) FinishLocked();
  }

  void FinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finishing_) return;
    finishing_ = true;
    Finish(*end_status_);
  }

  HealthService* const owner_;
  const std::string service_name_;
  absl::Mutex mu_;
  HealthCheckResponse response_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<ServingStatus> pending_ ABSL_GUARDED_BY(mu_);
  std::optional<grpc::Status> end_status_ ABSL_GUARDED_BY(mu_);
};

namespace {

const grpc::Status& ShuttingDown() {
  static const grpc::Status* status = new grpc::Status(
      grpc::StatusCode::UNAVAILABLE, "server is shutting down");
  return *status;
}

}  // namespace

HealthService::HealthService() { statuses_[""] = HealthCheckResponse::SERVING; }

HealthService::~HealthService() {
  // The server is shut down before its health service is destroyed, which
  // ends every stream; wait for their OnDone.
  Shutdown();
  absl::MutexLock lock(&mu_);
  while (!watchers_.empty()) no_watchers_.Wait(&mu_);
}

HealthService::ServingStatus HealthService::StatusLocked(
    const std::string& service_name) const {
  auto it = statuses_.find(service_name);
  return it == statuses_.end() ? HealthCheckResponse::SERVICE_UNKNOWN
                               : it->second;
}

void HealthService::NotifyLocked(const std::string& service_name) {
  const ServingStatus status = StatusLocked(service_name);
  for (Watcher* w : watchers_) {
    if (w->service_name() == service_name) w->Send(status);
  }
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
  NotifyLocked(service_name);
}

void HealthService::SetServingStatus(bool serving) {
  absl::MutexLock lock(&mu_);
  if (shutdown_) return;
  const ServingStatus status =
      serving ? HealthCheckResponse::SERVING : HealthCheckResponse::NOT_SERVING;
  for (auto& [name, current] : statuses_) {
    if (current == status) continue;
    current = status;
    NotifyLocked(name);
  }
}

void HealthService::Shutdown() {
  absl::MutexLock lock(&mu_);
  if (shutdown_) return;
  shutdown_ = true;
  for (auto& [name, current] : statuses_) {
    if (current == HealthCheckResponse::NOT_SERVING) continue;
    current = HealthCheckResponse::NOT_SERVING;
    NotifyLocked(name);
  }
  for (Watcher* w : watchers_) w->End(ShuttingDown());
}

grpc::ServerUnaryReactor* HealthService::Check(
    grpc::CallbackServerContext* context, const HealthCheckRequest* request,
    HealthCheckResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::MutexLock lock(&mu_);
  const ServingStatus status = StatusLocked(request->service());
  if (status == HealthCheckResponse::SERVICE_UNKNOWN) {
    reactor->Finish(
        grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown service"));
  } else {
    response->set_status(status);
    reactor->Finish(grpc::Status::OK);
  }
  return reactor;
}

grpc::ServerWriteReactor<HealthCheckResponse>* HealthService::Watch(
    grpc::CallbackServerContext* context, const HealthCheckRequest* request) {
  auto* watcher = new Watcher(this, request->service());
  absl::MutexLock lock(&mu_);
  watchers_.insert(watcher);
  watcher->Send(StatusLocked(request->service()));
  if (shutdown_) watcher->End(ShuttingDown());
  return watcher;
}

void HealthService::Unregister(Watcher* watcher) {
  absl::MutexLock lock(&mu_);
  watchers_.erase(watcher);
  if (watchers_.empty()) no_watchers_.SignalAll();
}

size_t HealthService::watchers() const {
  absl::MutexLock lock(&mu_);
  return watchers_.size();
}

}  // namespace banditd::service
