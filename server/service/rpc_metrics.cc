#include "server/service/rpc_metrics.h"

#include <string>
#include <utility>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace banditd::service {
namespace {

using grpc::experimental::InterceptionHookPoints;

// One per call: created when the call starts, records when the status is
// about to be sent.
class RpcMetricsInterceptor final : public grpc::experimental::Interceptor {
 public:
  RpcMetricsInterceptor(ops::Metrics* metrics, const char* method)
      : metrics_(metrics),
        method_(method == nullptr ? "" : method),
        start_(absl::Now()) {}

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_STATUS)) {
      metrics_->RecordRpc(method_, methods->GetSendStatus().error_code(),
                          absl::ToDoubleSeconds(absl::Now() - start_));
    }
    methods->Proceed();
  }

 private:
  ops::Metrics* const metrics_;
  const std::string method_;
  const absl::Time start_;
};

class Factory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  Factory(ops::Metrics* metrics, absl::flat_hash_set<std::string> skip)
      : metrics_(metrics), skip_(std::move(skip)) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    if (info->method() != nullptr && skip_.contains(info->method())) {
      return nullptr;
    }
    return new RpcMetricsInterceptor(metrics_, info->method());
  }

 private:
  ops::Metrics* const metrics_;
  const absl::flat_hash_set<std::string> skip_;
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
RpcMetricsInterceptorFactory(ops::Metrics* metrics,
                             absl::flat_hash_set<std::string> skip) {
  return std::make_unique<Factory>(metrics, std::move(skip));
}

}  // namespace banditd::service
