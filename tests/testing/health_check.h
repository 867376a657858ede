#ifndef BANDITD_TESTS_TESTING_HEALTH_CHECK_H_
#define BANDITD_TESTS_TESTING_HEALTH_CHECK_H_

// Asks a server's standard health service for a status.

#include <memory>
#include <string>

#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace banditd::testing {

// Calls grpc.health.v1.Health/Check for `service` ("" is the whole server)
// and stores the answer in `status_out`.
inline grpc::Status CheckHealth(
    const std::shared_ptr<grpc::Channel>& channel, const std::string& service,
    grpc::health::v1::HealthCheckResponse::ServingStatus* status_out) {
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  grpc::ClientContext context;
  grpc::Status status = stub->Check(&context, request, &response);
  *status_out = response.status();
  return status;
}

}  // namespace banditd::testing

#endif  // BANDITD_TESTS_TESTING_HEALTH_CHECK_H_
