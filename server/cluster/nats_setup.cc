// NatsCommitter's setup: the NATS connection, the stream (created if
// missing, with the stream-wide settings every replica checks), the ordered
// consumer and the catch-up at startup.

#include <nats/nats.h>

#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "server/cluster/nats_committer.h"
#include "server/cluster/nats_status.h"
#include "server/log/log.h"

namespace banditd::cluster {

namespace {

// Stream-wide settings: every engine setting that changes what Apply
// computes (audited: the event-id window's count and age; limits only shape
// admission, decay is per room and logged with it), and how rooms map to
// streams. Kept in the stream's description as "banditd:
// event_id_window=N event_id_window_age=D cluster_streams=S" so that every
// replica reads the same; each is named after its flag.
constexpr char kSettingsTag[] = "banditd:";

struct Setting {
  const char* flag;
  std::string value;
  // What replicas that differ in it would do.
  const char* why;
  // Recorded in a stream that lacks it (created before the setting
  // existed): what such a stream was, rather than this replica's value.
  const char* before = nullptr;
};

std::vector<Setting> Settings(const NatsCommitter::Options& options) {
  constexpr char kDedup[] =
      "replicas that de-duplicate differently would count retried events "
      "differently";
  return {
      {"event_id_window", absl::StrCat(options.event_id_window), kDedup},
      {"event_id_window_age", absl::FormatDuration(options.event_id_window_age),
       kDedup},
      {"cluster_streams", absl::StrCat(std::max(1, options.streams)),
       "replicas that spread rooms over a different number of streams would "
       "write a room's records to different streams, whose order no replica "
       "could reconcile",
       "1"},
  };
}

// The value of `flag` in the description's settings, if recorded.
std::optional<std::string> Recorded(const std::string& description,
                                    const std::string& flag) {
  const size_t at = description.find(kSettingsTag);
  if (at == std::string::npos) return std::nullopt;
  for (absl::string_view token : absl::StrSplit(
           absl::string_view(description).substr(at + sizeof(kSettingsTag) - 1),
           ' ', absl::SkipEmpty())) {
    const size_t eq = token.find('=');
    if (eq != absl::string_view::npos && token.substr(0, eq) == flag) {
      return std::string(token.substr(eq + 1));
    }
  }
  return std::nullopt;
}

// Whether two recorded values mean the same (durations in any spelling).
bool SameValue(const std::string& a, const std::string& b) {
  if (a == b) return true;
  absl::Duration da, db;
  return absl::ParseDuration(a, &da) && absl::ParseDuration(b, &db) && da == db;
}

// `description` with the settings it lacks appended.
// `existing`: the stream was there already (not created by this replica).
std::string WithMissingSettings(const std::string& description,
                                const NatsCommitter::Options& options,
                                bool existing) {
  std::string out = description;
  if (out.find(kSettingsTag) == std::string::npos) {
    absl::StrAppend(&out, out.empty() ? "" : " ", kSettingsTag);
  }
  for (const Setting& setting : Settings(options)) {
    if (!Recorded(out, setting.flag).has_value()) {
      absl::StrAppend(&out, " ", setting.flag, "=",
                      existing && setting.before != nullptr ? setting.before
                                                            : setting.value);
    }
  }
  return out;
}

}  // namespace

absl::Status NatsCommitter::Connect() {
  std::vector<std::string> urls =
      absl::StrSplit(options_.nats_urls, ',', absl::SkipWhitespace());
  if (urls.empty()) return absl::InvalidArgumentError("no NATS server URL");
  std::vector<const char*> servers;
  for (const std::string& url : urls) servers.push_back(url.c_str());
  natsOptions* opts = nullptr;
  natsStatus s = natsOptions_Create(&opts);
  if (s == NATS_OK) {
    s = natsOptions_SetServers(opts, servers.data(),
                               static_cast<int>(servers.size()));
  }
  if (s == NATS_OK) s = natsOptions_SetName(opts, "banditd");
  // Servers in the order given: replicas list their nearest node first.
  if (s == NATS_OK) s = natsOptions_SetNoRandomize(opts, true);
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts, -1);
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts, 100);
  // A paused node keeps its TCP connections open: only unanswered pings
  // reveal it, so ping often and give up after two.
  if (s == NATS_OK) {
    s = natsOptions_SetPingInterval(
        opts, std::max<int64_t>(
                  1, absl::ToInt64Milliseconds(options_.ping_interval)));
  }
  if (s == NATS_OK) s = natsOptions_SetMaxPingsOut(opts, 2);
  if (s == NATS_OK) {
    s = natsOptions_SetTimeout(
        opts, std::max<int64_t>(
                  200, 2 * absl::ToInt64Milliseconds(options_.ping_interval)));
  }
  // Copies sent through a connection that failed are re-sent at once.
  if (s == NATS_OK) {
    s = natsOptions_SetReconnectedCB(opts, &NatsCommitter::OnReconnected, this);
  }
  if (s == NATS_OK) s = natsOptions_SetReconnectBufSize(opts, 64 << 20);
  if (s == NATS_OK) s = natsOptions_SetMaxPendingMsgs(opts, 1 << 20);
  if (s == NATS_OK) s = natsConnection_Connect(&nc_, opts);
  natsOptions_Destroy(opts);
  if (s != NATS_OK) {
    return NatsError(
        absl::StrCat("cannot connect to NATS at ", options_.nats_urls).c_str(),
        s);
  }
  {
    // Which node: the first of --cluster_nats that answered in time.
    char url[256] = "";
    natsConnection_GetConnectedUrl(nc_, url, sizeof(url));
    SPDLOG_INFO("connected to NATS at {}", url);
  }
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = absl::ToInt64Milliseconds(options_.publish_timeout);
  jo.PublishAsync.MaxPending = 16384;
  jo.PublishAsync.AckHandler = &NatsCommitter::OnAck;
  jo.PublishAsync.AckHandlerClosure = this;
  jo.PublishAsync.StallWait =
      absl::ToInt64Milliseconds(options_.publish_timeout);
  s = natsConnection_JetStream(&js_, nc_, &jo);
  if (s != NATS_OK) return NatsError("cannot open a JetStream context", s);
  return absl::OkStatus();
}

