"""Offline policy evaluation from a log of past decisions, through banditd.

Each policy is driven through a real server (a fresh room per policy) over
the logged events in order: Sample (with the event's context, candidate set
and a per-event seed), then Feedback only when the policy's top arm equals
the logged arm (the replay method of Li et al., WSDM 2011). From that one pass
come the replay and inverse-propensity estimates of the policy's CTR and the
rank metrics at k. Definitions: docs/SIMULATION.md.

Log columns (CSV, or Parquet when pyarrow is installed):

    arm          the arm that was shown (required)
    reward       its reward: 0/1 clicks, or a value such as revenue (required)
    context      context items separated by ';' (optional)
    propensity   probability the logging policy showed that arm (optional)
    candidates   arms that were eligible, separated by ';' (optional)
    features     numeric features separated by ';', for LINUCB (optional)

Any other column (event ids, timestamps) is ignored; rows are replayed in
file order.
"""

from __future__ import annotations

import csv
import math
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple, Union

from . import sim
from .v1 import banditd_pb2 as pb

__all__ = [
    "LoggedEvent",
    "PropensityError",
    "estimate_propensities",
    "log_arms",
    "OfflinePolicy",
    "OfflineResult",
    "read_log",
    "relevance_sets",
    "evaluate",
    "markdown_table",
    "write_results_csv",
    "LOG_COLUMNS",
    "decision_rows",
    "write_log",
]


@dataclass
class LoggedEvent:
    arm: str
    reward: float
    context: List[str] = field(default_factory=list)
    propensity: Optional[float] = None
    candidates: List[str] = field(default_factory=list)
    features: List[float] = field(default_factory=list)

    @property
    def context_key(self) -> str:
        return ";".join(sorted(set(self.context)))


def _split(v: Any) -> List[str]:
    if v is None:
        return []
    if isinstance(v, (list, tuple)):
        return [str(x) for x in v]
    s = str(v).strip()
    return [x for x in s.split(";") if x] if s else []


def _event(row: Dict[str, Any]) -> LoggedEvent:
    prop = row.get("propensity")
    prop = None if prop in (None, "") else float(prop)
    if prop is not None and not 0 < prop <= 1:
        raise ValueError(f"propensity must be in (0, 1]: {prop}")
    return LoggedEvent(
        arm=str(row["arm"]),
        reward=float(row["reward"]),
        context=_split(row.get("context")),
        propensity=prop,
        candidates=_split(row.get("candidates")),
        features=[float(x) for x in _split(row.get("features"))],
    )


def read_log(path: Union[str, Path]) -> List[LoggedEvent]:
    """Reads a CSV or (with pyarrow) Parquet decision log."""
    path = Path(path)
    if path.suffix in (".parquet", ".pq"):
        import pyarrow.parquet as pq  # optional dependency

        rows = pq.read_table(path).to_pylist()
    else:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    if rows and ("arm" not in rows[0] or "reward" not in rows[0]):
        raise ValueError(f"{path}: the log needs columns 'arm' and 'reward'")
    return [_event(r) for r in rows]


def relevance_sets(events: Sequence[LoggedEvent], min_support: int = 10) -> Dict[str, Set[str]]:
    """Per context key, the arms that are relevant in hindsight: shown at
    least ``min_support`` times in that context with a mean logged reward
    above the context's mean logged reward (events weighted by 1/propensity
    when propensities are known)."""
    num: Dict[Tuple[str, str], float] = defaultdict(float)
    den: Dict[Tuple[str, str], float] = defaultdict(float)
    shows: Counter = Counter()
    ctx_num: Dict[str, float] = defaultdict(float)
    ctx_den: Dict[str, float] = defaultdict(float)
    for e in events:
        w = 1.0 / e.propensity if e.propensity else 1.0
        key = (e.context_key, e.arm)
        num[key] += w * e.reward
        den[key] += w
        shows[key] += 1
        ctx_num[e.context_key] += e.reward
        ctx_den[e.context_key] += 1
    out: Dict[str, Set[str]] = defaultdict(set)
    for (ctx, arm), n in shows.items():
        if n >= min_support and num[(ctx, arm)] / den[(ctx, arm)] > ctx_num[ctx] / ctx_den[ctx]:
            out[ctx].add(arm)
    return dict(out)


