#include "server/service/rpc_log.h"

#include <cstdint>
#include <string>

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
  RpcLogInterceptor(grpc::experimental::ServerRpcInfo* info,
                    logging::RateLimiter* limiter)
      : info_(info),
        limiter_(limiter),
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
      LogIfFailed(methods->GetSendStatus());
    }
    methods->Proceed();
  }

 private:
  const std::string& RequestId() {
    if (request_id_.empty()) request_id_ = NewRequestId();
    return request_id_;
  }

  void LogIfFailed(const grpc::Status& status) {
    if (status.ok()) return;
    const logging::RateLimiter::Decision admit = limiter_->Admit(absl::Now());
    if (!admit.log) return;
    const grpc::StatusCode code = status.error_code();
    const std::string code_name =
        absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
    const double ms = absl::ToDoubleMilliseconds(absl::Now() - start_);
    const spdlog::level::level_enum level =
        IsClientError(code) ? spdlog::level::warn : spdlog::level::err;
    const std::string peer = info_->server_context() == nullptr
                                 ? std::string()
                                 : info_->server_context()->peer();
    BANDITD_LOG_FIELDS(level, "rpc failed", {"method", method_},
                       {"code", code_name}, {"duration_ms", ms},
                       {"request_id", RequestId()}, {"peer", peer},
                       {"field", FieldAtFault(status)},
                       {"dropped_before", admit.dropped_before});
  }

  grpc::experimental::ServerRpcInfo* const info_;
  logging::RateLimiter* const limiter_;
  const std::string method_;
  const absl::Time start_;
  std::string request_id_;
};

class Factory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit Factory(const RpcLogOptions& options)
      : limiter_(options.failed_per_second, absl::Seconds(1)) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new RpcLogInterceptor(info, &limiter_);
  }

 private:
  logging::RateLimiter limiter_;
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
RpcLogInterceptorFactory(const RpcLogOptions& options) {
  return std::make_unique<Factory>(options);
}

}  // namespace banditd::service
