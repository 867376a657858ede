// banditd_sim: plays a simulation scenario (docs/SIMULATION.md) in-process
// against the banditd core engine and writes the regret CSV
//
//   run,round,policy,chosen_arm,best_arm,reward,cumulative_regret
//
// The environment (context arrivals, clicks, revenue, random walks, Sample
// seeds) is drawn from the same keyed SplitMix64 streams as the Python
// simulator (clients/python/src/banditd/sim.py), so the in-process run and a
// run through the gRPC server see the same world and make the same choices.
//
//   banditd_sim --scenario=s.json --out=regret.csv [--rounds=N] [--runs=N]
//               [--policies=ucb1,thompson] [--seed=N]

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "server/core/engine.h"
#include "server/core/mutation.h"
#include "server/core/policy.h"

ABSL_FLAG(std::string, scenario, "", "Scenario JSON file (required).");
ABSL_FLAG(std::string, out, "-", "CSV output file; - for stdout.");
ABSL_FLAG(int, rounds, 0, "Overrides the scenario's rounds when > 0.");
ABSL_FLAG(int, runs, 0, "Overrides the scenario's runs when > 0.");
ABSL_FLAG(int64_t, seed, -1, "Overrides the scenario's seed when >= 0.");
ABSL_FLAG(
    std::string, policies, "",
    "Comma-separated policy names to run (default: all in the scenario).");
ABSL_FLAG(bool, summary, false,
          "Write one row per (run, policy) instead of one per round: "
          "run,policy,final_regret,best_arm_pulls,rounds.");
ABSL_FLAG(bool, strict, false,
          "Fail when a policy is not supported by the engine (default: skip "
          "it with a warning).");

namespace {

using google::protobuf::Struct;
using google::protobuf::Value;
namespace core = banditd::core;

// ---- keyed random streams (same as banditd/sim.py) ----
constexpr int kStreamClick = 1;
constexpr int kStreamContext = 2;
constexpr int kStreamRevenue = 3;
constexpr int kStreamWalk = 4;
constexpr int kStreamSeed = 5;

uint64_t SplitMix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  uint64_t z = x;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}
uint64_t Key(uint64_t seed, uint64_t stream, uint64_t round, uint64_t idx) {
  uint64_t h = SplitMix64(seed ^ (stream * 0x100000001B3ULL));
  h = SplitMix64(h ^ round);
  return SplitMix64(h ^ idx);
}
double Uniform(uint64_t seed, uint64_t stream, uint64_t round, uint64_t idx) {
  return static_cast<double>(Key(seed, stream, round, idx) >> 11) *
         (1.0 / 9007199254740992.0);
}
double Normal(uint64_t seed, uint64_t stream, uint64_t round, uint64_t idx) {
  double u1 = Uniform(seed, stream, round, 2 * idx);
  double u2 = Uniform(seed, stream, round, 2 * idx + 1);
  return std::sqrt(-2.0 * std::log(1.0 - u1)) * std::cos(2.0 * M_PI * u2);
}
uint64_t NameHash(absl::string_view s) {
  uint64_t h = 0xCBF29CE484222325ULL;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001B3ULL;
  return h;
}

// ---- scenario ----
struct PolicySpec {
  std::string name;
  std::string type;  // upper case, RANDOM allowed
  int kind = 0;
  std::map<std::string, double> params;
  double decay_half_life_events = 0;
  double decay_half_life_seconds = 0;
  double linucb_lambda = 0;
};

struct ContextSpec {
  std::string item;
  double weight = 1;
  std::map<std::string, double> ctr;
  std::vector<double> features;
};

struct DriftSpec {
  enum Kind { kSwap, kSet, kWalk } kind;
  int round = 0;
  std::optional<std::string> item;
  std::vector<std::string> swap;
  std::map<std::string, double> set;
  double sd = 0;
  int from = 1, every = 1, to = 0;
};

struct Scenario {
  std::string name;
  int rounds = 1000, runs = 1;
  uint64_t seed = 1;
  bool revenue = false;
  std::vector<std::string> arms;
  std::vector<double> base_ctr, revenue_mean, revenue_sigma;
  std::vector<ContextSpec> contexts;
  std::vector<DriftSpec> drift;
  std::vector<PolicySpec> policies;
};

