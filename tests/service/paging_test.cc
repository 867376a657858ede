// Bounded replies: room views, arm pages, GetStats pages and named arms.

#include "server/service/paging.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/engine.h"
#include "server/core/mutation.h"

namespace banditd::service {
namespace {

using ::testing::HasSubstr;

std::vector<std::string> Ids(int n, const std::string& prefix = "a") {
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) ids.push_back(absl::StrCat(prefix, i));
  return ids;
}

class PagingTest : public ::testing::Test {
 protected:
  void Create(const std::string& room, int arms) {
    core::CreateRoom create;
    create.room_id = room;
    create.arm_ids = Ids(arms);
    ASSERT_TRUE(engine_.Apply(create).ok());
  }
  void Apply(core::Mutation m) { ASSERT_TRUE(engine_.Apply(m).ok()); }

  std::vector<std::string> ArmIds(const v1::ListArmsResponse& r) {
    std::vector<std::string> out;
    for (const v1::Arm& a : r.arms()) out.push_back(a.arm_id());
    return out;
  }

  core::Engine engine_;
};

TEST_F(PagingTest, ListArmsWalksEveryArmOnce) {
  Create("r", 25);
  Apply(core::SetArmEnabled{"r", "a3", false});
  std::vector<std::string> seen;
  v1::ListArmsRequest request;
  request.set_room_id("r");
  request.set_page_size(10);
  int pages = 0;
  do {
    v1::ListArmsResponse response;
    ASSERT_TRUE(ListArmsPage(engine_, request, &response).ok());
    EXPECT_EQ(response.total_size(), 25);
    if (pages == 0) {
      EXPECT_FALSE(response.arms(3).enabled());
    }
    for (const std::string& id : ArmIds(response)) seen.push_back(id);
    request.set_page_token(response.next_page_token());
    ++pages;
  } while (!request.page_token().empty());
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, Ids(25));
}

TEST_F(PagingTest, ListArmsResumesAfterItsArmWhenEarlierArmsGo) {
  Create("r", 6);
  v1::ListArmsRequest request;
  request.set_room_id("r");
  request.set_page_size(3);
  v1::ListArmsResponse first;
  ASSERT_TRUE(ListArmsPage(engine_, request, &first).ok());
  // a0 goes: indexes shift, the token still continues after a2.
  Apply(core::RemoveArm{"r", "a0"});
  request.set_page_token(first.next_page_token());
  v1::ListArmsResponse second;
  ASSERT_TRUE(ListArmsPage(engine_, request, &second).ok());
  EXPECT_EQ(ArmIds(second), (std::vector<std::string>{"a3", "a4", "a5"}));
  EXPECT_EQ(second.next_page_token(), "");
  // The token's own arm removed: the index it carries is the fallback.
  request.set_page_token(first.next_page_token());
  Apply(core::RemoveArm{"r", "a2"});
  v1::ListArmsResponse third;
  ASSERT_TRUE(ListArmsPage(engine_, request, &third).ok());
  EXPECT_EQ(ArmIds(third), (std::vector<std::string>{"a5"}));
}

TEST_F(PagingTest, PageSizesAndTokensAreChecked) {
  Create("r", 3);
  v1::ListArmsRequest request;
  request.set_room_id("r");
  request.set_page_size(-1);
  v1::ListArmsResponse response;
  absl::Status s = ListArmsPage(engine_, request, &response);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("page_size"));
  request.set_page_size(0);
  request.set_page_token("!!not base64");
  s = ListArmsPage(engine_, request, &response);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("page_token"));
  request.set_page_token("");
  request.set_room_id("nope");
  EXPECT_EQ(ListArmsPage(engine_, request, &response).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(*ArmPageSize(0, "page_size"), 1000u);
  EXPECT_EQ(*ArmPageSize(50000, "page_size"), 10000u);
}

