"""AsyncClient: the same surface as Client, over grpc.aio."""

from __future__ import annotations

import asyncio
import math

import grpc
import pytest

import banditd
from banditd import FeedbackEvent


def run(coro):
    return asyncio.run(coro)


def test_async_client_every_method(server, room_id: str) -> None:
    async def main() -> None:
        async with banditd.AsyncClient(server.target) as c:
            assert "AsyncClient" in repr(c)
            assert await c.health() == "SERVING"
            await c.wait_until_serving(timeout=5)
            room = await c.create_room(room_id, ["a", "b"], policy="ctr")
            assert room.arm_ids == ["a", "b"]
            assert await c.get_room(room_id) == room
            assert (await c.add_arms(room_id, ["c"])).arm_count == 3
            assert [a.arm_id for a in await c.list_arms(room_id)] == ["a", "b", "c"]
            page = await c.stats_page(room_id, page_size=2)
            assert ([a.arm_id for a in page], page.arm_count) == (["a", "b"], 3)
            assert [a.arm_id async for a in c.iter_arm_stats(room_id, page_size=1)] == ["a", "b", "c"]
            assert [a.arm_id for a in await c.stats(room_id, arm_ids=["c", "a"])] == ["c", "a"]
            assert [r.arm_count for r in await c.list_rooms() if r.room_id == room_id] == [3]
            assert (await c.set_arm_enabled(room_id, "c", False)).enabled is False
            await c.remove_arm(room_id, "c")
            assert room_id in [r.room_id for r in await c.list_rooms(page_size=1)]
            assert [r.room_id async for r in c.iter_rooms()] == [r.room_id for r in await c.list_rooms()]

            res = await c.sample(room_id, k=0)
            assert len(res) == 1 and math.isinf(res[0].score)
            r = await c.feedback(room_id, "a", views=2, clicks=1, event_id=f"{room_id}-1")
            assert r.applied_events == 1
            r = await c.feedback_batch(
                [FeedbackEvent(room_id, "b", views=2), FeedbackEvent(room_id, "a", views=1, event_id=f"{room_id}-1")]
            )
            assert (r.applied_events, r.duplicate_events) == (1, 1)
            ranked = await c.sample(room_id, k=5, seed=7)
            assert ranked.arm_ids == ["a", "b"]
            st = await c.stats(room_id, include_context=True)
            assert st["a"].ctr == 0.5 and st.total_views == 4

            await c.reset_room(room_id)
            assert (await c.stats(room_id))["a"].counts.views == 0
            await c.delete_room(room_id)
            with pytest.raises(banditd.NotFoundError) as info:
                await c.get_room(room_id)
            assert info.value.code is grpc.StatusCode.NOT_FOUND
            assert room_id in info.value.message

    run(main())


def test_async_errors_and_concurrency(server, room_id: str) -> None:
    async def main() -> None:
        async with banditd.AsyncClient(server.target) as c:
            await c.create_room(room_id, ["a", "b", "c"])
            with pytest.raises(banditd.AlreadyExistsError):
                await c.create_room(room_id)
            with pytest.raises(banditd.InvalidArgumentError) as info:
                await c.sample(room_id, segment="not valid")
            assert info.value.message.startswith("segment")
            # Many concurrent decisions and reports on one channel.
            picks = await asyncio.gather(*(c.sample(room_id) for _ in range(50)))
            await asyncio.gather(*(c.feedback(room_id, p.best, views=1) for p in picks))
            st = await c.stats(room_id)
            assert sum(a.counts.views for a in st) == 50

    run(main())


def test_async_unavailable() -> None:
    from conftest import free_port

    async def main() -> None:
        retry = banditd.RetryPolicy(max_attempts=2, initial_backoff=0.05)
        async with banditd.AsyncClient(f"127.0.0.1:{free_port()}", retry=retry) as c:
            with pytest.raises(banditd.UnavailableError):
                await c.sample("r")

    run(main())