absl::StatusOr<int> PolicyKindOf(std::string type) {
  type = absl::AsciiStrToUpper(type);
  for (char& c : type) {
    if (c == '-') c = '_';
  }
  if (absl::StartsWith(type, "POLICY_TYPE_")) type = type.substr(12);
  static const std::map<std::string, int> kKinds = {{"CTR", 1},
                                                    {"UCB1", 2},
                                                    {"BUCB", 3},
                                                    {"THOMPSON", 4},
                                                    {"EPSILON_GREEDY", 5},
                                                    {"HOT_COLD", 6},
                                                    {"REWARD_UCB", 7},
                                                    {"REWARD_THOMPSON", 8},
                                                    {"LINUCB", 9},
                                                    {"KL_UCB", 10},
                                                    {"LIN_TS", 11},
                                                    {"RANDOM", 5}};
  auto it = kKinds.find(type);
  if (it == kKinds.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown policy type ", type));
  }
  return it->second;
}

double Num(const Struct& s, const std::string& key, double dflt) {
  auto it = s.fields().find(key);
  if (it == s.fields().end() || it->second.kind_case() != Value::kNumberValue) {
    return dflt;
  }
  return it->second.number_value();
}
std::string Str(const Struct& s, const std::string& key, std::string dflt) {
  auto it = s.fields().find(key);
  if (it == s.fields().end() || it->second.kind_case() != Value::kStringValue) {
    return dflt;
  }
  return it->second.string_value();
}
const Value* Field(const Struct& s, const std::string& key) {
  auto it = s.fields().find(key);
  return it == s.fields().end() ? nullptr : &it->second;
}

