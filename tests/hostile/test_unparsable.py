"""Unparsable requests: raw bytes that are not a valid request message.

What the packaged gRPC (1.51) does with them is fixed by its generated
handlers (UNIMPLEMENTED with an empty message, see the notes); what banditd
controls is that each one no longer writes an unlimited libprotobuf line to
stderr, and that the server keeps serving.
"""

from __future__ import annotations

import grpc

import banditd

from conftest import Server

# FeedbackRequest{events: [FeedbackEvent{room_id: "\xff"}]}: field 1 (LEN)
# holding field 1 (LEN) with one byte that is not UTF-8.
INVALID_UTF8_FEEDBACK = b"\x0a\x03\x0a\x01\xff"


def test_invalid_utf8_floods_are_rate_limited(fresh_server: Server) -> None:
    with grpc.insecure_channel(fresh_server.target) as channel:
        feedback = channel.unary_unary("/banditd.v1.BanditService/Feedback")
        codes = set()
        for _ in range(200):
            try:
                feedback(INVALID_UTF8_FEEDBACK, timeout=5)
            except grpc.RpcError as e:
                codes.add(e.code())
        assert codes and grpc.StatusCode.OK not in codes, codes
    with banditd.Client(fresh_server.target) as c:
        c.create_room("alive", ["a"])
        assert c.sample("alive").best == "a"
    lines = [line for line in fresh_server.log().splitlines() if "invalid UTF-8" in line]
    # 200 bad requests, at most the burst of 10 lines a minute.
    assert 1 <= len(lines) <= 10, len(lines)
    assert all("error" in line and "libprotobuf:" in line for line in lines)
