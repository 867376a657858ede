#ifndef BANDITD_SERVER_FLAGS_SERVICE_FLAGS_H_
#define BANDITD_SERVER_FLAGS_SERVICE_FLAGS_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/flags/declare.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/service/auth.h"
#include "server/service/decision_cache.h"
#include "server/service/http_gateway.h"
#include "server/service/read_pool.h"
#include "server/service/server.h"

// The address the server listens on (its startup line); rooms with at least
// --big_room_arms arms have their reads on the big-room pool and their
// writes queued while a read holds them (the engine's flags).
ABSL_DECLARE_FLAG(std::string, host);
ABSL_DECLARE_FLAG(int64_t, big_room_arms);

namespace banditd::flags {

// Checked before anything starts: --transport_memory_mb must hold the
// largest request (--max_message_mb) twice, or be 0.
absl::Status CheckTransportMemoryFlags();

// The --auth_tokens_file tokens; null when the flag is empty.
absl::StatusOr<std::unique_ptr<service::Authenticator>>
AuthenticatorFromFlags();

// The decision cache of --decision_cache_size/--decision_cache_bytes, with
// the signer of --decision_id_key_file when set; null when both are off.
absl::StatusOr<std::unique_ptr<service::DecisionCache>>
DecisionCacheFromFlags();

// The threads of big rooms' reads (--big_room_read_*); null when
// --big_room_arms is 0.
std::unique_ptr<service::ReadPool> BigRoomReadPoolFromFlags();

// The gRPC server's options: --host, --port, message and transport sizes,
// the --grpc_* threads and queues, the failed-call log rate and TLS (the
// PEM files read). INVALID_ARGUMENT, naming the flags, for thread counts
// out of range or plaintext on a non-loopback --host without
// --allow_insecure; NOT_FOUND for an unreadable certificate or key.
// `metrics` and `shared_rpc_log` are left for the caller.
absl::StatusOr<service::ServerOptions> ServerOptionsFromFlags();

// The HTTP/JSON API's options (--http_port, --http_threads; the host, TLS
// files and body limits of the gRPC server's `server_options`); nullopt
// when --http_port is 0. `openapi_json` and `release_thread_cache` are
// left for the caller.
std::optional<service::HttpGatewayOptions> HttpGatewayOptionsFromFlags(
    const service::ServerOptions& server_options);

}  // namespace banditd::flags

#endif  // BANDITD_SERVER_FLAGS_SERVICE_FLAGS_H_
