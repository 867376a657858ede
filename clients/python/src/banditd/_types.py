"""Plain, typed result and input objects of the banditd Python client.

They are immutable dataclasses with short reprs (and HTML tables for stats in
Jupyter), converted from and to the generated protobuf messages. Over 500
lines: one module so that every public type is importable from one place and
each type's proto conversion sits beside it.
"""

from __future__ import annotations

import enum
import html
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

from .v1 import banditd_pb2 as pb

if TYPE_CHECKING:  # pragma: no cover
    import pandas

__all__ = [
    "PolicyType",
    "Policy",
    "PolicyLike",
    "Decay",
    "LinUcbConfig",
    "Arm",
    "Room",
    "Counts",
    "ScoredArm",
    "SampleResult",
    "FeedbackEvent",
    "FeedbackResult",
    "ContextStats",
    "ArmStats",
    "Stats",
]


class PolicyType(enum.IntEnum):
    """The ranking rule used by Sample (mirrors ``banditd.v1.PolicyType``)."""

    UNSPECIFIED = pb.POLICY_TYPE_UNSPECIFIED
    CTR = pb.POLICY_TYPE_CTR
    UCB1 = pb.POLICY_TYPE_UCB1
    BUCB = pb.POLICY_TYPE_BUCB
    THOMPSON = pb.POLICY_TYPE_THOMPSON
    EPSILON_GREEDY = pb.POLICY_TYPE_EPSILON_GREEDY
    HOT_COLD = pb.POLICY_TYPE_HOT_COLD
    REWARD_UCB = pb.POLICY_TYPE_REWARD_UCB
    REWARD_THOMPSON = pb.POLICY_TYPE_REWARD_THOMPSON
    LINUCB = pb.POLICY_TYPE_LINUCB
    KL_UCB = pb.POLICY_TYPE_KL_UCB
    LIN_TS = pb.POLICY_TYPE_LIN_TS

    @classmethod
    def parse(cls, value: Union["PolicyType", int, str]) -> "PolicyType":
        """Accepts a PolicyType, its number, or a name such as ``"ucb1"``,
        ``"epsilon-greedy"`` or ``"POLICY_TYPE_THOMPSON"``."""
        if isinstance(value, str):
            name = value.strip().upper().replace("-", "_").replace(" ", "_")
            if name.startswith("POLICY_TYPE_"):
                name = name[len("POLICY_TYPE_"):]
            aliases = {"EPSILON": "EPSILON_GREEDY", "GREEDY": "CTR", "TS": "THOMPSON", "UCB": "UCB1"}
            name = aliases.get(name, name)
            try:
                return cls[name]
            except KeyError:
                names = ", ".join(m.name.lower() for m in cls if m is not cls.UNSPECIFIED)
                raise ValueError(f"unknown policy {value!r}; expected one of {names}") from None
        return cls(value)

    def __repr__(self) -> str:
        return f"PolicyType.{self.name}"


_POLICY_PARAMS = (
    "ucb_alpha",
    "bucb_z",
    "beta_prior_a",
    "beta_prior_b",
    "epsilon",
    "cold_max",
    "cold_steepness",
    "cold_threshold",
    "hot_max",
    "hot_steepness",
    "hot_threshold",
    "linucb_alpha",
    "prior_pseudo_views",
    "exploration_floor",
)


@dataclass(frozen=True)
class Policy:
    """A policy and its parameters; unset (None) parameters take the room's
    value, then the documented default."""

    type: PolicyType = PolicyType.UNSPECIFIED
    ucb_alpha: Optional[float] = None
    bucb_z: Optional[float] = None
    beta_prior_a: Optional[float] = None
    beta_prior_b: Optional[float] = None
    epsilon: Optional[float] = None
    cold_max: Optional[float] = None
    cold_steepness: Optional[float] = None
    cold_threshold: Optional[float] = None
    hot_max: Optional[float] = None
    hot_steepness: Optional[float] = None
    hot_threshold: Optional[float] = None
    linucb_alpha: Optional[float] = None
    prior_pseudo_views: Optional[float] = None
    # Every eligible arm is returned with at least this probability.
    exploration_floor: Optional[float] = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "type", PolicyType.parse(self.type))

    @classmethod
    def coerce(cls, value: "PolicyLike") -> Optional["Policy"]:
        if value is None or isinstance(value, Policy):
            return value
        if isinstance(value, dict):
            return cls(**value)
        return cls(type=PolicyType.parse(value))

    def to_proto(self) -> pb.Policy:
        msg = pb.Policy(type=int(self.type))
        for name in _POLICY_PARAMS:
            v = getattr(self, name)
            if v is not None:
                setattr(msg, name, float(v))
        return msg

    @classmethod
    def from_proto(cls, msg: pb.Policy) -> "Policy":
        params = {n: getattr(msg, n) for n in _POLICY_PARAMS if msg.HasField(n)}
        return cls(type=PolicyType(msg.type), **params)

    def __repr__(self) -> str:
        parts = [self.type.name]
        parts += [f"{n}={getattr(self, n)!r}" for n in _POLICY_PARAMS if getattr(self, n) is not None]
        return f"Policy({', '.join(parts)})"


