-- wrk script: POST /v1/feedback, one event per call (one view on
-- arm_<n mod 100>), as bench/grpc_load.cc's Feedback.
local n = 0
function request()
  n = n + 1
  local body = string.format(
    '{"events":[{"roomId":"bench","armId":"arm_%d","views":1}]}', n % 100)
  return wrk.format("POST", "/v1/feedback",
                    {["Content-Type"] = "application/json"}, body)
end
function done(summary, latency, requests)
  io.write(string.format("non-200 %d\n", summary.errors.status))
end
