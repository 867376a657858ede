#include "server/service/rpc_log.h"

#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/server_context.h"
#include "server/log/log.h"
#include "server/log/request_id.h"

namespace banditd::service {
namespace {

using grpc::experimental::InterceptionHookPoints;
using logging::IsValidRequestId;
using logging::kRequestIdKey;
using logging::NewRequestId;

// Codes a client causes (and can fix) are warnings; the rest are errors.
bool IsClientError(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::CANCELLED:
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::NOT_FOUND:
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::OUT_OF_RANGE:
    case grpc::StatusCode::UNAUTHENTICATED:
    // A method this server does not have: grpcurl asks for reflection v1
    // first, on every call, and falls back to v1alpha.
    case grpc::StatusCode::UNIMPLEMENTED:
      return true;
    default:
      return false;
  }
}

// The field path of the status' first google.rpc.BadRequest violation: a
// path into the request's schema ("events[3].arm_id"), not its content.
std::string FieldAtFault(const grpc::Status& status) {
  if (status.error_details().empty()) return "";
  google::rpc::Status details;
  if (!details.ParseFromString(status.error_details())) return "";
  for (const google::protobuf::Any& any : details.details()) {
    google::rpc::BadRequest bad_request;
    if (any.UnpackTo(&bad_request) && bad_request.field_violations_size() > 0) {
      return bad_request.field_violations(0).field();
    }
  }
  return "";
}

class RpcLogInterceptor final : public grpc::experimental::Interceptor {
 public:
  RpcLogInterceptor(grpc::experimental::ServerRpcInfo* info, RpcLog* log)
      : info_(info),
        log_(log),
        method_(info->method() == nullptr ? "" : info->method()),
        start_(absl::Now()) {}

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      const auto* metadata = methods->GetRecvInitialMetadata();
      if (auto it = metadata->find(kRequestIdKey); it != metadata->end()) {
        const absl::string_view id(it->second.data(), it->second.size());
        if (IsValidRequestId(id)) request_id_ = std::string(id);
      }
    }
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->emplace(kRequestIdKey, RequestId());
    }
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_STATUS)) {
      const grpc::Status status = methods->GetSendStatus();
      if (!status.ok()) {
        log_->LogIfFailed(method_, status, absl::Now() - start_, RequestId(),
                          info_->server_context() == nullptr
                              ? std::string()
                              : info_->server_context()->peer());
      }
    }
    methods->Proceed();
  }

 private:
  const std::string& RequestId() {
    if (request_id_.empty()) request_id_ = NewRequestId();
    return request_id_;
  }

  grpc::experimental::ServerRpcInfo* const info_;
  RpcLog* const log_;
  const std::string method_;
  const absl::Time start_;
  std::string request_id_;
};

class Factory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  Factory(RpcLog* log, absl::flat_hash_set<std::string> skip)
      : log_(log), skip_(std::move(skip)) {}
  explicit Factory(std::unique_ptr<RpcLog> log)
      : owned_(std::move(log)), log_(owned_.get()) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    if (info->method() != nullptr && skip_.contains(info->method())) {
      return nullptr;
    }
    return new RpcLogInterceptor(info, log_);
  }

 private:
  const std::unique_ptr<RpcLog> owned_;
  RpcLog* const log_;
  const absl::flat_hash_set<std::string> skip_;
};

}  // namespace

RpcLog::RpcLog(const RpcLogOptions& options)
    : limiter_(options.failed_per_second, absl::Seconds(1)) {}

void RpcLog::LogIfFailed(absl::string_view method, const grpc::Status& status,
                         absl::Duration duration, absl::string_view request_id,
                         absl::string_view peer) {
  if (status.ok()) return;
  const logging::RateLimiter::Decision admit = limiter_.Admit(absl::Now());
  if (!admit.log) return;
  const grpc::StatusCode code = status.error_code();
  const std::string code_name =
      absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
  const spdlog::level::level_enum level =
      IsClientError(code) ? spdlog::level::warn : spdlog::level::err;
  BANDITD_LOG_FIELDS(
      level, "rpc failed", {"method", std::string(method)}, {"code", code_name},
      {"duration_ms", absl::ToDoubleMilliseconds(duration)},
      {"request_id", std::string(request_id)}, {"peer", std::string(peer)},
      {"field", FieldAtFault(status)},
      {"dropped_before", admit.dropped_before});
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
RpcLogInterceptorFactory(RpcLog* log, absl::flat_hash_set<std::string> skip) {
  return std::make_unique<Factory>(log, std::move(skip));
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
RpcLogInterceptorFactory(const RpcLogOptions& options) {
  return std::make_unique<Factory>(std::make_unique<RpcLog>(options));
}

}  // namespace banditd::service
