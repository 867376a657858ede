"""A second server on a port in use, and shutdown with health watchers.

Against the real binary: a second banditd must refuse to start rather than
share a port (SO_REUSEPORT would split the connections between two data
directories), and SIGTERM must not wait for Health.Watch streams, which every
client doing gRPC health checking keeps open.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import List, Tuple

import grpc

import banditd
from banditd import _ops

from conftest import Server, free_port, server_binary, start_server


def run_second(tmp_path: Path, *flags: str) -> Tuple[int, str]:
    """Runs a second banditd to completion (it should exit at once)."""
    proc = subprocess.run(
        [str(server_binary()), f"--data_dir={tmp_path / 'second'}", *flags],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return proc.returncode, proc.stdout + proc.stderr


def http_get(port: int, path: str) -> Tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_second_server_on_the_grpc_port_exits_naming_it(fresh_server: Server, tmp_path: Path) -> None:
    rc, output = run_second(tmp_path, f"--port={fresh_server.port}")
    assert rc != 0, output
    assert f"127.0.0.1:{fresh_server.port}" in output and "in use" in output, output
    # The first server still owns every connection: rooms do not vanish.
    with banditd.Client(fresh_server.target) as c:
        for i in range(20):
            c.create_room(f"r{i}", ["a"])
        assert len(c.list_rooms()) == 20
    assert fresh_server.process.poll() is None


def test_second_server_on_the_metrics_port_exits_naming_it(tmp_path: Path) -> None:
    metrics_port = free_port()
    first = start_server(tmp_path / "first", extra=[f"--metrics_port={metrics_port}"])
    try:
        rc, output = run_second(tmp_path, f"--port={free_port()}", f"--metrics_port={metrics_port}")
        assert rc != 0, output
        assert f":{metrics_port}" in output, output
        assert http_get(metrics_port, "/healthz") == (200, "ok\n")
    finally:
        first.stop()


def open_watch(target: str) -> Tuple[grpc.Channel, List[str], threading.Thread]:
    """A Health.Watch stream read by a thread into a list of statuses; the
    list ends with "END <code>" when the stream ends."""
    channel = grpc.insecure_channel(target)
    watch = channel.unary_stream(
        "/grpc.health.v1.Health/Watch",
        request_serializer=_ops.encode_health_request,
        response_deserializer=_ops.decode_health_response,
    )
    seen: List[str] = []
    stream = watch("", timeout=60)

    def read() -> None:
        try:
            for status in stream:
                seen.append(status)
            seen.append("END OK")
        except grpc.RpcError as e:
            seen.append(f"END {e.code().name}")

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    deadline = time.monotonic() + 10
    while not seen and time.monotonic() < deadline:
        time.sleep(0.01)
    return channel, seen, reader


def test_sigterm_with_open_watch_streams_exits_promptly(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "data", extra=["--drain_timeout=30s"])
    watches = [open_watch(srv.target) for _ in range(3)]
    try:
        for _, seen, _ in watches:
            assert seen[:1] == ["SERVING"]
        start = time.monotonic()
        srv.process.send_signal(signal.SIGTERM)
        assert srv.process.wait(20) == 0
        # Far below the 30 s drain timeout the streams used to hold it for.
        assert time.monotonic() - start < 10
        for channel, seen, reader in watches:
            reader.join(5)
            assert seen[0] == "SERVING" and seen[-1].startswith("END"), seen
            assert "NOT_SERVING" in seen or seen[-1] == "END UNAVAILABLE", seen
            channel.close()
    finally:
        srv.stop()


def test_drain_grace_serves_while_reporting_not_serving(tmp_path: Path) -> None:
    metrics_port = free_port()
    srv = start_server(
        tmp_path / "data", extra=["--drain_grace=4s", f"--metrics_port={metrics_port}"]
    )
    channel, seen, reader = open_watch(srv.target)
    try:
        assert http_get(metrics_port, "/healthz") == (200, "ok\n")
        with banditd.Client(srv.target) as c:
            c.create_room("before", ["a"])
            srv.process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 3
            while c.health() != "NOT_SERVING" and time.monotonic() < deadline:
                time.sleep(0.02)
            # Within the grace: NOT_SERVING everywhere, calls still served.
            assert c.health() == "NOT_SERVING"
            assert http_get(metrics_port, "/healthz") == (503, "draining\n")
            assert seen[-1] == "NOT_SERVING", seen
            c.create_room("during", ["a"])
            assert c.sample("during").best == "a"
            assert srv.process.poll() is None
        assert srv.process.wait(20) == 0
        reader.join(5)
        assert seen == ["SERVING", "NOT_SERVING", "END UNAVAILABLE"], seen
    finally:
        channel.close()
        srv.stop()