@dataclass
class OfflinePolicy:
    """A server policy (``spec``) or a fixed baseline that always ranks
    ``fixed_arm`` first (then the other candidates in log order)."""

    name: str
    spec: Optional[sim.PolicySpec] = None
    fixed_arm: Optional[str] = None

    @classmethod
    def parse(cls, obj: Union[str, Dict[str, Any], "OfflinePolicy", sim.PolicySpec]) -> "OfflinePolicy":
        """Accepts "ucb1", "fixed:a3", "epsilon_greedy:epsilon=0.2",
        "name=thompson:beta_prior_a=2", a scenario-style dict, a PolicySpec."""
        if isinstance(obj, OfflinePolicy):
            return obj
        if isinstance(obj, sim.PolicySpec):
            return cls(obj.name, spec=obj)
        if isinstance(obj, dict):
            if str(obj.get("type", "")).upper() == "FIXED":
                arm = str(obj["arm"])
                return cls(str(obj.get("name", f"always-{arm}")), fixed_arm=arm)
            spec = sim.PolicySpec.parse(obj)
            return cls(spec.name, spec=spec)
        s = obj.strip()
        name = None
        if "=" in s.split(":", 1)[0]:
            name, s = s.split("=", 1)
        parts = s.split(":")
        if parts[0].upper() == "FIXED":
            return cls(name or f"always-{parts[1]}", fixed_arm=parts[1])
        d: Dict[str, Any] = {"type": parts[0], "name": name or s}
        for p in parts[1:]:
            k, v = p.split("=", 1)
            d[k] = float(v)
        spec = sim.PolicySpec.parse(d)
        return cls(spec.name, spec=spec)


@dataclass
class OfflineResult:
    policy: str
    events: int = 0
    matched: int = 0
    replay_ctr: Optional[float] = None
    ips_ctr: float = 0.0
    snips_ctr: Optional[float] = None
    hits_at_k: int = 0
    ctr_at_k: Optional[float] = None
    precision_at_k: float = 0.0
    recall_at_k: Optional[float] = None
    propensity_estimated: bool = False
    # "logged", or how they were estimated: "uniform" (1/|C|) or
    # "frequency" (per context and candidate set); see estimate_propensities.
    propensity_model: str = "logged"
    replay_curve: List[float] = field(default_factory=list)

    def row(self) -> Dict[str, Any]:
        d = dict(self.__dict__)
        d.pop("replay_curve")
        return d


# Columns of a log written by write_log: the ones read_log reads, then
# context that read_log ignores.
LOG_COLUMNS = (
    "arm", "reward", "context", "propensity", "candidates", "features",
    "decision_id", "room_id", "segment", "time_micros", "k", "views", "clicks",
)


def decision_rows(decisions: Any, *, only_with_outcomes: bool = False) -> List[Dict[str, Any]]:
    """Rows of a decision log (``banditd.v1.LoggedDecision`` messages, as
    ``Client.export_decisions`` yields them) in the format read_log reads:
    one row per decision, for the arm it returned first. ``reward`` is the
    reward reported for that arm (a click without a reward counting 1; 0
    when nothing was reported), ``propensity`` the server's (for k = 1 the
    probability of returning that arm first; for k > 1 of returning it in
    the top k), ``candidates`` the request's candidate arms minus its
    exclusions (empty: every arm, as read_log takes it). With
    ``only_with_outcomes``, decisions whose first arm got no reported views
    are left out."""
    rows = []
    for d in decisions:
        if not d.arms:
            continue
        first = d.arms[0]
        if only_with_outcomes and first.views == 0:
            continue
        excluded = set(d.excluded_arm_ids)
        rows.append({
            "arm": first.arm_id,
            "reward": first.reward,
            "context": ";".join(d.context_items),
            "propensity": first.propensity if first.propensity > 0 else "",
            "candidates": ";".join(a for a in d.candidate_arm_ids if a not in excluded),
            "features": ";".join(repr(float(x)) for x in d.features),
            "decision_id": d.decision_id,
            "room_id": d.room_id,
            "segment": d.segment,
            "time_micros": d.time_micros,
            "k": d.k,
            "views": first.views,
            "clicks": first.clicks,
        })
    return rows


def write_log(rows: Sequence[Dict[str, Any]], path: Union[str, Path]) -> None:
    """Writes rows (decision_rows) as CSV, or Parquet for a .parquet/.pq path
    (needs pyarrow)."""
    path = Path(path)
    if path.suffix in (".parquet", ".pq"):
        import pyarrow as pa  # optional dependency
        import pyarrow.parquet as pq

        columns = {c: [r[c] for r in rows] for c in LOG_COLUMNS}
        # Empty propensities are nulls, not strings, in Parquet.
        columns["propensity"] = [None if v == "" else float(v) for v in columns["propensity"]]
        pq.write_table(pa.table(columns), path)
        return
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(LOG_COLUMNS))
        w.writeheader()
        for r in rows:
            w.writerow(r)


