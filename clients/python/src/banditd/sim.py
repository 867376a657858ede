"""Bandit simulator: synthetic arms, policies driven through banditd, regret.

A *scenario* (JSON, see docs/SIMULATION.md) describes arms with true click
rates (and optionally revenue per click), optional context items with their
own rates, optional drift, and the policies to compare. :func:`run_grpc`
plays it against a real banditd server; ``banditd_sim`` (tools/sim) plays the
same scenario in-process against the C++ core. Both write the same CSV:

    run,round,policy,chosen_arm,best_arm,reward,cumulative_regret

Every random outcome of the environment (which context item arrives, whether
a shown arm is clicked, the revenue of a click, random-walk steps, the seed of
each Sample call) is a pure function of (scenario seed + run, round, arm) via
SplitMix64, implemented identically here and in tools/sim/sim_main.cc, so
both paths see exactly the same world and, since the server and the
in-process engine run the same code with the same Sample seeds, make the same
choices.
"""

from __future__ import annotations

import csv
import json
import math
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, IO, Iterable, List, Optional, Sequence, Tuple, Union

from .v1 import banditd_pb2 as pb

__all__ = [
    "CSV_COLUMNS",
    "PolicySpec",
    "Scenario",
    "Environment",
    "load_scenario",
    "policy_type",
    "run_grpc",
    "write_csv",
    "read_csv",
    "final_regret",
    "server_accepts",
]

CSV_COLUMNS = ("run", "round", "policy", "chosen_arm", "best_arm", "reward", "cumulative_regret")

# Random streams (kept in sync with tools/sim/sim_main.cc).
STREAM_CLICK = 1
STREAM_CONTEXT = 2
STREAM_REVENUE = 3
STREAM_WALK = 4
STREAM_SEED = 5
STREAM_OFFLINE = 6

_MASK = (1 << 64) - 1


def splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def rng_key(seed: int, stream: int, rnd: int, idx: int) -> int:
    """A 64-bit pseudo-random value determined by its four arguments."""
    h = splitmix64((seed & _MASK) ^ ((stream * 0x100000001B3) & _MASK))
    h = splitmix64(h ^ (rnd & _MASK))
    return splitmix64(h ^ (idx & _MASK))


def rng_uniform(seed: int, stream: int, rnd: int, idx: int) -> float:
    """Uniform in [0, 1) with 53 bits."""
    return (rng_key(seed, stream, rnd, idx) >> 11) * (1.0 / 9007199254740992.0)


def rng_normal(seed: int, stream: int, rnd: int, idx: int) -> float:
    """Standard normal (Box-Muller on two keyed uniforms)."""
    u1 = rng_uniform(seed, stream, rnd, 2 * idx)
    u2 = rng_uniform(seed, stream, rnd, 2 * idx + 1)
    return math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)


def name_hash(name: str) -> int:
    """FNV-1a 64 of a UTF-8 string (identifies a policy in seeds)."""
    h = 0xCBF29CE484222325
    for b in name.encode():
        h = ((h ^ b) * 0x100000001B3) & _MASK
    return h


# -- scenario -------------------------------------------------------------

_POLICY_PARAMS = tuple(f.name for f in pb.Policy.DESCRIPTOR.fields if f.name != "type")
# Scenario-only policy keys (not Policy fields).
_ROOM_KEYS = ("decay_half_life_events", "decay_half_life_seconds", "linucb_lambda")


def policy_type(name: str) -> int:
    """PolicyType value of "ucb1", "UCB1", "epsilon-greedy" or "POLICY_TYPE_UCB1"."""
    n = name.strip().upper().replace("-", "_")
    if n.startswith("POLICY_TYPE_"):
        n = n[len("POLICY_TYPE_"):]
    try:
        return pb.PolicyType.Value("POLICY_TYPE_" + n)
    except ValueError:
        raise ValueError(f"unknown policy type {name!r}; one of "
                         f"{[k[12:] for k in pb.PolicyType.keys()[1:]] + ['RANDOM']}") from None