absl::StatusOr<Scenario> ParseScenario(const std::string& json) {
  Struct root;
  auto st = google::protobuf::util::JsonStringToMessage(json, &root);
  if (!st.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("scenario JSON: ", st.ToString()));
  }
  Scenario sc;
  sc.name = Str(root, "name", "scenario");
  sc.rounds = static_cast<int>(Num(root, "rounds", 1000));
  sc.runs = static_cast<int>(Num(root, "runs", 1));
  sc.seed = static_cast<uint64_t>(Num(root, "seed", 1));
  std::string reward = Str(root, "reward", "click");
  if (reward != "click" && reward != "revenue") {
    return absl::InvalidArgumentError("reward must be 'click' or 'revenue'");
  }
  sc.revenue = reward == "revenue";
  const Value* arms = Field(root, "arms");
  if (arms == nullptr || arms->list_value().values_size() == 0) {
    return absl::InvalidArgumentError("scenario needs at least one arm");
  }
  for (const Value& a : arms->list_value().values()) {
    const Struct& s = a.struct_value();
    sc.arms.push_back(Str(s, "id", ""));
    sc.base_ctr.push_back(Num(s, "ctr", 0));
    sc.revenue_mean.push_back(Num(s, "revenue_mean", 1));
    sc.revenue_sigma.push_back(Num(s, "revenue_sigma", 0));
  }
  if (const Value* ctxs = Field(root, "contexts")) {
    for (const Value& c : ctxs->list_value().values()) {
      const Struct& s = c.struct_value();
      ContextSpec cs;
      cs.item = Str(s, "item", "");
      cs.weight = Num(s, "weight", 1);
      if (const Value* ctr = Field(s, "ctr")) {
        for (const auto& [k, v] : ctr->struct_value().fields()) {
          cs.ctr[k] = v.number_value();
        }
      }
      if (const Value* f = Field(s, "features")) {
        for (const Value& x : f->list_value().values()) {
          cs.features.push_back(x.number_value());
        }
      }
      sc.contexts.push_back(std::move(cs));
    }
  }
  if (sc.contexts.empty()) sc.contexts.push_back(ContextSpec{});
  if (const Value* drift = Field(root, "drift")) {
    for (const Value& d : drift->list_value().values()) {
      const Struct& s = d.struct_value();
      DriftSpec ds;
      ds.round = static_cast<int>(Num(s, "round", 0));
      if (const Value* item = Field(s, "item")) ds.item = item->string_value();
      if (const Value* w = Field(s, "random_walk")) {
        ds.kind = DriftSpec::kWalk;
        ds.sd = Num(w->struct_value(), "sd", 0);
        ds.from = static_cast<int>(Num(w->struct_value(), "from", 1));
        ds.every =
            std::max(1, static_cast<int>(Num(w->struct_value(), "every", 1)));
        ds.to = static_cast<int>(Num(w->struct_value(), "to", 0));
      } else if (const Value* sw = Field(s, "swap")) {
        ds.kind = DriftSpec::kSwap;
        for (const Value& x : sw->list_value().values()) {
          ds.swap.push_back(x.string_value());
        }
        if (ds.swap.size() != 2) {
          return absl::InvalidArgumentError("drift swap needs two arms");
        }
      } else if (const Value* set = Field(s, "set")) {
        ds.kind = DriftSpec::kSet;
        for (const auto& [k, v] : set->struct_value().fields()) {
          ds.set[k] = v.number_value();
        }
      } else {
        return absl::InvalidArgumentError(
            "drift entry needs swap, set or random_walk");
      }
      sc.drift.push_back(std::move(ds));
    }
  }
  const Value* pols = Field(root, "policies");
  std::vector<Value> pol_values;
  if (pols != nullptr) {
    for (const Value& p : pols->list_value().values()) pol_values.push_back(p);
  } else {
    for (const char* t : {"UCB1", "THOMPSON", "RANDOM"}) {
      Value v;
      v.set_string_value(t);
      pol_values.push_back(v);
    }
  }
  for (const Value& p : pol_values) {
    PolicySpec ps;
    if (p.kind_case() == Value::kStringValue) {
      ps.type = p.string_value();
      ps.name = absl::AsciiStrToLower(ps.type);
    } else {
      const Struct& s = p.struct_value();
      ps.type = Str(s, "type", "");
      ps.name = Str(s, "name", absl::AsciiStrToLower(ps.type));
      for (const auto& [k, v] : s.fields()) {
        if (k == "name" || k == "type") continue;
        if (k == "decay_half_life_events") {
          ps.decay_half_life_events = v.number_value();
        } else if (k == "decay_half_life_seconds") {
          ps.decay_half_life_seconds = v.number_value();
        } else if (k == "linucb_lambda") {
          ps.linucb_lambda = v.number_value();
        } else {
          ps.params[k] = v.number_value();
        }
      }
    }
    ps.type = absl::AsciiStrToUpper(ps.type);
    for (char& c : ps.type) {
      if (c == '-') c = '_';
    }
    auto kind = PolicyKindOf(ps.type);
    if (!kind.ok()) return kind.status();
    ps.kind = *kind;
    if (ps.type == "RANDOM") ps.params["epsilon"] = 1.0;
    sc.policies.push_back(std::move(ps));
  }
  return sc;
}

// LINUCB and LIN_TS need the room's linear models and the features.
bool IsLinear(int kind) { return kind == 9 || kind == 11; }

// ---- engine adapters that compile whether or not the core has the newer
// fields (the core grows them as issue 6 lands) ----

template <typename P>
bool SetParam(P& p, const std::string& name, double v) {
#define BANDITD_SIM_PARAM(f)               \
  if (name == #f) {                        \
    if constexpr (requires { p.f = v; }) { \
      p.f = v;                             \
      return true;                         \
    } else {                               \
      return false;                        \
    }                                      \
  }
  BANDITD_SIM_PARAM(ucb_alpha)
  BANDITD_SIM_PARAM(bucb_z)
  BANDITD_SIM_PARAM(beta_prior_a)
  BANDITD_SIM_PARAM(beta_prior_b)
  BANDITD_SIM_PARAM(epsilon)
  BANDITD_SIM_PARAM(cold_max)
  BANDITD_SIM_PARAM(cold_steepness)
  BANDITD_SIM_PARAM(cold_threshold)
  BANDITD_SIM_PARAM(hot_max)
  BANDITD_SIM_PARAM(hot_steepness)
  BANDITD_SIM_PARAM(hot_threshold)
  BANDITD_SIM_PARAM(linucb_alpha)
  BANDITD_SIM_PARAM(prior_pseudo_views)
#undef BANDITD_SIM_PARAM
  return false;
}

