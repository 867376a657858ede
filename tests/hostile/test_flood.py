"""A client floods a big room with unique context items (issue 12 item 1).

Every new context item used to allocate a counter table for every arm of the
room: in a 10,000-arm room one Feedback call of 100 events with 32 new items
each grew the server by about 2 GB. Tables are sparse now, and the engine's
memory budget refuses what would pass it with RESOURCE_EXHAUSTED, naming the
flag, while Sample and GetStats keep working.
"""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

import banditd
import pytest
from banditd import FeedbackEvent

from conftest import free_port, rss_bytes, start_server

BUDGET = 48 << 20
ARMS = 10_000


def _metric(port: int, name: str, labels: str = "") -> float:
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    pattern = re.escape(name) + (re.escape("{" + labels + "}") if labels else "") + r" (\S+)"
    match = re.search(r"^" + pattern + "$", body, re.M)
    assert match, f"{name}{{{labels}}} not in /metrics"
    return float(match.group(1))


def test_unique_context_item_flood_ends_in_budget(tmp_path: Path) -> None:
    metrics_port = free_port()
    srv = start_server(
        tmp_path / "data",
        extra=[
            f"--memory_budget_bytes={BUDGET}",
            "--max_context_items_per_segment=10000000",
            f"--metrics_port={metrics_port}",
            "--durability=async",
        ],
    )
    try:
        with banditd.Client(srv.target, timeout=60) as c:
            arms = [f"arm{i}" for i in range(ARMS)]
            c.create_room("flood", arms)
            rss_before = rss_bytes(srv.process.pid)
            refused = None
            calls = 0
            for call in range(400):
                events = [
                    FeedbackEvent(
                        room_id="flood",
                        arm_id=arms[(call * 100 + e) % ARMS],
                        views=1,
                        clicks=e % 2,
                        context=[f"c{call}-{e}-{j}" for j in range(32)],
                    )
                    for e in range(100)
                ]
                try:
                    c.feedback_batch(events)
                    calls += 1
                except banditd.ResourceExhaustedError as err:
                    refused = err
                    break
            rss_after = rss_bytes(srv.process.pid)
            assert refused is not None, f"{calls} calls all admitted"
            assert "--memory_budget_bytes" in str(refused)
            # Dense tables took ~2 GB per call; sparse ones some hundreds of KB,
            # so the budget admits tens of calls before it refuses.
            assert calls >= 20
            growth = rss_after - rss_before
            assert growth < 3 * BUDGET, f"RSS grew {growth / 2**20:.0f} MiB"
            used = _metric(metrics_port, "banditd_memory_bytes_used")
            assert 0.5 * BUDGET < used <= BUDGET
            assert _metric(metrics_port, "banditd_memory_budget_bytes") == BUDGET
            assert (
                _metric(metrics_port, "banditd_limit_rejections", 'limit="memory_budget_bytes"')
                == 1
            )
            # Reads keep working, and so does counting where counters exist.
            assert len(c.sample("flood", k=5, context=["c0-0-0"]).arms) == 5
            assert c.stats("flood").total_views == calls * 100
            c.feedback("flood", arms[0], views=1)
            with pytest.raises(banditd.ResourceExhaustedError):
                c.create_room("another", arms)
    finally:
        srv.stop()
