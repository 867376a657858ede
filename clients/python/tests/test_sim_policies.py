"""Issue 13's bars on short, nice'd runs of the shipped scenarios (the
20-seed tables in docs/SIMULATION.md are made offline with
scripts/regret_table.py), and the reference policies against the server on
the same worlds."""

from __future__ import annotations

import csv
import io
import statistics
import subprocess
from collections import defaultdict
from typing import Dict, List, Tuple

import pytest
from banditd import sim

import reference_policies as ref
from conftest import REPO_ROOT
from test_sim import sim_binary

SCENARIOS = REPO_ROOT / "scripts" / "scenarios"


def server_summary(scenario: str, runs: int, rounds: int, policies: str) -> Dict[str, List[Tuple[float, int]]]:
    out = subprocess.run(
        ["nice", "-n", "10", str(sim_binary()), f"--scenario={SCENARIOS / scenario}", "--summary",
         "--strict", f"--runs={runs}", f"--rounds={rounds}", f"--policies={policies}"],
        check=True, capture_output=True, text=True, timeout=300).stdout
    rows: Dict[str, List[Tuple[float, int]]] = defaultdict(list)
    for r in csv.DictReader(io.StringIO(out)):
        rows[r["policy"]].append((float(r["final_regret"]), int(r["best_arm_pulls"])))
    return rows


def mean_regret(rows: List[Tuple[float, int]]) -> float:
    return statistics.mean(r for r, _ in rows)


def test_revenue_policies_find_the_rare_valuable_offer():
    # 4 seeds x 8,000 rounds (the table: 20 x 20,000). Thompson on clicks
    # chases the 3 % converter worth 5; the best arm converts 0.8 % at 30.
    rows = server_summary("sparse_revenue.json", 4, 8000, "thompson,reward-ucb,reward-thompson")
    clicks_only = mean_regret(rows["thompson"])
    for name in ("reward-ucb", "reward-thompson"):
        assert mean_regret(rows[name]) < 0.9 * clicks_only, (name, rows[name], clicks_only)
        # The best arm is pulled in every seed (the old models: 13 to 17
        # times in 20,000 rounds).
        assert min(b for _, b in rows[name]) >= 300, (name, rows[name])


def test_reference_reward_thompson_agrees_with_the_server():
    # Same worlds, 2 seeds x 3,000 rounds: the independent implementation
    # lands in the same range (within the spread between seeds).
    sc = sim.load_scenario(SCENARIOS / "sparse_revenue.json")
    rows = server_summary("sparse_revenue.json", 2, 3000, "reward-thompson,random")
    ours = mean_regret(rows["reward-thompson"])
    theirs = statistics.mean(ref.run(sc, "reward-thompson", r, 3000)["final_regret"] for r in range(2))
    assert abs(ours - theirs) < 0.35 * mean_regret(rows["random"]), (ours, theirs)
    assert ours < mean_regret(rows["random"])


@pytest.mark.parametrize("scenario,policy", [("sparse_revenue.json", "reward-ucb"),
                                             ("low_ctr.json", "kl-ucb")])
def test_reference_index_policies_agree_with_the_server(scenario, policy):
    # Deterministic indices (KL-UCB+ bounds) written from the papers in
    # reference_policies.py: on the same worlds they land within the spread
    # between seeds of the server's.
    sc = sim.load_scenario(SCENARIOS / scenario)
    rows = server_summary(scenario, 2, 3000, f"{policy},random")
    ours = mean_regret(rows[policy])
    theirs = statistics.mean(ref.run(sc, policy, r, 3000)["final_regret"] for r in range(2))
    assert abs(ours - theirs) < 0.35 * mean_regret(rows["random"]), (ours, theirs)
    assert ours < mean_regret(rows["random"])


def test_kl_ucb_is_far_better_than_default_ucb1_at_low_ctr():
    rows = server_summary("low_ctr.json", 3, 5000, "ucb1,kl-ucb,thompson")
    assert mean_regret(rows["kl-ucb"]) < 0.7 * mean_regret(rows["ucb1"])
    assert mean_regret(rows["kl-ucb"]) < 1.5 * mean_regret(rows["thompson"])


def test_lin_ts_learns_the_linear_world():
    rows = server_summary("linear_context.json", 3, 5000, "linucb,lin-ts,random")
    assert mean_regret(rows["lin-ts"]) < 0.7 * mean_regret(rows["random"])
    assert mean_regret(rows["lin-ts"]) < 2 * mean_regret(rows["linucb"])