@dataclass
class PolicySpec:
    """One policy of a scenario: a name (CSV label), a type and parameters.

    Type RANDOM is uniform random play: EPSILON_GREEDY with epsilon 1 run by
    the server like any other policy."""

    name: str
    type: str
    params: Dict[str, float] = field(default_factory=dict)
    decay_half_life_events: float = 0.0
    decay_half_life_seconds: float = 0.0
    linucb_lambda: float = 0.0

    @classmethod
    def parse(cls, obj: Union[str, Dict[str, Any]]) -> "PolicySpec":
        if isinstance(obj, str):
            obj = {"type": obj}
        obj = dict(obj)
        t = str(obj.pop("type"))
        name = str(obj.pop("name", t.lower()))
        spec = cls(name=name, type=t.upper().replace("-", "_"))
        for k in _ROOM_KEYS:
            if k in obj:
                setattr(spec, k, float(obj.pop(k)))
        for k, v in obj.items():
            if k not in _POLICY_PARAMS:
                raise ValueError(f"policy {name!r}: unknown parameter {k!r}")
            spec.params[k] = float(v)
        if spec.type == "RANDOM":
            spec.params["epsilon"] = 1.0
        else:
            policy_type(spec.type)
        return spec

    @property
    def type_value(self) -> int:
        return policy_type("EPSILON_GREEDY" if self.type == "RANDOM" else self.type)

    @property
    def is_linucb(self) -> bool:
        return self.type_value in (pb.POLICY_TYPE_LINUCB, pb.POLICY_TYPE_LIN_TS)

    def to_proto(self) -> pb.Policy:
        p = pb.Policy(type=self.type_value)
        for k, v in self.params.items():
            setattr(p, k, v)
        return p


@dataclass
class Context:
    item: str  # "" = no context item
    weight: float
    ctr: Dict[str, float]  # overrides of the arms' base rates
    features: List[float]


@dataclass
class Scenario:
    name: str
    rounds: int
    runs: int
    seed: int
    reward: str  # "click" or "revenue"
    arm_ids: List[str]
    base_ctr: List[float]
    revenue_mean: List[float]
    revenue_sigma: List[float]
    contexts: List[Context]
    drift: List[Dict[str, Any]]
    policies: List[PolicySpec]

    @property
    def feature_dim(self) -> int:
        return len(self.contexts[0].features) if self.contexts else 0

    def with_policies(self, names_or_specs: Sequence[Union[str, PolicySpec]]) -> "Scenario":
        """A copy restricted to (or replaced by) these policies."""
        by_name = {p.name: p for p in self.policies}
        chosen = [by_name[x] if isinstance(x, str) and x in by_name
                  else (x if isinstance(x, PolicySpec) else PolicySpec.parse(x))
                  for x in names_or_specs]
        return Scenario(**{**self.__dict__, "policies": chosen})

    def to_json(self) -> Dict[str, Any]:
        """The scenario as JSON (what banditd_sim reads)."""
        pols = []
        for p in self.policies:
            d: Dict[str, Any] = {"name": p.name, "type": p.type}
            d.update({k: v for k, v in p.params.items() if not (p.type == "RANDOM" and k == "epsilon")})
            for k in _ROOM_KEYS:
                if getattr(p, k):
                    d[k] = getattr(p, k)
            pols.append(d)
        arms = [{"id": a, "ctr": c, "revenue_mean": m, "revenue_sigma": s}
                for a, c, m, s in zip(self.arm_ids, self.base_ctr, self.revenue_mean, self.revenue_sigma)]
        ctxs = [{"item": c.item, "weight": c.weight, "ctr": c.ctr, "features": c.features}
                for c in self.contexts if c.item]
        return {"name": self.name, "rounds": self.rounds, "runs": self.runs, "seed": self.seed,
                "reward": self.reward, "arms": arms, "contexts": ctxs, "drift": self.drift,
                "policies": pols}


