#ifndef BANDITD_SERVER_STORE_PROTO_CONVERT_H_
#define BANDITD_SERVER_STORE_PROTO_CONVERT_H_

#include "absl/status/statusor.h"
#include "banditd/internal/v1/log.pb.h"
#include "server/core/policy.h"

namespace banditd::store {

// Conversions between core types and the internal (on-disk) protos that are
// shared by the log and snapshot codecs.

void PolicyToProto(const core::PolicyParams& policy,
                   banditd::internal::v1::Policy* out);

// DATA_LOSS when the kind is unknown.
absl::StatusOr<core::PolicyParams> PolicyFromProto(
    const banditd::internal::v1::Policy& policy);

// The set fields of a PolicyOverride (UpdateRoom). A parameter added to
// PolicyOverride must be added to PolicyPatch and to both functions.
void PolicyPatchToProto(const core::PolicyOverride& patch,
                        banditd::internal::v1::PolicyPatch* out);
// DATA_LOSS when the kind is unknown.
absl::StatusOr<core::PolicyOverride> PolicyPatchFromProto(
    const banditd::internal::v1::PolicyPatch& in);

void DecayToProto(const core::DecayConfig& decay,
                  banditd::internal::v1::DecayConfig* out);
core::DecayConfig DecayFromProto(const banditd::internal::v1::DecayConfig& in);
void LinUcbToProto(const core::LinUcbConfig& linucb,
                   banditd::internal::v1::LinUcbConfig* out);
core::LinUcbConfig LinUcbFromProto(
    const banditd::internal::v1::LinUcbConfig& in);

}  // namespace banditd::store

#endif  // BANDITD_SERVER_STORE_PROTO_CONVERT_H_
