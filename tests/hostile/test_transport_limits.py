"""What gRPC's transport may hold for calls in progress is bounded by flags.

A request body is received whole before any handler runs (so before the
token is checked): without a bound, a client opening many calls of up to
--max_message_mb each made the server hold gigabytes (60 concurrent 60 MiB
calls took it to 1.9 GB). --transport_memory_mb caps that memory (beyond,
new calls get RESOURCE_EXHAUSTED) and --max_concurrent_streams caps the
calls one connection may have open.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import List

import grpc
import pytest

import banditd
from banditd import _ops
from banditd.v1 import banditd_pb2 as pb

from conftest import free_port, rss_bytes, start_server

QUOTA_MB = 128
CALLS = 40
CALL_MB = 32


def _rss_sampler(pid: int, peak: List[int], stop: threading.Event) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], rss_bytes(pid))
        time.sleep(0.02)


def test_concurrent_huge_requests_are_bounded_by_transport_memory(tmp_path: Path) -> None:
    srv = start_server(
        tmp_path / "data", extra=[f"--transport_memory_mb={QUOTA_MB}", "--max_message_mb=40"]
    )
    # One arm id of CALL_MB: the handler refuses it, but only once received.
    payload = pb.FeedbackRequest(
        events=[pb.FeedbackEvent(room_id="r", arm_id="x" * (CALL_MB << 20), views=1)]
    ).SerializeToString()
    codes: List[str] = []
    lock = threading.Lock()

    def call() -> None:
        channel = grpc.insecure_channel(
            srv.target, options=[("grpc.max_send_message_length", 64 << 20)]
        )
        try:
            channel.unary_unary("/banditd.v1.BanditService/Feedback")(payload, timeout=120)
            code = "OK"
        except grpc.RpcError as e:
            code = e.code().name
        finally:
            channel.close()
        with lock:
            codes.append(code)

    try:
        before = rss_bytes(srv.process.pid)
        peak = [before]
        stop = threading.Event()
        sampler = threading.Thread(target=_rss_sampler, args=(srv.process.pid, peak, stop))
        sampler.start()
        threads = [threading.Thread(target=call) for _ in range(CALLS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(180)
        stop.set()
        sampler.join()
        counts = Counter(codes)
        assert len(codes) == CALLS, counts
        # Refused calls get RESOURCE_EXHAUSTED (the stream is reset), or
        # UNAVAILABLE when gRPC closes the whole connection ("Buffers full").
        assert set(counts) <= {"INVALID_ARGUMENT", "RESOURCE_EXHAUSTED", "UNAVAILABLE"}, counts
        assert counts["RESOURCE_EXHAUSTED"] + counts["UNAVAILABLE"] > 0, counts
        assert counts["INVALID_ARGUMENT"] > 0, counts
        # Unbounded, 40 x 32 MiB arrive at once (1.3 GB and more); the quota
        # holds the received bytes to 128 MiB, plus each admitted call's
        # parsed copy.
        growth = peak[0] - before
        assert growth < 5 * (QUOTA_MB << 20), f"RSS grew {growth >> 20} MiB"
        # Nothing is stuck: a normal call works afterwards.
        with banditd.Client(srv.target) as c:
            c.create_room("after", ["a", "b"])
            assert len(c.sample("after", k=2).arms) == 2
    finally:
        srv.stop()


def test_max_concurrent_streams_makes_extra_calls_wait(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "data", extra=["--max_concurrent_streams=1"])
    # A connection of its own: channels to one target share connections.
    channel = grpc.insecure_channel(srv.target, options=[("grpc.use_local_subchannel_pool", 1)])
    watch = channel.unary_stream(
        "/grpc.health.v1.Health/Watch",
        request_serializer=_ops.encode_health_request,
        response_deserializer=_ops.decode_health_response,
    )("", timeout=60)
    try:
        assert next(watch) == "SERVING"
        list_rooms = channel.unary_unary(
            "/banditd.v1.BanditService/ListRooms",
            request_serializer=pb.ListRoomsRequest.SerializeToString,
            response_deserializer=pb.ListRoomsResponse.FromString,
        )
        # The Watch stream holds the connection's one stream: a second call
        # on the same connection waits for it.
        with pytest.raises(grpc.RpcError) as waited:
            list_rooms(pb.ListRoomsRequest(), timeout=1.5)
        assert waited.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        # Another connection has its own stream.
        with banditd.Client(srv.target) as c:
            assert c.list_rooms() == []
    finally:
        watch.cancel()
        channel.close()
        srv.stop()


def test_transport_memory_below_twice_the_message_size_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError) as refused:
        start_server(
            tmp_path / "data", extra=["--transport_memory_mb=100", "--max_message_mb=64"]
        )
    assert "--transport_memory_mb (100) must be 0 or at least twice --max_message_mb (64)" in str(
        refused.value
    )


def test_concurrent_huge_http_bodies_share_the_transport_budget(tmp_path: Path) -> None:
    http_port = free_port()
    srv = start_server(
        tmp_path / "data",
        extra=[f"--http_port={http_port}", f"--transport_memory_mb={QUOTA_MB}", "--max_message_mb=40"],
    )
    # Valid JSON whose one arm id is too long: refused once read and parsed.
    body = b'{"events":[{"roomId":"r","armId":"' + b"x" * (CALL_MB << 20) + b'","views":1}]}'
    statuses: List[int] = []
    lock = threading.Lock()

    def call() -> None:
        request = urllib.request.Request(
            f"http://127.0.0.1:{http_port}/v1/feedback", data=body, method="POST"
        )
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=120) as reply:
                status = reply.status
        except urllib.error.HTTPError as e:
            status = e.code
            error = json.loads(e.read())
            assert error["code"] in (3, 8), error
            if e.code == 429:
                assert "--transport_memory_mb" in error["message"], error
        except (ConnectionError, urllib.error.URLError):
            status = -1  # closed while sending the body: also refused
        with lock:
            statuses.append(status)

    try:
        threads = [threading.Thread(target=call) for _ in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(180)
        counts = Counter(statuses)
        assert len(statuses) == 12, counts
        # At most 4 bodies of 32 MiB fit in 128 MiB at once; the others are
        # refused without being read whole.
        assert counts[400] >= 1 and counts[429] + counts[-1] >= 1, counts
        assert set(counts) <= {400, 429, -1}, counts
        with banditd.Client(srv.target) as c:
            c.create_room("after-http", ["a"])
    finally:
        srv.stop()
