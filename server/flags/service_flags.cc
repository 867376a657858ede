// The service's flags (server/service): the gRPC server's address, sizes,
// threads and TLS, tokens, decision ids, big rooms' reads and the HTTP/JSON
// API.

#include "server/flags/service_flags.h"

#include <algorithm>
#include <thread>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "server/flags/read_file.h"
#include "server/service/decision_signer.h"

ABSL_FLAG(int, log_failed_rpcs_per_second, 10,
          "Failed calls logged per second at most (one line each: method, "
          "code, duration, request id); the next line counts those dropped.");
ABSL_FLAG(std::string, host, "127.0.0.1",
          "Address to listen on; use 0.0.0.0 to accept remote clients.");
ABSL_FLAG(int, port, 50051, "gRPC port; 0 picks a free one.");

ABSL_FLAG(int64_t, decision_cache_size, 100'000,
          "How many recent Sample decisions Feedback may cite by decision_id "
          "(also bounded by --decision_cache_bytes); 0 turns decision ids "
          "off.");
ABSL_FLAG(int64_t, decision_cache_bytes, int64_t{64} << 20,
          "Memory the decision cache may hold, in bytes (a decision costs "
          "about 150 bytes plus its arm ids, context items and features); "
          "the oldest decisions are evicted first.");
ABSL_FLAG(std::string, decision_id_key_file, "",
          "File of HMAC keys (one per line, >= 32 bytes; `openssl rand -hex "
          "32`): decision ids then carry their decision, signed, and resolve "
          "on every server holding a key (cluster replicas behind a load "
          "balancer); nothing is cached but decisions too large to sign. "
          "The first key signs, all verify (rotation).");
ABSL_FLAG(absl::Duration, decision_id_max_age, absl::Hours(24),
          "Signed decision ids older than this are refused (NOT_FOUND).");
ABSL_FLAG(int64_t, decision_id_max_bytes, 2048,
          "Longest signed decision id; larger decisions (many arms, context "
          "items or features) get a cache id instead.");

ABSL_FLAG(int, http_port, 0,
          "Port of the HTTP/JSON API (every RPC, routes in /openapi.json), on "
          "--host with the same TLS and tokens as gRPC; 0 turns it off.");
ABSL_FLAG(int, http_threads, 64,
          "HTTP/JSON API worker threads: the most HTTP connections served at "
          "once (a kept-alive connection holds one).");
// Big rooms' reads on threads of their own (service/read_pool.h), so that a
// 1M-arm room's scans do not make other rooms' calls wait; and their writes
// queued while a read holds the room (Engine::ApplyOrQueue), so that the
// one writer does not wait for a scan.
ABSL_FLAG(int64_t, big_room_arms, 50000,
          "Sample and GetStats of rooms with at least this many arms (and "
          "analyses: winner analysis, more propensity draws than the default "
          "1,000) run on --big_room_read_threads dedicated threads at a lower "
          "CPU priority instead of gRPC's polling threads, and (durable mode) "
          "Feedback to such a room while a read holds it is queued to the "
          "room instead of stalling every room's writes; 0: neither.");
ABSL_FLAG(int, big_room_read_threads, 1,
          "Big rooms' reads run at once, at most (see --big_room_arms).");
ABSL_FLAG(int, big_room_read_nice, 10,
          "Niceness added to the big-room read threads (0-19): the writer and "
          "the handler threads get the CPU first.");
ABSL_FLAG(int, big_room_max_queued_reads, 1000,
          "Big rooms' reads waiting for a thread, at most; beyond, "
          "RESOURCE_EXHAUSTED.");

ABSL_FLAG(int, max_message_mb, 64, "Largest request or response, in MiB.");
ABSL_FLAG(int, transport_memory_mb, 256,
          "Memory gRPC's transport may hold for calls in progress (requests "
          "being received and parsed, replies being sent), in MiB; beyond "
          "it new calls are refused with RESOURCE_EXHAUSTED. 0: no limit.");
ABSL_FLAG(int, max_concurrent_streams, 1000,
          "Calls one gRPC connection may have open at once (HTTP/2 "
          "SETTINGS_MAX_CONCURRENT_STREAMS); more wait in the client. 0: "
          "gRPC's default (no limit).");
ABSL_FLAG(int, grpc_cq_threads, 0,
          "Threads that poll gRPC's completion queues and run the calls' "
          "handlers inline (writes wait for the log without holding one; big "
          "rooms' reads and analyses run on --big_room_read_threads); 0: one "
          "per core, at least 2, so that one slow call does not hold up every "
          "other. Each thread beyond the first of a queue that polls costs "
          "a thread wake-up per event: see --grpc_standby_pollers.");
