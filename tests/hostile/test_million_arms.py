"""Four rooms of a million arms each, created, listed and read by a client
with gRPC's default message limits (4 MB receive and send), before and
after a restart (issue 12, bounded responses)."""

from __future__ import annotations

import time

import banditd
from banditd import _ops

from conftest import Server, start_server

ARMS = 1_000_000
ROOMS = 4
# gRPC's default receive limit, which the client below keeps.
DEFAULT_LIMIT = 4 * 1024 * 1024


def ids(room: int) -> list:
    return [f"r{room}-item-{i:07d}" for i in range(ARMS)]


def read_rooms(client: banditd.Client) -> None:
    rooms = [r for r in client.list_rooms() if r.room_id.startswith("million-")]
    assert [(r.room_id, r.arm_count, r.arms) for r in rooms] == [
        (f"million-{n}", ARMS, ()) for n in range(ROOMS)]
    full = client.list_rooms(view="full", page_size=ROOMS)
    assert [len(r.arms) for r in full if r.room_id.startswith("million-")] == [1000] * ROOMS
    for n in range(ROOMS):
        room = f"million-{n}"
        got = client._invoke(_ops.get_room_page(room), None)
        assert (len(got.arms), got.arm_count) == (1000, ARMS)
        assert got.ByteSize() < DEFAULT_LIMIT
        page = client.stats_page(room, page_size=10_000)
        assert (len(page.arms), page.arm_count) == (10_000, ARMS)
        assert page.arms[0].arm_id == f"r{n}-item-0000000"
        named = client.stats(room, arm_ids=[f"r{n}-item-0999999", f"r{n}-item-0000007"])
        assert [(a.arm_id, a.counts.views) for a in named] == [
            (f"r{n}-item-0999999", 2), (f"r{n}-item-0000007", 0)]
    # One room read whole, a page (at most 10,000 arms) at a time.
    listed = 0
    last = ""
    for arm in client.iter_arms("million-3"):
        listed += 1
        last = arm.arm_id
    assert (listed, last) == (ARMS, "r3-item-0999999")


def test_four_million_arm_rooms_with_default_limits(fresh_server: Server, tmp_path) -> None:
    with banditd.Client(fresh_server.target, timeout=60) as client:
        # create_room sends 50,000 ids per call (CreateRoom, then AddArms),
        # each far below 4 MB; the replies count arms instead of echoing.
        start = time.monotonic()
        for n in range(ROOMS):
            room = client.create_room(f"million-{n}", ids(n))
            assert room.arm_count == ARMS
            client.feedback(f"million-{n}", f"r{n}-item-0999999", views=2)
            # AddArms into a full room replies with a count, not the arms.
            added = client.add_arms(f"million-{n}", [f"r{n}-extra"])
            assert (added.arm_count, added.arms) == (ARMS + 1, ())
            client.remove_arm(f"million-{n}", f"r{n}-extra")
        print(f"created {ROOMS} rooms of {ARMS} arms in {time.monotonic() - start:.1f} s")
        read_rooms(client)

    fresh_server.stop()
    restarted = start_server(fresh_server.data_dir, port=fresh_server.port)
    try:
        with banditd.Client(restarted.target, timeout=60) as client:
            read_rooms(client)
    finally:
        restarted.stop()
