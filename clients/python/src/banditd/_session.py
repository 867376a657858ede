"""Read-your-writes across cluster replicas."""

import threading
from typing import Any, Iterable, Optional, TypeVar

from ._types import FeedbackEvent, FeedbackResult, SampleResult, Stats


class _Mark:
    """The highest stream sequence a session has written or read."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seq = 0

    def get(self) -> int:
        with self._lock:
            return self._seq

    def advance(self, seq: int) -> None:
        with self._lock:
            self._seq = max(self._seq, seq)


_S = TypeVar("_S", bound="_Base")


class _Base:
    """A client and the mark it shares with sessions made by :meth:`on`."""

    def __init__(self, client: Any, mark: Optional[_Mark] = None) -> None:
        self._client = client
        self._mark = mark if mark is not None else _Mark()

    @property
    def applied_sequence(self) -> int:
        """The sequence reads of this session wait for."""
        return self._mark.get()

    def on(self: _S, client: Any) -> _S:
        """The same session (same mark) on another client."""
        return type(self)(client, self._mark)


class Session(_Base):
    """Reads that reflect this session's own writes, on any replica.

    In cluster mode every write answers with the stream sequence it was
    stored at; the session remembers the highest one and passes it as
    ``min_applied_sequence`` to :meth:`sample` and :meth:`stats`, so a read on
    a replica that has not applied the write yet waits for it (bounded by the
    server's ``--cluster_read_wait_timeout``, then ``UnavailableError``
    naming ``min_applied_sequence``). Reads are monotonic too: a read's
    ``applied_sequence`` also raises the mark. Outside cluster mode the
    sequences are 0 and the session is a plain pass-through.

    ``session.on(other_client)`` continues the same session on another
    replica::

        s = client_a.session()
        s.feedback("shop", "a1", views=1, clicks=1, event_id="e1")
        s.on(client_b).stats("shop")   # includes e1
    """


    def feedback(self, *args: Any, **kwargs: Any) -> FeedbackResult:
        result: FeedbackResult = self._client.feedback(*args, **kwargs)
        self._mark.advance(result.applied_sequence)
        return result

    def feedback_batch(
        self, events: Iterable[FeedbackEvent], *, timeout: Optional[float] = None
    ) -> FeedbackResult:
        result: FeedbackResult = self._client.feedback_batch(events, timeout=timeout)
        self._mark.advance(result.applied_sequence)
        return result

    def sample(self, *args: Any, **kwargs: Any) -> SampleResult:
        kwargs.setdefault("min_applied_sequence", self._mark.get())
        result: SampleResult = self._client.sample(*args, **kwargs)
        return result

    def stats(self, *args: Any, **kwargs: Any) -> Stats:
        kwargs.setdefault("min_applied_sequence", self._mark.get())
        result: Stats = self._client.stats(*args, **kwargs)
        self._mark.advance(result.applied_sequence)
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
        self._mark.advance(result.applied_sequence)
        return result

    async def feedback_batch(
        self, events: Iterable[FeedbackEvent], *, timeout: Optional[float] = None
    ) -> FeedbackResult:
        result: FeedbackResult = await self._client.feedback_batch(events, timeout=timeout)
        self._mark.advance(result.applied_sequence)
        return result

    async def sample(self, *args: Any, **kwargs: Any) -> SampleResult:
        kwargs.setdefault("min_applied_sequence", self._mark.get())
        result: SampleResult = await self._client.sample(*args, **kwargs)
        return result

    async def stats(self, *args: Any, **kwargs: Any) -> Stats:
        kwargs.setdefault("min_applied_sequence", self._mark.get())
        result: Stats = await self._client.stats(*args, **kwargs)
        self._mark.advance(result.applied_sequence)
        return result
