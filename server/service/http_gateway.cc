#include "server/service/http_gateway.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "grpcpp/support/status.h"
#include "httplib.h"
#include "server/log/request_id.h"
#include "server/ops/http_socket.h"
#include "server/service/convert.h"
#include "server/service/http_transcode.h"

namespace banditd::service {
namespace {

constexpr char kJson[] = "application/json";

void SendError(httplib::Response& res, int code, absl::string_view message,
               absl::string_view details = {}) {
  res.status = HttpStatusFromGrpcCode(code);
  // A final newline keeps a shell prompt (curl) off the JSON.
  res.set_content(absl::StrCat(ErrorToJson(code, message, details), "\n"),
                  kJson);
}

std::unique_ptr<google::protobuf::Message> NewMessage(
    const google::protobuf::Descriptor* type) {
  return std::unique_ptr<google::protobuf::Message>(
      google::protobuf::MessageFactory::generated_factory()
          ->GetPrototype(type)
          ->New());
}

// The call's deadline from a Grpc-Timeout header (gRPC's own format, which
// grpc-gateway also reads: up to 8 digits and a unit H, M, S, m, u or n);
// none without the header.
absl::StatusOr<absl::Time> DeadlineFrom(const std::string& header,
                                        absl::Time start) {
  if (header.empty()) return absl::InfiniteFuture();
  const std::string digits = header.substr(0, header.size() - 1);
  int64_t value = 0;
  const bool number = !digits.empty() && digits.size() <= 8 &&
                      absl::c_all_of(digits, absl::ascii_isdigit) &&
                      absl::SimpleAtoi(digits, &value);
  absl::Duration unit;
  switch (header.back()) {
    case 'H':
      unit = absl::Hours(1);
      break;
    case 'M':
      unit = absl::Minutes(1);
      break;
    case 'S':
      unit = absl::Seconds(1);
      break;
    case 'm':
      unit = absl::Milliseconds(1);
      break;
    case 'u':
      unit = absl::Microseconds(1);
      break;
    case 'n':
      unit = absl::Nanoseconds(1);
      break;
    default:
      unit = absl::ZeroDuration();
  }
  if (!number || unit == absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("Grpc-Timeout: \"", header,
                     "\" is not 1-8 digits and a unit (H, M, S, m, u, n)"));
  }
  return start + value * unit;
}

}  // namespace

// One HTTP request's call of the service. It owns the request and response
// messages, which the service uses until it replies, maybe on another thread
// after the HTTP thread stopped waiting (Stop): the call keeps itself alive
// until then.
class HttpGateway::Call final : public ServiceCall {
 public:
  Call(const google::protobuf::MethodDescriptor* method,
       std::string authorization)
      : request(NewMessage(method->input_type())),
        response(NewMessage(method->output_type())),
        authorization_(std::move(authorization)) {}

  // Before the service gets the call: it is kept until Reply.
  void Start(std::shared_ptr<Call> self) {
    absl::MutexLock lock(&mu_);
    self_ = std::move(self);
  }
  absl::string_view authorization() const override { return authorization_; }
  void Reply(const absl::Status& status) override {
    std::shared_ptr<Call> self;  // may be the last reference: dies last
    absl::MutexLock lock(&mu_);
    self = std::move(self_);
    if (!done_) {
      status_ = status;
      done_ = true;
    }
  }
  // Answers the call CANCELLED unless it has its reply; the service's later
  // Reply is then ignored (and `response` never read).
  void Cancel() {
    absl::MutexLock lock(&mu_);
    if (done_) return;
    status_ = absl::CancelledError(
        "the server is shutting down: the call did not finish in time "
        "(--drain_timeout)");
    done_ = true;
  }
  bool done() const {
    absl::MutexLock lock(&mu_);
    return done_;
  }
  // The reply, or DEADLINE_EXCEEDED once `deadline` passes without one (the
  // service's later Reply is then ignored, as gRPC ignores a late reply).
  absl::Status Wait(absl::Time deadline) {
    absl::MutexLock lock(&mu_);
    if (!mu_.AwaitWithDeadline(absl::Condition(&done_), deadline)) {
      status_ = absl::DeadlineExceededError(
          "the call did not finish before the client's Grpc-Timeout; a "
          "write may still be applied (a retry with the same event_ids "
          "counts once)");
      done_ = true;
    }
    return status_;
  }

