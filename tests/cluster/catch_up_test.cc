// Cluster test, in process: a write that names a room or arm this replica
// has not applied yet (created through another replica a moment ago) waits
// for this replica to catch up with the stream and is validated again
// (NatsCommitter's write catch-up, nats_catch_up.cc). Replica b's consumer
// is held back by a test hook, as a loaded machine would delay it.

#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "server/cluster/nats_committer.h"
#include "server/core/engine.h"
#include "server/core/mutation.h"
#include "tests/cluster/cluster_harness.h"

namespace banditd::cluster_testing {
namespace {

using cluster::NatsCommitter;

// Holds a replica's consumer before it applies a record while closed.
class Gate {
 public:
  void Close() {
    absl::MutexLock lock(&mu_);
    open_ = false;
  }
  void Open() {
    absl::MutexLock lock(&mu_);
    open_ = true;
  }
  void Pass() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&open_));
  }

 private:
  absl::Mutex mu_;
  bool open_ = true;
};

// A call's answer, waited for with a bound (a hang fails the test).
struct Answer {
  absl::Notification done;
  absl::StatusOr<core::ApplyResult> result;
};

std::shared_ptr<Answer> Submit(NatsCommitter& committer,
                               core::Mutation mutation) {
  auto answer = std::make_shared<Answer>();
  committer.Submit(std::move(mutation),
                   [answer](absl::StatusOr<core::ApplyResult> r) {
                     answer->result = std::move(r);
                     answer->done.Notify();
                   });
  return answer;
}

core::FeedbackBatch Feedback(const std::string& room, const std::string& arm,
                             const std::string& id) {
  core::FeedbackBatch batch;
  core::FeedbackEvent event;
  event.room_id = room;
  event.arm_id = arm;
  event.views = 1;
  event.clicks = 1;
  event.event_id = id;
  batch.events.push_back(event);
  return batch;
}

class CatchUpTest : public ClusterTest {
 protected:
  NatsCommitter::Options Options(const std::string& name, int node) {
    NatsCommitter::Options o;
    o.nats_urls = nats_->Urls(node);
    o.data_dir = (dir_ / name).string();
    o.log = false;
    o.snapshot_bucket = "";
    // Generous bounds: a loaded machine must not end the wait early.
    o.write_catch_up_timeout = absl::Seconds(20);
    o.read_wait_timeout = absl::Seconds(20);
    // The direct fetcher would read around the held consumer.
    o.fetch_after = absl::Hours(1);
    return o;
  }
};