TEST_F(PagingTest, RoomViews) {
  Create("big", 2500);
  Create("small", 2);
  v1::GetRoomRequest get;
  get.set_room_id("big");
  v1::GetRoomResponse full;
  ASSERT_TRUE(GetRoomPage(engine_, get, &full).ok());
  // FULL (the default for GetRoom): the first 1,000 arms and a token.
  EXPECT_EQ(full.room().arms_size(), 1000);
  EXPECT_EQ(full.room().arm_count(), 2500);
  v1::ListArmsRequest rest;
  rest.set_room_id("big");
  rest.set_page_token(full.room().next_arms_page_token());
  rest.set_page_size(5);
  v1::ListArmsResponse next;
  ASSERT_TRUE(ListArmsPage(engine_, rest, &next).ok());
  EXPECT_EQ(next.arms(0).arm_id(), "a1000");
  get.set_view(v1::ROOM_VIEW_BASIC);
  v1::GetRoomResponse basic;
  ASSERT_TRUE(GetRoomPage(engine_, get, &basic).ok());
  EXPECT_EQ(basic.room().arms_size(), 0);
  EXPECT_EQ(basic.room().arm_count(), 2500);
  EXPECT_EQ(basic.room().next_arms_page_token(), "");

  // ListRooms: BASIC unless asked.
  v1::ListRoomsRequest list;
  v1::ListRoomsResponse rooms;
  ASSERT_TRUE(ListRoomsPage(engine_, list, &rooms).ok());
  ASSERT_EQ(rooms.rooms_size(), 2);
  EXPECT_EQ(rooms.rooms(0).arms_size(), 0);
  EXPECT_EQ(rooms.rooms(0).arm_count(), 2500);
  list.set_view(v1::ROOM_VIEW_FULL);
  v1::ListRoomsResponse full_rooms;
  ASSERT_TRUE(ListRoomsPage(engine_, list, &full_rooms).ok());
  ASSERT_EQ(full_rooms.rooms_size(), 2);
  EXPECT_EQ(full_rooms.rooms(0).arms_size(), 1000);
  EXPECT_NE(full_rooms.rooms(0).next_arms_page_token(), "");
  EXPECT_EQ(full_rooms.rooms(1).arms_size(), 2);
  EXPECT_EQ(full_rooms.rooms(1).next_arms_page_token(), "");
}

TEST_F(PagingTest, FullRoomPagesEndNearTheirByteBound) {
  // 1,000 arms of 120-character ids: about 125 KB a room, so a FULL page
  // ends after about 17 rooms (2 MiB), whatever page_size asks for.
  for (int r = 0; r < 40; ++r) {
    core::CreateRoom create;
    create.room_id = absl::StrCat("room", 100 + r);
    for (const std::string& id : Ids(1000, std::string(116, 'x'))) {
      create.arm_ids.push_back(id);
    }
    Apply(create);
  }
  v1::ListRoomsRequest list;
  list.set_view(v1::ROOM_VIEW_FULL);
  list.set_page_size(1000);
  int listed = 0;
  int pages = 0;
  do {
    v1::ListRoomsResponse page;
    ASSERT_TRUE(ListRoomsPage(engine_, list, &page).ok());
    EXPECT_LE(page.ByteSizeLong(), kPageSoftBytes + 200'000);
    listed += page.rooms_size();
    list.set_page_token(page.next_page_token());
    ++pages;
  } while (!list.page_token().empty());
  EXPECT_EQ(listed, 40);
  EXPECT_EQ(pages, 3);
}

TEST_F(PagingTest, StatsPagesAndNamedArms) {
  Create("r", 5);
  core::FeedbackBatch batch;
  core::FeedbackEvent e;
  e.room_id = "r";
  e.arm_id = "a3";
  e.views = 4;
  batch.events.push_back(e);
  Apply(batch);
  v1::GetStatsRequest request;
  request.set_room_id("r");
  request.set_page_size(2);
  std::vector<std::string> seen;
  int pages = 0;
  do {
    v1::GetStatsResponse page;
    ASSERT_TRUE(GetStatsPage(engine_, request, &page).ok());
    EXPECT_EQ(page.total_size(), 5);
    EXPECT_EQ(page.total_views(), 4);
    for (const v1::ArmStats& a : page.arms()) seen.push_back(a.arm_id());
    request.set_page_token(page.next_page_token());
    ++pages;
  } while (!request.page_token().empty());
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, Ids(5));

  v1::GetStatsRequest named;
  named.set_room_id("r");
  named.add_arm_ids("a3");
  named.add_arm_ids("a0");
  v1::GetStatsResponse two;
  ASSERT_TRUE(GetStatsPage(engine_, named, &two).ok());
  ASSERT_EQ(two.arms_size(), 2);
  EXPECT_EQ(two.arms(0).arm_id(), "a3");
  EXPECT_EQ(two.arms(0).counts().views(), 4);
  EXPECT_EQ(two.arms(1).arm_id(), "a0");
  EXPECT_EQ(two.next_page_token(), "");
  named.add_arm_ids("zz");
  absl::Status missing = GetStatsPage(engine_, named, &two);
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.message(), HasSubstr("arm_ids[2]"));
  named.set_page_size(10);
  absl::Status both = GetStatsPage(engine_, named, &two);
  EXPECT_EQ(both.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(both.message(), HasSubstr("arm_ids"));
}

}  // namespace
}  // namespace banditd::service
