#ifndef BANDITD_SERVER_SERVICE_WINNER_CONVERT_H_
#define BANDITD_SERVER_SERVICE_WINNER_CONVERT_H_

#include "banditd/v1/banditd.pb.h"
#include "server/core/engine.h"

namespace banditd::service {

core::WinnerQuery WinnerQueryFromProto(const v1::GetStatsRequest& request);

// Fills GetStatsResponse.winner and the winner of each analysed arm in
// out->arms (matched by arm id).
void WinnerToProto(const core::WinnerResult& result, v1::GetStatsResponse* out);

}  // namespace banditd::service

#endif  // BANDITD_SERVER_SERVICE_WINNER_CONVERT_H_
