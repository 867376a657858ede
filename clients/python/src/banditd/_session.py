"""Read-your-writes across cluster replicas."""

import threading
from typing import Any, Dict, Iterable, List, Optional, TypeVar

from ._types import FeedbackEvent, FeedbackResult, SampleResult, Stats


class _Mark:
    """The highest stream sequence a session has written or read, per room:
    a cluster may spread rooms over several streams (``--cluster_streams``),
    whose sequences do not compare."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seqs: Dict[str, int] = {}

    def get(self, room_id: str) -> int:
        with self._lock:
            return self._seqs.get(room_id, 0)

    def highest(self) -> int:
        with self._lock:
            return max(self._seqs.values(), default=0)

    def advance(self, room_ids: Iterable[str], seq: int) -> None:
        if seq <= 0:
            return
        with self._lock:
            for room_id in room_ids:
                self._seqs[room_id] = max(self._seqs.get(room_id, 0), seq)


def _room(args: Any, kwargs: Any) -> str:
    """The room_id of a feedback/sample/stats call (first argument)."""
    if "room_id" in kwargs:
        return str(kwargs["room_id"])
    return str(args[0]) if args else ""


def _rooms(events: List[FeedbackEvent]) -> List[str]:
    return list(dict.fromkeys(e.room_id for e in events))


_S = TypeVar("_S", bound="_Base")


class _Base:
    """A client and the mark it shares with sessions made by :meth:`on`."""

    def __init__(self, client: Any, mark: Optional[_Mark] = None) -> None:
        self._client = client
        self._mark = mark if mark is not None else _Mark()

    @property
    def applied_sequence(self) -> int:
        """The highest sequence this session wrote or read, over all rooms."""
        return self._mark.highest()

    def applied_sequence_of(self, room_id: str) -> int:
        """The sequence reads of ``room_id`` in this session wait for."""
        return self._mark.get(room_id)

    def on(self: _S, client: Any) -> _S:
        """The same session (same mark) on another client."""
        return type(self)(client, self._mark)


class Session(_Base):
    """Reads that reflect this session's own writes, on any replica.

    In cluster mode every write answers with the stream sequence it was
    stored at; the session remembers the highest one per room and passes it
    as ``min_applied_sequence`` to :meth:`sample` and :meth:`stats` of that
    room (sequences are per stream, and a cluster may spread rooms over
    several streams), so a read on
    a replica that has not applied the write yet waits for it (bounded by the
    server's ``--cluster_read_wait_timeout``, then ``UnavailableError``
    naming ``min_applied_sequence``). Reads are monotonic too: a read's
    ``applied_sequence`` also raises the room's mark. A batch over rooms of
    different streams reports no sequence (0), so reads after it do not wait:
    write one room per call for read-your-writes there. Outside cluster mode the
    sequences are 0 and the session is a plain pass-through.

    ``session.on(other_client)`` continues the same session on another
    replica::

        s = client_a.session()
        s.feedback("shop", "a1", views=1, clicks=1, event_id="e1")
        s.on(client_b).stats("shop")   # includes e1
    """


    def feedback(self, *args: Any, **kwargs: Any) -> FeedbackResult:
        result: FeedbackResult = self._client.feedback(*args, **kwargs)
        self._mark.advance([_room(args, kwargs)], result.applied_sequence)
        return result

    def feedback_batch(
        self, events: Iterable[FeedbackEvent], *, timeout: Optional[float] = None
    ) -> FeedbackResult:
        batch = list(events)
        result: FeedbackResult = self._client.feedback_batch(batch, timeout=timeout)
        self._mark.advance(_rooms(batch), result.applied_sequence)
        return result

    def sample(self, *args: Any, **kwargs: Any) -> SampleResult:
        kwargs.setdefault("min_applied_sequence", self._mark.get(_room(args, kwargs)))
        result: SampleResult = self._client.sample(*args, **kwargs)
        return result

    def stats(self, *args: Any, **kwargs: Any) -> Stats:
        room_id = _room(args, kwargs)
        kwargs.setdefault("min_applied_sequence", self._mark.get(room_id))
        result: Stats = self._client.stats(*args, **kwargs)
        self._mark.advance([room_id], result.applied_sequence)
        return result


class AsyncSession(_Base):
    """:class:`Session` for :class:`AsyncClient`: the same mark and rules,
    with awaitable calls. ``session.on(other)`` takes another AsyncClient::

        s = client_a.session()
        await s.feedback("shop", "a1", views=1, clicks=1, event_id="e1")
        await s.on(client_b).stats("shop")   # includes e1
    """


    async def feedback(self, *args: Any, **kwargs: Any) -> FeedbackResult:
        result: FeedbackResult = await self._client.feedback(*args, **kwargs)
        self._mark.advance([_room(args, kwargs)], result.applied_sequence)
        return result

    async def feedback_batch(
        self, events: Iterable[FeedbackEvent], *, timeout: Optional[float] = None
    ) -> FeedbackResult:
        batch = list(events)
        result: FeedbackResult = await self._client.feedback_batch(batch, timeout=timeout)
        self._mark.advance(_rooms(batch), result.applied_sequence)
        return result

    async def sample(self, *args: Any, **kwargs: Any) -> SampleResult:
        kwargs.setdefault("min_applied_sequence", self._mark.get(_room(args, kwargs)))
        result: SampleResult = await self._client.sample(*args, **kwargs)
        return result

    async def stats(self, *args: Any, **kwargs: Any) -> Stats:
        room_id = _room(args, kwargs)
        kwargs.setdefault("min_applied_sequence", self._mark.get(room_id))
        result: Stats = await self._client.stats(*args, **kwargs)
        self._mark.advance([room_id], result.applied_sequence)
        return result