void NatsCommitter::OnReconnected(natsConnection* nc, void* closure) {
  auto* self = static_cast<NatsCommitter*>(closure);
  char url[256] = "";
  natsConnection_GetConnectedUrl(nc, url, sizeof(url));
  SPDLOG_WARN("reconnected to NATS at {}; re-sending unacknowledged records",
              url);
  const absl::Time now = absl::Now();
  for (const auto& stream : self->streams_) {
    stream->in_flight.ConnectionReplaced(now);
  }
}

absl::Status NatsCommitter::EnsureStreams() {
  if (options_.streams < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--cluster_streams must be at least 1, not ", options_.streams));
  }
  // Each stream has its own event-id window in the engine (its evictions
  // depend only on that stream's records): the engine must have one per
  // stream, or rooms of several streams would share one, whose evictions
  // depend on how this replica interleaved the streams.
  if (options_.event_id_window > 0 &&
      engine_->event_id_streams() != options_.streams) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--cluster_streams=", options_.streams, " but the engine keeps ",
        engine_->event_id_streams(),
        " event-id windows (EngineOptions::event_id_streams must equal it)"));
  }
  // Stream 0 first: it holds the stream-wide settings (incl. the count).
  for (const auto& stream : streams_) {
    if (absl::Status s = EnsureStream(*stream); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status NatsCommitter::EnsureStream(Stream& stream) {
  jsStreamInfo* si = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  // The cluster may still be electing a meta leader right after it starts.
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  natsStatus s;
  while (true) {
    s = js_GetStreamInfo(&si, js_, stream.name.c_str(), nullptr, &code);
    if (s == NATS_NOT_FOUND) {
      const std::string subjects = absl::StrCat(stream.prefix, ".>");
      const char* subject_list[] = {subjects.c_str()};
      jsStreamConfig cfg;
      jsStreamConfig_Init(&cfg);
      cfg.Name = stream.name.c_str();
      cfg.Subjects = subject_list;
      cfg.SubjectsLen = 1;
      cfg.Storage = js_FileStorage;
      cfg.Retention = js_LimitsPolicy;
      cfg.Discard = js_DiscardOld;
      cfg.Replicas = options_.replicas;
      cfg.MaxAge = absl::ToInt64Nanoseconds(options_.max_age);
      cfg.MaxBytes = options_.max_bytes > 0 ? options_.max_bytes : -1;
      // Replicas read records from any peer when the consumer is late.
      cfg.AllowDirect = true;
      cfg.Duplicates = absl::ToInt64Nanoseconds(options_.duplicate_window);
      const std::string description =
          WithMissingSettings("", options_, /*existing=*/false);
      cfg.Description = description.c_str();
      code = static_cast<jsErrCode>(0);
      s = js_AddStream(&si, js_, &cfg, nullptr, &code);
      // Another replica may have created it meanwhile: read it again.
      if (s != NATS_OK && code == JSStreamNameExistErr) continue;
      if (s == NATS_OK && options_.log) {
        SPDLOG_INFO(
            "created stream {} ({}, replicas {}, max age {}, max bytes {})",
            stream.name, subjects, options_.replicas,
            absl::FormatDuration(options_.max_age), options_.max_bytes);
      }
    }
    if (s == NATS_OK || absl::Now() > deadline) break;
    if (si != nullptr) jsStreamInfo_Destroy(si);
    si = nullptr;
    nats_GetLastError(nullptr);
    absl::SleepFor(absl::Milliseconds(250));
  }
  if (s != NATS_OK) {
    return NatsError(
        absl::StrCat("cannot read or create stream ", stream.name).c_str(), s,
        code);
  }
  stream.first_seq = si->State.FirstSeq;
  stream.last_seq = si->State.LastSeq;
  stream.created = si->Created;
  const std::string description =
      si->Config->Description != nullptr ? si->Config->Description : "";
  const bool allow_direct = si->Config->AllowDirect;
  const std::string completed =
      WithMissingSettings(description, options_, /*existing=*/true);
  if (completed != description || !allow_direct) {
    // Created by an older replica: record the settings it lacks (a stream
    // of before a setting existed gets this replica's value: upgrade every
    // replica together) and allow Direct Get.
    si->Config->AllowDirect = true;
    const char* original = si->Config->Description;
    si->Config->Description = completed.c_str();
    jsStreamInfo* updated = nullptr;
    code = static_cast<jsErrCode>(0);
    s = js_UpdateStream(&updated, js_, si->Config, nullptr, &code);
    si->Config->Description = original;  // si owns and frees it.
    if (s != NATS_OK) {
      jsStreamInfo_Destroy(si);
      return NatsError(
          absl::StrCat("cannot record settings in stream ", stream.name)
              .c_str(),
          s, code);
    }
    jsStreamInfo_Destroy(si);
    si = updated;
  }
  absl::Status settings = CheckStreamSettings(
      stream,
      si->Config->Description != nullptr ? si->Config->Description : "");
  jsStreamInfo_Destroy(si);
  return settings;
}

int NatsCommitter::SpreadLeaders() {
  // Where JetStream placed each stream's leader, and its current peers.
  struct Placed {
    std::string leader;
    std::vector<std::string> peers;
  };
  std::vector<Placed> placed;
  std::map<std::string, int> led;
  for (const auto& stream : streams_) {
    jsStreamInfo* si = nullptr;
    if (js_GetStreamInfo(&si, js_, stream->name.c_str(), nullptr, nullptr) !=
            NATS_OK ||
        si->Cluster == nullptr || si->Cluster->Leader == nullptr) {
      if (si != nullptr) jsStreamInfo_Destroy(si);
      nats_GetLastError(nullptr);
      return 0;  // No leader yet: JetStream elects one; nothing to balance.
    }
    Placed p;
    p.leader = si->Cluster->Leader;
    led[p.leader] += 1;
    for (int i = 0; i < si->Cluster->ReplicasLen; ++i) {
      const jsPeerInfo* peer = si->Cluster->Replicas[i];
      if (peer != nullptr && peer->Name != nullptr && peer->Current &&
          !peer->Offline) {
        p.peers.push_back(peer->Name);
        led.emplace(peer->Name, 0);
      }
    }
    jsStreamInfo_Destroy(si);
    placed.push_back(std::move(p));
  }
  // Move a leader to a current peer that leads at least two fewer streams,
  // until no such move is left: each node then leads N/nodes streams, give
  // or take one.
  int moved = 0;
  for (size_t i = 0; i < placed.size(); ++i) {
    std::string* best = nullptr;
    for (std::string& peer : placed[i].peers) {
      if (best == nullptr || led[peer] < led[*best]) best = &peer;
    }
    if (best == nullptr || led[*best] + 1 >= led[placed[i].leader]) continue;
    const std::string subject =
        absl::StrCat("$JS.API.STREAM.LEADER.STEPDOWN.", streams_[i]->name);
    const std::string request =
        absl::StrCat(R"({"placement":{"preferred":")", *best, R"("}})");
    natsMsg* reply = nullptr;
    natsStatus s =
        natsConnection_Request(&reply, nc_, subject.c_str(), request.data(),
                               static_cast<int>(request.size()), 2000);
    const bool ok =
        s == NATS_OK &&
        std::string(natsMsg_GetData(reply), natsMsg_GetDataLength(reply))
                .find("\"success\":true") != std::string::npos;
    if (ok && options_.log) {
      SPDLOG_INFO(
          "stream {}: leader moved from {} to {} (spreading leaders over "
          "NATS nodes)",
          streams_[i]->name, placed[i].leader, *best);
    } else if (!ok) {
      // NATS before 2.11 has no preferred placement: "bad request".
      SPDLOG_WARN(
          "stream {}: cannot move its leader from {} to {} (spreading "
          "leaders over NATS nodes; needs NATS 2.11 or later): {}",
          streams_[i]->name, placed[i].leader, *best,
          reply != nullptr ? std::string(natsMsg_GetData(reply),
                                         natsMsg_GetDataLength(reply))
                           : std::string(natsStatus_GetText(s)));
    }
    if (reply != nullptr) natsMsg_Destroy(reply);
    nats_GetLastError(nullptr);
    if (!ok) continue;
    led[placed[i].leader] -= 1;
    led[*best] += 1;
    placed[i].leader = *best;
    ++moved;
  }
  return moved;
}

void NatsCommitter::RebalanceLoop() {
  std::mt19937_64 random(std::random_device{}());
  std::uniform_real_distribution<double> jitter(0.8, 1.2);
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !rebalancing_;
      };
      mu_.AwaitWithTimeout(absl::Condition(&stop),
                           options_.rebalance_interval * jitter(random));
      if (!rebalancing_) return;
    }
    SpreadLeaders();
  }
}