class PropensityError(ValueError):
    """The log has no propensity column and none can be estimated from it."""


# Chi-square critical value of the uniform-logging test: the 0.999 quantile
# (Wilson and Hilferty's approximation, within 1 % for 2 degrees of freedom
# and more), so a uniform log is refused by mistake once in a thousand.
_UNIFORM_Z = 3.090


def _chi2_critical(df: int) -> float:
    t = 2.0 / (9.0 * df)
    return df * (1.0 - t + _UNIFORM_Z * math.sqrt(t)) ** 3


def _uniform_logging_fits(events: Sequence[LoggedEvent], arms: Sequence[str]) -> Tuple[bool, float, int]:
    """Pearson's chi-square of the shown arms against uniform logging within
    each event's candidate set (all arms when it has none), per (context,
    arm) cell: expected count = sum of 1/|C| over the cell's events whose C
    holds the arm. Returns (fits, statistic, degrees of freedom)."""
    observed: Counter = Counter()
    expected: Dict[Tuple[str, str], float] = defaultdict(float)
    for e in events:
        cands = e.candidates or arms
        w = 1.0 / len(cands)
        for a in cands:
            expected[(e.context_key, a)] += w
        observed[(e.context_key, e.arm)] += 1
    stat = sum((observed[c] - x) ** 2 / x for c, x in expected.items() if x > 0)
    contexts = {c for c, _ in expected}
    df = max(len(expected) - len(contexts), 1)
    return stat <= _chi2_critical(df), stat, df


# Below this many events a (context, candidate set) group's arm frequencies
# are too coarse to stand for the logging policy's probabilities.
MIN_EVENTS_PER_CANDIDATE_SET = 50


def estimate_propensities(events: Sequence[LoggedEvent],
                          arms: Sequence[str]) -> Tuple[List[float], str]:
    """Propensities for a log without a propensity column, and how they were
    found:

    - "uniform": the shown arms fit uniform logging within each event's
      candidate set (chi-square test above): p = 1/|C|, exact.
    - "frequency": otherwise, per (context, candidate set) group, the share
      of the group's events that showed the arm, when every group has at
      least MIN_EVENTS_PER_CANDIDATE_SET events.

    Raises PropensityError when neither holds (non-uniform logging with
    candidate sets too varied to count): IPS would then be biased without
    warning, so it is refused."""
    fits, stat, df = _uniform_logging_fits(events, arms)
    if fits:
        return [1.0 / len(e.candidates or arms) for e in events], "uniform"
    def group(e: LoggedEvent) -> Tuple[str, str]:
        return e.context_key, ";".join(sorted(set(e.candidates))) if e.candidates else "*"
    sizes = Counter(group(e) for e in events)
    small = sum(1 for n in sizes.values() if n < MIN_EVENTS_PER_CANDIDATE_SET)
    if small:
        raise PropensityError(
            "propensity: the log has no propensity column, the shown arms do not fit uniform "
            f"logging within the candidate sets (chi-square {stat:.1f} on {df} degrees of "
            f"freedom), and {small} of {len(sizes)} (context, candidate set) groups have fewer "
            f"than {MIN_EVENTS_PER_CANDIDATE_SET} events to estimate them from; add the logging "
            "policy's propensity column")
    pair = Counter((group(e), e.arm) for e in events)
    return [pair[(group(e), e.arm)] / sizes[group(e)] for e in events], "frequency"


