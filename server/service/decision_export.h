#ifndef BANDITD_SERVER_SERVICE_DECISION_EXPORT_H_
#define BANDITD_SERVER_SERVICE_DECISION_EXPORT_H_

#include <string>

#include "banditd/v1/banditd.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "server/core/engine.h"
#include "server/service/unary_call.h"
#include "server/store/decision_log.h"

namespace banditd::service {

// The decision-log body of one Sample call (a DecisionEntry), serialized
// straight from the call's query and result.
std::string DecisionBodyOf(const core::SampleQuery& query,
                           const core::SampleResult& result);

class BanditService;

// Requests an ExportDecisions call on `cq` (its events go to
// QueueTag::OnEvent; `live` counts it). When it arrives it requests the
// next one, parses its request (raw: unparsable bytes end the stream at
// once with INVALID_ARGUMENT), asks `service` (AdmitExport) for the log and
// streams it as serialized LoggedDecision messages, reading it a page at a
// time on the polling thread (an admin export, not a request path).
void RequestDecisionExport(BanditService* service,
                           grpc::ServerCompletionQueue* cq,
                           QueueTag::LiveCount* live);

}  // namespace banditd::service

#endif  // BANDITD_SERVER_SERVICE_DECISION_EXPORT_H_
