// banditd: flags and wiring. Everything else lives in server/core (logic),
// server/store (durability) and server/service (gRPC handlers).

#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "server/core/engine.h"
#include "server/service/bandit_service.h"
#include "server/service/server.h"
#include "server/store/memory_committer.h"

ABSL_FLAG(std::string, host, "127.0.0.1",
          "Address to listen on; use 0.0.0.0 to accept remote clients.");
ABSL_FLAG(int, port, 50051, "gRPC port; 0 picks a free one.");
ABSL_FLAG(std::string, data_dir, "./data", "Directory of the SQLite database.");
ABSL_FLAG(int, max_batch_events, 10000, "Most events in one Feedback call.");
ABSL_FLAG(int64_t, event_id_window, 1'000'000,
          "How many recent Feedback event_ids are remembered for de-dup.");
ABSL_FLAG(int, max_message_mb, 64, "Largest request or response, in MiB.");
ABSL_FLAG(absl::Duration, drain_timeout, absl::Seconds(10),
          "On SIGTERM, how long in-flight calls get to finish.");

namespace {

void Log(const std::string& message) {
  absl::FPrintF(stderr, "%s banditd: %s\n",
                absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(),
                                 absl::UTCTimeZone()),
                message);
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "banditd: real-time multi-armed bandit decision service.\n"
      "Usage: banditd [--port=50051] [--data_dir=./data] ...");
  absl::ParseCommandLine(argc, argv);

  // Block the stop signals in every thread; main waits for them below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  banditd::core::EngineOptions engine_options;
  engine_options.max_batch_events = absl::GetFlag(FLAGS_max_batch_events);
  engine_options.event_id_window = absl::GetFlag(FLAGS_event_id_window);
  banditd::core::Engine engine(engine_options);
  banditd::store::MemoryCommitter committer(&engine);
  banditd::service::BanditService service(&engine, &committer);

  banditd::service::ServerOptions server_options;
  server_options.address =
      absl::StrCat(absl::GetFlag(FLAGS_host), ":", absl::GetFlag(FLAGS_port));
  server_options.max_message_bytes = absl::GetFlag(FLAGS_max_message_mb) << 20;
  absl::StatusOr<banditd::service::RunningServer> running =
      banditd::service::StartServer(server_options, &service);
  if (!running.ok()) {
    Log(std::string(running.status().message()));
    return 1;
  }
  grpc::Server& server = *running->server;
  grpc::HealthCheckServiceInterface* health = server.GetHealthCheckService();
  health->SetServingStatus(true);
  Log(absl::StrCat("serving on ", absl::GetFlag(FLAGS_host), ":",
                   running->port));

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  Log(absl::StrCat("received signal ", signal_number, ", draining"));
  health->SetServingStatus(false);
  server.Shutdown(std::chrono::system_clock::now() +
                  absl::ToChronoSeconds(absl::GetFlag(FLAGS_drain_timeout)));
  committer.Shutdown();
  Log("stopped");
  return 0;
}