  const std::unique_ptr<google::protobuf::Message> request;
  const std::unique_ptr<google::protobuf::Message> response;

 private:
  const std::string authorization_;
  mutable absl::Mutex mu_;
  std::shared_ptr<Call> self_ ABSL_GUARDED_BY(mu_);
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
};

// Handler: translates one HTTP request into one call of the service.
class HttpGateway::Handler {
 public:
  // A unary RPC the gateway runs.
  struct Method {
    BanditService::UnaryHandler run = nullptr;
    // "/banditd.v1.BanditService/Sample": metrics and log lines.
    std::string full_name;
  };

  Handler(HttpGateway* gateway, const HttpGatewayOptions& options,
          BanditService* service, ops::Metrics* metrics, RpcLog* rpc_log)
      : gateway_(gateway),
        rules_(&gateway->rules_),
        max_response_bytes_(options.max_response_bytes),
        service_(service),
        metrics_(metrics),
        rpc_log_(rpc_log) {
    for (const HttpRoute& route : rules_->routes()) {
      const google::protobuf::MethodDescriptor* method = route.method;
      methods_[method] = {BanditService::FindUnary(method->name()),
                          absl::StrCat("/", method->service()->full_name(), "/",
                                       method->name())};
    }
  }

  // `body` is the request's body, whatever its Content-Type (see Start).
  void Handle(const httplib::Request& req, const std::string& body,
              httplib::Response& res) {
    const absl::Time start = absl::Now();
    std::optional<HttpMatch> match = rules_->Match(req.method, req.path);
    if (!match.has_value()) {
      if (rules_->MatchesAnyMethod(req.path)) {
        SendError(res, grpc::StatusCode::UNIMPLEMENTED,
                  absl::StrCat(req.method, " is not allowed on ", req.path));
        res.status = 405;
      } else {
        SendError(res, grpc::StatusCode::NOT_FOUND,
                  absl::StrCat("no route for ", req.method, " ", req.path,
                               " (see /openapi.json)"));
      }
      return;
    }
    const google::protobuf::MethodDescriptor* method = match->route->method;
    const Method& unary = methods_.at(method);
    if (unary.run == nullptr) {
      // Only unary calls run here; a streamed reply needs gRPC.
      SendError(res, grpc::StatusCode::UNIMPLEMENTED,
                absl::StrCat(method->name(),
                             " streams its reply: call it over gRPC"));
      return;
    }
    if (gateway_->draining_.load(std::memory_order_relaxed)) {
      SendError(res, grpc::StatusCode::UNAVAILABLE,
                "the server is shutting down");
      return;
    }
    auto call =
        std::make_shared<Call>(method, req.get_header_value("Authorization"));
    // Only the URL's query string: httplib also files a form-encoded body
    // (curl -d without a Content-Type) under params.
    httplib::Params params;
    if (size_t q = req.target.find('?'); q != std::string::npos) {
      httplib::detail::parse_query_text(req.target.substr(q + 1), params);
    }
    std::vector<std::pair<std::string, std::string>> query(params.begin(),
                                                           params.end());
    if (absl::Status filled =
            FillRequest(*match, body, query, call->request.get());
        !filled.ok()) {
      // "body: ..." or "<parameter>: ...": a BadRequest violation, as over
      // gRPC.
      const grpc::Status status = ToGrpcStatus(filled);
      SendError(res, status.error_code(), status.error_message(),
                status.error_details());
      return;
    }
    // The call's request id: the client's X-Request-Id when it is one the
    // server keeps, else a new one; either way it comes back as a header.
    const std::string request_id =
        logging::RequestIdFrom(req.get_header_value("X-Request-Id"));
    res.set_header("X-Request-Id", request_id);

    absl::StatusOr<absl::Time> deadline =
        DeadlineFrom(req.get_header_value("Grpc-Timeout"), start);
    absl::Status status =
        deadline.ok() ? Run(unary, call, *deadline) : deadline.status();
    // Printed from the reply's bytes, which also measure it against the
    // send limit as gRPC would.
    std::string bytes;
    if (status.ok()) {
      bytes = call->response->SerializeAsString();
      if (bytes.size() > max_response_bytes_) {
        status = absl::ResourceExhaustedError(
            absl::StrCat("the reply (", bytes.size(),
                         " bytes) is larger than the most the server sends (",
                         max_response_bytes_, " bytes): ask for less"));
      }
    }
    const grpc::Status sent = ToGrpcStatus(status);
    const absl::Duration took = absl::Now() - start;
    if (metrics_ != nullptr) {
      metrics_->RecordRpc(unary.full_name, sent.error_code(),
                          absl::ToDoubleSeconds(took));
    }
    if (!sent.ok()) {
      rpc_log_->LogIfFailed(
          unary.full_name, sent, took, request_id,
          absl::StrCat("http:", req.remote_addr, ":", req.remote_port));
      SendError(res, sent.error_code(), sent.error_message(),
                sent.error_details());
      return;
    }
    absl::StatusOr<std::string> json =
        ResponseBytesToJson(method->output_type(), bytes);
    if (!json.ok()) {
      SendError(res, grpc::StatusCode::INTERNAL, json.status().message());
      return;
    }
    json->push_back('\n');
    res.set_content(*std::move(json), kJson);
  }