PolicyLike = Union[Policy, PolicyType, str, int, Dict[str, Any], None]


@dataclass(frozen=True)
class Decay:
    """Exponential forgetting of a room's counters; set at most one
    half-life (0 = unset)."""

    half_life_events: float = 0.0
    half_life_seconds: float = 0.0

    @classmethod
    def coerce(cls, value: Union["Decay", Dict[str, float], None]) -> Optional["Decay"]:
        return cls(**value) if isinstance(value, dict) else value

    def to_proto(self) -> pb.Decay:
        return pb.Decay(half_life_events=self.half_life_events, half_life_seconds=self.half_life_seconds)

    @classmethod
    def from_proto(cls, msg: pb.Decay) -> "Decay":
        return cls(half_life_events=msg.half_life_events, half_life_seconds=msg.half_life_seconds)


@dataclass(frozen=True)
class LinUcbConfig:
    """LinUCB state shape of a room: feature vector length (0 = no LinUCB)
    and ridge regularisation."""

    dimension: int = 0
    lambda_: float = 0.0

    @classmethod
    def coerce(cls, value: Union["LinUcbConfig", Dict[str, Any], None]) -> Optional["LinUcbConfig"]:
        if isinstance(value, dict):
            value = dict(value)
            if "lambda" in value:
                value["lambda_"] = value.pop("lambda")
            return cls(**value)
        return value

    def to_proto(self) -> pb.LinUcbConfig:
        msg = pb.LinUcbConfig(dimension=self.dimension)
        setattr(msg, "lambda", self.lambda_)
        return msg

    @classmethod
    def from_proto(cls, msg: pb.LinUcbConfig) -> "LinUcbConfig":
        return cls(dimension=msg.dimension, lambda_=getattr(msg, "lambda"))


@dataclass(frozen=True)
class Arm:
    arm_id: str
    enabled: bool = True

    @classmethod
    def from_proto(cls, msg: pb.Arm) -> "Arm":
        return cls(arm_id=msg.arm_id, enabled=msg.enabled)

    def __repr__(self) -> str:
        return f"Arm({self.arm_id!r}{'' if self.enabled else ', disabled'})"


@dataclass(frozen=True)
class Room:
    """One experiment: its arms in the order they were added and its default
    policy with every parameter resolved.

    ``arms`` holds the arms the call listed: all of them from ``get_room``
    and ``create_room``, none from ``add_arms``, ``update_room`` and
    ``list_rooms`` (the BASIC view; ``view="full"`` lists up to 1,000 per
    room). ``arm_count`` is always the room's number of arms."""

    room_id: str
    arms: Tuple[Arm, ...] = ()
    policy: Policy = field(default_factory=Policy)
    decay: Decay = field(default_factory=Decay)
    linucb: LinUcbConfig = field(default_factory=LinUcbConfig)
    arm_count: int = 0

    @property
    def arm_ids(self) -> List[str]:
        return [a.arm_id for a in self.arms]

    @property
    def enabled_arm_ids(self) -> List[str]:
        return [a.arm_id for a in self.arms if a.enabled]

    @classmethod
    def from_proto(cls, msg: pb.Room) -> "Room":
        return cls(
            room_id=msg.room_id,
            arms=tuple(Arm.from_proto(a) for a in msg.arms),
            policy=Policy.from_proto(msg.policy),
            decay=Decay.from_proto(msg.decay),
            linucb=LinUcbConfig.from_proto(msg.linucb),
            arm_count=msg.arm_count,
        )

    def __repr__(self) -> str:
        arms = ", ".join(a.arm_id + ("" if a.enabled else " (disabled)") for a in self.arms)
        if len(self.arms) < self.arm_count:
            arms += f"{', ' if arms else ''}... {self.arm_count} in all"
        extra = ""
        if self.decay != Decay():
            extra += f", decay={self.decay!r}"
        if self.linucb.dimension:
            extra += f", linucb={self.linucb!r}"
        return f"Room({self.room_id!r}, arms=[{arms}], policy={self.policy!r}{extra})"