absl::Status NatsCommitter::CheckStreamSettings(
    const Stream& stream, const std::string& description) {
  for (const Setting& mine : Settings(options_)) {
    const std::optional<std::string> recorded =
        Recorded(description, mine.flag);
    if (!recorded.has_value()) {
      return absl::FailedPreconditionError(
          absl::StrCat("stream ", stream.name, " has no readable \"", mine.flag,
                       "=\" in its description (\"", description, "\")"));
    }
    if (!SameValue(*recorded, mine.value)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "stream ", stream.name, " records ", mine.flag, "=", *recorded,
          " (a stream-wide setting, recorded by the replica that created "
          "it), but this replica has --",
          mine.flag, "=", mine.value, ": ", mine.why, "; restart with --",
          mine.flag, "=", *recorded));
    }
  }
  return absl::OkStatus();
}

absl::Status NatsCommitter::Subscribe(Stream& stream, uint64_t start_seq) {
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = stream.name.c_str();
  so.Ordered = true;
  so.Config.DeliverPolicy = js_DeliverByStartSequence;
  so.Config.OptStartSeq = start_seq;
  so.Config.Heartbeat = absl::ToInt64Nanoseconds(absl::Seconds(1));
  jsErrCode code = static_cast<jsErrCode>(0);
  // Creating the consumer times out while the NATS cluster is electing a
  // stream leader (after a node failure): retry for a while.
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  natsStatus s;
  while (true) {
    code = static_cast<jsErrCode>(0);
    s = js_Subscribe(&stream.sub, js_, stream.filter.c_str(),
                     &NatsCommitter::OnMessage, &stream, nullptr, &so, &code);
    if (s == NATS_OK || absl::Now() > deadline) break;
    if (options_.log) {
      SPDLOG_WARN("cannot consume stream {} yet ({}), retrying", stream.name,
                  natsStatus_GetText(s));
    }
    nats_GetLastError(nullptr);
    absl::SleepFor(absl::Milliseconds(500));
  }
  if (s != NATS_OK) {
    return NatsError(
        absl::StrCat("cannot consume stream ", stream.name).c_str(), s, code);
  }
  natsSubscription_SetPendingLimits(stream.sub, -1, -1);
  return absl::OkStatus();
}

absl::Status NatsCommitter::WaitCaughtUp(Stream& stream) {
  const absl::Time deadline = options_.catch_up_timeout > absl::ZeroDuration()
                                  ? absl::Now() + options_.catch_up_timeout
                                  : absl::InfiniteFuture();
  absl::Status last_error;
  while (absl::Now() < deadline) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return absl::CancelledError("shutting down");
    }
    jsConsumerInfo* ci = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    natsStatus s =
        natsSubscription_GetConsumerInfo(&ci, stream.sub, nullptr, &code);
    if (s == NATS_OK) {
      const bool caught_up =
          ci->NumPending == 0 && stream.applied() >= ci->Delivered.Stream;
      jsConsumerInfo_Destroy(ci);
      if (caught_up) return absl::OkStatus();
    } else {
      last_error = NatsError("consumer info", s, code);
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("did not catch up with stream ", stream.name, " within ",
                   absl::FormatDuration(options_.catch_up_timeout), " (at seq ",
                   stream.applied(), ")", last_error.ok() ? "" : ": ",
                   last_error.message()));
}

}  // namespace banditd::cluster
