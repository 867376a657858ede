"""The simulator end to end: in-process (banditd_sim) and through the server.

banditd_sim is $BANDITD_SIM_BINARY, or build/tools/banditd_sim (built by
scripts/build.sh)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest

from banditd import sim
from banditd.plot import plot_regret

from conftest import REPO_ROOT

# A world with two context items whose best arms differ, a swap of the two
# best arms half way and a small random walk, with lognormal revenue: every
# part of the environment is exercised.
RICH = {
    "name": "rich",
    "rounds": 300,
    "runs": 2,
    "seed": 11,
    "reward": "revenue",
    "arms": [
        {"id": "a", "ctr": 0.10, "revenue_mean": 1.0},
        {"id": "b", "ctr": 0.20, "revenue_mean": 2.0, "revenue_sigma": 0.5},
        {"id": "c", "ctr": 0.30, "revenue_mean": 1.0, "revenue_sigma": 1.0},
        {"id": "d", "ctr": 0.05, "revenue_mean": 3.0},
    ],
    "contexts": [
        {"item": "device=ios", "weight": 2, "ctr": {"a": 0.5}},
        {"item": "device=web", "weight": 1},
    ],
    "drift": [
        {"round": 150, "swap": ["b", "c"]},
        {"round": 200, "set": {"d": 0.4}, "item": "device=web"},
        {"random_walk": {"sd": 0.002, "every": 10}},
    ],
    "policies": [
        {"name": "ucb1", "type": "UCB1"},
        {"name": "bucb", "type": "BUCB"},
        {"name": "thompson", "type": "THOMPSON"},
        {"name": "egreedy", "type": "EPSILON_GREEDY", "epsilon": 0.2},
        {"name": "ctr", "type": "CTR"},
        {"name": "random", "type": "RANDOM"},
    ],
}

# Four arms with large gaps in click rate: learning policies must beat random.
SIMPLE = {
    "name": "simple",
    "rounds": 3000,
    "runs": 3,
    "seed": 3,
    "arms": [{"id": "a", "ctr": 0.1}, {"id": "b", "ctr": 0.2},
             {"id": "c", "ctr": 0.3}, {"id": "d", "ctr": 0.5}],
    "policies": ["UCB1", "THOMPSON", "BUCB", "RANDOM"],
}


def sim_binary() -> Path:
    path = Path(os.environ.get("BANDITD_SIM_BINARY") or REPO_ROOT / "build" / "tools" / "banditd_sim")
    if not path.exists():
        pytest.fail(f"banditd_sim not found at {path}; build it with scripts/build.sh "
                    "or set BANDITD_SIM_BINARY")
    return path


def run_inprocess(scenario: Dict[str, Any], tmp_path: Path, name: str = "inproc") -> Path:
    spath = tmp_path / f"{name}.json"
    spath.write_text(json.dumps(scenario))
    out = tmp_path / f"{name}.csv"
    subprocess.run([str(sim_binary()), f"--scenario={spath}", f"--out={out}"], check=True,
                   timeout=60, capture_output=True)
    return out


def test_inprocess_and_grpc_paths_agree(client, tmp_path):
    inproc = run_inprocess(RICH, tmp_path)
    rows = sim.run_grpc(client, sim.parse_scenario(RICH))
    grpc_csv = tmp_path / "grpc.csv"
    sim.write_csv(rows, grpc_csv)

    a, b = sim.read_csv(inproc), sim.read_csv(grpc_csv)
    assert len(a) == len(b) == 2 * 300 * 6
    # Same world: the scenario's best arm agrees at every round.
    assert [r["best_arm"] for r in a] == [r["best_arm"] for r in b]
    # The drift changes the best arm: b (0.2 x 2.0) on web until the swap at
    # round 150, then d (0.4 x 3.0) from round 200.
    web0 = {r["round"]: r["best_arm"] for r in a if r["run"] == 0}
    assert {web0[t] for t in range(200, 301) if t in web0} & {"d"}
    assert len(set(web0.values())) >= 2
    # Same engine code, same Sample seeds: the same choices and regret.
    assert [(r["policy"], r["chosen_arm"]) for r in a] == [(r["policy"], r["chosen_arm"]) for r in b]
    assert inproc.read_text() == grpc_csv.read_text()
    # Regret is non-decreasing per (run, policy).
    last: Dict[Any, float] = {}
    for r in a:
        key = (r["run"], r["policy"])
        assert r["cumulative_regret"] >= last.get(key, 0.0) - 1e-9
        last[key] = r["cumulative_regret"]


def test_learning_policies_beat_random(tmp_path):
    rows = sim.read_csv(run_inprocess(SIMPLE, tmp_path))
    final = sim.final_regret(rows)
    assert set(final) == {"ucb1", "thompson", "bucb", "random"}
    # Random loses 0.5 - 0.275 = 0.225 per round, about 675 over 3000 rounds.
    assert 500 < final["random"] < 850, final
    assert final["ucb1"] < 0.5 * final["random"], final
    assert final["thompson"] < 0.25 * final["random"], final
    png = plot_regret([("simple", rows)], tmp_path / "regret.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_simulate_script_both_paths(server, tmp_path):
    scenario = tmp_path / "s.json"
    scenario.write_text(json.dumps(SIMPLE))
    out = tmp_path / "out" / "regret.csv"
    png = tmp_path / "out" / "regret.png"
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "simulate.py"), str(scenario),
         "--backend", "both", "--target", server.target, "--sim-binary", str(sim_binary()),
         "--rounds", "200", "--runs", "1", "--out", str(out), "--png", str(png)],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    inproc, grpc_csv = out.with_suffix(".inprocess.csv"), out.with_suffix(".grpc.csv")
    assert inproc.read_text() == grpc_csv.read_text()
    assert len(sim.read_csv(grpc_csv)) == 200 * 4
    assert png.stat().st_size > 10_000
    assert "final cumulative regret" in proc.stdout


NEW_POLICIES = {
    "HOT_COLD": {"arms": [{"id": "a", "ctr": 0.02}, {"id": "b", "ctr": 0.1}, {"id": "c", "ctr": 0.2}]},
    "REWARD_UCB": {"reward": "revenue",
                   "arms": [{"id": "a", "ctr": 0.3, "revenue_mean": 1.0},
                            {"id": "b", "ctr": 0.1, "revenue_mean": 5.0, "revenue_sigma": 0.5}]},
    "REWARD_THOMPSON": {"reward": "revenue",
                        "arms": [{"id": "a", "ctr": 0.3, "revenue_mean": 1.0},
                                 {"id": "b", "ctr": 0.1, "revenue_mean": 5.0, "revenue_sigma": 0.5}]},
    "LINUCB": {"arms": [{"id": "a", "ctr": 0.1}, {"id": "b", "ctr": 0.1}],
               "contexts": [{"item": "u=1", "features": [1.0, 0.0], "ctr": {"a": 0.6}},
                            {"item": "u=2", "features": [0.0, 1.0], "ctr": {"b": 0.6}}]},
}


@pytest.mark.parametrize("ptype", sorted(NEW_POLICIES))
def test_newer_policies_when_supported(client, tmp_path, ptype):
    scenario = {"name": ptype, "rounds": 1500, "seed": 5, **NEW_POLICIES[ptype],
                "policies": [{"name": ptype.lower(), "type": ptype}, {"name": "random", "type": "RANDOM"}]}
    sc = sim.parse_scenario(scenario)
    if not sim.server_accepts(client, sc.policies[0], dim=max(1, sc.feature_dim)):
        pytest.skip(f"the server does not implement {ptype} yet")
    grpc_csv = tmp_path / "grpc.csv"
    sim.write_csv(sim.run_grpc(client, sc), grpc_csv)
    final = sim.final_regret(sim.read_csv(grpc_csv))
    assert final[ptype.lower()] < final["random"], final
    inproc = run_inprocess(scenario, tmp_path)
    assert inproc.read_text() == grpc_csv.read_text()
