"""Read-your-writes sessions against two real replicas in cluster mode.

One single-node NATS JetStream server (nats-server from PATH: scripts/test.sh
puts the release pinned by scripts/setup.sh first) and two banditd replicas
sharing an R1 stream. Fails, not skips, when nats-server is missing.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from pathlib import Path
from typing import Iterator, Tuple

import pytest

import banditd
from conftest import Server, free_port, start_server


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tuple[Server, Server]]:
    nats = shutil.which("nats-server")
    if nats is None:
        pytest.fail("nats-server is not installed: run scripts/setup.sh")
    root = tmp_path_factory.mktemp("cluster")
    port = free_port()
    log = open(root / "nats.log", "wb")
    proc = subprocess.Popen(
        [nats, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(root / "nats")],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    deadline = time.monotonic() + 15
    while b"Server is ready" not in (root / "nats.log").read_bytes():
        assert time.monotonic() < deadline, (root / "nats.log").read_text()
        time.sleep(0.05)
    flags = [
        f"--cluster_nats=nats://127.0.0.1:{port}",
        "--cluster_replicas=1",
        "--cluster_read_wait_timeout=300ms",
    ]
    a = b = None
    try:
        a = start_server(root / "a", extra=flags)
        b = start_server(root / "b", extra=flags)
        yield a, b
    finally:
        for s in (a, b):
            if s is not None:
                s.stop()
        proc.terminate()
        proc.wait(10)


def test_session_reads_its_writes_on_another_replica(replicas, room_id):
    a, b = replicas
    with banditd.Client(a.target) as ca, banditd.Client(b.target) as cb:
        ca.create_room(room_id, ["x", "y"])
        session = ca.session()
        on_b = session.on(cb)
        for i in range(1, 11):
            result = session.feedback(room_id, "x", views=1, clicks=i % 2, event_id=f"e{i}")
            assert result.applied_events == 1
            assert result.applied_sequence > 0
            assert session.applied_sequence == result.applied_sequence
            # No polling: the read on the other replica waits for the write.
            stats = on_b.stats(room_id)
            assert stats["x"].counts.views == i
            assert stats.applied_sequence >= result.applied_sequence
        assert on_b.sample(room_id).best in ("x", "y")


def test_async_session_reads_its_writes_on_another_replica(replicas, room_id):
    a, b = replicas

    async def main() -> None:
        async with banditd.AsyncClient(a.target) as ca, banditd.AsyncClient(b.target) as cb:
            await ca.create_room(room_id, ["x", "y"])
            session = ca.session()
            on_b = session.on(cb)
            for i in range(1, 6):
                result = await session.feedback(room_id, "x", views=1, event_id=f"e{i}")
                assert result.applied_sequence > 0
                assert on_b.applied_sequence == result.applied_sequence
                stats = await on_b.stats(room_id)
                assert stats["x"].counts.views == i
            assert (await on_b.sample(room_id)).best in ("x", "y")

    asyncio.run(main())


def test_unreached_sequence_is_unavailable_naming_the_field(replicas, room_id):
    a, b = replicas
    once = banditd.RetryPolicy(max_attempts=1)
    with banditd.Client(a.target) as ca, banditd.Client(b.target, retry=once) as cb:
        ca.create_room(room_id, ["x"])
        written = ca.feedback(room_id, "x", views=1, event_id="only")
        start = time.monotonic()
        with pytest.raises(banditd.UnavailableError) as err:
            cb.stats(room_id, min_applied_sequence=written.applied_sequence + 10_000, timeout=5)
        assert "min_applied_sequence" in str(err.value)
        assert time.monotonic() - start < 4  # bounded by the server's wait


def test_outside_cluster_mode_the_session_passes_through(client, room_id):
    client.create_room(room_id, ["x"])
    session = client.session()
    result = session.feedback(room_id, "x", views=2, event_id="p1")
    assert result.applied_sequence == 0
    assert session.stats(room_id)["x"].counts.views == 2
    assert session.applied_sequence == 0


class _FakeClient:
    """Answers writes with a given sequence per room, records what reads ask:
    a cluster with rooms on different streams, whose sequences differ."""

    def __init__(self, seqs: dict) -> None:
        self.seqs = seqs
        self.asked: list = []

    def feedback(self, room_id: str = "", arm_id: str = "", **kwargs) -> banditd.FeedbackResult:
        return banditd.FeedbackResult(applied_events=1, applied_sequence=self.seqs[room_id])

    def feedback_batch(self, events, **kwargs) -> banditd.FeedbackResult:
        rooms = {e.room_id for e in events}
        seq = self.seqs[rooms.pop()] if len(rooms) == 1 else 0
        return banditd.FeedbackResult(applied_events=len(events), applied_sequence=seq)

    def sample(self, room_id: str, *args, min_applied_sequence: int = 0, **kwargs):
        self.asked.append(("sample", room_id, min_applied_sequence))

    def stats(self, room_id: str, *args, min_applied_sequence: int = 0, **kwargs):
        self.asked.append(("stats", room_id, min_applied_sequence))
        return type("S", (), {"applied_sequence": min_applied_sequence})()


def test_session_marks_are_per_room():
    # "busy" is at seq 50 of its stream, "quiet" at seq 3 of another: a read
    # of quiet must not wait for 50, which its stream may never reach.
    fake = _FakeClient({"busy": 50, "quiet": 3})
    session = banditd.Session(fake)
    session.feedback("busy", "x", views=1)
    session.feedback(room_id="quiet", arm_id="x", views=1)
    session.sample("quiet")
    session.stats("busy")
    session.sample("other")
    # A batch over two streams reports no sequence: marks stay as they were.
    session.feedback_batch([banditd.FeedbackEvent(room_id="busy", arm_id="x", views=1),
                            banditd.FeedbackEvent(room_id="quiet", arm_id="x", views=1)])
    session.stats("quiet")
    assert fake.asked == [("sample", "quiet", 3), ("stats", "busy", 50),
                          ("sample", "other", 0), ("stats", "quiet", 3)]
    assert session.applied_sequence_of("busy") == 50
    assert session.applied_sequence == 50