ABSL_FLAG(bool, grpc_standby_pollers, true,
          "Only the first thread of each completion queue always polls; the "
          "others stand by, join while the queue is busy (its pollers idle "
          "under 30 % of 5 ms) or its first thread's handler runs over 2 ms "
          "(noticed within 18 ms), and stand by again when idle over 80 % of "
          "theirs. Saves gRPC's thread wake-ups at low load; false: every "
          "thread always polls.");
ABSL_FLAG(int, grpc_completion_queues, 0,
          "Completion queues the --grpc_cq_threads threads share (each "
          "thread polls one); 0: one with --grpc_standby_pollers (its "
          "threads stand by), else one per thread.");
ABSL_FLAG(int, grpc_calls_per_method, 1,
          "Calls of each unary method requested ahead on each completion "
          "queue.");
ABSL_FLAG(int, grpc_sync_max_threads, 128,
          "Threads of the synchronous gRPC services (health, reflection), "
          "each open stream of which holds one; beyond, their new calls get "
          "RESOURCE_EXHAUSTED (BanditService's calls do not use them). At "
          "least 8.");
ABSL_FLAG(int, health_max_watchers, 100,
          "Health Watch streams open at once, at most (RESOURCE_EXHAUSTED "
          "beyond); below --grpc_sync_max_threads, so that Check and "
          "reflection keep threads.");

ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain; with --tls_key, gRPC is served over TLS.");
ABSL_FLAG(std::string, tls_key, "", "PEM private key for --tls_cert.");
ABSL_FLAG(bool, allow_insecure, false,
          "Allow plaintext gRPC on a non-loopback --host (without TLS).");
ABSL_FLAG(std::string, auth_tokens_file, "",
          "File of \"role token\" lines (role admin or client). When set, "
          "every BanditService call needs \"authorization: Bearer <token>\"; "
          "health and reflection stay open.");

namespace banditd::flags {
namespace {

bool IsLoopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host == "[::1]" ||
         absl::StartsWith(host, "127.");
}

// The --grpc_* threads and queues of `options`.
absl::Status SetThreadsFromFlags(service::ServerOptions* options) {
  const int cores =
      std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  const int threads = absl::GetFlag(FLAGS_grpc_cq_threads);
  const int queues = absl::GetFlag(FLAGS_grpc_completion_queues);
  const int calls = absl::GetFlag(FLAGS_grpc_calls_per_method);
  if (threads < 0 || threads > 1024 || queues < 0 || calls < 1 ||
      calls > 1000) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--grpc_cq_threads (", threads,
        ") must be 0-1024, --grpc_completion_queues (", queues,
        ") at least 0, --grpc_calls_per_method (", calls, ") 1-1000"));
  }
  options->cq_threads = threads == 0 ? std::max(2, cores) : threads;
  options->standby_pollers = absl::GetFlag(FLAGS_grpc_standby_pollers);
  options->completion_queues =
      queues == 0 ? (options->standby_pollers ? 1 : options->cq_threads)
                  : std::min(queues, options->cq_threads);
  options->calls_per_method = calls;
  const int sync_threads = absl::GetFlag(FLAGS_grpc_sync_max_threads);
  const int watchers = absl::GetFlag(FLAGS_health_max_watchers);
  if (sync_threads < 8 || watchers < 1 || watchers > sync_threads - 4) {
    return absl::InvalidArgumentError(
        absl::StrCat("--grpc_sync_max_threads (", sync_threads,
                     ") must be at least 8, and "
                     "--health_max_watchers (",
                     watchers, ") from 1 to ", std::max(8, sync_threads) - 4,
                     " (4 threads left for Check and "
                     "reflection)"));
  }
  options->sync_max_threads = sync_threads;
  options->health_max_watchers = watchers;
  return absl::OkStatus();
}

