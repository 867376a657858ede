// banditd_echo_server: a trivial unary Echo service (bench/proto/echo.proto)
// built from the same packaged gRPC as banditd and started with the same
// server options (server/service/server.cc: insecure port, default health
// service, reflection, 64 MiB message limits), so banditd's Sample can be
// compared with the transport's floor (scripts/bench_percall.sh).
//
//   banditd_echo_server --port=50161 [--api=callback|async]
//     [--channel_args=grpc.http2.bdp_probe=0,...]
//
// * --api=callback (default): the callback API, as banditd serves;
// * --api=async: the completion-queue API with --async_threads threads, each
//   polling its own queue and answering inline (no hop to a callback executor),
//   to measure what that hop costs.
// --channel_args: comma-separated NAME=INTEGER server channel arguments, to
// try gRPC's knobs without rebuilding.

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "echo.grpc.pb.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"

ABSL_FLAG(std::string, host, "127.0.0.1", "Address to listen on.");
ABSL_FLAG(int, port, 50161, "Port to listen on.");
ABSL_FLAG(std::string, api, "callback", "callback or async.");
ABSL_FLAG(std::string, channel_args, "",
          "Comma-separated NAME=INTEGER server channel arguments.");
ABSL_FLAG(int, async_threads, 1,
          "--api=async: completion queues, each polled by its own thread.");
ABSL_FLAG(int, max_message_mb, 64, "As banditd's flag of the same name.");
ABSL_FLAG(bool, health, true,
          "Serve gRPC's default health service (on the callback API: its "
          "threads poll too).");

namespace {

namespace bench = banditd::bench;

class CallbackEcho final : public bench::Echo::CallbackService {
  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* context,
                                 const bench::EchoMessage* request,
                                 bench::EchoMessage* response) override {
    response->set_payload(request->payload());
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

// One call of the async API: request, answer, free; driven by the tag.
class AsyncCall {
 public:
  AsyncCall(bench::Echo::AsyncService* service, grpc::ServerCompletionQueue* cq)
      : service_(service), cq_(cq), responder_(&context_) {
    service_->RequestEcho(&context_, &request_, &responder_, cq_, cq_, this);
  }

  // Called when the queue returns this call's tag.
  void Proceed(bool ok) {
    if (answered_ || !ok) {
      delete this;
      return;
    }
    new AsyncCall(service_, cq_);  // the next call's slot
    response_.set_payload(request_.payload());
    answered_ = true;
    responder_.Finish(response_, grpc::Status::OK, this);
  }

 private:
  bench::Echo::AsyncService* service_;
  grpc::ServerCompletionQueue* cq_;
  grpc::ServerContext context_;
  bench::EchoMessage request_;
  bench::EchoMessage response_;
  grpc::ServerAsyncResponseWriter<bench::EchoMessage> responder_;
  bool answered_ = false;
};

// Set by SIGTERM/SIGINT (a lock-free atomic: async-signal-safe), polled.
std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop.store(true); }

void WaitForSignal() {
  while (!g_stop.load()) absl::SleepFor(absl::Milliseconds(100));
}

bool AddChannelArgs(grpc::ServerBuilder& builder, const std::string& text) {
  for (absl::string_view pair : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(pair, '=');
    int value = 0;
    if (!absl::SimpleAtoi(kv.second, &value)) {
      absl::FPrintF(stderr, "--channel_args: %s is not NAME=INTEGER\n", pair);
      return false;
    }
    builder.AddChannelArgument(kv.first, value);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  const std::string api = absl::GetFlag(FLAGS_api);
  if (api != "callback" && api != "async") {
    absl::FPrintF(stderr, "--api must be callback or async\n");
    return 2;
  }

  grpc::EnableDefaultHealthCheckService(absl::GetFlag(FLAGS_health));
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(
      absl::StrCat(absl::GetFlag(FLAGS_host), ":", absl::GetFlag(FLAGS_port)),
      grpc::InsecureServerCredentials(), &port);
  builder.SetMaxReceiveMessageSize(absl::GetFlag(FLAGS_max_message_mb) << 20);
  builder.SetMaxSendMessageSize(absl::GetFlag(FLAGS_max_message_mb) << 20);
  if (!AddChannelArgs(builder, absl::GetFlag(FLAGS_channel_args))) return 2;
  CallbackEcho callback_service;
  bench::Echo::AsyncService async_service;
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> cqs;
  if (api == "callback") {
    builder.RegisterService(&callback_service);
  } else {
    builder.RegisterService(&async_service);
    for (int i = 0; i < std::max(1, absl::GetFlag(FLAGS_async_threads)); ++i) {
      cqs.push_back(builder.AddCompletionQueue());
    }
  }
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    absl::FPrintF(stderr, "cannot listen on port %d\n",
                  absl::GetFlag(FLAGS_port));
    return 1;
  }
  absl::PrintF("echo server (%s API) listening on port %d\n", api, port);
  std::fflush(stdout);
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);

  if (!cqs.empty()) {
    // Each thread polls its queue and answers inline; shutdown drains them.
    std::vector<std::thread> pollers;
    for (auto& cq : cqs) {
      new AsyncCall(&async_service, cq.get());
      pollers.emplace_back([cq = cq.get()] {
        void* tag = nullptr;
        bool ok = false;
        while (cq->Next(&tag, &ok)) static_cast<AsyncCall*>(tag)->Proceed(ok);
      });
    }
    WaitForSignal();
    server->Shutdown();
    for (auto& cq : cqs) cq->Shutdown();
    for (std::thread& poller : pollers) poller.join();
  } else {
    WaitForSignal();
    server->Shutdown();
  }
  return 0;
}
