"""Offline evaluation end to end on the shipped synthetic log
(datasets/offline/synthetic-seed7.csv, made by scripts/make_offline_dataset.py
--seed 7)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from banditd import offline
from banditd.plot import plot_offline

from conftest import REPO_ROOT

LOG = REPO_ROOT / "datasets" / "offline" / "synthetic-seed7.csv"
META = json.loads(Path(str(LOG) + ".meta.json").read_text())
POLICIES = ["ucb1", "bucb", "thompson", "egreedy=epsilon_greedy:epsilon=0.1", "ctr", "random",
            "fixed:a2", "fixed:a0"]


def make_dataset(out: Path, *extra: str) -> None:
    subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "make_offline_dataset.py"),
                    "--out", str(out), *extra], check=True, capture_output=True, timeout=60)


def test_shipped_dataset_is_reproducible(tmp_path):
    out = tmp_path / "log.csv"
    make_dataset(out, "--seed", "7")
    assert out.read_bytes() == LOG.read_bytes()
    assert Path(str(out) + ".meta.json").read_text() == Path(str(LOG) + ".meta.json").read_text()


def test_offline_evaluation_end_to_end(client, tmp_path):
    events = offline.read_log(LOG)
    assert len(events) == META["rows"]
    results = offline.evaluate(client, events, POLICIES, k=5, seed=1)
    by_name = {r.policy: r for r in results}
    assert list(by_name) == ["ucb1", "bucb", "thompson", "egreedy", "ctr", "random",
                             "always-a2", "always-a0"]
    n = len(events)
    for r in results:
        assert r.events == n
        assert 0 < r.matched < n
        assert r.matched <= r.hits_at_k <= n
        for v in (r.ctr_at_k, r.precision_at_k, r.recall_at_k, r.replay_ctr, r.ips_ctr):
            assert v is not None and 0.0 <= v <= 1.0, r
    # A fixed policy's value is known: its arm's true rate under the device
    # mix. Uniform logging over 10 arms, so about n/10 matched events; allow
    # four standard errors of each estimator.
    for arm in ("a2", "a0"):
        r = by_name[f"always-{arm}"]
        p = META["true_arm_ctr"][arm]
        assert abs(r.matched - n / 10) < 4 * math.sqrt(n * 0.1 * 0.9)
        assert abs(r.replay_ctr - p) < 4 * math.sqrt(p * (1 - p) / r.matched), (arm, r, p)
        assert abs(r.ips_ctr - p) < 4 * math.sqrt(p * 10 / n), (arm, r, p)
    # Uniform random play is worth the log's average click rate.
    mean = sum(e.reward for e in events) / n
    rnd = by_name["random"]
    assert abs(rnd.replay_ctr - mean) < 4 * math.sqrt(mean * (1 - mean) / rnd.matched)

    table = offline.markdown_table(results, 5)
    lines = table.strip().splitlines()
    assert lines[0] == ("| policy | CTR@5 | precision@5 | recall@5 | replay CTR | IPS CTR | "
                        "matched events |")
    assert len(lines) == 2 + len(POLICIES)
    for name in by_name:
        assert any(line.startswith(f"| {name} |") for line in lines)
    png = plot_offline(results, tmp_path / "offline.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_parquet_log_reads_like_csv(tmp_path):
    pytest.importorskip("pyarrow")
    make_dataset(tmp_path / "log.csv", "--seed", "3", "--rows", "300", "--min-candidates", "4")
    make_dataset(tmp_path / "log.parquet", "--seed", "3", "--rows", "300", "--min-candidates", "4")
    a = offline.read_log(tmp_path / "log.csv")
    b = offline.read_log(tmp_path / "log.parquet")
    assert a == b
    assert any(len(e.candidates) < 10 for e in a)
    assert all(math.isclose(e.propensity, 1 / len(e.candidates), rel_tol=1e-5) for e in a)


def test_offline_script_with_candidates_and_estimated_propensities(server, tmp_path):
    log = tmp_path / "log.csv"
    make_dataset(log, "--seed", "5", "--rows", "600", "--min-candidates", "6")
    # Drop the propensity column: the script estimates it from the log.
    lines = log.read_text().splitlines()
    stripped = tmp_path / "noprop.csv"
    stripped.write_text("\n".join(",".join(c for i, c in enumerate(l.split(",")) if i != 4)
                                  for l in lines) + "\n")
    md, png, out_csv = tmp_path / "t.md", tmp_path / "t.png", tmp_path / "t.csv"
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "offline_eval.py"), str(stripped),
         "--target", server.target, "--policies", "ucb1,thompson,random,fixed:a1",
         "--md", str(md), "--png", str(png), "--csv", str(out_csv)],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "estimated" in proc.stdout
    table = md.read_text()
    for name in ("ucb1", "thompson", "random", "always-a1"):
        assert f"| {name} |" in table
    assert png.stat().st_size > 10_000
    assert out_csv.read_text().startswith("policy,")
