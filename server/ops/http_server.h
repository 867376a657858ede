#ifndef BANDITD_SERVER_OPS_HTTP_SERVER_H_
#define BANDITD_SERVER_OPS_HTTP_SERVER_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "server/core/engine.h"
#include "server/ops/metrics.h"
#include "server/ops/share_history.h"

namespace httplib {
class Server;
}

namespace banditd::ops {

struct HttpServerOptions {
  // The HTTP endpoints carry no authentication: keep them on loopback unless
  // the network in front of them is trusted.
  std::string host = "127.0.0.1";
  // 0 picks a free port.
  int port = 0;
  // Serve the dashboard (/, /api/...) besides /metrics.
  bool dashboard = true;
  // With the dashboard: every history_interval, record the whole-room view
  // counts of the first history_rooms rooms (by id) for "share over time"
  // (the last hour; ShareHistory bounds the memory). 0 rooms: only while a
  // page polls.
  int history_rooms = 100;
  absl::Duration history_interval = absl::Seconds(10);
};

// HttpServer serves, on its own threads (cpp-httplib):
//   GET /metrics               Prometheus text format
//   GET /healthz               200 "ok" while serving; 503 "recovering" or
//                              "draining" before and after (SetState)
//   GET /                      the dashboard page (and /dashboard.js, .css,
//                              /favicon.svg, /favicon.ico)
//   GET /api/rooms             {"rooms": [{room_id, arms, policy}...]}
//   GET /api/stats?room=&segment=
//                              per-arm counters and scores, the room policy
//                              and the selection share over time
// Reads only: nothing it serves can change the engine.
class HttpServer {
 public:
  // Binds and starts serving. `metrics` and `engine` must outlive the
  // server.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(
      const HttpServerOptions& options, const Metrics* metrics,
      const core::Engine* engine);
  ~HttpServer();

  // What /healthz reports; kRecovering until set.
  enum class State { kRecovering, kServing, kDraining };
  void SetState(State state) { state_.store(state); }

  int port() const { return port_; }
  // Stops accepting and waits for the serving thread. Idempotent.
  void Stop();

 private:
  HttpServer();
  // Records every room's whole-room views in history_ (the sampler thread).
  void SampleShares(const core::Engine* engine, int max_rooms);

  std::unique_ptr<httplib::Server> server_;
  std::unique_ptr<ShareHistory> history_;
  std::thread thread_;
  std::thread sampler_;
  absl::Notification stop_sampler_;
  int port_ = 0;
  std::atomic<State> state_{State::kRecovering};
};

// Escapes `s` as a JSON string literal, quotes included.
std::string JsonQuote(absl::string_view s);

}  // namespace banditd::ops

#endif  // BANDITD_SERVER_OPS_HTTP_SERVER_H_
