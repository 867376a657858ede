"""An operator lowers every request-limit flag and restarts: nothing logged is lost.

Limits shape what a server admits, never how it reads its log back (issue 12
item 2: replay used to re-check them and silently drop acknowledged records).
"""

from __future__ import annotations

from pathlib import Path

import banditd
import pytest
from banditd import FeedbackEvent

from conftest import start_server

GENEROUS = [
    "--max_batch_events=1000",
    "--max_context_items=32",
    "--linucb_max_dimension=16",
    "--max_rooms=100",
    "--max_arms_per_room=1000",
    "--max_segments_per_room=100",
    "--max_context_items_per_segment=1000",
]
LOWERED = [
    "--max_batch_events=1",
    "--max_context_items=1",
    "--linucb_max_dimension=1",
    "--max_rooms=1",
    "--max_arms_per_room=1",
    "--max_segments_per_room=0",
    "--max_context_items_per_segment=1",
]


def _views(stats: banditd.Stats) -> dict:
    return {a.arm_id: (a.counts.views, a.counts.clicks) for a in stats.arms}


def test_replay_after_lowering_every_limit(tmp_path: Path) -> None:
    data = tmp_path / "data"
    srv = start_server(data, extra=GENEROUS)
    try:
        with banditd.Client(srv.target) as c:
            c.create_room("plain", ["a", "b", "c"])
            c.create_room("lin", ["x", "y"], policy="linucb", linucb={"dimension": 8})
            events = []
            for i in range(300):
                events.append(
                    FeedbackEvent(
                        room_id="plain",
                        arm_id="abc"[i % 3],
                        views=1,
                        clicks=i % 2,
                        segment=f"seg{i % 7}",
                        context=[f"item{(i + j) % 50}" for j in range(32)],
                        event_id=f"e{i}",
                    )
                )
            assert c.feedback_batch(events).applied_events == 300
            lin = [
                FeedbackEvent(room_id="lin", arm_id="x", views=1, clicks=1, features=[0.1] * 8)
                for _ in range(5)
            ]
            assert c.feedback_batch(lin).applied_events == 5
            before = _views(c.stats("plain"))
            before_seg = _views(c.stats("plain", "seg3", include_context=True))
            before_lin = _views(c.stats("lin"))
    finally:
        assert srv.stop() == 0

    srv = start_server(data, extra=LOWERED)
    try:
        assert "0 rejected" in srv.log()
        with banditd.Client(srv.target) as c:
            assert _views(c.stats("plain")) == before
            assert before["a"] == (100, 50)
            assert _views(c.stats("plain", "seg3", include_context=True)) == before_seg
            assert _views(c.stats("lin")) == before_lin
            # The lowered limits apply to what comes next.
            with pytest.raises(banditd.ResourceExhaustedError):
                c.create_room("third", ["a"])
            with pytest.raises(banditd.InvalidArgumentError):
                c.feedback_batch(events[:2])
            # Replayed event ids are still known: a retry counts nothing.
            assert c.feedback("plain", "a", views=1, event_id="e0").duplicate_events == 1
    finally:
        srv.stop()
