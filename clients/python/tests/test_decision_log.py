"""The decision log end to end: traffic through a real server under one
policy, exported by the streaming RPC and the command line, then evaluated
offline for other policies (banditd.offline): IPS and SNIPS agree with the
simulator's true values within their confidence intervals."""

from __future__ import annotations

import csv
import math
import random
import subprocess
import sys
from pathlib import Path

import pytest

import banditd
from banditd import offline

from conftest import start_server

ROOT = Path(__file__).resolve().parents[3]
TRUE_CTR = {"a": 0.10, "b": 0.30, "c": 0.20}


@pytest.fixture(scope="module")
def logged_server(tmp_path_factory: pytest.TempPathFactory):
    srv = start_server(tmp_path_factory.mktemp("declog") / "data", extra=["--decision_log"])
    yield srv
    srv.stop()


def run_traffic(client: banditd.Client, room: str, n: int, seed: int) -> None:
    """Epsilon-greedy (epsilon 0.5) logs n decisions; clicks come from
    TRUE_CTR, reported with each decision's id."""
    client.create_room(room, list(TRUE_CTR), policy=banditd.Policy("epsilon_greedy", epsilon=0.5))
    rng = random.Random(seed)
    for i in range(n):
        res = client.sample(room, seed=seed * 100003 + i)
        arm = res.best
        assert res[0].propensity is not None and res[0].propensity > 0
        click = 1 if rng.random() < TRUE_CTR[arm] else 0
        client.feedback(room, decision_id=res.decision_id, views=1, clicks=click)


def test_sample_reports_propensities_when_logging(logged_server) -> None:
    with banditd.Client(logged_server.target) as c:
        c.create_room("prop", ["x", "y"], policy="ctr")
        res = c.sample("prop")
        # Both arms unseen: a tie broken at random.
        assert res[0].propensity == 0.5 and res.propensity_draws == 0


def test_export_joins_outcomes_and_offline_ips_matches_truth(logged_server, tmp_path: Path) -> None:
    room = "declog-ips"
    n = 3000
    with banditd.Client(logged_server.target, timeout=30) as c:
        run_traffic(c, room, n, seed=5)
        decisions = list(c.export_decisions(room))
        assert len(decisions) == n
        assert [d.sequence for d in decisions] == sorted(d.sequence for d in decisions)
        first = decisions[0]
        assert first.room_id == room and first.eligible_arms == 3 and first.k == 1
        assert first.policy == banditd.PolicyType.EPSILON_GREEDY
        # Every decision got its view back, joined to the arm it returned.
        assert all(d.arms[0].views == 1 for d in decisions)
        clicks = sum(d.arms[0].clicks for d in decisions)
        assert clicks == sum(a.counts.clicks for a in c.stats(room).arms)
        # Resuming after a sequence and limiting the count.
        tail = list(c.export_decisions(room, after_sequence=decisions[9].sequence, max_decisions=5))
        assert [d.decision_id for d in tail] == [d.decision_id for d in decisions[10:15]]

        # The command line writes the file offline_eval reads.
        out = tmp_path / "log.csv"
        subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "export_decisions.py"), "--target", logged_server.target,
             "--room", room, "--out", str(out)],
            check=True,
        )
        with open(out, newline="") as f:
            header = next(csv.reader(f))
        assert header[:6] == ["arm", "reward", "context", "propensity", "candidates", "features"]
        events = offline.read_log(out)
        assert len(events) == n and all(e.propensity is not None for e in events)

        results = offline.evaluate(c, events, ["FIXED:a", "FIXED:b", "FIXED:c"], k=1)
    for arm, res in zip("abc", results):
        # The IPS terms and their standard error, from the log itself.
        terms = [e.reward / e.propensity if e.arm == arm else 0.0 for e in events]
        mean = sum(terms) / n
        se = math.sqrt(sum((t - mean) ** 2 for t in terms) / (n - 1) / n)
        assert res.ips_ctr == pytest.approx(mean)
        # 99% intervals: a fixed seed, so the outcome does not vary.
        assert abs(res.ips_ctr - TRUE_CTR[arm]) < 2.576 * se, (arm, res.ips_ctr, se)
        assert res.snips_ctr is not None
        assert abs(res.snips_ctr - TRUE_CTR[arm]) < 2.576 * se * 1.5, (arm, res.snips_ctr, se)


def test_parquet_export(logged_server, tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    with banditd.Client(logged_server.target) as c:
        run_traffic(c, "declog-pq", 50, seed=9)
        rows = offline.decision_rows(c.export_decisions("declog-pq"))
    offline.write_log(rows, tmp_path / "log.parquet")
    events = offline.read_log(tmp_path / "log.parquet")
    assert [e.arm for e in events] == [r["arm"] for r in rows]
    assert all(0 < e.propensity <= 1 for e in events)


def test_export_needs_the_log(client: banditd.Client) -> None:
    with pytest.raises(banditd.FailedPreconditionError, match="decision_log"):
        list(client.export_decisions())