template <typename M>
bool SetRoomExtras(M& m, const PolicySpec& spec, int dim) {
  if (spec.decay_half_life_events > 0 || spec.decay_half_life_seconds > 0) {
    if constexpr (requires { m.decay.half_life_events; }) {
      m.decay.half_life_events = spec.decay_half_life_events;
      m.decay.half_life_seconds = spec.decay_half_life_seconds;
    } else {
      return false;
    }
  }
  if (IsLinear(spec.kind)) {
    if constexpr (requires { m.linucb.dimension; }) {
      m.linucb.dimension = dim;
      if constexpr (requires { m.linucb.lambda; }) {
        if (spec.linucb_lambda > 0) m.linucb.lambda = spec.linucb_lambda;
      }
    } else {
      return false;
    }
  }
  return true;
}

template <typename T>
bool SetFeatures(T& x, const std::vector<double>& f) {
  if (f.empty()) return true;
  if constexpr (requires { x.features = f; }) {
    x.features = f;
    return true;
  } else {
    return false;
  }
}

class Sim {
 public:
  Sim(const Scenario& sc, core::Engine& engine, bool summary)
      : sc_(sc), engine_(engine), summary_(summary) {}

  // Creates a room for the policy; an error when the engine rejects it.
  absl::Status CreateRoom(const std::string& room, const PolicySpec& spec) {
    core::CreateRoom m;
    m.room_id = room;
    m.arm_ids = sc_.arms;
    m.policy =
        core::DefaultPolicyParams(static_cast<core::PolicyKind>(spec.kind));
    for (const auto& [k, v] : spec.params) {
      if (!SetParam(m.policy, k, v)) {
        return absl::UnimplementedError(
            absl::StrCat("policy parameter ", k, " not in this core"));
      }
    }
    if (!SetRoomExtras(m, spec, Dim())) {
      return absl::UnimplementedError("decay or LinUCB not in this core");
    }
    auto r = engine_.Apply(core::Mutation{std::move(m)});
    return r.ok() ? absl::OkStatus() : r.status();
  }

  absl::StatusOr<std::string> SampleOne(const std::string& room,
                                        const PolicySpec& spec,
                                        const ContextSpec& ctx, uint64_t seed) {
    core::SampleQuery q;
    q.room_id = room;
    q.k = 1;
    if (!ctx.item.empty()) q.context_items = {ctx.item};
    q.seed = seed;
    if (IsLinear(spec.kind) && !SetFeatures(q, ctx.features)) {
      return absl::UnimplementedError("Sample features not in this core");
    }
    auto r = engine_.Sample(q);
    if (!r.ok()) return r.status();
    if (r->arms.empty()) return absl::InternalError("Sample returned no arm");
    return r->arms[0].arm_id;
  }

  core::FeedbackEvent MakeEvent(const std::string& room, const PolicySpec& spec,
                                const ContextSpec& ctx, const std::string& arm,
                                int clicks, double reward) {
    core::FeedbackEvent e;
    e.room_id = room;
    e.arm_id = arm;
    e.views = 1;
    e.clicks = clicks;
    if (!ctx.item.empty()) e.context_items = {ctx.item};
    if (sc_.revenue) e.reward = reward;
    if (IsLinear(spec.kind)) SetFeatures(e, ctx.features);
    return e;
  }

  // True when the engine accepts a room of this policy end to end.
  absl::Status Probe(const PolicySpec& spec) {
    std::string room = absl::StrCat("probe-", NameHash(spec.name));
    if (auto st = CreateRoom(room, spec); !st.ok()) return st;
    ContextSpec ctx = sc_.contexts[0];
    auto arm = SampleOne(room, spec, ctx, 1);
    absl::Status st = arm.status();
    if (st.ok()) {
      auto r = engine_.Apply(core::Mutation{
          core::FeedbackBatch{{MakeEvent(room, spec, ctx, *arm, 1, 1.0)}}});
      st = r.status();
    }
    if (st.ok()) st = SampleOne(room, spec, ctx, 2).status();
    (void)engine_.Apply(core::Mutation{core::DeleteRoom{room}});
    return st;
  }

  int Dim() const { return static_cast<int>(sc_.contexts[0].features.size()); }

