"""Logs of the real binary under --log_format=json: every line is one JSON
object, each failed call (gRPC or HTTP) is one line with its method, code and
request id, the request id goes back to the client, and neither a token nor
a request's content ever reaches the log."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from pathlib import Path

import grpc

from conftest import free_port, start_server

CLIENT = "client-TOKEN-d0-not-log"
ADMIN = "admin-TOKEN-d0-not-log"
SECRET_ROOM = "payload-SECRET-room"
# SampleRequest{room_id: SECRET_ROOM} on the wire.
SAMPLE_BYTES = b"\x0a" + bytes([len(SECRET_ROOM)]) + SECRET_ROOM.encode()


def test_json_log_lines_request_ids_and_no_secrets(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text(f"admin {ADMIN}\nclient {CLIENT}\n")
    http_port = free_port()
    srv = start_server(tmp_path / "data", extra=[
        "--log_format=json", f"--auth_tokens_file={tokens}", f"--http_port={http_port}"])
    try:
        with grpc.insecure_channel(srv.target) as channel:
            sample = channel.unary_unary("/banditd.v1.BanditService/Sample")
            try:
                sample(SAMPLE_BYTES, timeout=5, metadata=[
                    ("authorization", f"Bearer {CLIENT}"), ("x-request-id", "hostile-1")])
                raise AssertionError("Sample of a missing room succeeded")
            except grpc.RpcError as e:
                assert e.code() == grpc.StatusCode.NOT_FOUND
                assert ("x-request-id", "hostile-1") in tuple(e.initial_metadata())
            try:
                sample(SAMPLE_BYTES, timeout=5,
                       metadata=[("authorization", "Bearer wrong-TOKEN-value")])
                raise AssertionError("a wrong token was accepted")
            except grpc.RpcError as e:
                assert e.code() == grpc.StatusCode.UNAUTHENTICATED
                generated = dict(e.initial_metadata())["x-request-id"]
                assert len(generated) == 32
        request = urllib.request.Request(
            f"http://127.0.0.1:{http_port}/v1/rooms/{SECRET_ROOM}:sample", data=b"{}",
            method="POST", headers={"Authorization": f"Bearer {CLIENT}",
                                    "X-Request-Id": "http-7",
                                    "Content-Type": "application/json"})
        try:
            urllib.request.urlopen(request, timeout=5)
            raise AssertionError("HTTP Sample of a missing room succeeded")
        except urllib.error.HTTPError as e:
            assert e.code == 404
            assert e.headers["X-Request-Id"] == "http-7"
    finally:
        assert srv.stop() == 0
    text = srv.log()
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert all({"time", "level", "msg"} <= line.keys() for line in lines), lines
    assert any("serving on" in line["msg"] for line in lines)
    failed = {line.get("request_id"): line for line in lines if line["msg"] == "rpc failed"}
    assert failed["hostile-1"]["code"] == "NOT_FOUND"
    assert failed["hostile-1"]["method"] == "/banditd.v1.BanditService/Sample"
    assert failed["hostile-1"]["level"] == "warning"
    assert failed[generated]["code"] == "UNAUTHENTICATED"
    assert failed["http-7"]["code"] == "NOT_FOUND"
    for secret in (CLIENT, ADMIN, "wrong-TOKEN-value", SECRET_ROOM):
        assert secret not in text, secret


def test_failed_call_lines_are_rate_limited(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "data", extra=["--log_failed_rpcs_per_second=3"])
    try:
        with grpc.insecure_channel(srv.target) as channel:
            sample = channel.unary_unary("/banditd.v1.BanditService/Sample")

            def fail() -> None:
                try:
                    sample(SAMPLE_BYTES, timeout=5)
                    raise AssertionError("Sample of a missing room succeeded")
                except grpc.RpcError as e:
                    assert e.code() == grpc.StatusCode.NOT_FOUND

            for _ in range(100):
                fail()
            # A new window: its first line counts the lines dropped before.
            time.sleep(1.1)
            fail()
    finally:
        srv.stop()
    lines = [line for line in srv.log().splitlines() if "rpc failed" in line]
    # 101 failures within a few seconds: 3 lines a second at most.
    assert 4 <= len(lines) <= 30, len(lines)
    dropped = [int(re.search(r"dropped_before=(\d+)", line).group(1)) for line in lines]
    # Every failure is either a line or counted in a later line.
    assert len(lines) + sum(dropped) == 101, (len(lines), dropped)