// The --tls_cert/--tls_key PEMs of `options`, or plaintext where allowed.
absl::Status SetTlsFromFlags(service::ServerOptions* options) {
  if (!absl::GetFlag(FLAGS_tls_cert).empty() ||
      !absl::GetFlag(FLAGS_tls_key).empty()) {
    absl::StatusOr<std::string> cert = ReadFile(absl::GetFlag(FLAGS_tls_cert));
    absl::StatusOr<std::string> key = ReadFile(absl::GetFlag(FLAGS_tls_key));
    if (!cert.ok() || !key.ok()) return (cert.ok() ? key : cert).status();
    options->tls_cert_pem = *std::move(cert);
    options->tls_key_pem = *std::move(key);
  } else if (!IsLoopback(absl::GetFlag(FLAGS_host)) &&
             !absl::GetFlag(FLAGS_allow_insecure)) {
    return absl::InvalidArgumentError(
        absl::StrCat("refusing plaintext gRPC on non-loopback host ",
                     absl::GetFlag(FLAGS_host),
                     ": pass --tls_cert/--tls_key, or --allow_insecure"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckTransportMemoryFlags() {
  if (absl::GetFlag(FLAGS_transport_memory_mb) > 0 &&
      absl::GetFlag(FLAGS_transport_memory_mb) <
          2 * absl::GetFlag(FLAGS_max_message_mb)) {
    // A request is held twice while it is parsed (bytes and message): below
    // this the largest allowed request could never be received.
    return absl::InvalidArgumentError(absl::StrCat(
        "--transport_memory_mb (", absl::GetFlag(FLAGS_transport_memory_mb),
        ") must be 0 or at least twice --max_message_mb (",
        absl::GetFlag(FLAGS_max_message_mb), ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<service::Authenticator>>
AuthenticatorFromFlags() {
  const std::string path = absl::GetFlag(FLAGS_auth_tokens_file);
  if (path.empty()) return nullptr;
  return service::Authenticator::FromFile(path);
}

absl::StatusOr<std::unique_ptr<service::DecisionCache>>
DecisionCacheFromFlags() {
  std::unique_ptr<const service::DecisionSigner> signer;
  if (const std::string path = absl::GetFlag(FLAGS_decision_id_key_file);
      !path.empty()) {
    absl::StatusOr<std::unique_ptr<service::DecisionSigner>> loaded =
        service::DecisionSigner::FromFile(
            path, absl::GetFlag(FLAGS_decision_id_max_age),
            static_cast<size_t>(std::max<int64_t>(
                absl::GetFlag(FLAGS_decision_id_max_bytes), 0)));
    if (!loaded.ok()) return loaded.status();
    signer = *std::move(loaded);
  }
  if (absl::GetFlag(FLAGS_decision_cache_size) <= 0 && signer == nullptr) {
    return nullptr;
  }
  return std::make_unique<service::DecisionCache>(
      static_cast<size_t>(
          std::max<int64_t>(absl::GetFlag(FLAGS_decision_cache_size), 0)),
      static_cast<size_t>(
          std::max<int64_t>(absl::GetFlag(FLAGS_decision_cache_bytes), 0)),
      std::move(signer));
}

std::unique_ptr<service::ReadPool> BigRoomReadPoolFromFlags() {
  if (absl::GetFlag(FLAGS_big_room_arms) <= 0) return nullptr;
  service::ReadPool::Options options;
  options.threads = std::max(absl::GetFlag(FLAGS_big_room_read_threads), 1);
  options.nice = std::clamp(absl::GetFlag(FLAGS_big_room_read_nice), 0, 19);
  options.max_queued =
      std::max(absl::GetFlag(FLAGS_big_room_max_queued_reads), 1);
  return std::make_unique<service::ReadPool>(options);
}

absl::StatusOr<service::ServerOptions> ServerOptionsFromFlags() {
  service::ServerOptions options;
  options.address =
      absl::StrCat(absl::GetFlag(FLAGS_host), ":", absl::GetFlag(FLAGS_port));
  options.max_message_bytes = absl::GetFlag(FLAGS_max_message_mb) << 20;
  options.transport_memory_bytes =
      static_cast<size_t>(std::max(0, absl::GetFlag(FLAGS_transport_memory_mb)))
      << 20;
  options.max_concurrent_streams =
      std::max(0, absl::GetFlag(FLAGS_max_concurrent_streams));
  if (absl::Status s = SetThreadsFromFlags(&options); !s.ok()) return s;
  // One log of failed calls, gRPC's and HTTP's: one rate limit.
  options.rpc_log.failed_per_second =
      absl::GetFlag(FLAGS_log_failed_rpcs_per_second);
  if (absl::Status s = SetTlsFromFlags(&options); !s.ok()) return s;
  return options;
}

std::optional<service::HttpGatewayOptions> HttpGatewayOptionsFromFlags(
    const service::ServerOptions& server_options) {
  if (absl::GetFlag(FLAGS_http_port) == 0) return std::nullopt;
  service::HttpGatewayOptions options;
  options.host = absl::GetFlag(FLAGS_host);
  options.port = absl::GetFlag(FLAGS_http_port);
  options.tls_cert_file = absl::GetFlag(FLAGS_tls_cert);
  options.tls_key_file = absl::GetFlag(FLAGS_tls_key);
  options.threads = absl::GetFlag(FLAGS_http_threads);
  options.max_body_bytes = server_options.max_message_bytes;
  options.max_body_bytes_in_flight = server_options.transport_memory_bytes;
  options.max_response_bytes = server_options.max_message_bytes;
  return options;
}

}  // namespace banditd::flags
