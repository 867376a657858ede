"""Request building and response parsing shared by Client and AsyncClient.

Each function returns an :class:`Op`: which RPC to call, the request message,
how to turn the response into a wrapper object, and whether the call may be
retried when the server is UNAVAILABLE.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Any, Callable, Generic, Iterable, Optional, Sequence, TypeVar, Union

from ._types import (
    Arm,
    Decay,
    LinUcbConfig,
    FeedbackEvent,
    FeedbackResult,
    Policy,
    PolicyLike,
    Room,
    SampleResult,
    Stats,
    WinnerOptions,
    _strings,
)
from .v1 import banditd_pb2 as pb

T = TypeVar("T")

DEFAULT_TARGET = "localhost:50051"
DEFAULT_TIMEOUT = 10.0


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of calls that failed with UNAVAILABLE (server down, restarting
    or unreachable). Other errors are never retried.

    Attempt n (n >= 1) waits ``min(initial_backoff * multiplier**(n-1),
    max_backoff)`` seconds, scaled by a random factor in [0.5, 1] (jitter),
    and no retry starts past the call's deadline."""

    max_attempts: int = 5
    initial_backoff: float = 0.1
    max_backoff: float = 2.0
    multiplier: float = 2.0

    def backoff(self, attempt: int) -> float:
        base = min(self.initial_backoff * self.multiplier ** (attempt - 1), self.max_backoff)
        return base * random.uniform(0.5, 1.0)


NO_RETRY = RetryPolicy(max_attempts=1)


@dataclass(frozen=True)
class Op(Generic[T]):
    method: str
    request: Any
    parse: Callable[[Any], T]
    retryable: bool = True


def _room(resp: Any) -> Room:
    return Room.from_proto(resp.room)


# Arms per ListArms / GetStats page when a helper reads every page: the
# server's largest page (each stays far below gRPC's 4 MB default limit).
ALL_PAGES_SIZE = 10000
# Ids per CreateRoom / AddArms call when create_room and add_arms get long
# lists: 50,000 ids of up to 64 characters stay below 4 MB, the limit of
# proxies and of gRPC's defaults on most receiving sides.
ADD_ARMS_CHUNK = 50000

_VIEWS = {None: pb.ROOM_VIEW_UNSPECIFIED, "basic": pb.ROOM_VIEW_BASIC, "full": pb.ROOM_VIEW_FULL}


def room_view(view: Optional[str]) -> int:
    key = view.lower() if isinstance(view, str) else view
    if key not in _VIEWS:
        raise ValueError(f"view must be 'basic' or 'full', got {view!r}")
    return _VIEWS[key]


def _none(resp: Any) -> None:
    return None


def create_room(
    room_id: str,
    arms: Union[str, Sequence[str]] = (),
    policy: PolicyLike = None,
    decay: Any = None,
    linucb: Any = None,
) -> Op[Room]:
    p = Policy.coerce(policy)
    ids = _strings(arms, "arms")
    req = pb.CreateRoomRequest(room_id=room_id, arm_ids=ids)
    if p is not None:
        req.policy.CopyFrom(p.to_proto())
    d = Decay.coerce(decay)
    if d is not None:
        req.decay.CopyFrom(d.to_proto())
    lin = LinUcbConfig.coerce(linucb)
    if lin is not None:
        req.linucb.CopyFrom(lin.to_proto())
    def created(resp: Any) -> Room:
        # The reply does not echo the arms (it may be a million): the room
        # as created holds the requested ones, all enabled.
        room = Room.from_proto(resp.room)
        return replace(room, arms=tuple(Arm(a, True) for a in ids))

    # Not retried: a create that reached the server before the connection
    # dropped would come back as ALREADY_EXISTS.
    return Op("CreateRoom", req, created, retryable=False)


def get_room_page(room_id: str, view: Optional[str] = None) -> Op[Any]:
    return Op("GetRoom", pb.GetRoomRequest(room_id=room_id, view=room_view(view)), lambda r: r.room)


def list_rooms_page(page_size: int, page_token: str, view: Optional[str] = None) -> Op[Any]:
    req = pb.ListRoomsRequest(page_size=page_size, page_token=page_token, view=room_view(view))
    return Op("ListRooms", req, lambda r: r)


def list_arms_page(room_id: str, page_size: int, page_token: str) -> Op[Any]:
    req = pb.ListArmsRequest(room_id=room_id, page_size=page_size, page_token=page_token)
    return Op("ListArms", req, lambda r: r)


def delete_room(room_id: str) -> Op[None]:
    return Op("DeleteRoom", pb.DeleteRoomRequest(room_id=room_id), _none, retryable=False)


def reset_room(room_id: str) -> Op[None]:
    return Op("ResetRoom", pb.ResetRoomRequest(room_id=room_id), _none)


def update_room(
    room_id: str,
    policy: PolicyLike = None,
    decay: Any = None,
    update_mask: Union[str, Sequence[str], None] = None,
) -> Op[Room]:
    req = pb.UpdateRoomRequest()
    req.room.room_id = room_id
    p = Policy.coerce(policy)
    if p is not None:
        req.room.policy.CopyFrom(p.to_proto())
    d = Decay.coerce(decay)
    if d is not None:
        req.room.decay.CopyFrom(d.to_proto())
    if update_mask is not None:
        req.update_mask.paths.extend(_strings(update_mask, "update_mask"))
    # Retried: applying the same change twice gives the same room.
    return Op("UpdateRoom", req, _room)


