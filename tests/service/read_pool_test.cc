// The big-room read pool (server/service/read_pool.h): its threads, their
// priority and its queue bound; and that the service sends exactly the
// reads of rooms at or above the threshold there.

#include "server/service/read_pool.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "banditd/v1/banditd.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "server/core/engine.h"
#include "server/service/bandit_service.h"
#include "server/service/server.h"
#include "server/store/memory_committer.h"

namespace banditd::service {
namespace {

using ::testing::HasSubstr;

int Niceness() {
  return getpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)));
}

TEST(ReadPoolTest, ReadsRunOnAThreadOfItsOwnWithLowerPriority) {
  absl::Notification done;
  std::thread::id ran_on;
  int niceness = -100;
  // Declared last: joined before what its read uses goes away.
  ReadPool pool({.threads = 1, .nice = 5, .max_queued = 10});
  const int before = Niceness();
  ASSERT_TRUE(pool.Submit([&] {
    ran_on = std::this_thread::get_id();
    niceness = Niceness();
    done.Notify();
  }));
  done.WaitForNotification();
  EXPECT_NE(ran_on, std::this_thread::get_id());
  EXPECT_EQ(niceness, std::min(before + 5, 19));
  // Only the pool's thread: the caller's priority is unchanged.
  EXPECT_EQ(Niceness(), before);
}

TEST(ReadPoolTest, OneThreadRunsOneReadAndRefusesBeyondTheQueue) {
  auto pool = std::make_unique<ReadPool>(
      ReadPool::Options{.threads = 1, .nice = 0, .max_queued = 2});
  absl::Notification started, release;
  absl::Mutex mu;
  int ran = 0;
  ASSERT_TRUE(pool->Submit([&] {
    started.Notify();
    release.WaitForNotification();
    absl::MutexLock lock(&mu);
    ++ran;
  }));
  started.WaitForNotification();
  // The one thread is busy: two more wait, a fourth is refused.
  auto count = [&] {
    absl::MutexLock lock(&mu);
    ++ran;
  };
  EXPECT_TRUE(pool->Submit(count));
  EXPECT_TRUE(pool->Submit(count));
  EXPECT_FALSE(pool->Submit(count));
  EXPECT_EQ(pool->started(), 1);
  release.Notify();
  pool.reset();  // runs what is queued, then joins
  EXPECT_EQ(ran, 3);
}

// A server whose reads of rooms of 5 arms or more go to a pool.
class BigRoomReadsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    engine_ = std::make_unique<core::Engine>(core::EngineOptions{});
    committer_ = std::make_unique<store::MemoryCommitter>(engine_.get());
    pool_ = std::make_unique<ReadPool>(
        ReadPool::Options{.threads = 1, .nice = 0, .max_queued = 1});
    service_ = std::make_unique<BanditService>(engine_.get(), committer_.get());
    service_->SetReadPool(pool_.get(), 5);
    absl::StatusOr<std::unique_ptr<RunningServer>> running =
        StartServer({}, service_.get());
    ASSERT_TRUE(running.ok()) << running.status();
    server_ = *std::move(running);
    stub_ = v1::BanditService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                            grpc::InsecureChannelCredentials()));
    CreateRoom("big", 5);
    CreateRoom("small", 4);
  }

  void TearDown() override {
    server_->Shutdown();
    committer_->Shutdown();
  }

  void CreateRoom(const std::string& room, int arms) {
    v1::CreateRoomRequest request;
    request.set_room_id(room);
    for (int i = 0; i < arms; ++i) request.add_arm_ids(absl::StrCat("a", i));
    v1::CreateRoomResponse response;
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->CreateRoom(&context, request, &response).ok());
  }

  grpc::Status Sample(const std::string& room, uint64_t min_sequence = 0) {
    v1::SampleRequest request;
    request.set_room_id(room);
    request.set_k(1);
    request.set_min_applied_sequence(min_sequence);
    v1::SampleResponse response;
    grpc::ClientContext context;
    grpc::Status status = stub_->Sample(&context, request, &response);
    if (status.ok()) {
      EXPECT_EQ(response.arms_size(), 1);
    }
    return status;
  }

  grpc::Status GetStats(const std::string& room) {
    v1::GetStatsRequest request;
    request.set_room_id(room);
    v1::GetStatsResponse response;
    grpc::ClientContext context;
    grpc::Status status = stub_->GetStats(&context, request, &response);
    if (status.ok()) {
      EXPECT_GT(response.arms_size(), 0);
    }
    return status;
  }

  // Before pool_: a read blocked on them ends before they are destroyed.
  absl::Notification started_, release_;
  std::unique_ptr<core::Engine> engine_;
  std::unique_ptr<store::MemoryCommitter> committer_;
  std::unique_ptr<ReadPool> pool_;
  std::unique_ptr<BanditService> service_;
  std::unique_ptr<RunningServer> server_;
  std::unique_ptr<v1::BanditService::Stub> stub_;
};