 private:
  // Runs the call on the service and waits for its reply: at once for
  // most reads, which reply on this thread.
  absl::Status Run(const Method& unary, const std::shared_ptr<Call>& call,
                   absl::Time deadline) {
    call->Start(call);
    unary.run(*service_, call.get(), *call->request, call->response.get());
    if (call->done()) return call->Wait(deadline);
    gateway_->AddWaiting(call.get());
    absl::Status status = call->Wait(deadline);
    gateway_->RemoveWaiting(call.get());
    return status;
  }

  HttpGateway* const gateway_;
  const HttpRules* const rules_;
  const size_t max_response_bytes_;
  BanditService* const service_;
  ops::Metrics* const metrics_;
  RpcLog* const rpc_log_;
  absl::flat_hash_map<const google::protobuf::MethodDescriptor*, Method>
      methods_;
};

void HttpGateway::AddWaiting(Call* call) {
  absl::MutexLock lock(&mu_);
  waiting_.insert(call);
  if (cancelled_) call->Cancel();
}

void HttpGateway::RemoveWaiting(Call* call) {
  absl::MutexLock lock(&mu_);
  waiting_.erase(call);
}

void HttpGateway::Drain() { draining_.store(true); }

bool HttpGateway::ReserveBody(size_t length) {
  const size_t before =
      body_bytes_in_flight_.fetch_add(length, std::memory_order_relaxed);
  if (max_body_bytes_in_flight_ > 0 &&
      before + length > max_body_bytes_in_flight_) {
    body_bytes_in_flight_.fetch_sub(length, std::memory_order_relaxed);
    return false;
  }
  return true;
}

void HttpGateway::ReleaseBody(size_t bytes) {
  body_bytes_in_flight_.fetch_sub(bytes, std::memory_order_relaxed);
}

HttpGateway::~HttpGateway() { Stop(); }

void HttpGateway::Stop(absl::Time deadline) {
  Drain();
  {
    absl::MutexLock lock(&mu_);
    auto none_waiting = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return waiting_.empty();
    };
    mu_.AwaitWithDeadline(absl::Condition(&none_waiting), deadline);
    cancelled_ = true;
    for (Call* call : waiting_) call->Cancel();
  }
  if (server_ != nullptr) server_->stop();
  if (thread_.joinable()) thread_.join();
}