@dataclass(frozen=True)
class Counts:
    views: float = 0.0
    clicks: float = 0.0
    reward_sum: float = 0.0

    @property
    def ctr(self) -> float:
        """clicks / views, 0 without views."""
        return self.clicks / self.views if self.views else 0.0

    @classmethod
    def from_proto(cls, msg: pb.Counts) -> "Counts":
        return cls(views=msg.views, clicks=msg.clicks, reward_sum=msg.reward_sum)

    def __repr__(self) -> str:
        return f"Counts(views={_num(self.views)}, clicks={_num(self.clicks)}, reward_sum={_num(self.reward_sum)})"


@dataclass(frozen=True)
class ScoredArm:
    arm_id: str
    score: float
    counts: Counts = field(default_factory=Counts)
    # With sample(propensities=True): the probability that the call returns
    # this arm (first for k=1, in the top k otherwise).
    propensity: Optional[float] = None

    @classmethod
    def from_proto(cls, msg: pb.ScoredArm) -> "ScoredArm":
        return cls(
            arm_id=msg.arm_id,
            score=msg.score,
            counts=Counts.from_proto(msg.counts),
            propensity=msg.propensity if msg.HasField("propensity") else None,
        )

    def __repr__(self) -> str:
        return f"ScoredArm({self.arm_id!r}, score={_num(self.score)}, {self.counts!r})"


@dataclass(frozen=True)
class SampleResult(Sequence[ScoredArm]):
    """Arms chosen by Sample, best first, and the policy that ranked them.

    Iterates, indexes and ``len()``s like a list of :class:`ScoredArm`."""

    arms: Tuple[ScoredArm, ...] = ()
    policy: Policy = field(default_factory=Policy)
    # Pass to feedback(decision_id=...) to report on this decision.
    decision_id: str = ""
    # With propensities: 0 when exact, else their Monte Carlo draws.
    propensity_draws: int = 0

    @property
    def arm_ids(self) -> List[str]:
        return [a.arm_id for a in self.arms]

    @property
    def best(self) -> Optional[str]:
        """The top arm's id, or None when no arm was eligible."""
        return self.arms[0].arm_id if self.arms else None

    def __iter__(self) -> Iterator[ScoredArm]:
        return iter(self.arms)

    def __len__(self) -> int:
        return len(self.arms)

    def __getitem__(self, i):  # type: ignore[override]
        return self.arms[i]

    @classmethod
    def from_proto(cls, msg: pb.SampleResponse) -> "SampleResult":
        return cls(
            arms=tuple(ScoredArm.from_proto(a) for a in msg.arms),
            policy=Policy.from_proto(msg.policy),
            decision_id=msg.decision_id,
            propensity_draws=msg.propensity_draws,
        )

    def __repr__(self) -> str:
        arms = ", ".join(f"{a.arm_id}={_num(a.score)}" for a in self.arms)
        return f"SampleResult([{arms}], policy={self.policy!r})"


@dataclass(frozen=True)
class FeedbackEvent:
    """One observation for :meth:`Client.feedback_batch`.

    ``reward`` None means each click counts as reward 1. ``event_id`` is an
    optional idempotency key: events that carry one are counted once even if
    the call is retried."""

    room_id: str = ""
    arm_id: str = ""
    views: int = 0
    clicks: int = 0
    reward: Optional[float] = None
    segment: str = ""
    context: Sequence[str] = ()
    event_id: str = ""
    # A SampleResult.decision_id: room, segment, context and features then
    # come from that decision (arm_id may stay empty for a one-arm decision).
    decision_id: str = ""
    # Numeric context for LinUCB rooms.
    features: Sequence[float] = ()

    def to_proto(self) -> pb.FeedbackEvent:
        msg = pb.FeedbackEvent(
            room_id=self.room_id,
            arm_id=self.arm_id,
            views=int(self.views),
            clicks=int(self.clicks),
            segment=self.segment,
            context_items=list(_strings(self.context, "context")),
            event_id=self.event_id,
            decision_id=self.decision_id,
            features=[float(x) for x in self.features],
        )
        if self.reward is not None:
            msg.reward = float(self.reward)
        return msg


@dataclass(frozen=True)
class FeedbackResult:
    applied_events: int = 0
    duplicate_events: int = 0
    # Cluster mode: the stream sequence of the write (pass it as
    # min_applied_sequence to read it on any replica); 0 otherwise.
    applied_sequence: int = 0

    @classmethod
    def from_proto(cls, msg: pb.FeedbackResponse) -> "FeedbackResult":
        return cls(
            applied_events=msg.applied_events,
            duplicate_events=msg.duplicate_events,
            applied_sequence=msg.applied_sequence,
        )


