#include "server/ops/http_server.h"

#include <cmath>
#include <deque>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "httplib.h"
#include "server/ops/dashboard_assets.h"
#include "server/ops/http_socket.h"
#include "server/ops/share_history.h"

namespace banditd::ops {
namespace {

constexpr char kJson[] = "application/json";

// A JSON number; JSON has no infinity (unseen arms score +inf), so null.
std::string JsonNumber(double v) {
  if (!std::isfinite(v)) return "null";
  return absl::StrFormat("%.17g", v);
}

// The hot/cold feed score's parameters, for the dashboard's curves.
std::string HotColdJson(const core::PolicyParams& p) {
  return absl::StrCat(",\"cold_max\":", JsonNumber(p.cold_max),
                      ",\"cold_steepness\":", JsonNumber(p.cold_steepness),
                      ",\"cold_threshold\":", JsonNumber(p.cold_threshold),
                      ",\"hot_max\":", JsonNumber(p.hot_max),
                      ",\"hot_steepness\":", JsonNumber(p.hot_steepness),
                      ",\"hot_threshold\":", JsonNumber(p.hot_threshold));
}

std::string PolicyJson(const core::PolicyParams& p) {
  return absl::StrCat("{\"kind\":", JsonQuote(core::PolicyKindName(p.kind)),
                      ",\"ucb_alpha\":", JsonNumber(p.ucb_alpha),
                      ",\"bucb_z\":", JsonNumber(p.bucb_z),
                      ",\"beta_prior_a\":", JsonNumber(p.beta_prior_a),
                      ",\"beta_prior_b\":", JsonNumber(p.beta_prior_b),
                      ",\"epsilon\":", JsonNumber(p.epsilon), HotColdJson(p),
                      "}");
}

// The dashboard's winner analysis: 2,000 draws (probabilities within
// +-0.011 at one standard error) and can_stop below an expected loss of
// 0.001 (a tenth of a percentage point of click rate).
constexpr int kDashboardWinnerDraws = 2000;
constexpr int64_t kDashboardMaxArms = 200;
constexpr double kDashboardLossThreshold = 0.001;

// ",\"winner\":{...}" for the stats JSON, or nothing when the analysis
// failed. Its arms are the enabled arms shown (arms_analysed of them).
std::string WinnerJson(const absl::StatusOr<core::WinnerResult>& winner) {
  if (!winner.ok()) return "";
  const core::WinnerAnalysis& w = winner->analysis;
  const std::string best =
      w.best < 0 ? "" : winner->arm_ids[static_cast<size_t>(w.best)];
  return absl::StrCat(
      ",\"winner\":{\"best_arm_id\":", JsonQuote(best),
      ",\"can_stop\":", w.can_stop ? "true" : "false", ",\"draws\":", w.draws,
      ",\"arms_analysed\":", winner->arm_ids.size(),
      ",\"loss_threshold\":", JsonNumber(kDashboardLossThreshold),
      ",\"posterior\":",
      JsonQuote(winner->posterior == core::ArmPosterior::Kind::kBeta
                    ? "beta"
                    : "revenue"),
      "}");
}

}  // namespace

std::string JsonQuote(absl::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == '<' || c == '>' || c == '&') {
          // <, > and & escaped too so a value can never close a <script>.
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
}

HttpServer::HttpServer() : server_(std::make_unique<httplib::Server>()) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Stop() {
  if (server_ != nullptr) server_->stop();
  if (thread_.joinable()) thread_.join();
  if (!stop_sampler_.HasBeenNotified()) stop_sampler_.Notify();
  if (sampler_.joinable()) sampler_.join();
}

void HttpServer::SampleShares(const core::Engine* engine, int max_rooms) {
  const absl::Time now = absl::Now();
  core::RoomPage page = engine->ListRooms(max_rooms, "");
  // Only the arms the history keeps: a copy of every arm's stats was 128
  // bytes per arm every tick (128 MiB for a 1M-arm room).
  core::ArmSelection first_arms;
  first_arms.limit = history_->max_arms();
  for (const core::RoomInfo& room : page.rooms) {
    absl::StatusOr<core::Stats> stats =
        engine->GetStats(room.room_id, "", false, first_arms);
    if (!stats.ok()) continue;  // deleted in between
    std::vector<std::pair<std::string, double>> views;
    views.reserve(stats->arms.size());
    for (const core::ArmStat& arm : stats->arms) {
      views.push_back({arm.arm_id, arm.counts.views});
    }
    history_->Record(room.room_id, "", now, views);
  }
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    const HttpServerOptions& options, const Metrics* metrics,
    const core::Engine* engine) {
  std::unique_ptr<HttpServer> http(new HttpServer());
  httplib::Server& server = *http->server_;
  server.set_socket_options(ExclusivePortSocketOptions);
  ShareHistory::Options history_options;
  history_options.max_keys =
      static_cast<size_t>(std::max(options.history_rooms, 1));
  http->history_ = std::make_unique<ShareHistory>(history_options);
  ShareHistory* history = http->history_.get();

  server.Get("/metrics",
             [metrics](const httplib::Request&, httplib::Response& res) {
               res.set_content(metrics->Render(), "text/plain; version=0.0.4");
             });
  // For load balancers and orchestrators: 200 only while serving.
  server.Get("/healthz", [state = &http->state_](const httplib::Request&,
                                                 httplib::Response& res) {
    switch (state->load()) {
      case State::kServing:
        res.set_content("ok\n", "text/plain");
        return;
      case State::kRecovering:
        res.status = 503;
        res.set_content("recovering\n", "text/plain");
        return;
      case State::kDraining:
        res.status = 503;
        res.set_content("draining\n", "text/plain");
        return;
    }
  });

  if (options.dashboard) {
    server.Get("/", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(kDashboardHtml, "text/html; charset=utf-8");
    });
    server.Get("/dashboard.js", [](const httplib::Request&,
                                   httplib::Response& res) {
      res.set_content(kDashboardJs, "application/javascript; charset=utf-8");
    });
    server.Get("/dashboard.css",
               [](const httplib::Request&, httplib::Response& res) {
                 res.set_content(kDashboardCss, "text/css; charset=utf-8");
               });
    // Browsers ask for /favicon.ico whatever the page says; both are SVG.
    server.Get("/favicon.svg|/favicon.ico",
               [](const httplib::Request&, httplib::Response& res) {
                 res.set_content(kDashboardFaviconSvg, "image/svg+xml");
               });
    server.Get("/api/rooms", [engine](const httplib::Request&,
                                      httplib::Response& res) {
      constexpr int kMaxRooms = 1000;
      core::RoomPage page = engine->ListRooms(kMaxRooms, "");
      std::string out = "{\"rooms\":[";
      for (size_t i = 0; i < page.rooms.size(); ++i) {
        const core::RoomInfo& room = page.rooms[i];
        absl::StrAppend(&out, i ? "," : "",
                        "{\"room_id\":", JsonQuote(room.room_id),
                        ",\"arms\":", room.arm_count, ",\"policy\":",
                        JsonQuote(core::PolicyKindName(room.policy.kind)), "}");
      }
      absl::StrAppend(&out, "],\"truncated\":",
                      page.next_after.empty() ? "false" : "true", "}");
      res.set_content(out, kJson);
    });
    server.Get("/api/stats", [engine, history](const httplib::Request& req,
                                               httplib::Response& res) {
      const std::string room_id = req.get_param_value("room");
      const std::string segment = req.get_param_value("segment");
      // The page polls every second: kDashboardMaxArms arms at most (a
      // chart of more is unreadable), and no copy of every arm id. A bigger
      // room shows the arms that matter: those with the most views in the
      // segment (one pass over its counters keeping kDashboardMaxArms
      // candidates), not its first arms.
      core::ArmSelection no_arms;
      no_arms.limit = 0;
      absl::StatusOr<core::RoomInfo> room = engine->GetRoom(room_id, no_arms);
      core::ArmSelection shown;
      shown.limit = kDashboardMaxArms;
      const bool top_views = room.ok() && room->arm_count > kDashboardMaxArms;
      if (top_views) shown.order = core::ArmSelection::Order::kTopViews;
      absl::StatusOr<core::Stats> stats =
          room.ok() ? engine->GetStats(room_id, segment, false, shown)
                    : absl::StatusOr<core::Stats>(room.status());
      if (!stats.ok()) {
        res.status =
            stats.status().code() == absl::StatusCode::kNotFound ? 404 : 400;
        res.set_content(absl::StrCat("{\"error\":",
                                     JsonQuote(stats.status().message()), "}"),
                        kJson);
        return;
      }
      // Winner analysis with few draws (cheap enough for a page that polls
      // every second) and a fixed seed, so the figures do not flicker; over
      // the arms shown, named (the same arms even if views moved since).
      core::WinnerQuery winner_query{room_id, segment, kDashboardWinnerDraws, 0,
                                     kDashboardLossThreshold};
      winner_query.arms.arm_ids.reserve(stats->arms.size());
      for (const core::ArmStat& arm : stats->arms) {
        winner_query.arms.arm_ids.push_back(arm.arm_id);
      }
      absl::StatusOr<core::WinnerResult> winner =
          stats->arms.empty() ? absl::StatusOr<core::WinnerResult>(
                                    absl::FailedPreconditionError("no arms"))
                              : engine->Winner(winner_query);
      absl::flat_hash_map<std::string, const core::ArmWinner*> winners;
      if (winner.ok()) {
        for (size_t i = 0; i < winner->arm_ids.size(); ++i) {
          winners[winner->arm_ids[i]] = &winner->analysis.arms[i];
        }
      }
      std::vector<std::pair<std::string, double>> views;
      std::string arms = "[";
      for (size_t i = 0; i < stats->arms.size(); ++i) {
        const core::ArmStat& arm = stats->arms[i];
        views.push_back({arm.arm_id, arm.counts.views});
        absl::StrAppend(&arms, i ? "," : "",
                        "{\"arm_id\":", JsonQuote(arm.arm_id),
                        ",\"enabled\":", arm.enabled ? "true" : "false",
                        ",\"views\":", JsonNumber(arm.counts.views),
                        ",\"clicks\":", JsonNumber(arm.counts.clicks),
                        ",\"ctr\":", JsonNumber(arm.scores.ctr),
                        ",\"ucb1\":", JsonNumber(arm.scores.ucb1),
                        ",\"bucb\":", JsonNumber(arm.scores.bucb));
        auto w = winners.find(arm.arm_id);
        if (w != winners.end()) {
          absl::StrAppend(
              &arms, ",\"prob_best\":", JsonNumber(w->second->prob_best),
              ",\"expected_loss\":", JsonNumber(w->second->expected_loss));
        }
        arms += "}";
      }
      arms += "]";
      history->Record(room_id, segment, absl::Now(), views);
      std::string shares = history->RenderJson(room_id, segment);
      res.set_content(
          absl::StrCat("{\"room_id\":", JsonQuote(stats->room_id),
                       ",\"segment\":", JsonQuote(stats->segment),
                       ",\"total_views\":", JsonNumber(stats->total_views),
                       ",\"policy\":", PolicyJson(room->policy),
                       ",\"arm_count\":", room->arm_count, ",\"arms_shown\":",
                       stats->arms.size(), ",\"arm_selection\":",
                       top_views ? "\"top_views\"" : "\"room_order\"",
                       ",\"arms\":", arms, ",\"share_history\":", shares,
                       WinnerJson(winner), "}"),
          kJson);
    });
  }

  if (options.port == 0) {
    http->port_ = server.bind_to_any_port(options.host);
  } else if (server.bind_to_port(options.host, options.port)) {
    http->port_ = options.port;
  }
  if (http->port_ <= 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen for HTTP on ", options.host, ":", options.port));
  }
  http->thread_ = std::thread([&server] { server.listen_after_bind(); });
  if (options.dashboard && options.history_rooms > 0) {
    // Every room's share history from the start, not only while a page
    // watches it.
    HttpServer* self = http.get();
    http->sampler_ = std::thread([self, engine, options] {
      do {
        self->SampleShares(engine, options.history_rooms);
      } while (!self->stop_sampler_.WaitForNotificationWithTimeout(
          options.history_interval));
    });
  }
  // stop() is a no-op until the listener runs; wait so Stop() always works.
  for (int i = 0; i < 5000 && !server.is_running(); ++i) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  return http;
}

}  // namespace banditd::ops
