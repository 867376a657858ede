#ifndef BANDITD_SERVER_SERVICE_DECISION_EXPORT_H_
#define BANDITD_SERVER_SERVICE_DECISION_EXPORT_H_

#include <string>

#include "banditd/v1/banditd.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "server/core/engine.h"
#include "server/store/decision_log.h"

namespace banditd::service {

// The decision-log body of one Sample call (a DecisionEntry), serialized
// straight from the call's query and result.
std::string DecisionBodyOf(const core::SampleQuery& query,
                           const core::SampleResult& result);

// Streams `log` for ExportDecisions; deletes itself when done. Reads the
// log a page at a time on the reactor's thread (an admin export, not a
// request path). Writes serialized LoggedDecision messages (a raw method).
grpc::ServerWriteReactor<grpc::ByteBuffer>* StartDecisionExport(
    store::DecisionLog* log, const v1::ExportDecisionsRequest& request);

}  // namespace banditd::service

#endif  // BANDITD_SERVER_SERVICE_DECISION_EXPORT_H_