@dataclass(frozen=True)
class ContextStats:
    context_item: str
    counts: Counts
    ctr: float
    ucb1: float
    bucb: float
    reward_mean: float = 0.0
    reward_variance: float = 0.0

    @classmethod
    def from_proto(cls, msg: pb.ContextStats) -> "ContextStats":
        return cls(
            context_item=msg.context_item,
            counts=Counts.from_proto(msg.counts),
            ctr=msg.ctr,
            ucb1=msg.ucb1,
            bucb=msg.bucb,
            reward_mean=msg.reward_mean,
            reward_variance=msg.reward_variance,
        )


@dataclass(frozen=True)
class WinnerOptions:
    """GetStats winner analysis: ``draws`` joint posterior draws (0 = the
    server's 10,000; rooms with many arms get fewer), ``seed`` for
    reproducible answers, and ``loss_threshold`` below which the best arm's
    expected loss sets ``can_stop``."""

    draws: int = 0
    seed: int = 0
    loss_threshold: float = 0.0

    @classmethod
    def coerce(cls, value: Union["WinnerOptions", Dict[str, Any], bool, None]) -> Optional["WinnerOptions"]:
        if value is None or value is False:
            return None
        if value is True:
            return cls()
        if isinstance(value, dict):
            return cls(**value)
        return value

    def to_proto(self) -> pb.WinnerAnalysisRequest:
        return pb.WinnerAnalysisRequest(draws=self.draws, seed=self.seed, loss_threshold=self.loss_threshold)


@dataclass(frozen=True)
class ArmWinner:
    """An arm's probability of being best and its expected loss, each with
    its Monte Carlo standard error."""

    prob_best: float
    prob_best_se: float
    expected_loss: float
    expected_loss_se: float

    @classmethod
    def from_proto(cls, msg: pb.ArmWinner) -> "ArmWinner":
        return cls(msg.prob_best, msg.prob_best_se, msg.expected_loss, msg.expected_loss_se)


@dataclass(frozen=True)
class WinnerSummary:
    best_arm_id: str
    can_stop: bool
    draws: int
    posterior: str

    @classmethod
    def from_proto(cls, msg: pb.WinnerSummary) -> "WinnerSummary":
        return cls(msg.best_arm_id, msg.can_stop, msg.draws, msg.posterior)


@dataclass(frozen=True)
class ArmStats:
    arm_id: str
    enabled: bool
    counts: Counts
    ctr: float
    ucb1: float
    bucb: float
    context: Tuple[ContextStats, ...] = ()
    reward_mean: float = 0.0
    reward_variance: float = 0.0
    # With stats(winner=...), for enabled arms.
    winner: Optional[ArmWinner] = None

    @classmethod
    def from_proto(cls, msg: pb.ArmStats) -> "ArmStats":
        return cls(
            arm_id=msg.arm_id,
            enabled=msg.enabled,
            counts=Counts.from_proto(msg.counts),
            ctr=msg.ctr,
            ucb1=msg.ucb1,
            bucb=msg.bucb,
            context=tuple(ContextStats.from_proto(c) for c in msg.context),
            reward_mean=msg.reward_mean,
            reward_variance=msg.reward_variance,
            winner=ArmWinner.from_proto(msg.winner) if msg.HasField("winner") else None,
        )


_STAT_COLUMNS = (
    "arm_id", "enabled", "views", "clicks", "reward_sum", "ctr", "ucb1", "bucb",
    "reward_mean", "reward_variance",
)
# Added to _STAT_COLUMNS when the stats carry a winner analysis; NaN for
# disabled arms.
_WINNER_COLUMNS = ("prob_best", "prob_best_se", "expected_loss", "expected_loss_se")
_CONTEXT_COLUMNS = (
    "arm_id", "context_item", "views", "clicks", "reward_sum", "ctr", "ucb1", "bucb",
    "reward_mean", "reward_variance",
)