def parse_scenario(obj: Dict[str, Any]) -> Scenario:
    arms = obj["arms"]
    if not arms:
        raise ValueError("scenario needs at least one arm")
    arm_ids = [str(a["id"]) for a in arms]
    if len(set(arm_ids)) != len(arm_ids):
        raise ValueError("arm ids must be unique")
    contexts = []
    for c in obj.get("contexts") or []:
        ctr = {str(k): float(v) for k, v in (c.get("ctr") or {}).items()}
        for k in ctr:
            if k not in arm_ids:
                raise ValueError(f"context {c['item']!r}: unknown arm {k!r}")
        contexts.append(Context(str(c["item"]), float(c.get("weight", 1.0)), ctr,
                                [float(x) for x in c.get("features") or []]))
    if not contexts:
        contexts = [Context("", 1.0, {}, [])]
    dims = {len(c.features) for c in contexts}
    if len(dims) != 1:
        raise ValueError("every context must have the same number of features")
    reward = obj.get("reward", "click")
    if reward not in ("click", "revenue"):
        raise ValueError("reward must be 'click' or 'revenue'")
    for d in obj.get("drift") or []:
        if not any(k in d for k in ("swap", "set", "random_walk")):
            raise ValueError(f"drift entry needs swap, set or random_walk: {d}")
        for a in list(d.get("swap") or []) + list((d.get("set") or {}).keys()):
            if a not in arm_ids:
                raise ValueError(f"drift: unknown arm {a!r}")
    return Scenario(
        name=str(obj.get("name", "scenario")),
        rounds=int(obj.get("rounds", 1000)),
        runs=int(obj.get("runs", 1)),
        seed=int(obj.get("seed", 1)),
        reward=reward,
        arm_ids=arm_ids,
        base_ctr=[float(a.get("ctr", 0.0)) for a in arms],
        revenue_mean=[float(a.get("revenue_mean", 1.0)) for a in arms],
        revenue_sigma=[float(a.get("revenue_sigma", 0.0)) for a in arms],
        contexts=contexts,
        drift=list(obj.get("drift") or []),
        policies=[PolicySpec.parse(p) for p in obj.get("policies") or ["UCB1", "THOMPSON", "RANDOM"]],
    )


def load_scenario(path: Union[str, Path]) -> Scenario:
    return parse_scenario(json.loads(Path(path).read_text()))


# -- environment ----------------------------------------------------------

class Environment:
    """The true world of one run: per (context, arm) click rates that may
    drift, clicks and revenue drawn from keyed random streams."""

    def __init__(self, sc: Scenario, run: int) -> None:
        self.sc = sc
        self.seed = sc.seed + run
        self.ctr = [[c.ctr.get(a, base) for a, base in zip(sc.arm_ids, sc.base_ctr)]
                    for c in sc.contexts]
        total = sum(c.weight for c in sc.contexts)
        acc, self.cum = 0.0, []
        for c in sc.contexts:
            acc += c.weight / total
            self.cum.append(acc)
        self.index = {a: i for i, a in enumerate(sc.arm_ids)}

    def begin_round(self, t: int) -> int:
        """Applies drift due at round t (1-based); returns the context index."""
        for d in self.sc.drift:
            if "random_walk" in d:
                w = d["random_walk"]
                start, every = int(w.get("from", 1)), max(1, int(w.get("every", 1)))
                end = int(w.get("to", self.sc.rounds))
                if start <= t <= end and (t - start) % every == 0:
                    sd = float(w["sd"])
                    n = len(self.sc.arm_ids)
                    for ci, row in enumerate(self.ctr):
                        for a in range(n):
                            v = row[a] + sd * rng_normal(self.seed, STREAM_WALK, t, ci * n + a)
                            row[a] = min(1.0, max(0.0, v))
            elif int(d["round"]) == t:
                items = d.get("item")
                rows = [ci for ci, c in enumerate(self.sc.contexts) if items in (None, c.item)]
                if "swap" in d:
                    i, j = (self.index[a] for a in d["swap"])
                    for ci in rows:
                        r = self.ctr[ci]
                        r[i], r[j] = r[j], r[i]
                if "set" in d:
                    for a, v in d["set"].items():
                        for ci in rows:
                            self.ctr[ci][self.index[a]] = float(v)
        u = rng_uniform(self.seed, STREAM_CONTEXT, t, 0)
        for ci, c in enumerate(self.cum):
            if u < c:
                return ci
        return len(self.cum) - 1

    def expected(self, ci: int, a: int) -> float:
        r = self.ctr[ci][a]
        return r * self.sc.revenue_mean[a] if self.sc.reward == "revenue" else r

    def best(self, ci: int) -> int:
        vals = [self.expected(ci, a) for a in range(len(self.sc.arm_ids))]
        return max(range(len(vals)), key=lambda a: (vals[a], -a))

    def outcome(self, t: int, ci: int, a: int) -> Tuple[int, float]:
        """(clicks, reward) of showing arm a at round t."""
        click = 1 if rng_uniform(self.seed, STREAM_CLICK, t, a) < self.ctr[ci][a] else 0
        if self.sc.reward != "revenue":
            return click, float(click)
        if not click:
            return 0, 0.0
        s = self.sc.revenue_sigma[a]
        z = rng_normal(self.seed, STREAM_REVENUE, t, a)
        return 1, self.sc.revenue_mean[a] * math.exp(s * z - 0.5 * s * s)