  absl::Status Run(const std::vector<PolicySpec>& pols, std::ostream& out) {
    const int n = static_cast<int>(sc_.arms.size());
    std::map<std::string, int> index;
    for (int a = 0; a < n; ++a) index[sc_.arms[a]] = a;
    for (int run = 0; run < sc_.runs; ++run) {
      const uint64_t seed = sc_.seed + run;
      // Environment state: ctr[context][arm].
      std::vector<std::vector<double>> ctr;
      for (const ContextSpec& c : sc_.contexts) {
        std::vector<double> row;
        for (int a = 0; a < n; ++a) {
          auto it = c.ctr.find(sc_.arms[a]);
          row.push_back(it != c.ctr.end() ? it->second : sc_.base_ctr[a]);
        }
        ctr.push_back(std::move(row));
      }
      double total = 0;
      for (const ContextSpec& c : sc_.contexts) total += c.weight;
      std::vector<double> cum;
      double acc = 0;
      for (const ContextSpec& c : sc_.contexts) {
        acc += c.weight / total;
        cum.push_back(acc);
      }
      std::vector<std::string> rooms;
      for (size_t p = 0; p < pols.size(); ++p) {
        rooms.push_back(absl::StrCat("sim-r", run, "-p", p));
        if (auto st = CreateRoom(rooms.back(), pols[p]); !st.ok()) return st;
      }
      std::vector<double> regret(pols.size(), 0.0);
      std::vector<int> best_pulls(pols.size(), 0);
      auto expected = [&](int ci, int a) {
        return sc_.revenue ? ctr[ci][a] * sc_.revenue_mean[a] : ctr[ci][a];
      };
      for (int t = 1; t <= sc_.rounds; ++t) {
        for (const DriftSpec& d : sc_.drift) {
          if (d.kind == DriftSpec::kWalk) {
            int end = d.to > 0 ? d.to : sc_.rounds;
            if (t >= d.from && t <= end && (t - d.from) % d.every == 0) {
              for (size_t ci = 0; ci < ctr.size(); ++ci) {
                for (int a = 0; a < n; ++a) {
                  double v = ctr[ci][a] +
                             d.sd * Normal(seed, kStreamWalk, t, ci * n + a);
                  ctr[ci][a] = std::min(1.0, std::max(0.0, v));
                }
              }
            }
            continue;
          }
          if (d.round != t) continue;
          for (size_t ci = 0; ci < ctr.size(); ++ci) {
            if (d.item && *d.item != sc_.contexts[ci].item) continue;
            if (d.kind == DriftSpec::kSwap) {
              std::swap(ctr[ci][index.at(d.swap[0])],
                        ctr[ci][index.at(d.swap[1])]);
            } else {
              for (const auto& [arm, v] : d.set) ctr[ci][index.at(arm)] = v;
            }
          }
        }
        double u = Uniform(seed, kStreamContext, t, 0);
        int ci = static_cast<int>(cum.size()) - 1;
        for (size_t i = 0; i < cum.size(); ++i) {
          if (u < cum[i]) {
            ci = static_cast<int>(i);
            break;
          }
        }
        const ContextSpec& ctx = sc_.contexts[ci];
        int best = 0;
        for (int a = 1; a < n; ++a) {
          if (expected(ci, a) > expected(ci, best)) best = a;
        }
        const double best_v = expected(ci, best);
        core::FeedbackBatch batch;
        for (size_t p = 0; p < pols.size(); ++p) {
          auto arm =
              SampleOne(rooms[p], pols[p], ctx,
                        Key(seed, kStreamSeed, t, NameHash(pols[p].name)));
          if (!arm.ok()) return arm.status();
          int a = index.at(*arm);
          int clicks = Uniform(seed, kStreamClick, t, a) < ctr[ci][a] ? 1 : 0;
          double reward = clicks;
          if (sc_.revenue && clicks) {
            double s = sc_.revenue_sigma[a];
            double z = Normal(seed, kStreamRevenue, t, a);
            reward = sc_.revenue_mean[a] * std::exp(s * z - 0.5 * s * s);
          }
          regret[p] += best_v - expected(ci, a);
          if (a == best) ++best_pulls[p];
          batch.events.push_back(
              MakeEvent(rooms[p], pols[p], ctx, *arm, clicks, reward));
          if (summary_) continue;
          out << run << ',' << t << ',' << pols[p].name << ',' << *arm << ','
              << sc_.arms[best] << ',' << absl::StrFormat("%.6f", reward) << ','
              << absl::StrFormat("%.6f", regret[p]) << '\n';
        }
        auto r = engine_.Apply(core::Mutation{std::move(batch)});
        if (!r.ok()) return r.status();
      }
      for (const std::string& room : rooms) {
        (void)engine_.Apply(core::Mutation{core::DeleteRoom{room}});
      }
      for (size_t p = 0; p < pols.size(); ++p) {
        if (summary_) {
          out << run << ',' << pols[p].name << ','
              << absl::StrFormat("%.6f", regret[p]) << ',' << best_pulls[p]
              << ',' << sc_.rounds << '\n';
        } else {
          std::cerr << absl::StrFormat("run %d %-20s final regret %.3f\n", run,
                                       pols[p].name, regret[p]);
        }
      }
    }
    return absl::OkStatus();
  }

