#ifndef BANDITD_SERVER_STORE_SNAPSHOT_CODEC_H_
#define BANDITD_SERVER_STORE_SNAPSHOT_CODEC_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/store/engine_state.h"

namespace banditd::store {

// EncodeSnapshot serializes `state` as banditd.internal.v1.SnapshotChunk
// messages of about `chunk_bytes` each (large rooms and tables are split).
std::vector<std::string> EncodeSnapshot(const EngineState& state,
                                        size_t chunk_bytes = 1 << 20);

// DecodeSnapshot reverses EncodeSnapshot. DATA_LOSS when a chunk does not
// parse or the chunks do not describe a consistent state.
absl::StatusOr<EngineState> DecodeSnapshot(
    const std::vector<std::string>& chunks);

}  // namespace banditd::store

#endif  // BANDITD_SERVER_STORE_SNAPSHOT_CODEC_H_