@dataclass(frozen=True)
class Stats:
    """Per-arm counters and scores of one segment of a room.

    ``to_dataframe()`` gives a pandas DataFrame (one row per arm, indexed by
    arm_id); in Jupyter the object itself renders as a table."""

    room_id: str
    segment: str
    arms: Tuple[ArmStats, ...]
    total_views: float
    # With stats(winner=...): the best arm, can_stop and the draws made.
    winner: Optional[WinnerSummary] = None
    # Cluster mode: the stream sequence the replica had applied (0 otherwise).
    applied_sequence: int = 0
    # The room's number of arms (``arms`` may list a page or named arms).
    arm_count: int = 0
    # Of one page (``stats_page``): continues with the next page; "" on the last.
    next_page_token: str = ""

    @classmethod
    def from_proto(cls, msg: pb.GetStatsResponse) -> "Stats":
        return cls(
            room_id=msg.room_id,
            segment=msg.segment,
            arms=tuple(ArmStats.from_proto(a) for a in msg.arms),
            total_views=msg.total_views,
            winner=WinnerSummary.from_proto(msg.winner) if msg.HasField("winner") else None,
            applied_sequence=msg.applied_sequence,
            arm_count=msg.total_size,
            next_page_token=msg.next_page_token,
        )

    def _columns(self) -> List[str]:
        return list(_STAT_COLUMNS) + (list(_WINNER_COLUMNS) if self.winner is not None else [])

    def __getitem__(self, arm_id: str) -> ArmStats:
        for a in self.arms:
            if a.arm_id == arm_id:
                return a
        raise KeyError(arm_id)

    def __iter__(self) -> Iterator[ArmStats]:
        return iter(self.arms)

    def __len__(self) -> int:
        return len(self.arms)

    def to_records(self) -> List[Dict[str, Any]]:
        """One dict per arm with the columns of :meth:`to_dataframe`."""
        return [
            {
                "arm_id": a.arm_id,
                "enabled": a.enabled,
                "views": a.counts.views,
                "clicks": a.counts.clicks,
                "reward_sum": a.counts.reward_sum,
                "ctr": a.ctr,
                "ucb1": a.ucb1,
                "bucb": a.bucb,
                "reward_mean": a.reward_mean,
                "reward_variance": a.reward_variance,
                **self._winner_record(a),
            }
            for a in self.arms
        ]

    def _winner_record(self, a: ArmStats) -> Dict[str, float]:
        if self.winner is None:
            return {}
        w = a.winner
        return {c: (getattr(w, c) if w is not None else float("nan")) for c in _WINNER_COLUMNS}

    def context_records(self) -> List[Dict[str, Any]]:
        """One dict per (arm, context item) (needs include_context=True)."""
        return [
            {
                "arm_id": a.arm_id,
                "context_item": c.context_item,
                "views": c.counts.views,
                "clicks": c.counts.clicks,
                "reward_sum": c.counts.reward_sum,
                "ctr": c.ctr,
                "ucb1": c.ucb1,
                "bucb": c.bucb,
                "reward_mean": c.reward_mean,
                "reward_variance": c.reward_variance,
            }
            for a in self.arms
            for c in a.context
        ]

    def to_dataframe(self, context: bool = False) -> "pandas.DataFrame":
        """Returns the stats as a pandas DataFrame.

        With ``context=False`` one row per arm indexed by ``arm_id``; with
        ``context=True`` one row per (arm_id, context_item) pair (request the
        stats with ``include_context=True``). Requires pandas
        (``pip install 'banditd[pandas]'``)."""
        try:
            import pandas as pd
        except ImportError as e:  # pragma: no cover - depends on environment
            raise ImportError(
                "Stats.to_dataframe() needs pandas: pip install 'banditd[pandas]'"
            ) from e
        if context:
            df = pd.DataFrame(self.context_records(), columns=list(_CONTEXT_COLUMNS))
            return df.set_index(["arm_id", "context_item"])
        df = pd.DataFrame(self.to_records(), columns=self._columns())
        return df.set_index("arm_id")

    def _table(self) -> Tuple[List[str], List[List[str]]]:
        header = self._columns()
        rows = [[_cell(r[c]) for c in header] for r in self.to_records()]
        return header, rows

    def __repr__(self) -> str:
        title = f"Stats(room_id={self.room_id!r}, segment={self.segment!r}, total_views={_num(self.total_views)})"
        header, rows = self._table()
        if not rows:
            return title + " (no arms)"
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
        lines = [title, "  ".join(h.ljust(w) for h, w in zip(header, widths))]
        lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in rows]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        header, rows = self._table()
        head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in r) + "</tr>" for r in rows
        )
        seg = html.escape(self.segment) if self.segment else "(whole room)"
        return (
            f"<p><b>{html.escape(self.room_id)}</b> segment {seg}, "
            f"total views {_num(self.total_views)}</p>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        )


def _num(x: float) -> str:
    if isinstance(x, float):
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        if x.is_integer() and abs(x) < 2**53:
            return str(int(x))
        return f"{x:.4g}"
    return str(x)


def _cell(v: Any) -> str:
    return _num(v) if isinstance(v, float) else str(v)


def _strings(values: Union[str, Sequence[str]], name: str) -> Sequence[str]:
    # A bare string would otherwise be split into characters.
    if isinstance(values, str):
        return [values]
    return list(values)
