"""asyncio banditd client over grpc.aio."""

from __future__ import annotations

import asyncio
import time
from typing import (TYPE_CHECKING, Any, Dict, AsyncIterator, Iterable, List, Optional, Sequence, Tuple,
                    TypeVar, Union)

import grpc
import grpc.aio

from . import _ops
from ._errors import BanditdError, DeadlineExceededError, error_for, from_rpc_error
from ._ops import DEFAULT_TARGET, DEFAULT_TIMEOUT, Op, RetryPolicy
if TYPE_CHECKING:
    from ._session import AsyncSession
from ._types import (
    Arm,
    Decay,
    FeedbackEvent,
    FeedbackResult,
    LinUcbConfig,
    PolicyLike,
    Room,
    SampleResult,
    Stats,
    WinnerOptions,
)
from .v1 import banditd_pb2_grpc

T = TypeVar("T")

__all__ = ["AsyncClient"]


class AsyncClient:
    """The asyncio twin of :class:`banditd.Client`: same methods and
    arguments, as coroutines, over a ``grpc.aio`` channel::

        async with banditd.AsyncClient("localhost:50051") as client:
            result = await client.sample("home")

    Create it inside a running event loop.
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
        channel: Optional[grpc.aio.Channel] = None,
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
                channel = grpc.aio.insecure_channel(target, options=list(options))
            else:
                channel = grpc.aio.secure_channel(target, credentials, options=list(options))
        self._channel = channel
        self._stub = banditd_pb2_grpc.BanditServiceStub(channel)
        self._health = channel.unary_unary(
            _ops.HEALTH_METHOD,
            request_serializer=_ops.encode_health_request,
            response_deserializer=_ops.decode_health_response,
        )

    @property
    def channel(self) -> grpc.aio.Channel:
        return self._channel

    @property
    def stub(self) -> banditd_pb2_grpc.BanditServiceStub:
        return self._stub

    def session(self) -> "AsyncSession":
        """A read-your-writes session on this client (see :class:`AsyncSession`)."""
        from ._session import AsyncSession

        return AsyncSession(self)

    async def close(self) -> None:
        if self._owns_channel:
            await self._channel.close()

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"banditd.AsyncClient({self.target!r}, timeout={self.timeout!r})"

    async def _invoke(self, op: Op[T], timeout: Optional[float]) -> T:
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
                return op.parse(await rpc(op.request, timeout=remaining, metadata=self._metadata))
            except grpc.RpcError as e:
                err = from_rpc_error(e, op.method)
            if err.code != grpc.StatusCode.UNAVAILABLE or attempt >= attempts:
                raise err
            pause = self.retry.backoff(attempt)
            if deadline is not None and time.monotonic() + pause >= deadline:
                raise err
            await asyncio.sleep(pause)

    async def health(self, service: str = "", *, timeout: Optional[float] = None) -> str:
        t = self.timeout if timeout is None else timeout
        try:
            return await self._health(service, timeout=t)
        except grpc.RpcError as e:
            raise from_rpc_error(e, "Health.Check") from None

    async def wait_until_serving(self, timeout: float = 30.0, interval: float = 0.05) -> None:
        deadline = time.monotonic() + timeout
        last: Union[str, BanditdError] = "no answer"
        while time.monotonic() < deadline:
            try:
                last = await self.health(timeout=max(0.05, min(1.0, deadline - time.monotonic())))
                if last == "SERVING":
                    return
            except BanditdError as e:
                last = e
            await asyncio.sleep(interval)
        raise error_for(
            grpc.StatusCode.DEADLINE_EXCEEDED,
            f"server at {self.target} not SERVING after {timeout}s (last: {last})",
            "Health.Check",
        )

    async def create_room(
        self,
        room_id: str,
        arms: Union[str, Sequence[str]] = (),
        *,
        policy: PolicyLike = None,
        decay: Union[Decay, Dict[str, float], None] = None,
        linucb: Union[LinUcbConfig, Dict[str, Any], None] = None,
        timeout: Optional[float] = None,
    ) -> Room:
        # As Client.create_room: more than 50,000 arms go in AddArms chunks.
        ids = _ops._strings(arms, "arms")
        chunk = _ops.ADD_ARMS_CHUNK
        room = await self._invoke(_ops.create_room(room_id, ids[:chunk], policy, decay, linucb), timeout)
        for start in range(chunk, len(ids), chunk):
            await self._invoke(_ops.add_arms(room_id, ids[start:start + chunk]), timeout)
        return _ops.replace(room, arms=tuple(Arm(a, True) for a in ids), arm_count=len(ids))

    async def get_room(self, room_id: str, *, view: str = "full", timeout: Optional[float] = None) -> Room:
        msg = await self._invoke(_ops.get_room_page(room_id, view), timeout)
        room = Room.from_proto(msg)
        if not msg.next_arms_page_token:
            return room
        rest = [a async for a in self.iter_arms(
            room_id, page_token=msg.next_arms_page_token, timeout=timeout)]
        return _ops.replace(room, arms=room.arms + tuple(rest))

    async def iter_arms(
        self,
        room_id: str,
        *,
        page_size: int = _ops.ALL_PAGES_SIZE,
        page_token: str = "",
        timeout: Optional[float] = None,
    ) -> AsyncIterator[Arm]:
        token = page_token
        while True:
            resp = await self._invoke(_ops.list_arms_page(room_id, page_size, token), timeout)
            for a in resp.arms:
                yield Arm.from_proto(a)
            token = resp.next_page_token
            if not token:
                return

    async def list_arms(self, room_id: str, *, timeout: Optional[float] = None) -> List[Arm]:
        return [a async for a in self.iter_arms(room_id, timeout=timeout)]

    async def iter_rooms(
        self, *, page_size: int = 0, view: str = "basic", timeout: Optional[float] = None
    ) -> AsyncIterator[Room]:
        token = ""
        while True:
            resp = await self._invoke(_ops.list_rooms_page(page_size, token, view), timeout)
            for r in resp.rooms:
                yield Room.from_proto(r)
            token = resp.next_page_token
            if not token:
                return

    async def list_rooms(
        self, *, page_size: int = 0, view: str = "basic", timeout: Optional[float] = None
    ) -> List[Room]:
        return [r async for r in self.iter_rooms(page_size=page_size, view=view, timeout=timeout)]

    async def delete_room(self, room_id: str, *, timeout: Optional[float] = None) -> None:
        await self._invoke(_ops.delete_room(room_id), timeout)

    async def reset_room(self, room_id: str, *, timeout: Optional[float] = None) -> None:
        await self._invoke(_ops.reset_room(room_id), timeout)

    async def update_room(
        self,
        room_id: str,
        *,
        policy: PolicyLike = None,
        decay: Union[Decay, Dict[str, float], None] = None,
        update_mask: Union[str, Sequence[str], None] = None,
        timeout: Optional[float] = None,
    ) -> Room:
        return await self._invoke(_ops.update_room(room_id, policy, decay, update_mask), timeout)

    async def reset_arm(
        self, room_id: str, arm_id: str, *, segment: Optional[str] = None, timeout: Optional[float] = None
    ) -> None:
        await self._invoke(_ops.reset_arm(room_id, arm_id, segment), timeout)

    async def add_arms(
        self, room_id: str, arm_ids: Union[str, Sequence[str]], *, timeout: Optional[float] = None
    ) -> Room:
        ids = _ops._strings(arm_ids, "arm_ids")
        chunk = _ops.ADD_ARMS_CHUNK
        room = None
        for start in range(0, max(len(ids), 1), chunk):
            room = await self._invoke(_ops.add_arms(room_id, ids[start:start + chunk]), timeout)
        return room

    async def remove_arm(self, room_id: str, arm_id: str, *, timeout: Optional[float] = None) -> None:
        await self._invoke(_ops.remove_arm(room_id, arm_id), timeout)

    async def set_arm_enabled(
        self, room_id: str, arm_id: str, enabled: bool, *, timeout: Optional[float] = None
    ) -> Arm:
        return await self._invoke(_ops.set_arm_enabled(room_id, arm_id, enabled), timeout)

    async def sample(
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
        return await self._invoke(op, timeout)

    async def feedback(
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
        return await self._invoke(_ops.feedback([event]), timeout)

    async def feedback_batch(
        self, events: Iterable[FeedbackEvent], *, timeout: Optional[float] = None
    ) -> FeedbackResult:
        return await self._invoke(_ops.feedback(events), timeout)

    async def stats(
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
        if arm_ids is not None:
            op = _ops.stats(room_id, segment, include_context, winner, min_applied_sequence, arm_ids)
            return await self._invoke(op, timeout)
        pages = [await self.stats_page(
            room_id, segment, include_context=include_context, winner=winner,
            min_applied_sequence=min_applied_sequence, timeout=timeout)]
        while pages[-1].next_page_token:
            pages.append(await self.stats_page(
                room_id, segment, include_context=include_context, winner=winner,
                min_applied_sequence=min_applied_sequence,
                page_token=pages[-1].next_page_token, timeout=timeout))
        return _ops.merge_stats(pages)

    async def stats_page(
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
        op = _ops.stats(room_id, segment, include_context, winner, min_applied_sequence,
                        None, page_size, page_token)
        return await self._invoke(op, timeout)

    async def iter_arm_stats(
        self,
        room_id: str,
        segment: str = "",
        *,
        include_context: bool = False,
        page_size: int = _ops.ALL_PAGES_SIZE,
        timeout: Optional[float] = None,
    ) -> AsyncIterator[Any]:
        token = ""
        while True:
            page = await self.stats_page(room_id, segment, include_context=include_context,
                                         page_size=page_size, page_token=token, timeout=timeout)
            for a in page.arms:
                yield a
            token = page.next_page_token
            if not token:
                return
