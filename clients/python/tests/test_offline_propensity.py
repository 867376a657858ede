"""Propensities for logs without a propensity column (issue 13): 1/|C| when
the log fits uniform logging within its candidate sets, frequencies per
(context, candidate set) otherwise, or a refusal. IPS with them is checked
against the true value of a target policy on simulated logs (no server)."""

from __future__ import annotations

import math
import random
import subprocess
import sys
from typing import Callable, Dict, List, Sequence, Tuple

import pytest

from banditd import offline
from banditd.offline import LoggedEvent

from conftest import REPO_ROOT

ARMS = [f"a{i}" for i in range(10)]
CONTEXTS = ["device=ios", "device=web"]


def true_ctr(seed: int) -> Dict[str, Dict[str, float]]:
    rng = random.Random(seed)
    return {c: {a: rng.uniform(0.02, 0.3) for a in ARMS} for c in CONTEXTS}


def make_log(seed: int, rows: int, candidate_sets: Callable[[random.Random], List[str]],
             logging_weights: Dict[str, float]) -> Tuple[List[LoggedEvent], Dict[str, Dict[str, float]]]:
    """A log without propensities: context uniform, candidates from
    `candidate_sets`, arm drawn within them with probability proportional to
    `logging_weights` (1 for arms not named)."""
    ctr = true_ctr(seed)
    rng = random.Random(seed * 7919)
    events = []
    for _ in range(rows):
        ctx = rng.choice(CONTEXTS)
        cands = candidate_sets(rng)  # empty: every arm, as in a real log
        pool = cands or ARMS
        arm = rng.choices(pool, [logging_weights.get(a, 1.0) for a in pool])[0]
        click = 1.0 if rng.random() < ctr[ctx][arm] else 0.0
        events.append(LoggedEvent(arm=arm, reward=click, context=[ctx], candidates=cands))
    return events, ctr


def random_subsets(rng: random.Random) -> List[str]:
    return sorted(rng.sample(ARMS, rng.randint(2, len(ARMS))), key=ARMS.index)


FEW_SETS = [ARMS[:3], ARMS[2:8], ARMS]


def few_subsets(rng: random.Random) -> List[str]:
    return rng.choice(FEW_SETS)


def target(ctx: str, cands: Sequence[str], ctr: Dict[str, Dict[str, float]]) -> str:
    """The target policy: a fixed preference, a9 first, then a8, ..."""
    return max(cands, key=ARMS.index)


def ips_and_truth(events: Sequence[LoggedEvent], props: Sequence[float],
                  ctr: Dict[str, Dict[str, float]]) -> Tuple[float, float, float]:
    """IPS estimate of the target's CTR, its true CTR on the log's own
    contexts and candidate sets, and the standard error of the estimate."""
    terms, truth = [], 0.0
    for e, p in zip(events, props):
        pick = target(e.context[0], e.candidates, ctr)
        terms.append(e.reward / p if e.arm == pick else 0.0)
        truth += ctr[e.context[0]][pick]
    n = len(terms)
    mean = sum(terms) / n
    se = math.sqrt(sum((t - mean) ** 2 for t in terms) / (n - 1) / n)
    return mean, truth / n, se


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_uniform_logging_with_candidate_subsets_is_unbiased(seed):
    events, ctr = make_log(seed, 6000, random_subsets, {})
    props, model = offline.estimate_propensities(events, ARMS)
    assert model == "uniform"
    assert props == [1.0 / len(e.candidates) for e in events]
    ips, truth, se = ips_and_truth(events, props, ctr)
    assert abs(ips - truth) < 4 * se, (ips, truth, se)


def test_arm_frequency_estimate_was_biased_here():
    """The bug: the arm's frequency per context (about 1/10) instead of
    1/|C| inflates IPS under random candidate subsets."""
    events, ctr = make_log(1, 6000, random_subsets, {})
    per_context: Dict[Tuple[str, str], int] = {}
    totals: Dict[str, int] = {}
    for e in events:
        per_context[(e.context_key, e.arm)] = per_context.get((e.context_key, e.arm), 0) + 1
        totals[e.context_key] = totals.get(e.context_key, 0) + 1
    old = [per_context[(e.context_key, e.arm)] / totals[e.context_key] for e in events]
    ips, truth, se = ips_and_truth(events, old, ctr)
    assert abs(ips - truth) > 6 * se


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_non_uniform_logging_with_few_candidate_sets_uses_frequencies(seed):
    # The logging policy shows a0 five times as often as any other arm.
    events, ctr = make_log(seed, 9000, few_subsets, {"a0": 5.0})
    props, model = offline.estimate_propensities(events, ARMS)
    assert model == "frequency"
    # In the set a0..a2 the true propensity of a0 is 5/7.
    p_a0 = [p for e, p in zip(events, props) if e.candidates == ARMS[:3] and e.arm == "a0"]
    assert p_a0 and all(abs(p - 5 / 7) < 0.04 for p in p_a0)
    ips, truth, se = ips_and_truth(events, props, ctr)
    assert abs(ips - truth) < 4 * se, (ips, truth, se)


def test_non_uniform_logging_with_varied_candidate_sets_is_refused():
    events, _ = make_log(1, 6000, random_subsets, {"a0": 5.0})
    with pytest.raises(offline.PropensityError, match="propensity column"):
        offline.estimate_propensities(events, ARMS)


def test_logs_without_candidates():
    events, _ = make_log(3, 3000, lambda rng: [], {})
    props, model = offline.estimate_propensities(events, ARMS)
    assert (model, set(props)) == ("uniform", {0.1})
    # Non-uniform logging over all arms: frequencies per context, as before.
    events, _ = make_log(3, 3000, lambda rng: [], {"a0": 5.0})
    props, model = offline.estimate_propensities(events, ARMS)
    assert model == "frequency"
    assert all(abs(p - 5 / 14) < 0.04 for e, p in zip(events, props) if e.arm == "a0")


def test_offline_eval_script_refuses_with_a_clear_message(tmp_path):
    events, _ = make_log(1, 3000, random_subsets, {"a0": 5.0})
    log = tmp_path / "biased.csv"
    log.write_text("arm,reward,context,candidates\n" + "".join(
        f"{e.arm},{int(e.reward)},{e.context[0]},{';'.join(e.candidates)}\n" for e in events))
    proc = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "offline_eval.py"), str(log),
                           "--target", "127.0.0.1:1"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "propensity column" in proc.stderr
    assert "candidate set" in proc.stderr
