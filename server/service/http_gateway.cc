#include "server/service/http_gateway.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "grpc/grpc.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/support/byte_buffer.h"
#include "httplib.h"
#include "server/log/request_id.h"
#include "server/ops/http_socket.h"
#include "server/service/http_transcode.h"

namespace banditd::service {
namespace {

using logging::IsValidRequestId;
using logging::kRequestIdKey;

constexpr char kJson[] = "application/json";

void SendError(httplib::Response& res, int code, absl::string_view message,
               absl::string_view details = {}) {
  res.status = HttpStatusFromGrpcCode(code);
  // A final newline keeps a shell prompt (curl) off the JSON.
  res.set_content(absl::StrCat(ErrorToJson(code, message, details), "\n"),
                  kJson);
}

grpc::ByteBuffer ToByteBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

bool ByteBufferToString(const grpc::ByteBuffer& buffer, std::string* bytes) {
  std::vector<grpc::Slice> slices;
  if (!buffer.Dump(&slices).ok()) return false;
  bytes->clear();
  bytes->reserve(buffer.Length());
  for (const grpc::Slice& s : slices) {
    bytes->append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return true;
}

// The request id the server gave the call (x-request-id, in the initial
// metadata; with the trailers of a call that failed before sending any).
std::string RequestIdOf(const grpc::ClientContext& context) {
  for (const auto* metadata : {&context.GetServerInitialMetadata(),
                               &context.GetServerTrailingMetadata()}) {
    if (auto it = metadata->find(kRequestIdKey); it != metadata->end()) {
      return std::string(it->second.data(), it->second.size());
    }
  }
  return "";
}

}  // namespace

// Handler: translates one HTTP request into one unary call.
class HttpGateway::Handler {
 public:
  Handler(const HttpRules* rules, std::shared_ptr<grpc::Channel> channel)
      : rules_(rules), stub_(std::move(channel)) {}

  ~Handler() {
    absl::MutexLock lock(&mu_);
    for (std::unique_ptr<grpc::CompletionQueue>& cq : queues_) {
      cq->Shutdown();
      void* tag;
      bool ok;
      while (cq->Next(&tag, &ok)) {
      }
    }
  }

