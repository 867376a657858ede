"""banditctl (banditd.cli) against the real server.

Most tests call banditd.cli.main in-process (fast); one runs the installed
console script.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import List, Tuple

import pytest

import banditd
from banditd import cli
from conftest import REPO_ROOT, Server


def ctl(server: Server, *args: str) -> Tuple[int, str]:
    out = io.StringIO()
    code = cli.main(["--target", server.target, *args], out=out)
    return code, out.getvalue()


def ok(server: Server, *args: str) -> str:
    code, out = ctl(server, *args)
    assert code == 0, out
    return out


def test_rooms_and_arms_commands(server: Server, client: banditd.Client, room_id: str):
    assert "created room" in ok(server, "rooms", "create", room_id, "red", "green",
                                "--policy", "ctr")
    room = client.get_room(room_id)
    assert room.arm_ids == ["red", "green"]
    assert room.policy.type == banditd.PolicyType.CTR

    ok(server, "arms", "add", room_id, "blue", "violet")
    ok(server, "arms", "disable", room_id, "green")
    ok(server, "arms", "remove", room_id, "violet")
    room = client.get_room(room_id)
    assert room.arm_ids == ["red", "green", "blue"]
    assert room.enabled_arm_ids == ["red", "blue"]
    ok(server, "arms", "enable", room_id, "green")
    assert client.get_room(room_id).enabled_arm_ids == ["red", "green", "blue"]

    table = ok(server, "rooms", "get", room_id)
    assert f"room {room_id}: policy ctr" in table
    listed = json.loads(ok(server, "rooms", "list", "--format", "json"))
    mine = [r for r in listed if r["room_id"] == room_id]
    assert mine == [{"room_id": room_id, "policy": "ctr", "arms": 3, "enabled": 3,
                     "arm_ids": "red green blue"}]

    client.feedback(room_id, "red", views=5, clicks=5)
    ok(server, "rooms", "reset", room_id)
    assert client.stats(room_id).total_views == 0
    ok(server, "rooms", "delete", room_id)
    with pytest.raises(banditd.NotFoundError):
        client.get_room(room_id)


def test_create_with_policy_parameters(server: Server, client: banditd.Client, room_id: str):
    ok(server, "rooms", "create", room_id, "a", "--policy", "ucb1", "--param", "ucb_alpha=0.25")
    policy = client.get_room(room_id).policy
    assert policy.type == banditd.PolicyType.UCB1 and policy.ucb_alpha == 0.25


def test_sample_feedback_and_stats(server: Server, client: banditd.Client, room_id: str):
    client.create_room(room_id, ["a", "b", "c"], policy="ctr")
    ok(server, "feedback", room_id, "b", "--views", "10", "--clicks", "7")
    ok(server, "feedback", room_id, "a", "--views", "10", "--clicks", "2",
       "--segment", "mobile", "--context", "shoes")
    ok(server, "feedback", room_id, "c", "--views", "10")
    assert ok(server, "sample", room_id, "-k", "2").split() == ["b", "a"]
    verbose = ok(server, "sample", room_id, "-k", "1", "--format", "json")
    assert json.loads(verbose)[0]["arm_id"] == "b"

    rows = list(csv.DictReader(io.StringIO(ok(server, "stats", room_id, "--format", "csv"))))
    by_arm = {r["arm_id"]: r for r in rows}
    assert float(by_arm["b"]["clicks"]) == 7 and float(by_arm["b"]["ctr"]) == pytest.approx(0.7)
    assert float(by_arm["a"]["share"]) == pytest.approx(1 / 3)

    table = ok(server, "stats", room_id)
    lines = table.splitlines()
    assert lines[0] == f"room {room_id}: 30 views"
    assert lines[1].split()[:4] == ["arm_id", "enabled", "views", "clicks"]
    assert lines[2].split()[:4] == ["a", "yes", "10", "2"]

    mobile = json.loads(ok(server, "stats", room_id, "--segment", "mobile", "--format", "json"))
    assert {r["arm_id"]: r["views"] for r in mobile} == {"a": 10, "b": 0, "c": 0}


def test_feedback_from_csv_and_jsonl_in_batches(server: Server, client: banditd.Client,
                                                room_id: str, tmp_path: Path):
    client.create_room(room_id, ["x", "y"])
    events = tmp_path / "events.csv"
    with events.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["arm_id", "views", "clicks", "context", "event_id"])
        for i in range(250):
            w.writerow(["x" if i % 5 else "y", 1, i % 2, "hour=1|dev=ios", f"e{i}"])
    out = ok(server, "feedback", room_id, "--file", str(events), "--batch-size", "100")
    assert out.strip() == "250 events sent: 250 applied, 0 duplicate"
    stats = {a.arm_id: a for a in client.stats(room_id, include_context=True).arms}
    assert stats["x"].counts.views == 200 and stats["y"].counts.views == 50
    assert stats["x"].counts.clicks == 100
    assert sorted(c.context_item for c in stats["x"].context) == ["dev=ios", "hour=1"]

    # The same event ids again are duplicates; JSON lines name the room per row.
    lines = tmp_path / "more.jsonl"
    lines.write_text("".join(json.dumps({"room_id": room_id, "arm_id": "y", "views": 1,
                                         "event_id": f"e{i}"}) + "\n" for i in range(3)))
    out = ok(server, "feedback", "--file", str(lines), "--batch-size", "2")
    assert out.strip() == "3 events sent: 0 applied, 3 duplicate"


def test_feedback_file_errors_name_the_line(server: Server, client: banditd.Client,
                                            room_id: str, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]):
    client.create_room(room_id, ["x"])
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"arm_id": "x", "views": 1}) + "\n" +
                   json.dumps({"arm_id": "x", "viewz": 1}) + "\n")
    code, _ = ctl(server, "feedback", room_id, "--file", str(bad))
    assert code == 2
    assert f"{bad}:2: unknown field(s) viewz" in capsys.readouterr().err


def test_server_errors_exit_1_with_the_message(server: Server, room_id: str,
                                               capsys: pytest.CaptureFixture[str]):
    code, _ = ctl(server, "stats", room_id)
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith("banditctl: ") and room_id in err


def test_watch_prints_refreshed_tables(server: Server, client: banditd.Client, room_id: str):
    client.create_room(room_id, ["a"])
    client.feedback(room_id, "a", views=3)
    out = ok(server, "watch", room_id, "--interval", "0.05", "--count", "2")
    assert out.count(f"room {room_id}: 3 views") == 2


def test_console_script_is_installed(server: Server, room_id: str):
    exe = shutil.which("banditctl") or str(Path(sys.executable).parent / "banditctl")
    run = subprocess.run([exe, "--target", server.target, "rooms", "create", room_id, "a"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert f"created room {room_id}" in run.stdout


def test_readme_banditctl_section_runs(server: Server):
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("## Command line: banditctl\n", 1)[1].split("\n## ", 1)[0]
    script = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    bindir = str(Path(sys.executable).parent)
    env = dict(os.environ, BANDITD_TARGET=server.target,
               PATH=bindir + os.pathsep + os.environ.get("PATH", ""))
    run = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True,
                         text=True, timeout=120, env=env, cwd=REPO_ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 events sent: 2 applied, 0 duplicate" in run.stdout
    assert "room cli-home: 21 views" in run.stdout
    assert "deleted room cli-home" in run.stdout