absl::StatusOr<std::unique_ptr<HttpGateway>> HttpGateway::Start(
    const HttpGatewayOptions& options, BanditService* service,
    ops::Metrics* metrics, RpcLog* rpc_log) {
  std::unique_ptr<HttpGateway> gateway(new HttpGateway());
  absl::StatusOr<HttpRules> rules = HttpRules::FromService(
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
          v1::BanditService::service_full_name()));
  if (!rules.ok()) return rules.status();
  gateway->rules_ = *std::move(rules);
  gateway->max_body_bytes_in_flight_ = options.max_body_bytes_in_flight;
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return absl::InvalidArgumentError(
        "HTTPS needs both a certificate and a private key");
  }
  if (options.tls_cert_file.empty()) {
    gateway->server_ = std::make_unique<httplib::Server>();
  } else {
    auto tls = std::make_unique<httplib::SSLServer>(
        options.tls_cert_file.c_str(), options.tls_key_file.c_str());
    if (!tls->is_valid()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cannot load the TLS certificate ", options.tls_cert_file, " or key ",
          options.tls_key_file));
    }
    gateway->server_ = std::move(tls);
  }
  gateway->handler_ = std::make_unique<Handler>(gateway.get(), options, service,
                                                metrics, rpc_log);
  httplib::Server& server = *gateway->server_;
  server.set_socket_options(ops::ExclusivePortSocketOptions);
  const int threads = std::max(1, options.threads);
  server.new_task_queue = [threads] {
    return new httplib::ThreadPool(threads);
  };
  // httplib closes a kept-alive connection after a handful of requests by
  // default; API clients reuse theirs for many.
  server.set_keep_alive_max_count(100000);
  // httplib writes a reply's headers and body separately: without
  // TCP_NODELAY, Nagle's algorithm and the client's delayed ACK add ~40 ms.
  server.set_tcp_nodelay(true);
  server.set_payload_max_length(options.max_body_bytes);

  if (!options.openapi_json.empty()) {
    server.Get("/openapi.json",
               [doc = options.openapi_json](const httplib::Request&,
                                            httplib::Response& res) {
                 res.set_content(doc, kJson);
               });
  }
  Handler* handler = gateway->handler_.get();
  auto handle = [handler](const httplib::Request& req, httplib::Response& res) {
    handler->Handle(req, req.body, res);
  };
  // A body is read here, not by httplib: httplib parses a form-encoded body
  // itself (curl -d without -H 'Content-Type: application/json') and
  // refuses one over 8 KB with an empty 413. Every body is JSON to us.
  HttpGateway* gateway_ptr = gateway.get();
  const size_t release_after = options.release_thread_cache == nullptr
                                   ? 0
                                   : options.release_thread_cache_body_bytes;
  auto handle_body = [handler, gateway = gateway_ptr, release_after,
                      release = options.release_thread_cache](
                         const httplib::Request& req, httplib::Response& res,
                         const httplib::ContentReader& read) {
    if (req.is_multipart_form_data()) {
      SendError(res, grpc::StatusCode::INVALID_ARGUMENT,
                "body: multipart/form-data is not accepted; send JSON");
      res.status = 415;
      return;
    }
    std::string body;
    bool over_budget = false;
    read([&](const char* data, size_t length) {
      over_budget = !gateway->ReserveBody(length);
      if (!over_budget) body.append(data, length);
      return !over_budget;
    });
    if (over_budget) {
      gateway->ReleaseBody(body.size());
      SendError(res, grpc::StatusCode::RESOURCE_EXHAUSTED,
                "the server holds as many request bodies as it may "
                "(--transport_memory_mb); retry later");
      // The rest of the body was not read: the connection cannot go on.
      res.set_header("Connection", "close");
      return;
    }
    handler->Handle(req, body, res);
    gateway->ReleaseBody(body.size());
    if (release_after > 0 && body.size() >= release_after) {
      std::string().swap(body);
      release();
    }
  };
  server.Get(".*", handle);
  server.Post(".*", handle_body);
  server.Put(".*", handle_body);
  server.Patch(".*", handle_body);
  server.Delete(".*", handle);

  if (options.port == 0) {
    gateway->port_ = server.bind_to_any_port(options.host);
  } else if (server.bind_to_port(options.host, options.port)) {
    gateway->port_ = options.port;
  }
  if (gateway->port_ <= 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen for HTTP on ", options.host, ":", options.port));
  }
  gateway->thread_ = std::thread([&server] { server.listen_after_bind(); });
  // stop() is a no-op until the listener runs; wait so Stop() always works.
  for (int i = 0; i < 5000 && !server.is_running(); ++i) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  return gateway;
}

}  // namespace banditd::service