  void Handle(const httplib::Request& req, httplib::Response& res) {
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
    if (method->server_streaming()) {
      // The gateway makes unary calls; a streamed reply needs gRPC.
      SendError(res, grpc::StatusCode::UNIMPLEMENTED,
                absl::StrCat(method->name(),
                             " streams its reply: call it over gRPC"));
      return;
    }
    std::unique_ptr<google::protobuf::Message> request(
        google::protobuf::MessageFactory::generated_factory()
            ->GetPrototype(method->input_type())
            ->New());
    // Only the URL's query string: httplib also files a form-encoded body
    // (curl -d without a Content-Type) under params.
    httplib::Params params;
    if (size_t q = req.target.find('?'); q != std::string::npos) {
      httplib::detail::parse_query_text(req.target.substr(q + 1), params);
    }
    std::vector<std::pair<std::string, std::string>> query(params.begin(),
                                                           params.end());
    if (absl::Status filled =
            FillRequest(*match, req.body, query, request.get());
        !filled.ok()) {
      SendError(res, grpc::StatusCode::INVALID_ARGUMENT, filled.message());
      return;
    }
    grpc::ClientContext context;
    if (req.has_header("Authorization")) {
      context.AddMetadata("authorization",
                          req.get_header_value("Authorization"));
    }
    // The call's request id: the client's X-Request-Id when it is one the
    // server keeps, else the server's; either way it comes back as a header.
    if (const std::string id = req.get_header_value("X-Request-Id");
        IsValidRequestId(id)) {
      context.AddMetadata(kRequestIdKey, id);
    }
    const grpc::ByteBuffer request_bytes =
        ToByteBuffer(request->SerializeAsString());
    grpc::ByteBuffer response_bytes;
    grpc::Status status = Call(
        &context,
        absl::StrCat("/", method->service()->full_name(), "/", method->name()),
        request_bytes, &response_bytes);
    if (std::string id = RequestIdOf(context); !id.empty()) {
      res.set_header("X-Request-Id", std::move(id));
    }
    if (!status.ok()) {
      SendError(res, status.error_code(), status.error_message(),
                status.error_details());
      return;
    }
    // Printed from the reply's bytes: no response message is built.
    std::string bytes;
    if (!ByteBufferToString(response_bytes, &bytes)) {
      SendError(res, grpc::StatusCode::INTERNAL, "cannot read the response");
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
  // One unary call over the in-process channel, waited for on this thread.
  // The completion goes to a non-polling completion queue that this thread
  // waits on: the server's thread that finishes the call wakes this one
  // directly. (A callback stub hands the completion to one of gRPC's callback
  // threads first, one more thread wake-up per call; a blocking stub's
  // polling queue makes the HTTP threads join the server's epoll polling.)
  grpc::Status Call(grpc::ClientContext* context, const std::string& method,
                    const grpc::ByteBuffer& request,
                    grpc::ByteBuffer* response) {
    std::unique_ptr<grpc::CompletionQueue> cq = TakeQueue();
    grpc::Status status;
    std::unique_ptr<grpc::GenericClientAsyncResponseReader> call =
        stub_.PrepareUnaryCall(context, method, request, cq.get());
    call->StartCall();
    call->Finish(response, &status, cq.get());
    // Only the destructor shuts a queue down, and never one in use: Next
    // returns the Finish tag.
    void* tag = nullptr;
    bool ok = false;
    cq->Next(&tag, &ok);
    ReturnQueue(std::move(cq));
    return status;
  }

  std::unique_ptr<grpc::CompletionQueue> TakeQueue() {
    {
      absl::MutexLock lock(&mu_);
      if (!queues_.empty()) {
        std::unique_ptr<grpc::CompletionQueue> cq = std::move(queues_.back());
        queues_.pop_back();
        return cq;
      }
    }
    grpc_completion_queue_attributes attributes{
        GRPC_CQ_CURRENT_VERSION, GRPC_CQ_NEXT, GRPC_CQ_NON_POLLING, nullptr};
    return std::make_unique<grpc::CompletionQueue>(grpc_completion_queue_create(
        grpc_completion_queue_factory_lookup(&attributes), &attributes,
        nullptr));
  }

  void ReturnQueue(std::unique_ptr<grpc::CompletionQueue> cq) {
    absl::MutexLock lock(&mu_);
    queues_.push_back(std::move(cq));
  }

  const HttpRules* rules_;
  grpc::GenericStub stub_;
  absl::Mutex mu_;
  // Idle queues, at most one per HTTP thread.
  std::vector<std::unique_ptr<grpc::CompletionQueue>> queues_
      ABSL_GUARDED_BY(mu_);
};

HttpGateway::~HttpGateway() { Stop(); }

void HttpGateway::Stop() {
  if (server_ != nullptr) server_->stop();
  if (thread_.joinable()) thread_.join();
}

absl::StatusOr<std::unique_ptr<HttpGateway>> HttpGateway::Start(
    const HttpGatewayOptions& options,
    const google::protobuf::ServiceDescriptor* service,
    std::shared_ptr<grpc::Channel> channel) {
  std::unique_ptr<HttpGateway> gateway(new HttpGateway());
  absl::StatusOr<HttpRules> rules = HttpRules::FromService(service);
  if (!rules.ok()) return rules.status();
  gateway->rules_ = *std::move(rules);
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
  gateway->handler_ =
      std::make_unique<Handler>(&gateway->rules_, std::move(channel));
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
    handler->Handle(req, res);
  };
  server.Get(".*", handle);
  server.Post(".*", handle);
  server.Put(".*", handle);
  server.Patch(".*", handle);
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