// Catches: a replica answering NOT_FOUND for a room (or arm) created through
// another replica that it has not applied yet (README's cluster section:
// CreateRoom on one replica, Feedback on the next).
TEST_F(CatchUpTest, WriteToARoomCreatedElsewhereWaitsForThisReplica) {
  core::Engine engine_a, engine_b;
  auto gate = std::make_shared<Gate>();
  absl::StatusOr<std::unique_ptr<NatsCommitter>> a =
      NatsCommitter::Open(Options("a", 0), &engine_a);
  ASSERT_TRUE(a.ok()) << a.status();
  NatsCommitter::Options ob = Options("b", 1);
  ob.before_consumer_apply_for_testing = [gate](uint64_t) { gate->Pass(); };
  absl::StatusOr<std::unique_ptr<NatsCommitter>> b =
      NatsCommitter::Open(std::move(ob), &engine_b);
  ASSERT_TRUE(b.ok()) << b.status();
  // Opened before b's consumer is released, destroyed (Shutdown) after.
  struct Release {
    std::shared_ptr<Gate> gate;
    ~Release() { gate->Open(); }
  } release{gate};

  gate->Close();
  core::CreateRoom create;
  create.room_id = "shop";
  create.arm_ids = {"a", "b"};
  std::shared_ptr<Answer> created = Submit(**a, create);
  ASSERT_TRUE(created->done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  ASSERT_TRUE(created->result.ok()) << created->result.status();

  // b has not applied the room: the write waits instead of NOT_FOUND.
  std::shared_ptr<Answer> fed = Submit(**b, Feedback("shop", "a", "e1"));
  const absl::Time until = absl::Now() + absl::Seconds(30);
  while ((*b)->stats().write_catch_ups == 0 && absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ((*b)->stats().write_catch_ups, 1);
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_FALSE(fed->done.HasBeenNotified())
      << "answered while b's apply was held: " << fed->result.status();
  EXPECT_EQ((*b)->applied_sequence(), 0u);
  gate->Open();
  ASSERT_TRUE(fed->done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  ASSERT_TRUE(fed->result.ok()) << fed->result.status();
  EXPECT_EQ(fed->result->applied_events, 1);

  // The same for an arm added through a.
  gate->Close();
  core::AddArms add;
  add.room_id = "shop";
  add.arm_ids = {"c"};
  std::shared_ptr<Answer> added = Submit(**a, add);
  ASSERT_TRUE(added->done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  ASSERT_TRUE(added->result.ok()) << added->result.status();
  std::shared_ptr<Answer> on_new_arm = Submit(**b, Feedback("shop", "c", "e2"));
  absl::SleepFor(absl::Milliseconds(100));
  gate->Open();
  ASSERT_TRUE(
      on_new_arm->done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  ASSERT_TRUE(on_new_arm->result.ok()) << on_new_arm->result.status();
  EXPECT_EQ((*b)->stats().write_catch_ups, 2);
  absl::StatusOr<core::Stats> stats = engine_b.GetStats("shop", "", false);
  ASSERT_TRUE(stats.ok()) << stats.status();
  ASSERT_EQ(stats->arms.size(), 3u);
  (*b)->Shutdown();
  (*a)->Shutdown();
}

// Catches: a catch-up that waits out its timeout when this replica is
// caught up, or that answers other than NOT_FOUND naming the field for a
// room that exists nowhere; and --cluster_write_catch_up_timeout=0 not
// turning the catch-up off.
TEST_F(CatchUpTest, UnknownRoomStillAnswersNotFoundWithoutWaitingOut) {
  core::Engine engine_b, engine_c;
  absl::StatusOr<std::unique_ptr<NatsCommitter>> b =
      NatsCommitter::Open(Options("b", 1), &engine_b);
  ASSERT_TRUE(b.ok()) << b.status();
  NatsCommitter::Options oc = Options("c", 2);
  oc.write_catch_up_timeout = absl::ZeroDuration();
  absl::StatusOr<std::unique_ptr<NatsCommitter>> c =
      NatsCommitter::Open(std::move(oc), &engine_c);
  ASSERT_TRUE(c.ok()) << c.status();

  // Caught up, the answer comes after one stream-info request, long
  // before the 20 s catch-up timeout (a timeout would be a bug).
  std::shared_ptr<Answer> fed = Submit(**b, Feedback("nowhere", "a", "x"));
  ASSERT_TRUE(fed->done.WaitForNotificationWithTimeout(absl::Seconds(10)))
      << "the catch-up waited although b is caught up";
  EXPECT_EQ(fed->result.status().code(), absl::StatusCode::kNotFound)
      << fed->result.status();
  EXPECT_NE(fed->result.status().message().find("events[0].room_id"),
            std::string::npos)
      << fed->result.status();
  EXPECT_EQ((*b)->stats().write_catch_ups, 1);

  // Off: NOT_FOUND without a catch-up.
  std::shared_ptr<Answer> off = Submit(**c, Feedback("nowhere", "a", "y"));
  ASSERT_TRUE(off->done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(off->result.status().code(), absl::StatusCode::kNotFound)
      << off->result.status();
  EXPECT_EQ((*c)->stats().write_catch_ups, 0);
  // The stream holds nothing: nothing refused was published.
  EXPECT_EQ((*b)->applied_sequence(), 0u);
}

}  // namespace
}  // namespace banditd::cluster_testing
