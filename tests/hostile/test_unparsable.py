"""Unparsable requests: raw bytes that are not a valid request message.

Every BanditService method, the streaming ExportDecisions included, parses
its own request bytes (raw gRPC methods),
so bytes that do not parse get INVALID_ARGUMENT with a message, and a string
field that is not UTF-8 is named as a google.rpc.BadRequest field violation,
rather than gRPC's UNIMPLEMENTED with an empty message (which a client
cannot tell from a missing method). The lines such requests cause are
rate-limited, and the server keeps serving.
"""

from __future__ import annotations

import grpc

import banditd
from banditd._errors import field_violations_of
from banditd.v1 import banditd_pb2

from conftest import Server

# FeedbackRequest{events: [FeedbackEvent{room_id: "\xff"}]}: field 1 (LEN)
# holding field 1 (LEN) with one byte that is not UTF-8.
INVALID_UTF8_FEEDBACK = b"\x0a\x03\x0a\x01\xff"
# Field 1, wire type LEN, declaring 100 bytes that are not there.
TRUNCATED = b"\x0a\x64abc"
# A tag whose varint never ends.
BAD_TAG = b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"

SERVICE = banditd_pb2.DESCRIPTOR.services_by_name["BanditService"]
UNARY_METHODS = [m.name for m in SERVICE.methods if not m.server_streaming]


def _call(channel: grpc.Channel, method: str, payload: bytes) -> grpc.RpcError:
    stub = channel.unary_unary(f"/banditd.v1.BanditService/{method}")
    try:
        stub(payload, timeout=5)
    except grpc.RpcError as e:
        return e
    raise AssertionError(f"{method} accepted {payload!r}")


def test_every_method_answers_invalid_argument(fresh_server: Server) -> None:
    assert len(UNARY_METHODS) >= 13, UNARY_METHODS
    with grpc.insecure_channel(fresh_server.target) as channel:
        for method in UNARY_METHODS:
            input_type = SERVICE.methods_by_name[method].input_type.full_name
            for payload in (TRUNCATED, BAD_TAG):
                e = _call(channel, method, payload)
                assert e.code() == grpc.StatusCode.INVALID_ARGUMENT, (method, e.code())
                assert f"cannot be parsed as {input_type}" in e.details(), e.details()
    with banditd.Client(fresh_server.target) as c:
        c.create_room("alive", ["a"])
        assert c.sample("alive").best == "a"


def _stream_error(channel: grpc.Channel, method: str, payload: bytes) -> grpc.RpcError:
    stream = channel.unary_stream(f"/banditd.v1.BanditService/{method}")
    try:
        messages = list(stream(payload, timeout=5))
    except grpc.RpcError as e:
        return e
    raise AssertionError(f"{method} streamed {len(messages)} messages for {payload!r}")


def test_streaming_method_answers_invalid_argument(fresh_server: Server) -> None:
    streaming = [m.name for m in SERVICE.methods if m.server_streaming]
    assert streaming == ["ExportDecisions"], streaming
    with grpc.insecure_channel(fresh_server.target) as channel:
        for payload in (TRUNCATED, BAD_TAG):
            e = _stream_error(channel, "ExportDecisions", payload)
            assert e.code() == grpc.StatusCode.INVALID_ARGUMENT, e.code()
            assert "cannot be parsed as banditd.v1.ExportDecisionsRequest" in e.details(), \
                e.details()
        # ExportDecisionsRequest{room_id: "\xff"}: the field is named.
        e = _stream_error(channel, "ExportDecisions", b"\x0a\x01\xff")
        assert e.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert e.details().startswith("room_id: not valid UTF-8"), e.details()
        assert [v.field for v in field_violations_of(e.trailing_metadata())] == ["room_id"]
        # Well-formed bytes get past parsing: this server has no decision log.
        e = _stream_error(channel, "ExportDecisions", b"")
        assert e.code() == grpc.StatusCode.FAILED_PRECONDITION, e.code()


def test_invalid_utf8_names_the_field(fresh_server: Server) -> None:
    with grpc.insecure_channel(fresh_server.target) as channel:
        e = _call(channel, "Feedback", INVALID_UTF8_FEEDBACK)
        assert e.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert e.details().startswith("events[0].room_id: not valid UTF-8"), e.details()
        violations = field_violations_of(e.trailing_metadata())
        assert [v.field for v in violations] == ["events[0].room_id"], violations
        # The second event's arm_id: the index counts repeated elements.
        fields = banditd_pb2.FeedbackEvent.DESCRIPTOR.fields_by_name

        def string_field(name: str, value: bytes) -> bytes:
            return bytes([fields[name].number << 3 | 2, len(value)]) + value

        good_event = string_field("room_id", b"r") + string_field("arm_id", b"a")
        bad_event = string_field("room_id", b"r") + string_field("arm_id", b"\xc3\x28")
        payload = (b"\x0a" + bytes([len(good_event)]) + good_event
                   + b"\x0a" + bytes([len(bad_event)]) + bad_event)
        e = _call(channel, "Feedback", payload)
        assert e.details().startswith("events[1].arm_id: not valid UTF-8"), e.details()


def test_invalid_utf8_floods_are_rate_limited(fresh_server: Server) -> None:
    with grpc.insecure_channel(fresh_server.target) as channel:
        for _ in range(200):
            assert _call(channel, "Feedback", INVALID_UTF8_FEEDBACK).code() == \
                grpc.StatusCode.INVALID_ARGUMENT
    with banditd.Client(fresh_server.target) as c:
        c.create_room("alive", ["a"])
        assert c.sample("alive").best == "a"
    log = fresh_server.log()
    lines = [line for line in log.splitlines() if "invalid UTF-8" in line]
    # 200 bad requests, at most the burst of 10 lines a minute.
    assert 1 <= len(lines) <= 10, len(lines)
    assert all("error" in line and "libprotobuf:" in line for line in lines)
    failed = [line for line in log.splitlines() if "rpc failed" in line]
    # At most 10 a second (the default), 200 calls in well under 20 s.
    assert 1 <= len(failed) <= 200 // 2, len(failed)
    assert all("code=INVALID_ARGUMENT" in line for line in failed)
