"""grpcurl (installed by scripts/setup.sh) against a running server: the
README's "Inspect with grpcurl" block runs as written, and answers are checked
call by call, including the health service."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Iterator, List

import pytest

from conftest import REPO_ROOT, Server, start_server

GRPCURL = REPO_ROOT / ".tools" / "bin" / "grpcurl"
SERVICE = "banditd.v1.BanditService"


@pytest.fixture(scope="module")
def fresh_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if not GRPCURL.exists():
        pytest.fail(f"{GRPCURL} missing: run scripts/setup.sh")
    srv = start_server(tmp_path_factory.mktemp("grpcurl") / "data")
    yield srv
    srv.stop()


def grpcurl(server: Server, *args: str, flags: List[str] = (), data: str = "") -> str:
    """Runs `grpcurl -plaintext FLAGS [-d DATA] TARGET ARGS...`."""
    cmd = [str(GRPCURL), "-plaintext", *flags]
    if data:
        cmd += ["-d", data]
    cmd += [server.target, *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30, cwd=REPO_ROOT)
    assert proc.returncode == 0, f"{cmd}: {proc.stderr}"
    return proc.stdout


def readme_block() -> str:
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("## Inspect with grpcurl", 1)[1]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


def test_readme_commands_run_as_written(fresh_server: Server) -> None:
    script = readme_block().replace("localhost:50051", fresh_server.target)
    assert script.count(fresh_server.target) >= 8
    proc = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert '"status": "SERVING"' in out
    # The google.api.http option follows the signature.
    assert "rpc Sample ( .banditd.v1.SampleRequest ) returns ( .banditd.v1.SampleResponse )" in out
    assert '"appliedEvents": "2"' in out or '"applied_events": "2"' in out


def test_list_and_describe(fresh_server: Server) -> None:
    services = grpcurl(fresh_server, "list").split()
    assert SERVICE in services
    assert "grpc.health.v1.Health" in services
    methods = grpcurl(fresh_server, "list", SERVICE).split()
    assert sorted(methods) == sorted([
        f"{SERVICE}.{m}"
        for m in [
            "CreateRoom", "GetRoom", "ListRooms", "DeleteRoom", "ResetRoom", "AddArms", "ListArms",
            "RemoveArm", "SetArmEnabled", "Sample", "Feedback", "GetStats",
            "UpdateRoom", "ResetArm", "ExportDecisions",
        ]
    ])
    desc = grpcurl(fresh_server, "describe", "banditd.v1.FeedbackEvent")
    assert "banditd.v1.FeedbackEvent is a message" in desc
    assert "optional double reward = 7;" in desc


def test_sample_and_feedback_json(fresh_server: Server) -> None:
    call = lambda method, body: json.loads(
        grpcurl(fresh_server, f"{SERVICE}/{method}", data=json.dumps(body))
    )
    room = call("CreateRoom", {"room_id": "gc", "arm_ids": ["a", "b"], "policy": {"type": "POLICY_TYPE_CTR"}})
    assert room["room"]["policy"]["type"] == "POLICY_TYPE_CTR"
    first = call("Sample", {"room_id": "gc", "k": 2, "seed": "5"})
    assert sorted(a["arm_id"] for a in first["arms"]) == ["a", "b"]
    assert all(a["score"] == "Infinity" for a in first["arms"])
    fb = call(
        "Feedback",
        {"events": [
            {"room_id": "gc", "arm_id": "a", "views": 4, "clicks": 3},
            {"room_id": "gc", "arm_id": "b", "views": 4, "clicks": 1, "reward": 2.5},
        ]},
    )
    assert fb == {"applied_events": "2"}
    ranked = call("Sample", {"room_id": "gc", "k": 2})
    assert [a["arm_id"] for a in ranked["arms"]] == ["a", "b"]
    assert ranked["arms"][0]["score"] == 0.75
    assert ranked["arms"][1]["counts"] == {"views": 4, "clicks": 1, "reward_sum": 2.5}
    stats = call("GetStats", {"room_id": "gc"})
    assert stats["total_views"] == 8


def test_error_reaches_grpcurl(fresh_server: Server) -> None:
    proc = subprocess.run(
        [str(GRPCURL), "-plaintext", "-d", '{"room_id": "nope"}', fresh_server.target, f"{SERVICE}/GetRoom"],
        capture_output=True, text=True, timeout=30,
    )
    assert proc.returncode != 0
    assert "Code: NotFound" in proc.stderr
    assert 'room "nope" not found' in proc.stderr


def test_health_serving(fresh_server: Server) -> None:
    # Reflection describes the health service: no .proto file needed.
    out = grpcurl(fresh_server, "grpc.health.v1.Health/Check")
    assert json.loads(out) == {"status": "SERVING"}
    out = grpcurl(fresh_server, "grpc.health.v1.Health/Check", data='{"service": ""}')
    assert json.loads(out) == {"status": "SERVING"}
    out = grpcurl(fresh_server, "grpc.health.v1.Health/Check", data='{"service": "banditd.v1.BanditService"}')
    assert json.loads(out) == {"status": "SERVING"}
    proc = subprocess.run(
        [str(GRPCURL), "-plaintext", fresh_server.target, "describe", "grpc.health.v1.Health"],
        capture_output=True, text=True, timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    assert "rpc Check ( .grpc.health.v1.HealthCheckRequest )" in proc.stdout
