#ifndef BANDITD_SERVER_SERVICE_UNARY_CALL_H_
#define BANDITD_SERVER_SERVICE_UNARY_CALL_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/async_unary_call.h"
#include "grpcpp/support/byte_buffer.h"
#include "server/ops/metrics.h"
#include "server/service/rpc_log.h"

namespace banditd::service {

// One unary call of either transport: a gRPC call, or an HTTP/JSON request
// that the gateway runs on the service directly (CallUnary). Handlers read
// the caller's token from it and finish it with Reply.
class ServiceCall {
 public:
  // The caller's "authorization" metadata or header ("Bearer <token>");
  // empty when there is none.
  virtual absl::string_view authorization() const = 0;
  // Finishes the call, once, on any thread; an OK status sends the response.
  virtual void Reply(const absl::Status& status) = 0;

 protected:
  ~ServiceCall() = default;
};

// Where BanditService's gRPC unary calls report (StartServer's): the
// failed-call log and the metrics (null: none).
struct CallReporting {
  std::shared_ptr<RpcLog> log;
  ops::Metrics* metrics = nullptr;
};

// The call's "authorization" metadata; empty when absent.
absl::string_view AuthorizationOf(const grpc::ServerContext& context);

// Every event on the completion queues of BanditService's calls is a
// QueueTag's (OnEvent): a call on the asynchronous API, which reacts to the
// end of its last operation and deletes itself after the last.
class QueueTag {
 public:
  // The calls alive (requested, running or replying), which the queues'
  // shutdown waits for: a call must not start an operation on a queue that
  // is shut down.
  using LiveCount = std::atomic<int64_t>;

  // Handles an event of the queues (its tag and ok).
  static void OnEvent(void* tag, bool ok) {
    static_cast<QueueTag*>(tag)->Proceed(ok);
  }

 protected:
  explicit QueueTag(LiveCount* live) : live_(live) {
    live_->fetch_add(1, std::memory_order_relaxed);
  }
  ~QueueTag() { live_->fetch_sub(1, std::memory_order_release); }
  // The tag of this call's operations.
  void* tag() { return this; }
  LiveCount* live() const { return live_; }

 private:
  virtual void Proceed(bool ok) = 0;

  LiveCount* const live_;
};

// One gRPC unary call on the asynchronous API: requested on a completion
// queue, run by the thread that polls the queue when it arrives (no hop to
// another thread), answered by Reply from any thread. Its events: first
// its arrival, then the end of its reply, after which it deletes itself.
// With a
// CallReporting it does what the server's interceptors do for other calls,
// cheaper: a request id (the client's x-request-id when valid, else a new
// one) returned in the initial metadata, the metrics, and the log line of a
// failed call.
class UnaryCall : public ServiceCall, public QueueTag {
 public:
  absl::string_view authorization() const override;
  void Reply(const absl::Status& status) override;

 protected:
  explicit UnaryCall(LiveCount* live);
  virtual ~UnaryCall() = default;

  // The call arrived: requests the next call of its method, reports
  // (StartReporting), then parses the request and runs its handler.
  virtual void Run() = 0;
  // Serializes the response into `out`.
  virtual grpc::Status SerializeResponse(grpc::ByteBuffer* out) = 0;

  // Reports the call to `reporting` (may be null); `method` is the full
  // method name, static.
  void StartReporting(const CallReporting* reporting, const char* method);

  grpc::ServerContext context_;
  grpc::ByteBuffer request_bytes_;
  grpc::ServerAsyncResponseWriter<grpc::ByteBuffer> responder_;

 private:
  void Proceed(bool ok) override;

  // Set when the call arrived: the next event ends its reply.
  bool arrived_ = false;
  const CallReporting* reporting_ = nullptr;
  const char* method_ = nullptr;
  absl::Time start_;
  std::string request_id_;
};

}  // namespace banditd::service

#endif  // BANDITD_SERVER_SERVICE_UNARY_CALL_H_