 private:
  const Scenario& sc_;
  core::Engine& engine_;
  const bool summary_;
};

int Main() {
  const std::string path = absl::GetFlag(FLAGS_scenario);
  if (path.empty()) {
    std::cerr << "banditd_sim: --scenario is required\n";
    return 2;
  }
  std::ifstream in(path);
  if (!in) {
    std::cerr << "banditd_sim: cannot read " << path << "\n";
    return 2;
  }
  std::stringstream buf;
  buf << in.rdbuf();
  auto sc = ParseScenario(buf.str());
  if (!sc.ok()) {
    std::cerr << "banditd_sim: " << sc.status() << "\n";
    return 2;
  }
  if (absl::GetFlag(FLAGS_rounds) > 0) sc->rounds = absl::GetFlag(FLAGS_rounds);
  if (absl::GetFlag(FLAGS_runs) > 0) sc->runs = absl::GetFlag(FLAGS_runs);
  if (absl::GetFlag(FLAGS_seed) >= 0) {
    sc->seed = static_cast<uint64_t>(absl::GetFlag(FLAGS_seed));
  }
  std::vector<PolicySpec> pols;
  std::string only = absl::GetFlag(FLAGS_policies);
  if (only.empty()) {
    pols = sc->policies;
  } else {
    for (absl::string_view name :
         absl::StrSplit(only, ',', absl::SkipEmpty())) {
      bool found = false;
      for (const PolicySpec& p : sc->policies) {
        if (p.name == name) {
          pols.push_back(p);
          found = true;
        }
      }
      if (!found) {
        std::cerr << "banditd_sim: no policy named " << name << "\n";
        return 2;
      }
    }
  }
  core::Engine engine;
  Sim sim(*sc, engine, absl::GetFlag(FLAGS_summary));
  std::vector<PolicySpec> ok;
  for (const PolicySpec& p : pols) {
    absl::Status st = sim.Probe(p);
    if (st.ok()) {
      ok.push_back(p);
    } else if (absl::GetFlag(FLAGS_strict)) {
      std::cerr << "banditd_sim: policy " << p.name << ": " << st << "\n";
      return 1;
    } else {
      std::cerr << "banditd_sim: skipping policy " << p.name
                << " (not supported by this engine: " << st << ")\n";
    }
  }
  std::ofstream file;
  std::ostream* out = &std::cout;
  if (absl::GetFlag(FLAGS_out) != "-") {
    file.open(absl::GetFlag(FLAGS_out));
    if (!file) {
      std::cerr << "banditd_sim: cannot write " << absl::GetFlag(FLAGS_out)
                << "\n";
      return 2;
    }
    out = &file;
  }
  *out << (absl::GetFlag(FLAGS_summary)
               ? "run,policy,final_regret,best_arm_pulls,rounds\n"
               : "run,round,policy,chosen_arm,best_arm,reward,cumulative_"
                 "regret\n");
  absl::Status st = sim.Run(ok, *out);
  if (!st.ok()) {
    std::cerr << "banditd_sim: " << st << "\n";
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return Main();
}
