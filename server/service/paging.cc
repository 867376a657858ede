#include "server/service/paging.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/service/convert.h"

namespace banditd::service {

absl::StatusOr<size_t> ArmPageSize(int page_size, absl::string_view field) {
  if (page_size < 0) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": must be >= 0"));
  }
  if (page_size == 0) return size_t{kDefaultArmPageSize};
  return static_cast<size_t>(std::min(page_size, kMaxArmPageSize));
}

absl::Status GetRoomPage(const core::Engine& engine,
                         const v1::GetRoomRequest& request,
                         v1::GetRoomResponse* response) {
  core::ArmSelection arms;
  arms.limit = request.view() == v1::ROOM_VIEW_BASIC ? 0 : kDefaultArmPageSize;
  absl::StatusOr<core::RoomInfo> room =
      engine.GetRoom(request.room_id(), arms);
  if (!room.ok()) return room.status();
  RoomToProto(*room, response->mutable_room());
  return absl::OkStatus();
}

absl::Status ListRoomsPage(const core::Engine& engine,
                           const v1::ListRoomsRequest& request,
                           v1::ListRoomsResponse* response) {
  if (request.page_size() < 0) {
    return absl::InvalidArgumentError("page_size: must be >= 0");
  }
  absl::StatusOr<std::string> after = DecodePageToken(request.page_token());
  if (!after.ok()) return after.status();
  const bool full = request.view() == v1::ROOM_VIEW_FULL;
  core::RoomPage page = engine.ListRooms(request.page_size(), *after,
                                         full ? kDefaultArmPageSize : 0);
  size_t bytes = 0;
  for (size_t i = 0; i < page.rooms.size(); ++i) {
    v1::Room* room = response->add_rooms();
    RoomToProto(page.rooms[i], room);
    bytes += room->ByteSizeLong();
    // BASIC rooms are small (1,000 of them are about 200 KB); FULL ones
    // carry up to 1,000 arms each.
    if (full && bytes >= kPageSoftBytes && i + 1 < page.rooms.size()) {
      page.next_after = page.rooms[i].room_id;
      break;
    }
  }
  response->set_next_page_token(EncodePageToken(page.next_after));
  return absl::OkStatus();
}

absl::Status ListArmsPage(const core::Engine& engine,
                          const v1::ListArmsRequest& request,
                          v1::ListArmsResponse* response) {
  absl::StatusOr<size_t> limit = ArmPageSize(request.page_size(), "page_size");
  if (!limit.ok()) return limit.status();
  absl::StatusOr<core::ArmSelection> arms =
      DecodeArmPageToken(request.page_token());
  if (!arms.ok()) return arms.status();
  arms->limit = *limit;
  absl::StatusOr<core::RoomInfo> room = engine.GetRoom(request.room_id(), *arms);
  if (!room.ok()) return room.status();
  response->mutable_arms()->Reserve(static_cast<int>(room->arms.size()));
  for (const core::ArmInfo& arm : room->arms) {
    v1::Arm* out = response->add_arms();
    out->set_arm_id(arm.arm_id);
    out->set_enabled(arm.enabled);
  }
  if (room->more_arms && !room->arms.empty()) {
    response->set_next_page_token(EncodeArmPageToken(
        room->first_index + room->arms.size(), room->arms.back().arm_id));
  }
  response->set_total_size(room->arm_count);
  return absl::OkStatus();
}

absl::Status GetStatsPage(const core::Engine& engine,
                          const v1::GetStatsRequest& request,
                          v1::GetStatsResponse* response) {
  core::ArmSelection arms;
  if (request.arm_ids_size() > 0) {
    if (request.page_size() != 0 || !request.page_token().empty()) {
      return absl::InvalidArgumentError(
          "arm_ids: names arms without paging; page_size and page_token "
          "must be unset");
    }
    if (request.arm_ids_size() > kMaxArmPageSize) {
      return absl::InvalidArgumentError(
          absl::StrCat("arm_ids: at most ", kMaxArmPageSize, " arms (got ",
                       request.arm_ids_size(), ")"));
    }
    arms.arm_ids.assign(request.arm_ids().begin(), request.arm_ids().end());
  } else {
    absl::StatusOr<size_t> limit =
        ArmPageSize(request.page_size(), "page_size");
    if (!limit.ok()) return limit.status();
    absl::StatusOr<core::ArmSelection> window =
        DecodeArmPageToken(request.page_token());
    if (!window.ok()) return window.status();
    arms = *std::move(window);
    arms.limit = *limit;
  }
  absl::StatusOr<core::Stats> stats =
      engine.GetStats(request.room_id(), request.segment(),
                      request.include_context(), arms);
  if (!stats.ok()) return stats.status();
  response->set_room_id(stats->room_id);
  response->set_segment(stats->segment);
  response->set_total_views(stats->total_views);
  response->set_total_size(stats->arm_count);
  response->mutable_arms()->Reserve(static_cast<int>(stats->arms.size()));
  // Context items can make an arm's stats large: end the page early, after
  // at least one arm, rather than let it outgrow the clients' limit.
  size_t bytes = 0;
  size_t listed = 0;
  for (const core::ArmStat& arm : stats->arms) {
    if (listed > 0 && bytes >= kPageSoftBytes) break;
    v1::ArmStats* out = response->add_arms();
    ArmStatToProto(arm, out);
    bytes += out->ByteSizeLong();
    ++listed;
  }
  if (arms.arm_ids.empty() && listed > 0 &&
      (stats->more_arms || listed < stats->arms.size())) {
    response->set_next_page_token(
        EncodeArmPageToken(stats->first_index + listed,
                           stats->arms[listed - 1].arm_id));
  }
  return absl::OkStatus();
}

}  // namespace banditd::service
