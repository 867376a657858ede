"""Bounded replies: views, arm pages and chunked AddArms (issue 12)."""

import banditd
from banditd import _ops


def test_list_rooms_views(client: banditd.Client, room_id: str) -> None:
    client.create_room(room_id, ["a", "b"])
    client.set_arm_enabled(room_id, "b", False)
    basic = [r for r in client.list_rooms() if r.room_id == room_id]
    assert [(r.arms, r.arm_count) for r in basic] == [((), 2)]
    full = [r for r in client.list_rooms(view="full") if r.room_id == room_id]
    assert [(r.arms, r.arm_count) for r in full] == [
        ((banditd.Arm("a"), banditd.Arm("b", enabled=False)), 2)]
    assert client.get_room(room_id, view="basic").arms == ()
    assert client.get_room(room_id, view="basic").arm_count == 2


def test_arm_pages(client: banditd.Client, room_id: str) -> None:
    ids = [f"arm-{i:04d}" for i in range(2500)]
    client.create_room(room_id, ids)
    # GetRoom lists the first 1,000; get_room reads the rest with ListArms.
    assert client.get_room(room_id).arm_ids == ids
    assert [a.arm_id for a in client.iter_arms(room_id, page_size=700)] == ids
    resp = client._invoke(_ops.list_arms_page(room_id, 0, ""), None)
    assert (len(resp.arms), resp.total_size) == (1000, 2500)
    assert resp.next_page_token
    # A removed arm before the cursor does not shift the next page.
    client.remove_arm(room_id, "arm-0003")
    nxt = client._invoke(_ops.list_arms_page(room_id, 2, resp.next_page_token), None)
    assert [a.arm_id for a in nxt.arms] == ["arm-1000", "arm-1001"]


def test_stats_pages_and_named_arms(client: banditd.Client, room_id: str) -> None:
    ids = [f"a{i}" for i in range(25)]
    client.create_room(room_id, ids)
    client.feedback(room_id, "a7", views=4, clicks=1)
    first = client.stats_page(room_id, page_size=10)
    assert [a.arm_id for a in first] == ids[:10]
    assert (first.arm_count, first.total_views) == (25, 4)
    second = client.stats_page(room_id, page_size=10, page_token=first.next_page_token)
    assert [a.arm_id for a in second] == ids[10:20]
    last = client.stats_page(room_id, page_size=10, page_token=second.next_page_token)
    assert ([a.arm_id for a in last], last.next_page_token) == (ids[20:], "")
    assert [a.arm_id for a in client.stats(room_id)] == ids
    named = client.stats(room_id, arm_ids=["a7", "a0"])
    assert [(a.arm_id, a.counts.views) for a in named] == [("a7", 4), ("a0", 0)]
    try:
        client.stats(room_id, arm_ids=["a7", "nope"])
        raise AssertionError("expected NotFoundError")
    except banditd.NotFoundError as e:
        assert e.field_violations[0].field == "arm_ids[1]"


def test_chunked_create_and_add(client: banditd.Client, room_id: str, monkeypatch) -> None:
    monkeypatch.setattr(_ops, "ADD_ARMS_CHUNK", 3)
    room = client.create_room(room_id, ["a", "b", "c", "d", "e"])
    assert (room.arm_ids, room.arm_count) == (["a", "b", "c", "d", "e"], 5)
    assert client.add_arms(room_id, ["f", "g", "h", "i"]).arm_count == 9
    assert client.get_room(room_id).arm_ids == list("abcdefghi")
