"""Event ids are scoped to their room, and DeleteRoom forgets them (issue 12 item 4).

A client that numbers its events per room, or deletes and recreates a room,
used to lose every event as a "duplicate".
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import banditd

from conftest import REPO_ROOT, Server, start_server

WALKTHROUGH = REPO_ROOT / "clients" / "python" / "examples" / "walkthrough.py"


def _run_walkthrough(server: Server) -> str:
    env = dict(os.environ, BANDITD_TARGET=server.target, BANDITD_ROUNDS="400")
    proc = subprocess.run(
        [sys.executable, str(WALKTHROUGH)], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_walkthrough_twice_in_a_row(fresh_server: Server) -> None:
    # The walkthrough deletes and recreates its room and reuses its event ids.
    with banditd.Client(fresh_server.target) as c:
        first = _run_walkthrough(fresh_server)
        views = c.stats("walkthrough").total_views
        assert views >= 400
        second = _run_walkthrough(fresh_server)
        # Seeded throughout: the second run, in a recreated room, sees every
        # event counted and prints the same tables.
        assert second == first
        assert c.stats("walkthrough").total_views == views


def test_ids_per_room_across_delete_recreate_and_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    srv = start_server(data)
    try:
        with banditd.Client(srv.target) as c:
            for room in ("r1", "r2"):
                c.create_room(room, ["a"])
                # Both rooms number their events from 0.
                for i in range(5):
                    assert c.feedback(room, "a", views=1, event_id=f"e{i}").applied_events == 1
            assert c.feedback("r1", "a", views=1, event_id="e0").duplicate_events == 1
            c.delete_room("r1")
            c.create_room("r1", ["a"])
            assert c.feedback("r1", "a", views=1, event_id="e0").applied_events == 1
    finally:
        assert srv.stop() == 0
    srv = start_server(data)
    try:
        with banditd.Client(srv.target) as c:
            # After a restart (log replay) the same ids are known per room.
            assert c.feedback("r1", "a", views=1, event_id="e0").duplicate_events == 1
            assert c.feedback("r1", "a", views=1, event_id="e1").applied_events == 1
            assert c.feedback("r2", "a", views=1, event_id="e1").duplicate_events == 1
            assert c.stats("r1").arms[0].counts.views == 2
            assert c.stats("r2").arms[0].counts.views == 5
    finally:
        srv.stop()
