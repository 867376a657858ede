-- wrk script: POST /v1/rooms/bench:sample, the same request as
-- bench/grpc_load.cc's Sample (k = 1, 5 context items, UCB1).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"k":1,"contextItems":["hour=13","device=ios","country=fr",' ..
  '"page=home","plan=free"],"policy":{"type":"POLICY_TYPE_UCB1"}}'
wrk.path = "/v1/rooms/bench:sample"

-- Every reply must be 200: the count of others is printed at the end.
function done(summary, latency, requests)
  io.write(string.format("non-200 %d\n", summary.errors.status))
end
