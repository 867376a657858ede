"""Error paths: server errors become typed exceptions with code and message;
UNAVAILABLE is retried with backoff, nothing else is."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import grpc
import pytest

import banditd
from banditd import FeedbackEvent as E
from banditd import Policy
from banditd._errors import from_rpc_error

from conftest import Server, free_port, start_server

NF, AE, IA = banditd.NotFoundError, banditd.AlreadyExistsError, banditd.InvalidArgumentError

# (name, call(client, room) , exception class, text the message must contain)
CASES = [
    ("create existing room", lambda c, r: c.create_room(r), AE, "room_id"),
    ("create bad room id", lambda c, r: c.create_room("bad id"), IA, "room_id"),
    ("create duplicate arms", lambda c, r: c.create_room(r + "x", ["a", "a"]), AE, "arm_ids[1]"),
    ("create bad policy", lambda c, r: c.create_room(r + "y", policy=Policy("thompson", beta_prior_a=0)), IA, "policy.beta_prior_a"),
    ("get empty room id", lambda c, r: c.get_room(""), IA, "room_id"),
    ("get too long room id", lambda c, r: c.get_room("x" * 129), IA, "room_id"),
    ("get unknown room", lambda c, r: c.get_room(r + "-missing"), NF, "room_id"),
    ("list negative page size", lambda c, r: c.list_rooms(page_size=-1), IA, "page_size"),
    ("delete unknown room", lambda c, r: c.delete_room(r + "-missing"), NF, "room_id"),
    ("reset unknown room", lambda c, r: c.reset_room(r + "-missing"), NF, "room_id"),
    ("add existing arm", lambda c, r: c.add_arms(r, ["c", "a"]), AE, "arm_ids[1]"),
    ("add bad arm id", lambda c, r: c.add_arms(r, ["c d"]), IA, "arm_ids[0]"),
    ("add to unknown room", lambda c, r: c.add_arms(r + "-missing", ["c"]), NF, "room_id"),
    ("remove unknown arm", lambda c, r: c.remove_arm(r, "zz"), NF, "arm_id"),
    ("remove from unknown room", lambda c, r: c.remove_arm(r + "-missing", "a"), NF, "room_id"),
    ("enable unknown arm", lambda c, r: c.set_arm_enabled(r, "zz", True), NF, "arm_id"),
    ("sample unknown room", lambda c, r: c.sample(r + "-missing"), NF, "room_id"),
    ("sample negative k", lambda c, r: c.sample(r, k=-1), IA, "k"),
    ("sample k too large", lambda c, r: c.sample(r, k=10001), IA, "k"),
    ("sample unknown candidate", lambda c, r: c.sample(r, candidates=["zz"]), NF, "candidate_arm_ids[0]"),
    ("sample bad segment", lambda c, r: c.sample(r, segment="a b"), IA, "segment"),
    ("sample too many context items", lambda c, r: c.sample(r, context=[f"c{i}" for i in range(33)]), IA, "context_items"),
    ("sample negative ucb_alpha", lambda c, r: c.sample(r, policy=Policy("ucb1", ucb_alpha=-1)), IA, "policy.ucb_alpha"),
    ("sample epsilon above 1", lambda c, r: c.sample(r, policy=Policy("epsilon_greedy", epsilon=2)), IA, "policy.epsilon"),
    ("feedback unknown room", lambda c, r: c.feedback(r + "-missing", "a", views=1), NF, "events[0].room_id"),
    ("feedback unknown arm", lambda c, r: c.feedback(r, "zz", views=1), NF, "events[0].arm_id"),
    ("feedback negative views", lambda c, r: c.feedback(r, "a", views=-1), IA, "events[0].views"),
    ("feedback nan reward", lambda c, r: c.feedback(r, "a", clicks=1, reward=float("nan")), IA, "events[0].reward"),
    ("feedback batch names index", lambda c, r: c.feedback_batch([E(r, "a", views=1), E(r, "a", views=1), E(r, "b", clicks=-2)]), IA, "events[2].clicks"),
    ("feedback empty batch", lambda c, r: c.feedback_batch([]), IA, "events"),
    ("stats unknown room", lambda c, r: c.stats(r + "-missing"), NF, "room_id"),
    ("stats bad segment", lambda c, r: c.stats(r, "a b"), IA, "segment"),
]


@pytest.mark.parametrize("name,call,exc,field", CASES, ids=[c[0] for c in CASES])
def test_server_errors(client: banditd.Client, room_id: str, name, call, exc, field) -> None:
    client.create_room(room_id, ["a", "b"])
    with pytest.raises(exc) as info:
        call(client, room_id)
    err = info.value
    assert isinstance(err, banditd.BanditdError)
    assert err.code == exc.code
    assert err.message.startswith(field), err.message
    assert err.method
    assert err.code.name in str(err) and err.message in str(err)
    # The field, as data from the google.rpc.BadRequest status details.
    assert err.field_violations == (
        banditd.FieldViolation(field, err.message[len(field) + 2 :]),
    ), err.field_violations
    # Nothing was applied by the failed call.
    assert client.stats(room_id)["a"].counts == banditd.Counts()


def test_error_attributes(client: banditd.Client, room_id: str) -> None:
    with pytest.raises(banditd.NotFoundError) as info:
        client.get_room(room_id)
    err = info.value
    assert err.code is grpc.StatusCode.NOT_FOUND
    assert err.message == f'room_id: room "{room_id}" not found'
    assert err.method == "GetRoom"
    assert str(err) == f'GetRoom: NOT_FOUND: room_id: room "{room_id}" not found'
    assert repr(err).startswith("NotFoundError(code=NOT_FOUND, message=")
    assert err.field_violations == (banditd.FieldViolation("room_id", f'room "{room_id}" not found'),)
    assert "field_violations=[FieldViolation(field='room_id'" in repr(err)


def test_errors_without_a_field_have_no_violations(client: banditd.Client) -> None:
    # Unknown method: the server names no field.
    call = client.channel.unary_unary("/banditd.v1.BanditService/NoSuchMethod")
    with pytest.raises(grpc.RpcError) as info:
        call(b"", timeout=5)
    err = from_rpc_error(info.value, "NoSuchMethod")
    assert err.code is grpc.StatusCode.UNIMPLEMENTED
    assert err.field_violations == ()


def test_async_client_reads_field_violations(server: Server, room_id: str) -> None:
    import asyncio

    async def run() -> banditd.BanditdError:
        async with banditd.AsyncClient(server.target) as c:
            await c.create_room(room_id, ["a"])
            try:
                await c.feedback_batch([E(room_id, "a", views=1), E(room_id, "a", views=-5)])
            except banditd.InvalidArgumentError as e:
                return e
        raise AssertionError("no error")

    err = asyncio.run(run())
    assert [v.field for v in err.field_violations] == ["events[1].views"]
    assert "-5" in err.field_violations[0].description


def test_client_side_validation(client: banditd.Client) -> None:
    with pytest.raises(ValueError, match="unknown policy"):
        client.sample("r", policy="nope")
    with pytest.raises(TypeError):
        client.feedback_batch([{"room_id": "r"}])  # type: ignore[list-item]


def test_deadline(client: banditd.Client, room_id: str) -> None:
    client.create_room(room_id, ["a"])
    with pytest.raises(banditd.DeadlineExceededError) as info:
        client.sample(room_id, timeout=1e-9)
    assert info.value.code is grpc.StatusCode.DEADLINE_EXCEEDED


def test_unavailable_is_retried_then_raised() -> None:
    port = free_port()  # nothing listens here
    retry = banditd.RetryPolicy(max_attempts=3, initial_backoff=0.2, max_backoff=0.2)
    with banditd.Client(f"127.0.0.1:{port}", retry=retry, timeout=10) as c:
        start = time.monotonic()
        with pytest.raises(banditd.UnavailableError) as info:
            c.get_room("r")
        retried = time.monotonic() - start
        assert info.value.code is grpc.StatusCode.UNAVAILABLE
        # Two pauses of 0.1-0.2 s between three attempts.
        assert retried >= 0.2

        # Feedback without event ids is not retried (it could double count)...
        start = time.monotonic()
        with pytest.raises(banditd.UnavailableError):
            c.feedback("r", "a", views=1)
        assert time.monotonic() - start < 0.2
        # ... but is when every event carries an idempotency key.
        start = time.monotonic()
        with pytest.raises(banditd.UnavailableError):
            c.feedback("r", "a", views=1, event_id="e1")
        assert time.monotonic() - start >= 0.2


def test_retry_rides_out_a_server_start(tmp_path: Path) -> None:
    port = free_port()
    started: list[Server] = []
    starter = threading.Timer(0.5, lambda: started.append(start_server(tmp_path / "data", port=port)))
    starter.start()
    try:
        retry = banditd.RetryPolicy(max_attempts=30, initial_backoff=0.1, max_backoff=0.5)
        options = [("grpc.initial_reconnect_backoff_ms", 100), ("grpc.max_reconnect_backoff_ms", 300)]
        with banditd.Client(f"127.0.0.1:{port}", retry=retry, timeout=30, options=options) as c:
            with pytest.raises(banditd.NotFoundError):
                c.get_room("late")  # UNAVAILABLE until the server is up, then NOT_FOUND
    finally:
        starter.join()
        for s in started:
            s.stop()
