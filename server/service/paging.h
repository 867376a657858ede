#ifndef BANDITD_SERVER_SERVICE_PAGING_H_
#define BANDITD_SERVER_SERVICE_PAGING_H_

// Bounded replies (Google AIP-157 views, AIP-158 pagination): every list
// that grows with a room's arms comes a page at a time, and every page stays
// far below gRPC's default 4 MB receive limit, so that clients with default
// settings can read rooms of any size.

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "banditd/v1/banditd.pb.h"
#include "server/core/engine.h"

namespace banditd::service {

// Arms per page: ListArms, GetStats, and the arms of a room's FULL view.
inline constexpr int kDefaultArmPageSize = 1000;
inline constexpr int kMaxArmPageSize = 10000;
// A page that lists rooms in the FULL view, or arm stats, ends after at
// least one item once its reply holds this many bytes. With ids of at most
// 128 characters, a FULL room (1,000 arms) or one arm's stats stays below
// about 2 MiB, so a page stays below 4 MiB.
inline constexpr size_t kPageSoftBytes = size_t{2} << 20;

// The number of arms a page_size asks for: 0 means kDefaultArmPageSize,
// values above kMaxArmPageSize are clamped; INVALID_ARGUMENT naming `field`
// when negative.
absl::StatusOr<size_t> ArmPageSize(int page_size, absl::string_view field);

// The reads behind GetRoom, ListRooms, ListArms and GetStats (without its
// winner analysis): translate, read from the engine, build the page.
absl::Status GetRoomPage(const core::Engine& engine,
                         const v1::GetRoomRequest& request,
                         v1::GetRoomResponse* response);
absl::Status ListRoomsPage(const core::Engine& engine,
                           const v1::ListRoomsRequest& request,
                           v1::ListRoomsResponse* response);
absl::Status ListArmsPage(const core::Engine& engine,
                          const v1::ListArmsRequest& request,
                          v1::ListArmsResponse* response);
absl::Status GetStatsPage(const core::Engine& engine,
                          const v1::GetStatsRequest& request,
                          v1::GetStatsResponse* response);

}  // namespace banditd::service

#endif  // BANDITD_SERVER_SERVICE_PAGING_H_
