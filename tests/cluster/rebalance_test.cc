// Periodic leader rebalancing (--cluster_rebalance_interval): with rooms
// spread over several streams, a running replica moves a stream's leader
// off a NATS node that leads two more streams than another, as after a
// node's failure and return (it then leads none).

#include <nats/nats.h>

#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "server/cluster/nats_committer.h"
#include "tests/cluster/cluster_harness.h"

namespace banditd {
namespace {

using ::banditd::cluster::NatsCommitter;
using ::banditd::cluster_testing::ClusterTest;
using ::banditd::cluster_testing::NatsClient;
using ::banditd::cluster_testing::Replica;

constexpr int kStreams = 3;
constexpr char kMoved[] = "(spreading leaders over NATS nodes)";

// Each stream's leader ("" when unknown).
std::vector<std::string> Leaders(NatsClient& client) {
  std::vector<std::string> leaders;
  for (int i = 0; i < kStreams; ++i) {
    const std::string name = NatsCommitter::StreamName("BANDITD_EVENTS", i);
    jsStreamInfo* si = nullptr;
    std::string leader;
    if (js_GetStreamInfo(&si, client.js(), name.c_str(), nullptr, nullptr) ==
        NATS_OK) {
      if (si->Cluster != nullptr && si->Cluster->Leader != nullptr) {
        leader = si->Cluster->Leader;
      }
      jsStreamInfo_Destroy(si);
    }
    leaders.push_back(leader);
  }
  return leaders;
}

int Count(const std::string& path, const std::string& text) {
  std::ifstream in(path);
  int n = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.find(text) != std::string::npos) ++n;
  }
  return n;
}

// Catches: leaders spread only when a replica starts (a node that failed
// and came back would lead nothing until some replica restarts).
TEST_F(ClusterTest, RunningReplicaRespreadsLeaders) {
  Replica& a =
      AddReplica({absl::StrCat("--cluster_streams=", kStreams),
                  "--event_id_window=0", "--cluster_rebalance_interval=1s"});
  ASSERT_TRUE(a.Start()) << "see " << a.log_path();
  NatsClient client(nats_->Urls(1));
  ASSERT_NE(client.js(), nullptr);
  std::vector<std::string> leaders = Leaders(client);
  ASSERT_EQ(std::set<std::string>(leaders.begin(), leaders.end()).size(), 3u)
      << "not spread at start; see " << a.log_path();
  const int moves_before = Count(a.log_path(), kMoved);

  // Stream 1's leader moves to stream 0's leader's node: it leads two, and
  // another node none.
  const std::string subject =
      absl::StrCat("$JS.API.STREAM.LEADER.STEPDOWN.",
                   NatsCommitter::StreamName("BANDITD_EVENTS", 1));
  const std::string request =
      absl::StrCat(R"({"placement":{"preferred":")", leaders[0], R"("}})");
  natsMsg* reply = nullptr;
  ASSERT_EQ(natsConnection_Request(&reply, client.nc(), subject.c_str(),
                                   request.data(),
                                   static_cast<int>(request.size()), 5000),
            NATS_OK);
  const std::string answer(natsMsg_GetData(reply),
                           natsMsg_GetDataLength(reply));
  natsMsg_Destroy(reply);
  ASSERT_NE(answer.find("\"success\":true"), std::string::npos) << answer;

  // The running replica moves one back within a few intervals.
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (absl::Now() < deadline) {
    leaders = Leaders(client);
    if (Count(a.log_path(), kMoved) > moves_before &&
        std::set<std::string>(leaders.begin(), leaders.end()).size() == 3u &&
        !leaders[0].empty() && !leaders[1].empty() && !leaders[2].empty()) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(200));
  }
  EXPECT_GT(Count(a.log_path(), kMoved), moves_before)
      << "see " << a.log_path();
  EXPECT_EQ(std::set<std::string>(leaders.begin(), leaders.end()).size(), 3u)
      << leaders[0] << " " << leaders[1] << " " << leaders[2];
}

}  // namespace
}  // namespace banditd
