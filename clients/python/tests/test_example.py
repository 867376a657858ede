"""The notebook-style walkthrough runs headless against a real server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "walkthrough.py"


def test_walkthrough_runs(server) -> None:
    env = dict(os.environ, BANDITD_TARGET=server.target, BANDITD_ROUNDS="1500")
    proc = subprocess.run(
        [sys.executable, str(EXAMPLE)], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "true_ctr" in out and "share" in out
    # The stats table has one row per arm.
    table = out.splitlines()
    assert sum(line.split()[:1] in (["red"], ["green"], ["blue"]) for line in table) >= 3
    assert "most shown: green" in out


def test_walkthrough_cells_in_one_namespace(server, monkeypatch) -> None:
    """Executes the # %% cells one by one in one namespace, as a notebook
    kernel would."""
    cells = re.split(r"^# %%.*$", EXAMPLE.read_text(), flags=re.M)
    code_cells = [c for c in cells if c.strip() and not c.lstrip().startswith("#")]
    assert len(code_cells) >= 6
    monkeypatch.setenv("BANDITD_TARGET", server.target)
    monkeypatch.setenv("BANDITD_ROOM", "walkthrough-cells")
    monkeypatch.setenv("BANDITD_ROUNDS", "300")
    ns: dict = {}
    for cell in code_cells:
        exec(compile(cell, str(EXAMPLE), "exec"), ns)
    assert list(ns["df"].index) == ["red", "green", "blue"]
    assert ns["stats"].total_views == 300