def reset_arm(room_id: str, arm_id: str, segment: Optional[str] = None) -> Op[None]:
    req = pb.ResetArmRequest(room_id=room_id, arm_id=arm_id)
    if segment is not None:
        req.segment = segment
    return Op("ResetArm", req, _none)


def add_arms(room_id: str, arm_ids: Union[str, Sequence[str]]) -> Op[Room]:
    req = pb.AddArmsRequest(room_id=room_id, arm_ids=_strings(arm_ids, "arm_ids"))
    return Op("AddArms", req, _room, retryable=False)


def remove_arm(room_id: str, arm_id: str) -> Op[None]:
    return Op("RemoveArm", pb.RemoveArmRequest(room_id=room_id, arm_id=arm_id), _none, retryable=False)


def set_arm_enabled(room_id: str, arm_id: str, enabled: bool) -> Op[Arm]:
    req = pb.SetArmEnabledRequest(room_id=room_id, arm_id=arm_id, enabled=enabled)
    return Op("SetArmEnabled", req, lambda r: Arm.from_proto(r.arm))


def sample(
    room_id: str,
    k: int = 1,
    *,
    segment: str = "",
    context: Union[str, Sequence[str]] = (),
    policy: PolicyLike = None,
    candidates: Union[str, Sequence[str]] = (),
    exclude: Union[str, Sequence[str]] = (),
    seed: Optional[int] = None,
    features: Sequence[float] = (),
    propensities: bool = False,
    propensity_draws: int = 0,
    min_applied_sequence: int = 0,
) -> Op[SampleResult]:
    req = pb.SampleRequest(
        room_id=room_id,
        min_applied_sequence=min_applied_sequence,
        segment=segment,
        context_items=_strings(context, "context"),
        k=k,
        candidate_arm_ids=_strings(candidates, "candidates"),
        excluded_arm_ids=_strings(exclude, "exclude"),
        features=[float(x) for x in features],
        include_propensities=propensities,
        propensity_draws=propensity_draws,
    )
    p = Policy.coerce(policy)
    if p is not None:
        req.policy.CopyFrom(p.to_proto())
    if seed is not None:
        req.seed = seed
    return Op("Sample", req, SampleResult.from_proto)


def feedback(events: Iterable[FeedbackEvent]) -> Op[FeedbackResult]:
    evs = list(events)
    for e in evs:
        if not isinstance(e, FeedbackEvent):
            raise TypeError(f"expected banditd.FeedbackEvent, got {type(e).__name__}")
    req = pb.FeedbackRequest(events=[e.to_proto() for e in evs])
    # Retrying is only safe when the server can drop a repeat: every event
    # must carry an idempotency key.
    retryable = bool(evs) and all(e.event_id for e in evs)
    return Op("Feedback", req, FeedbackResult.from_proto, retryable=retryable)


def stats(
    room_id: str,
    segment: str = "",
    include_context: bool = False,
    winner: Any = None,
    min_applied_sequence: int = 0,
    arm_ids: Union[str, Sequence[str], None] = None,
    page_size: int = 0,
    page_token: str = "",
) -> Op[Stats]:
    req = pb.GetStatsRequest(
        room_id=room_id,
        segment=segment,
        include_context=include_context,
        min_applied_sequence=min_applied_sequence,
        arm_ids=_strings(arm_ids, "arm_ids") if arm_ids is not None else [],
        page_size=page_size,
        page_token=page_token,
    )
    w = WinnerOptions.coerce(winner)
    if w is not None:
        req.winner_analysis.CopyFrom(w.to_proto())
    return Op("GetStats", req, Stats.from_proto)


def merge_stats(pages: Sequence[Stats]) -> Stats:
    """The pages of one stats listing as one Stats (the first page's totals
    and winner summary, every page's arms)."""
    arms = tuple(a for p in pages for a in p.arms)
    return replace(pages[0], arms=arms, next_page_token="")


# grpc.health.v1 messages, encoded by hand so that the client needs no extra
# package: HealthCheckRequest{string service = 1},
# HealthCheckResponse{ServingStatus status = 1}.
HEALTH_METHOD = "/grpc.health.v1.Health/Check"
HEALTH_STATUSES = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def encode_health_request(service: str) -> bytes:
    data = service.encode()
    return b"\x0a" + _varint(len(data)) + data if data else b""


def decode_health_response(data: bytes) -> str:
    i, status = 0, 0
    while i < len(data):
        key = data[i]
        i += 1
        wire = key & 7
        value = 0
        if wire == 0:
            shift = 0
            while True:
                b = data[i]
                i += 1
                value |= (b & 0x7F) << shift
                shift += 7
                if not b & 0x80:
                    break
            if key >> 3 == 1:
                status = value
        elif wire == 2:
            length, shift = 0, 0
            while True:
                b = data[i]
                i += 1
                length |= (b & 0x7F) << shift
                shift += 7
                if not b & 0x80:
                    break
            i += length
        else:  # pragma: no cover - not produced by the health service
            raise ValueError("unexpected wire type in HealthCheckResponse")
    return HEALTH_STATUSES.get(status, str(status))