# -- running through the server ------------------------------------------

def _stub(client_or_stub: Any) -> Any:
    return getattr(client_or_stub, "stub", client_or_stub)


def _create_room(stub: Any, room: str, arms: Sequence[str], spec: PolicySpec, dim: int) -> None:
    req = pb.CreateRoomRequest(room_id=room, arm_ids=list(arms), policy=spec.to_proto())
    if spec.decay_half_life_events:
        req.decay.half_life_events = spec.decay_half_life_events
    if spec.decay_half_life_seconds:
        req.decay.half_life_seconds = spec.decay_half_life_seconds
    if spec.is_linucb:
        req.linucb.dimension = dim
        if spec.linucb_lambda:
            req.linucb.__setattr__("lambda", spec.linucb_lambda)
    stub.CreateRoom(req, timeout=10)


def server_accepts(client: Any, spec: Union[str, PolicySpec], dim: int = 2) -> bool:
    """True when the server creates, samples and takes feedback for a room of
    this policy (new policy types may not be implemented yet)."""
    import grpc

    if isinstance(spec, str):
        spec = PolicySpec.parse(spec)
    stub = _stub(client)
    room = f"probe-{uuid.uuid4().hex[:10]}"
    feats = [1.0] * dim if spec.is_linucb else []
    try:
        _create_room(stub, room, ["a", "b"], spec, dim)
        r = stub.Sample(pb.SampleRequest(room_id=room, k=1, seed=1, features=feats), timeout=10)
        arm = r.arms[0].arm_id
        stub.Feedback(pb.FeedbackRequest(events=[pb.FeedbackEvent(
            room_id=room, arm_id=arm, views=1, clicks=1, reward=2.0, features=feats)]), timeout=10)
        stub.Sample(pb.SampleRequest(room_id=room, k=1, seed=2, features=feats), timeout=10)
        return True
    except grpc.RpcError:
        return False
    finally:
        try:
            stub.DeleteRoom(pb.DeleteRoomRequest(room_id=room), timeout=10)
        except grpc.RpcError:
            pass


Row = Tuple[int, int, str, str, str, float, float]


