"""Synchronous banditd client."""

from __future__ import annotations

import time
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, TypeVar, Union

import grpc

from . import _ops
from ._errors import BanditdError, DeadlineExceededError, error_for, from_rpc_error
from ._ops import DEFAULT_TARGET, DEFAULT_TIMEOUT, Op, RetryPolicy
from ._types import (
    Arm,
    Decay,
    LinUcbConfig,
    FeedbackEvent,
    FeedbackResult,
    PolicyLike,
    Room,
    SampleResult,
    Stats,
    WinnerOptions,
)
from .v1 import banditd_pb2 as pb
from .v1 import banditd_pb2_grpc

T = TypeVar("T")

__all__ = ["Client"]


class Client:
    """A blocking client of a banditd server.

    Args:
        target: ``host:port`` of the server (any gRPC target string).
        timeout: default deadline of each call in seconds, retries included;
            every method also takes ``timeout=``. ``None`` means no deadline.
        retry: retries of calls that fail with UNAVAILABLE (see
            :class:`RetryPolicy`); ``RetryPolicy(max_attempts=1)`` disables
            them. Feedback is retried only when every event has an
            ``event_id``; CreateRoom, AddArms, RemoveArm and DeleteRoom are
            never retried.
        credentials: channel credentials for TLS; plaintext when None.
        token: bearer token sent with every BanditService call (servers
            started with ``--auth_tokens_file``); health checks need none.
        root_certificates: PEM roots to verify a TLS server with (a
            shortcut for ``credentials=grpc.ssl_channel_credentials(...)``).
        options: extra gRPC channel options.
        channel: use this channel instead of creating one (not closed by
            :meth:`close`).

    Use it as a context manager, or call :meth:`close`::

        with banditd.Client("localhost:50051") as client:
            client.create_room("home", ["a", "b"])
    """

    def __init__(
        self,
        target: str = DEFAULT_TARGET,
        *,
        timeout: Optional[float] = DEFAULT_TIMEOUT,
        retry: RetryPolicy = RetryPolicy(),
        credentials: Optional[grpc.ChannelCredentials] = None,
        options: Sequence[Tuple[str, Any]] = (),
        token: Optional[str] = None,
        root_certificates: Optional[bytes] = None,
        channel: Optional[grpc.Channel] = None,
    ) -> None:
        self.target = target
        self.timeout = timeout
        self.retry = retry
        self._owns_channel = channel is None
        if credentials is None and root_certificates is not None:
            credentials = grpc.ssl_channel_credentials(root_certificates)
        # Sent as "authorization: Bearer <token>" on every BanditService call.
        self._metadata = (("authorization", f"Bearer {token}"),) if token else None
        if channel is None:
            if credentials is None:
                channel = grpc.insecure_channel(target, options=list(options))
            else:
                channel = grpc.secure_channel(target, credentials, options=list(options))
        self._channel = channel
        self._stub = banditd_pb2_grpc.BanditServiceStub(channel)
        self._health = channel.unary_unary(
            _ops.HEALTH_METHOD,
            request_serializer=_ops.encode_health_request,
            response_deserializer=_ops.decode_health_response,
        )

    # -- plumbing ---------------------------------------------------------

    @property
    def channel(self) -> grpc.Channel:
        return self._channel

    @property
    def stub(self) -> banditd_pb2_grpc.BanditServiceStub:
        """The generated stub, for calls with raw protobuf messages."""
        return self._stub

    def close(self) -> None:
        if self._owns_channel:
            self._channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"banditd.Client({self.target!r}, timeout={self.timeout!r})"

    def _invoke(self, op: Op[T], timeout: Optional[float]) -> T:
        timeout = self.timeout if timeout is None else timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        rpc = getattr(self._stub, op.method)
        attempts = self.retry.max_attempts if op.retryable else 1
        attempt = 0
        while True:
            attempt += 1
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise DeadlineExceededError("deadline exceeded before the call", method=op.method)
            try:
                return op.parse(rpc(op.request, timeout=remaining, metadata=self._metadata))
            except grpc.RpcError as e:
                err = from_rpc_error(e, op.method)
            if err.code != grpc.StatusCode.UNAVAILABLE or attempt >= attempts:
                raise err
            pause = self.retry.backoff(attempt)
            if deadline is not None and time.monotonic() + pause >= deadline:
                raise err
            time.sleep(pause)

    # -- health -----------------------------------------------------------

    def health(self, service: str = "", *, timeout: Optional[float] = None) -> str:
        """Returns the grpc.health.v1 status of ``service`` ("" = the whole
        server): "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN" or "UNKNOWN"."""
        t = self.timeout if timeout is None else timeout
        try:
            return self._health(service, timeout=t)
        except grpc.RpcError as e:
            raise from_rpc_error(e, "Health.Check") from None

    def wait_until_serving(self, timeout: float = 30.0, interval: float = 0.05) -> None:
        """Blocks until the health service reports SERVING (the server
        finished recovery), or raises DeadlineExceededError."""
        deadline = time.monotonic() + timeout
        last: Union[str, BanditdError] = "no answer"
        while time.monotonic() < deadline:
            try:
                last = self.health(timeout=max(0.05, min(1.0, deadline - time.monotonic())))
                if last == "SERVING":
                    return
            except BanditdError as e:
                last = e
            time.sleep(interval)
        raise error_for(
            grpc.StatusCode.DEADLINE_EXCEEDED,
            f"server at {self.target} not SERVING after {timeout}s (last: {last})",
            "Health.Check",
        )

    # -- rooms ------------------------------------------------------------

    def create_room(
        self,
        room_id: str,
        arms: Union[str, Sequence[str]] = (),
        *,
        policy: PolicyLike = None,
        decay: Union[Decay, Dict[str, float], None] = None,
        linucb: Union[LinUcbConfig, Dict[str, Any], None] = None,
        timeout: Optional[float] = None,
    ) -> Room:
        """Creates a room with its initial (enabled) arms and default policy,
        for example ``policy="thompson"`` or ``Policy("ucb1", ucb_alpha=0.5)``.
        Raises AlreadyExistsError if the room exists.

        More than 50,000 arms are sent in calls of 50,000 (each below 4 MB,
        gRPC's usual message limit): the room is created with the first
        50,000 and the rest are added with AddArms, each call all or nothing
        (if one fails, the room exists with the arms added so far)."""
        ids = _ops._strings(arms, "arms")
        chunk = _ops.ADD_ARMS_CHUNK
        room = self._invoke(_ops.create_room(room_id, ids[:chunk], policy, decay, linucb), timeout)
        for start in range(chunk, len(ids), chunk):
            self._invoke(_ops.add_arms(room_id, ids[start:start + chunk]), timeout)
        return _ops.replace(room, arms=tuple(Arm(a, True) for a in ids), arm_count=len(ids))

    def get_room(self, room_id: str, *, view: str = "full", timeout: Optional[float] = None) -> Room:
        """Returns a room's resolved default policy and, with ``view="full"``
        (the default), all its arms (read a page of up to 10,000 at a time:
        see :meth:`iter_arms`); ``view="basic"`` leaves the arms out
        (``Room.arm_count`` still counts them)."""
        msg = self._invoke(_ops.get_room_page(room_id, view), timeout)
        room = Room.from_proto(msg)
        if not msg.next_arms_page_token:
            return room
        rest = self.iter_arms(room_id, page_token=msg.next_arms_page_token, timeout=timeout)
        return _ops.replace(room, arms=room.arms + tuple(rest))

    def iter_arms(
        self,
        room_id: str,
        *,
        page_size: int = _ops.ALL_PAGES_SIZE,
        page_token: str = "",
        timeout: Optional[float] = None,
    ) -> Iterator[Arm]:
        """Yields a room's arms in their order, reading a page (ListArms, at
        most 10,000 arms) at a time."""
        token = page_token
        while True:
            resp = self._invoke(_ops.list_arms_page(room_id, page_size, token), timeout)
            for a in resp.arms:
                yield Arm.from_proto(a)
            token = resp.next_page_token
            if not token:
                return

    def list_arms(self, room_id: str, *, timeout: Optional[float] = None) -> List[Arm]:
        """Returns all of a room's arms in their order (all pages)."""
        return list(self.iter_arms(room_id, timeout=timeout))

    def iter_rooms(
        self, *, page_size: int = 0, view: str = "basic", timeout: Optional[float] = None
    ) -> Iterator[Room]:
        """Yields every room ordered by room_id, fetching a page at a time:
        without arms (``view="basic"``, the default; ``Room.arm_count``
        counts them) or with up to 1,000 arms each (``view="full"``)."""
        token = ""
        while True:
            resp = self._invoke(_ops.list_rooms_page(page_size, token, view), timeout)
            for r in resp.rooms:
                yield Room.from_proto(r)
            token = resp.next_page_token
            if not token:
                return

    def list_rooms(
        self, *, page_size: int = 0, view: str = "basic", timeout: Optional[float] = None
    ) -> List[Room]:
        """Returns every room ordered by room_id (all pages), as iter_rooms."""
        return list(self.iter_rooms(page_size=page_size, view=view, timeout=timeout))

    def delete_room(self, room_id: str, *, timeout: Optional[float] = None) -> None:
        """Deletes a room and every counter in it."""
        self._invoke(_ops.delete_room(room_id), timeout)

    def reset_room(self, room_id: str, *, timeout: Optional[float] = None) -> None:
        """Zeroes every counter of a room; keeps arms and policy."""
        self._invoke(_ops.reset_room(room_id), timeout)

    def update_room(
        self,
        room_id: str,
        *,
        policy: PolicyLike = None,
        decay: Union[Decay, Dict[str, float], None] = None,
        update_mask: Union[str, Sequence[str], None] = None,
        timeout: Optional[float] = None,
    ) -> Room:
        """Changes a room's default policy and decay in place; arms and
        counters stay. Returns the updated room.

        Without ``update_mask`` only what is given changes: the policy's type
        when set and each parameter that is not None (``policy="thompson"``
        changes the type alone), and the whole decay when given. With
        ``update_mask`` (paths such as ``"policy.epsilon"``, ``"policy"``,
        ``"decay.half_life_events"``, ``"decay"``, ``"*"``) exactly the named
        fields change, a named field that is unset taking its default.
        Raises InvalidArgumentError naming a bad path or value."""
        return self._invoke(_ops.update_room(room_id, policy, decay, update_mask), timeout)

    def reset_arm(
        self, room_id: str, arm_id: str, *, segment: Optional[str] = None, timeout: Optional[float] = None
    ) -> None:
        """Zeroes one arm's counters: in every segment and context item (and
        its LinUCB model), or with ``segment`` in that segment only ("" is the
        whole-room segment). The arm and its enabled flag stay."""
        self._invoke(_ops.reset_arm(room_id, arm_id, segment), timeout)

    def export_decisions(
        self,
        room_id: str = "",
        *,
        after_sequence: int = 0,
        max_decisions: int = 0,
        timeout: Optional[float] = None,
    ) -> Iterator[Any]:
        """Streams the server's decision log (run with ``--decision_log``):
        ``banditd.v1.LoggedDecision`` messages, oldest first, each with the
        outcomes reported for it. ``banditd.offline.decision_rows`` turns
        them into the rows ``offline.read_log`` reads. Admin only."""
        req = pb.ExportDecisionsRequest(
            room_id=room_id, after_sequence=after_sequence, max_decisions=max_decisions
        )
        t = self.timeout if timeout is None else timeout
        try:
            for msg in self._stub.ExportDecisions(req, timeout=t, metadata=self._metadata):
                yield msg
        except grpc.RpcError as e:
            raise from_rpc_error(e, "ExportDecisions") from None

    # -- arms -------------------------------------------------------------

    def add_arms(
        self, room_id: str, arm_ids: Union[str, Sequence[str]], *, timeout: Optional[float] = None
    ) -> Room:
        """Adds arms and returns the room without its arms (``arm_count``
        counts them). All or nothing for up to 50,000 arms; longer lists are
        sent in calls of 50,000 (each below 4 MB), each all or nothing."""
        ids = _ops._strings(arm_ids, "arm_ids")
        chunk = _ops.ADD_ARMS_CHUNK
        room = None
        for start in range(0, max(len(ids), 1), chunk):
            room = self._invoke(_ops.add_arms(room_id, ids[start:start + chunk]), timeout)
        return room

    def remove_arm(self, room_id: str, arm_id: str, *, timeout: Optional[float] = None) -> None:
        """Removes an arm and all its counters."""
        self._invoke(_ops.remove_arm(room_id, arm_id), timeout)

    def set_arm_enabled(
        self, room_id: str, arm_id: str, enabled: bool, *, timeout: Optional[float] = None
    ) -> Arm:
        """Enables or disables an arm (a disabled arm keeps learning but is
        never sampled)."""
        return self._invoke(_ops.set_arm_enabled(room_id, arm_id, enabled), timeout)

    # -- decisions and feedback -------------------------------------------

    def sample(
        self,
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
        timeout: Optional[float] = None,
    ) -> SampleResult:
        """Ranks the eligible arms and returns the top ``k``, best first.

        ``policy`` overrides the room's default for this call; ``candidates``
        restricts the eligible arms, ``exclude`` removes some; ``seed`` makes
        random choices reproducible. ``result.best`` is the top arm id.
        ``min_applied_sequence`` (cluster mode) waits until this replica has
        applied that write (see :meth:`session`)."""
        op = _ops.sample(
            room_id,
            k,
            segment=segment,
            context=context,
            policy=policy,
            candidates=candidates,
            exclude=exclude,
            seed=seed,
            features=features,
            propensities=propensities,
            propensity_draws=propensity_draws,
            min_applied_sequence=min_applied_sequence,
        )
        return self._invoke(op, timeout)

    def feedback(
        self,
        room_id: str = "",
        arm_id: str = "",
        *,
        views: int = 0,
        clicks: int = 0,
        reward: Optional[float] = None,
        segment: str = "",
        context: Union[str, Sequence[str]] = (),
        event_id: str = "",
        decision_id: str = "",
        features: Sequence[float] = (),
        timeout: Optional[float] = None,
    ) -> FeedbackResult:
        """Records one event: views and/or clicks (and optionally a reward)
        of an arm. Give an ``event_id`` to make it idempotent (and retryable).
        """
        event = FeedbackEvent(
            room_id=room_id,
            arm_id=arm_id,
            views=views,
            clicks=clicks,
            reward=reward,
            segment=segment,
            context=context,
            event_id=event_id,
            decision_id=decision_id,
            features=features,
        )
        return self._invoke(_ops.feedback([event]), timeout)

    def feedback_batch(
        self, events: Iterable[FeedbackEvent], *, timeout: Optional[float] = None
    ) -> FeedbackResult:
        """Records a batch of events atomically: all are applied or none is;
        an InvalidArgumentError names the first bad one (``events[3].arm_id``).
        """
        return self._invoke(_ops.feedback(events), timeout)

    def stats(
        self,
        room_id: str,
        segment: str = "",
        *,
        include_context: bool = False,
        winner: Union[bool, WinnerOptions, Dict[str, Any], None] = None,
        min_applied_sequence: int = 0,
        arm_ids: Union[str, Sequence[str], None] = None,
        timeout: Optional[float] = None,
    ) -> Stats:
        """Per-arm counters and scores of one segment ("" = whole room).
        ``.to_dataframe()`` converts the result to pandas.

        Every arm, read a page of up to 10,000 at a time (see
        :meth:`stats_page` and :meth:`iter_arm_stats` for rooms too large to
        hold), or only ``arm_ids`` (at most 10,000, in one call).

        ``winner=True`` (or a :class:`WinnerOptions`) adds the winner
        analysis: each enabled arm's ``winner`` (probability of being best,
        expected loss, their standard errors; DataFrame columns
        ``prob_best``, ``prob_best_se``, ``expected_loss``,
        ``expected_loss_se``) and ``Stats.winner`` (best arm, ``can_stop``,
        draws made, posterior)."""
        if arm_ids is not None:
            op = _ops.stats(room_id, segment, include_context, winner, min_applied_sequence, arm_ids)
            return self._invoke(op, timeout)
        pages = [self.stats_page(
            room_id, segment, include_context=include_context, winner=winner,
            min_applied_sequence=min_applied_sequence, timeout=timeout)]
        while pages[-1].next_page_token:
            pages.append(self.stats_page(
                room_id, segment, include_context=include_context, winner=winner,
                min_applied_sequence=min_applied_sequence,
                page_token=pages[-1].next_page_token, timeout=timeout))
        return _ops.merge_stats(pages)

    def stats_page(
        self,
        room_id: str,
        segment: str = "",
        *,
        include_context: bool = False,
        winner: Union[bool, WinnerOptions, Dict[str, Any], None] = None,
        min_applied_sequence: int = 0,
        page_size: int = _ops.ALL_PAGES_SIZE,
        page_token: str = "",
        timeout: Optional[float] = None,
    ) -> Stats:
        """One page of :meth:`stats`: up to ``page_size`` arms (at most
        10,000) in room order from ``page_token`` ("" = the first page);
        ``Stats.next_page_token`` continues ("" on the last page)."""
        op = _ops.stats(room_id, segment, include_context, winner, min_applied_sequence,
                        None, page_size, page_token)
        return self._invoke(op, timeout)

    def iter_arm_stats(
        self,
        room_id: str,
        segment: str = "",
        *,
        include_context: bool = False,
        page_size: int = _ops.ALL_PAGES_SIZE,
        timeout: Optional[float] = None,
    ) -> Iterator[Any]:
        """Yields every arm's :class:`ArmStats` in room order, a page at a
        time, without holding them all (rooms of millions of arms)."""
        token = ""
        while True:
            page = self.stats_page(room_id, segment, include_context=include_context,
                                   page_size=page_size, page_token=token, timeout=timeout)
            yield from page.arms
            token = page.next_page_token
            if not token:
                return

    def session(self) -> "Session":
        """A read-your-writes session on this client (see :class:`Session`)."""
        from ._session import Session

        return Session(self)