def _evaluate_one(stub: Any, events: Sequence[LoggedEvent], pol: OfflinePolicy, arms: List[str],
                  k: int, seed: int, props: List[float], relevant: Dict[str, Set[str]],
                  click_only: bool, model: str, room: str) -> OfflineResult:
    res = OfflineResult(pol.name, events=len(events), propensity_estimated=model != "logged",
                        propensity_model=model)
    spec = pol.spec
    dim = len(events[0].features) if events else 0
    if spec is not None:
        sim._create_room(stub, room, arms, spec, dim)
    reward_matched = ips = snips_w = 0.0
    hits_reward = 0.0
    prec_sum = 0.0
    rec_sum, rec_n = 0.0, 0
    try:
        for i, e in enumerate(events):
            cands = e.candidates or arms
            if spec is None:
                ranked = ([pol.fixed_arm] if pol.fixed_arm in cands else []) + \
                    [a for a in cands if a != pol.fixed_arm]
                ranked = ranked[:k]
            else:
                resp = stub.Sample(pb.SampleRequest(
                    room_id=room, k=k, context_items=e.context,
                    candidate_arm_ids=e.candidates,
                    seed=sim.rng_key(seed, sim.STREAM_OFFLINE, i, sim.name_hash(pol.name)),
                    features=e.features if spec.is_linucb else []), timeout=30)
                ranked = [a.arm_id for a in resp.arms]
            if not ranked:
                continue
            if ranked[0] == e.arm:
                res.matched += 1
                reward_matched += e.reward
                ips += e.reward / props[i]
                snips_w += 1.0 / props[i]
                res.replay_curve.append(reward_matched / res.matched)
                if spec is not None:
                    ev = pb.FeedbackEvent(room_id=room, arm_id=e.arm, views=1,
                                          clicks=1 if e.reward > 0 else 0, context_items=e.context,
                                          features=e.features if spec.is_linucb else [])
                    if not click_only:
                        ev.reward = e.reward
                    stub.Feedback(pb.FeedbackRequest(events=[ev]), timeout=30)
            if e.arm in ranked:
                res.hits_at_k += 1
                hits_reward += e.reward
            rel = relevant.get(e.context_key, set()) & set(cands)
            got = len(rel.intersection(ranked))
            prec_sum += got / len(ranked)
            if rel:
                rec_sum += got / len(rel)
                rec_n += 1
    finally:
        if spec is not None:
            stub.DeleteRoom(pb.DeleteRoomRequest(room_id=room), timeout=30)
    n = len(events)
    res.replay_ctr = reward_matched / res.matched if res.matched else None
    res.ips_ctr = ips / n if n else 0.0
    res.snips_ctr = ips / snips_w if snips_w else None
    res.ctr_at_k = hits_reward / res.hits_at_k if res.hits_at_k else None
    res.precision_at_k = prec_sum / n if n else 0.0
    res.recall_at_k = rec_sum / rec_n if rec_n else None
    return res


def log_arms(events: Sequence[LoggedEvent]) -> List[str]:
    """Every arm the log names (shown or candidate), in order of appearance."""
    arms: List[str] = []
    seen: Set[str] = set()
    for e in events:
        for a in [e.arm, *e.candidates]:
            if a not in seen:
                seen.add(a)
                arms.append(a)
    return arms


def evaluate(client: Any, events: Sequence[LoggedEvent],
             policies: Sequence[Union[str, Dict[str, Any], OfflinePolicy, sim.PolicySpec]],
             *, k: int = 5, seed: int = 1, min_support: int = 10, parallel: bool = True,
             room_prefix: Optional[str] = None) -> List[OfflineResult]:
    """Evaluates each policy over the log; results in the order given."""
    if not events:
        raise ValueError("empty log")
    pols = [OfflinePolicy.parse(p) for p in policies]
    names = [p.name for p in pols]
    if len(set(names)) != len(names):
        raise ValueError(f"policy names must be unique: {names}")
    arms = log_arms(events)
    estimated = any(e.propensity is None for e in events)
    if estimated:
        props, model = estimate_propensities(events, arms)
    else:
        props, model = [float(e.propensity) for e in events], "logged"
    relevant = relevance_sets(events, min_support)
    click_only = all(e.reward in (0.0, 1.0) for e in events)
    stub = sim._stub(client)
    prefix = room_prefix or f"offline-{uuid.uuid4().hex[:8]}"
    args = [(stub, events, p, arms, k, seed, props, relevant, click_only, model, f"{prefix}-p{i}")
            for i, p in enumerate(pols)]
    if parallel and len(pols) > 1:
        with ThreadPoolExecutor(max_workers=min(8, len(pols))) as pool:
            return list(pool.map(lambda a: _evaluate_one(*a), args))
    return [_evaluate_one(*a) for a in args]


def _fmt(v: Optional[float]) -> str:
    return "n/a" if v is None else f"{v:.4f}"


def markdown_table(results: Sequence[OfflineResult], k: int = 5) -> str:
    head = (f"| policy | CTR@{k} | precision@{k} | recall@{k} | replay CTR | IPS CTR | matched events |\n"
            "|---|---:|---:|---:|---:|---:|---:|\n")
    body = "".join(
        f"| {r.policy} | {_fmt(r.ctr_at_k)} | {_fmt(r.precision_at_k)} | {_fmt(r.recall_at_k)} | "
        f"{_fmt(r.replay_ctr)} | {_fmt(r.ips_ctr)} | {r.matched} |\n" for r in results)
    return head + body


def write_results_csv(results: Sequence[OfflineResult], path: Union[str, Path]) -> None:
    rows = [r.row() for r in results]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()), lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({kk: ("" if v is None else v) for kk, v in r.items()})