TEST_F(BigRoomReadsTest, OnlyTheBigRoomsReadsRunOnThePool) {
  ASSERT_TRUE(Sample("small").ok());
  ASSERT_TRUE(GetStats("small").ok());
  EXPECT_EQ(pool_->started(), 0);
  ASSERT_TRUE(Sample("big").ok());
  ASSERT_TRUE(GetStats("big").ok());
  EXPECT_EQ(pool_->started(), 2);
  // Read-your-writes waits for the writer, then still reads on the pool.
  v1::FeedbackRequest feedback;
  v1::FeedbackEvent* e = feedback.add_events();
  e->set_room_id("big");
  e->set_arm_id("a1");
  e->set_views(1);
  v1::FeedbackResponse fed;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->Feedback(&context, feedback, &fed).ok());
  ASSERT_TRUE(Sample("big", fed.applied_sequence()).ok());
  EXPECT_EQ(pool_->started(), 3);
  // An unknown room is not big: its NOT_FOUND comes from the handler.
  EXPECT_EQ(Sample("nope").error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(pool_->started(), 3);
}

TEST_F(BigRoomReadsTest, AnalysesOfSmallRoomsRunOnThePoolToo) {
  // Winner analysis (thousands of draws per arm) of a small room.
  v1::GetStatsRequest stats;
  stats.set_room_id("small");
  stats.mutable_winner_analysis()->set_draws(2000);
  v1::GetStatsResponse stats_response;
  grpc::ClientContext stats_context;
  ASSERT_TRUE(stub_->GetStats(&stats_context, stats, &stats_response).ok());
  EXPECT_EQ(stats_response.arms_size(), 4);
  EXPECT_EQ(pool_->started(), 1);
  // Propensities with the default draws stay on the polling thread; more
  // draws than the default go to the pool.
  v1::SampleRequest sample;
  sample.set_room_id("small");
  sample.set_k(1);
  sample.set_include_propensities(true);
  for (int draws : {0, 1000, 5000}) {
    sample.set_propensity_draws(draws);
    v1::SampleResponse response;
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->Sample(&context, sample, &response).ok()) << draws;
    EXPECT_EQ(response.arms_size(), 1);
  }
  EXPECT_EQ(pool_->started(), 2);
}

TEST_F(BigRoomReadsTest, AFullQueueRefusesBigRoomReadsOnly) {
  absl::Notification& started = started_;
  absl::Notification& release = release_;
  ASSERT_TRUE(pool_->Submit([&] {
    started.Notify();
    release.WaitForNotification();
  }));
  started.WaitForNotification();
  ASSERT_TRUE(pool_->Submit([] {}));  // the one queue slot
  grpc::Status refused = Sample("big");
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(refused.error_message(),
              HasSubstr("--big_room_max_queued_reads"));
  // Small rooms are served while the pool is busy.
  EXPECT_TRUE(Sample("small").ok());
  EXPECT_TRUE(GetStats("small").ok());
  release.Notify();
}

}  // namespace
}  // namespace banditd::service
