"""The HTTP/JSON API (--http_port) of the real banditd, route by route.

Every BanditService RPC has a google.api.http route; these tests call each
one, check the reply's values, and check that HTTP and gRPC share one state,
one set of tokens, one TLS certificate and one durable log.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from google.api import annotations_pb2

import banditd
from banditd.v1 import banditd_pb2 as pb
from conftest import (REPO_ROOT, TESTDATA, Http, free_port, server_binary,
                      start_http_server)


def new_room() -> str:
    return f"h-{uuid.uuid4().hex[:12]}"


def test_every_rpc_has_an_http_route():
    service = pb.DESCRIPTOR.services_by_name["BanditService"]
    missing = [m.name for m in service.methods
               if not m.GetOptions().HasExtension(annotations_pb2.http)]
    assert missing == [], f"RPCs without a google.api.http option: {missing}"


def test_room_lifecycle_over_every_route(http: Http):
    room = new_room()
    created = http.ok("POST", "/v1/rooms", {
        "roomId": room, "armIds": ["red", "green"],
        "policy": {"type": "POLICY_TYPE_CTR"}})
    assert created["room"]["roomId"] == room
    # No echo of the arms (BASIC view): arm_count counts them.
    assert (created["room"]["arms"], created["room"]["armCount"]) == ([], "2")
    assert created["room"]["policy"]["type"] == "POLICY_TYPE_CTR"

    got = http.ok("GET", f"/v1/rooms/{room}")
    assert got["room"]["roomId"] == room
    assert [a["armId"] for a in got["room"]["arms"]] == ["red", "green"]
    basic = http.ok("GET", f"/v1/rooms/{room}?view=ROOM_VIEW_BASIC")
    assert (basic["room"]["arms"], basic["room"]["armCount"]) == ([], "2")

    added = http.ok("POST", f"/v1/rooms/{room}/arms", {"armIds": ["blue"]})
    assert added["room"]["armCount"] == "3"
    page = http.ok("GET", f"/v1/rooms/{room}/arms?page_size=2")
    assert [a["armId"] for a in page["arms"]] == ["red", "green"]
    assert page["totalSize"] == "3"
    rest = http.ok("GET", f"/v1/rooms/{room}/arms?page_token={page['nextPageToken']}")
    assert ([a["armId"] for a in rest["arms"]], rest["nextPageToken"]) == (["blue"], "")

    fed = http.ok("POST", "/v1/feedback", {"events": [
        {"roomId": room, "armId": "green", "views": 10, "clicks": 6},
        {"roomId": room, "armId": "red", "views": 10, "clicks": 1},
        {"room_id": room, "arm_id": "blue", "views": 10, "clicks": 2},  # proto names too
    ]})
    # appliedSequence is the stream sequence in cluster mode, 0 here.
    assert fed == {"appliedEvents": "3", "duplicateEvents": "0", "appliedSequence": "0"}

    # CTR ranks green first; k=2 returns two arms.
    sampled = http.ok("POST", f"/v1/rooms/{room}:sample", {"k": 2})
    assert [a["armId"] for a in sampled["arms"]] == ["green", "blue"]
    assert sampled["arms"][0]["score"] == pytest.approx(0.6)
    assert sampled["decisionId"]

    stats = http.ok("GET", f"/v1/rooms/{room}/stats")
    by_arm = {a["armId"]: a for a in stats["arms"]}
    assert by_arm["green"]["counts"] == {"views": 10, "clicks": 6, "rewardSum": 6}
    assert by_arm["red"]["ctr"] == pytest.approx(0.1)
    assert stats["totalViews"] == 30
    named = http.ok("GET", f"/v1/rooms/{room}/stats?arm_ids=blue&arm_ids=red")
    assert [a["armId"] for a in named["arms"]] == ["blue", "red"]

    disabled = http.ok("POST", f"/v1/rooms/{room}/arms/green:setEnabled",
                       {"enabled": False})
    assert disabled["arm"] == {"armId": "green", "enabled": False}
    sampled = http.ok("POST", f"/v1/rooms/{room}:sample", {})
    assert [a["armId"] for a in sampled["arms"]] == ["blue"]

    assert http.ok("DELETE", f"/v1/rooms/{room}/arms/red") == {}
    got = http.ok("GET", f"/v1/rooms/{room}")
    assert [a["armId"] for a in got["room"]["arms"]] == ["green", "blue"]

    assert http.ok("POST", f"/v1/rooms/{room}:reset", {}) == {}
    stats = http.ok("GET", f"/v1/rooms/{room}/stats")
    assert stats["totalViews"] == 0

    assert http.ok("DELETE", f"/v1/rooms/{room}") == {}
    status, error = http.call("GET", f"/v1/rooms/{room}")
    assert status == 404 and error["code"] == 5


def test_list_rooms_pages_with_query_parameters(http: Http):
    prefix = f"l-{uuid.uuid4().hex[:8]}"
    for i in range(3):
        http.ok("POST", "/v1/rooms", {"roomId": f"{prefix}-{i}", "armIds": ["a"]})
    seen = []
    token = ""
    while True:
        page = http.ok("GET", f"/v1/rooms?page_size=2&pageToken={token}")
        assert len(page["rooms"]) <= 2
        seen += [r["roomId"] for r in page["rooms"]]
        token = page["nextPageToken"]
        if not token:
            break
    assert [r for r in seen if r.startswith(prefix)] == [f"{prefix}-{i}" for i in range(3)]


def test_stats_of_a_segment_and_context_items(http: Http):
    room = new_room()
    http.ok("POST", "/v1/rooms", {"roomId": room, "armIds": ["a", "b"]})
    http.ok("POST", "/v1/feedback", {"events": [
        {"roomId": room, "segment": "mobile", "armId": "a", "views": 4,
         "clicks": 1, "contextItems": ["shoes"]}]})
    other = http.ok("GET", f"/v1/rooms/{room}/stats?segment=desktop")
    assert other["segment"] == "desktop" and other["totalViews"] == 0
    mobile = http.ok("GET", f"/v1/rooms/{room}/stats?segment=mobile&include_context=true")
    arm = {a["armId"]: a for a in mobile["arms"]}["a"]
    assert mobile["segment"] == "mobile" and arm["counts"]["views"] == 4
    assert [c["contextItem"] for c in arm["context"]] == ["shoes"]


def test_room_ids_with_colons_and_escapes(http: Http):
    room = f"shop:{uuid.uuid4().hex[:8]}"
    http.ok("POST", "/v1/rooms", {"roomId": room, "armIds": ["x"]})
    # GET has no verb: the colon is part of the id.
    assert http.ok("GET", f"/v1/rooms/{room}")["room"]["roomId"] == room
    # The verb is after the last colon.
    assert http.ok("POST", f"/v1/rooms/{room}:sample", {})["arms"][0]["armId"] == "x"
    escaped = room.replace(":", "%3A")
    assert http.ok("GET", f"/v1/rooms/{escaped}")["room"]["roomId"] == room


def test_path_wins_over_body(http: Http):
    room = new_room()
    http.ok("POST", "/v1/rooms", {"roomId": room, "armIds": ["x"]})
    sampled = http.ok("POST", f"/v1/rooms/{room}:sample", {"roomId": "elsewhere"})
    assert sampled["arms"][0]["armId"] == "x"


def test_errors_carry_code_message_and_http_status(http: Http):
    room = new_room()
    status, error = http.call("GET", f"/v1/rooms/{room}")
    assert status == 404
    assert error["code"] == 5 and room in error["message"]
    assert isinstance(error["details"], list)

    http.ok("POST", "/v1/rooms", {"roomId": room, "armIds": ["a"]})
    status, error = http.call("POST", "/v1/rooms", {"roomId": room, "armIds": ["a"]})
    assert (status, error["code"]) == (409, 6)

    status, error = http.call("POST", "/v1/feedback", {"events": [
        {"roomId": room, "armId": "a", "views": 1},
        {"roomId": room, "armId": "a", "views": -1}]})
    assert (status, error["code"]) == (400, 3)
    assert "events[1]" in error["message"]
    # The gRPC status details, as JSON: google.rpc.BadRequest names the field.
    [detail] = error["details"]
    assert detail["@type"] == "type.googleapis.com/google.rpc.BadRequest"
    assert [v["field"] for v in detail["fieldViolations"]] == ["events[1].views"]

    status, error = http.call("POST", "/v1/rooms", raw=b"{not json")
    assert (status, error["code"]) == (400, 3) and error["message"].startswith("body:")
    [detail] = error["details"]
    assert [v["field"] for v in detail["fieldViolations"]] == ["body"]

    status, error = http.call("POST", f"/v1/rooms/{room}:sample", {"nope": 1})
    assert (status, error["code"]) == (400, 3) and "nope" in error["message"]

    status, error = http.call("GET", f"/v1/rooms/{room}/stats?segmnt=x")
    assert (status, error["code"]) == (400, 3) and "segmnt" in error["message"]

    status, error = http.call("GET", f"/v1/rooms?page_size=many")
    assert status == 400 and "page_size" in error["message"]

    status, error = http.call("GET", "/v2/nothing")
    assert (status, error["code"]) == (404, 5) and "/v2/nothing" in error["message"]

    status, error = http.call("PUT", f"/v1/rooms/{room}", {})
    assert status == 405 and error["code"] == 12


def test_any_content_type_is_read_as_json(http: Http):
    room = new_room()
    http.ok("POST", "/v1/rooms", {"roomId": room, "armIds": ["a"]})
    # curl -d sends application/x-www-form-urlencoded: such a body over 8 KB
    # got an empty 413 (httplib parsed it as a form).
    events = [{"roomId": room, "armId": "a", "views": 1} for _ in range(1000)]
    for content_type in ["application/x-www-form-urlencoded", "text/plain"]:
        status, reply = http.call("POST", "/v1/feedback", {"events": events},
                                  headers={"Content-Type": content_type})
        assert (status, reply["appliedEvents"]) == (200, "1000"), (content_type, reply)
    status, error = http.call(
        "POST", "/v1/feedback", raw=b"--x\r\n\r\n--x--\r\n",
        headers={"Content-Type": "multipart/form-data; boundary=x"})
    assert (status, error["code"]) == (415, 3) and "multipart" in error["message"]
    assert http.ok("GET", f"/v1/rooms/{room}/stats")["totalViews"] == 2000


def test_http_and_grpc_share_state(http_server):
    room = new_room()
    http = http_server.http
    http.ok("POST", "/v1/rooms", {"roomId": room, "armIds": ["a", "b"]})
    with banditd.Client(http_server.server.target) as client:
        client.feedback(room, "b", views=5, clicks=5)
        assert client.get_room(room).arm_ids == ["a", "b"]
    stats = http.ok("GET", f"/v1/rooms/{room}/stats")
    assert {a["armId"]: a["counts"]["clicks"] for a in stats["arms"]} == {"a": 0, "b": 5}


def test_openapi_document_is_served_and_matches_the_routes(http: Http):
    status, served = http.call("GET", "/openapi.json")
    assert status == 200
    committed = json.loads((REPO_ROOT / "docs" / "openapi.json").read_text())
    assert served == committed
    service = pb.DESCRIPTOR.services_by_name["BanditService"]
    operations = {op["operationId"] for ops in served["paths"].values()
                  for op in ops.values()}
    assert operations == {f"BanditService_{m.name}" for m in service.methods}


def test_feedback_over_http_is_durable(tmp_path: Path):
    room = new_room()
    data = tmp_path / "data"
    first = start_http_server(data)
    try:
        first.http.ok("POST", "/v1/rooms", {"roomId": room, "armIds": ["a"]})
        first.http.ok("POST", "/v1/feedback", {"events": [
            {"roomId": room, "armId": "a", "views": 7, "clicks": 2}]})
    finally:
        assert first.server.stop() == 0
    second = start_http_server(data)
    try:
        stats = second.http.ok("GET", f"/v1/rooms/{room}/stats")
        assert stats["arms"][0]["counts"]["views"] == 7
    finally:
        second.server.stop()


ADMIN = "admin-token-http-0123456789"
CLIENT = "client-token-http-0123456789"


@pytest.fixture(scope="module")
def tls_http(tmp_path_factory: pytest.TempPathFactory):
    """A server with tokens and TLS; yields (https base URL, SSL context)."""
    tmp = tmp_path_factory.mktemp("https")
    tokens = tmp / "tokens"
    tokens.write_text(f"admin {ADMIN}\nclient {CLIENT}\n")
    grpc_port, http_port = free_port(), free_port()
    log_path = tmp / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(server_binary()), f"--port={grpc_port}", f"--http_port={http_port}",
             f"--data_dir={tmp / 'data'}", f"--auth_tokens_file={tokens}",
             f"--tls_cert={TESTDATA / 'localhost.crt'}",
             f"--tls_key={TESTDATA / 'localhost.key'}"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    context = ssl.create_default_context(cafile=str(TESTDATA / "localhost.crt"))
    base = f"https://localhost:{http_port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            Http(base, context=context).call("GET", "/openapi.json")
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("HTTPS server did not start:\n" + log_path.read_text())
            time.sleep(0.05)
    yield base, context
    proc.terminate()
    proc.wait(15)


def test_tokens_and_tls_over_https(tls_http):
    base, context = tls_http
    room = new_room()
    anonymous = Http(base, context=context)
    status, error = anonymous.call("GET", "/v1/rooms")
    assert (status, error["code"]) == (401, 16)
    status, error = Http(base, token="wrong-token-000000", context=context).call(
        "GET", "/v1/rooms")
    assert status == 401

    client = Http(base, token=CLIENT, context=context)
    status, error = client.call("POST", "/v1/rooms", {"roomId": room, "armIds": ["a"]})
    assert (status, error["code"]) == (403, 7)

    admin = Http(base, token=ADMIN, context=context)
    admin.ok("POST", "/v1/rooms", {"roomId": room, "armIds": ["a"]})
    assert client.ok("POST", f"/v1/rooms/{room}:sample", {})["arms"][0]["armId"] == "a"

    # A client that does not trust the certificate is refused.
    with pytest.raises(OSError):
        Http(base, context=ssl.create_default_context()).call("GET", "/v1/rooms")


def test_update_room_reset_arm_and_winner_over_http(http: Http):
    room = new_room()
    http.ok("POST", "/v1/rooms", {"roomId": room, "armIds": ["red", "green"],
                                  "policy": {"type": "POLICY_TYPE_UCB1"}})
    http.ok("POST", "/v1/feedback", {"events": [
        {"roomId": room, "armId": "red", "views": 100, "clicks": 2},
        {"roomId": room, "armId": "green", "views": 100, "clicks": 30}]})
    # AIP-134: only the masked field changes (a JSON FieldMask is a string).
    updated = http.ok("PATCH", "/v1/rooms", {
        "room": {"roomId": room, "policy": {"type": "POLICY_TYPE_CTR", "epsilon": 0.25}},
        "updateMask": "policy.epsilon"})
    assert updated["room"]["policy"]["type"] == "POLICY_TYPE_UCB1"
    assert updated["room"]["policy"]["epsilon"] == 0.25
    status, reply = http.call("PATCH", "/v1/rooms", {
        "room": {"roomId": room}, "updateMask": "linucb"})
    assert status == 400 and "update_mask.paths[0]" in reply["message"]

    stats = http.ok("GET", f"/v1/rooms/{room}/stats?winnerAnalysis.draws=2000")
    assert stats["winner"]["bestArmId"] == "green"
    assert stats["winner"]["draws"] == 2000

    http.ok("POST", f"/v1/rooms/{room}/arms/green:reset", {})
    stats = http.ok("GET", f"/v1/rooms/{room}/stats")
    green = [a for a in stats["arms"] if a["armId"] == "green"][0]
    assert green["counts"].get("views", 0) == 0

    # The decision log streams: gRPC only.
    status, reply = http.call("GET", "/v1/decisions")
    assert status == 501 and "gRPC" in reply["message"]
