#include "server/service/unary_call.h"

#include <utility>

#include "absl/time/clock.h"
#include "server/log/request_id.h"
#include "server/service/convert.h"

namespace banditd::service {

UnaryCall::UnaryCall(LiveCount* live) : QueueTag(live), responder_(&context_) {}

void UnaryCall::Proceed(bool ok) {
  // Not ok before arrival: the server is shutting down and fails the calls
  // it had requested. After arrival: the reply was sent (ok) or the call
  // ended first (cancelled, deadline, client gone); either way it is over.
  if (!ok || arrived_) {
    delete this;
    return;
  }
  // Before Run: its handler may reply on another thread, and the reply's
  // event come back on a poller, before Run returns.
  arrived_ = true;
  Run();
}

namespace {

// The client's metadata `key`; empty when absent.
absl::string_view MetadataOf(const grpc::ServerContext& context,
                             absl::string_view key) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find(grpc::string_ref(key.data(), key.size()));
  if (it == metadata.end()) return {};
  return absl::string_view(it->second.data(), it->second.size());
}

}  // namespace

absl::string_view AuthorizationOf(const grpc::ServerContext& context) {
  return MetadataOf(context, "authorization");
}

absl::string_view UnaryCall::authorization() const {
  return AuthorizationOf(context_);
}

void UnaryCall::StartReporting(const CallReporting* reporting,
                               const char* method) {
  reporting_ = reporting;
  method_ = method;
  if (reporting_ == nullptr) return;
  start_ = absl::Now();
  request_id_ =
      logging::RequestIdFrom(MetadataOf(context_, logging::kRequestIdKey));
  context_.AddInitialMetadata(logging::kRequestIdKey, request_id_);
}

void UnaryCall::Reply(const absl::Status& status) {
  grpc::Status sent = ToGrpcStatus(status);
  grpc::ByteBuffer response;
  if (sent.ok()) sent = SerializeResponse(&response);
  if (reporting_ != nullptr) {
    const absl::Duration duration = absl::Now() - start_;
    if (reporting_->metrics != nullptr) {
      reporting_->metrics->RecordRpc(method_, sent.error_code(),
                                     absl::ToDoubleSeconds(duration));
    }
    if (!sent.ok()) {
      reporting_->log->LogIfFailed(method_, sent, duration, request_id_,
                                   context_.peer());
    }
  }
  // The last use of this call here: its event may come back (and delete
  // it) on a poller thread at once.
  if (sent.ok()) {
    responder_.Finish(response, sent, tag());
  } else {
    responder_.FinishWithError(sent, tag());
  }
}

}  // namespace banditd::service