def run_grpc(client: Any, sc: Scenario, *, room_prefix: Optional[str] = None,
             keep_rooms: bool = False, parallel: bool = True) -> List[Row]:
    """Plays every run of the scenario against the server; returns CSV rows.

    Each (run, policy) gets a fresh room. A round is one Sample per policy
    (concurrently) and one Feedback batch carrying every policy's event."""
    stub = _stub(client)
    prefix = room_prefix or f"sim-{uuid.uuid4().hex[:8]}"
    rows: List[Row] = []
    dim = sc.feature_dim
    pool = ThreadPoolExecutor(max_workers=min(8, max(1, len(sc.policies)))) if parallel else None
    try:
        for run in range(sc.runs):
            env = Environment(sc, run)
            rooms = []
            for pi, spec in enumerate(sc.policies):
                room = f"{prefix}-r{run}-p{pi}"
                _create_room(stub, room, sc.arm_ids, spec, dim)
                rooms.append(room)
            regret = [0.0] * len(sc.policies)
            for t in range(1, sc.rounds + 1):
                ci = env.begin_round(t)
                ctx = sc.contexts[ci]
                items = [ctx.item] if ctx.item else []
                reqs = []
                for pi, spec in enumerate(sc.policies):
                    reqs.append(pb.SampleRequest(
                        room_id=rooms[pi], k=1, context_items=items,
                        seed=rng_key(env.seed, STREAM_SEED, t, name_hash(spec.name)),
                        features=ctx.features if spec.is_linucb else []))
                if pool:
                    resps = list(pool.map(lambda r: stub.Sample(r, timeout=30), reqs))
                else:
                    resps = [stub.Sample(r, timeout=30) for r in reqs]
                best = env.best(ci)
                best_v = env.expected(ci, best)
                events = []
                for pi, (spec, resp) in enumerate(zip(sc.policies, resps)):
                    arm_id = resp.arms[0].arm_id
                    a = env.index[arm_id]
                    clicks, reward = env.outcome(t, ci, a)
                    regret[pi] += best_v - env.expected(ci, a)
                    ev = pb.FeedbackEvent(room_id=rooms[pi], arm_id=arm_id, views=1,
                                          clicks=clicks, context_items=items,
                                          features=ctx.features if spec.is_linucb else [])
                    if sc.reward == "revenue":
                        ev.reward = reward
                    events.append(ev)
                    rows.append((run, t, spec.name, arm_id, sc.arm_ids[best], reward, regret[pi]))
                stub.Feedback(pb.FeedbackRequest(events=events), timeout=30)
            if not keep_rooms:
                for room in rooms:
                    stub.DeleteRoom(pb.DeleteRoomRequest(room_id=room), timeout=10)
    finally:
        if pool:
            pool.shutdown()
    return rows


# -- CSV ------------------------------------------------------------------

def write_csv(rows: Iterable[Row], out: Union[str, Path, IO[str]]) -> None:
    def emit(f: IO[str]) -> None:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(CSV_COLUMNS)
        for run, t, pol, arm, best, reward, reg in rows:
            w.writerow((run, t, pol, arm, best, f"{reward:.6f}", f"{reg:.6f}"))

    if isinstance(out, (str, Path)):
        with open(out, "w", newline="") as f:
            emit(f)
    else:
        emit(out)


def read_csv(path: Union[str, Path]) -> List[Dict[str, Any]]:
    with open(path, newline="") as f:
        out = []
        for r in csv.DictReader(f):
            r["run"], r["round"] = int(r["run"]), int(r["round"])
            r["reward"], r["cumulative_regret"] = float(r["reward"]), float(r["cumulative_regret"])
            out.append(r)
        return out


def final_regret(rows: Iterable[Dict[str, Any]]) -> Dict[str, float]:
    """Cumulative regret at the last round per policy, averaged over runs."""
    last: Dict[Tuple[str, int], Tuple[int, float]] = {}
    for r in rows:
        key = (r["policy"], r["run"])
        if key not in last or r["round"] > last[key][0]:
            last[key] = (r["round"], r["cumulative_regret"])
    by_policy: Dict[str, List[float]] = {}
    for (pol, _), (_, reg) in last.items():
        by_policy.setdefault(pol, []).append(reg)
    return {p: sum(v) / len(v) for p, v in by_policy.items()}
