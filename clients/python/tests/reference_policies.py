"""Reference bandit policies, written from the papers for the regret tables
(docs/SIMULATION.md) and the simulator tests: independent of the server's
code, played on the same simulated world (banditd.sim.Environment).

Each policy sees only what a client would report: per arm views, clicks
and revenue (and, for the linear ones, the feature vector of the round).
"""

from __future__ import annotations

import math
import random
from typing import Dict, List, Sequence, Tuple

import numpy as np

from banditd import sim


def kl_bernoulli(p: float, q: float) -> float:
    q = min(max(q, 1e-15), 1 - 1e-15)
    out = 0.0
    if p > 0:
        out += p * math.log(p / q)
    if p < 1:
        out += (1 - p) * math.log((1 - p) / (1 - q))
    return out


def kl_ucb_index(n: float, s: float, budget: float) -> float:
    """Garivier and Cappe (2011): max q with n kl(s/n, q) <= budget, by
    bisection."""
    p = min(max(s / n, 0.0), 1.0)
    if budget <= 0:
        return p
    lo, hi = p, 1.0
    for _ in range(50):
        mid = (lo + hi) / 2
        if n * kl_bernoulli(p, mid) > budget:
            hi = mid
        else:
            lo = mid
    return lo


def kl_ucb_indices(n: np.ndarray, s: np.ndarray, budget: np.ndarray) -> np.ndarray:
    """kl_ucb_index over arrays of arms at once (50 bisection steps)."""
    p = np.clip(s / n, 0.0, 1.0)
    lo, hi = p.copy(), np.ones_like(p)
    with np.errstate(divide="ignore", invalid="ignore"):
        for _ in range(50):
            mid = (lo + hi) / 2
            kl = (np.where(p > 0, p * np.log(p / mid), 0.0)
                  + np.where(p < 1, (1 - p) * np.log((1 - p) / (1 - mid)), 0.0))
            over = n * kl > budget
            hi = np.where(over, mid, hi)
            lo = np.where(over, lo, mid)
    return np.where(budget > 0, lo, p)


class Arms:
    def __init__(self, k: int) -> None:
        self.views = [0.0] * k
        self.clicks = [0.0] * k
        self.values: List[List[float]] = [[] for _ in range(k)]


def _argmax(scores: Sequence[float], rng: random.Random) -> int:
    best = max(scores)
    return rng.choice([i for i, s in enumerate(scores) if s == best])


def thompson(st: Arms, t: int, rng: random.Random) -> int:
    return _argmax([rng.betavariate(c + 1, v - c + 1) for v, c in zip(st.views, st.clicks)], rng)


def kl_ucb(st: Arms, t: int, rng: random.Random) -> int:
    """KL-UCB at the level ln(N / n) (KL-UCB+), as the server documents."""
    if 0 in st.views:
        return st.views.index(0)
    n = np.array(st.views)
    budget = np.maximum(np.log(n.sum()) - np.log(n), 0.0)
    return _argmax(list(kl_ucb_indices(n, np.array(st.clicks), budget)), rng)


def ucb1(alpha: float):
    def choose(st: Arms, t: int, rng: random.Random) -> int:
        if 0 in st.views:
            return st.views.index(0)
        log_n = math.log(sum(st.views))
        return _argmax([c / v + alpha * math.sqrt(2 * log_n / v)
                        for v, c in zip(st.views, st.clicks)], rng)
    return choose


def _value_prior(st: Arms) -> Tuple[float, float]:
    allv = [x for vs in st.values for x in vs]
    if not allv:
        return 1.0, 0.0
    return float(np.mean(allv)), float(np.var(allv))


def _value_posterior(vals: List[float], mu0: float, s0: float) -> Tuple[float, float, float, float]:
    """Normal-Inverse-Gamma posterior (mu, kappa, alpha, beta) of an arm's
    mean value (Murphy, 2007, section 6) from its conversions' values, with
    a one-conversion prior at the pooled mean mu0 and variance s0."""
    k0, a0, b0 = 1.0, 1.5, s0 / 2
    m = len(vals)
    if not m:
        return mu0, k0, a0, b0
    xbar = sum(vals) / m
    ss = sum((x - xbar) ** 2 for x in vals)
    kn = k0 + m
    return ((k0 * mu0 + m * xbar) / kn, kn, a0 + m / 2,
            b0 + ss / 2 + k0 * m * (xbar - mu0) ** 2 / (2 * kn))


def reward_thompson(st: Arms, t: int, rng: random.Random) -> int:
    """Beta rate draw x mean-value draw from a Normal-Inverse-Gamma posterior
    (Murphy, 2007, section 6) with a one-conversion prior at the pooled
    mean and variance."""
    mu0, s0 = _value_prior(st)
    scores = []
    for v, c, vals in zip(st.views, st.clicks, st.values):
        rate = rng.betavariate(c + 1, v - c + 1)
        mun, kn, an, bn = _value_posterior(vals, mu0, s0)
        if bn > 0:
            sigma2 = bn / rng.gammavariate(an, 1.0)
            value = rng.gauss(mun, math.sqrt(sigma2 / kn))
        else:
            value = mun
        scores.append(rate * value)
    return _argmax(scores, rng)


def reward_ucb(st: Arms, t: int, rng: random.Random) -> int:
    """KL-UCB+ bound on the conversion rate (level ln(N / n)) times an upper
    bound on the mean value at the same level: the Normal-Inverse-Gamma
    posterior's mean plus sqrt(2 level) Student-t scales (as reward_thompson's
    posterior, prior one conversion at the pooled mean and variance)."""
    if 0 in st.views:
        return st.views.index(0)
    mu0, s0 = _value_prior(st)
    total = sum(st.views)
    scores = []
    for v, c, vals in zip(st.views, st.clicks, st.values):
        level = max(math.log(total / v), 0.0)
        rate = kl_ucb_index(v, c, level)
        mun, kn, an, bn = _value_posterior(vals, mu0, s0)
        upper = mun + math.sqrt(2 * level * bn / (an * kn))
        scores.append(rate * max(upper, 0.0))
    return _argmax(scores, rng)


class Linear:
    """Disjoint per-arm ridge models (Li et al., 2010)."""

    def __init__(self, k: int, d: int, lam: float = 1.0) -> None:
        self.a = [lam * np.eye(d) for _ in range(k)]
        self.b = [np.zeros(d) for _ in range(k)]


def linucb(alpha: float):
    def choose(lin: Linear, x: np.ndarray, rng: random.Random) -> int:
        scores = []
        for a, b in zip(lin.a, lin.b):
            inv = np.linalg.inv(a)
            scores.append(float(x @ inv @ b + alpha * math.sqrt(x @ inv @ x)))
        return _argmax(scores, rng)
    return choose


def lin_ts(v: float):
    """Agrawal and Goyal (2013): theta~ ~ N(theta, v^2 A^-1) drawn in full
    (multivariate), then argmax x . theta~."""
    def choose(lin: Linear, x: np.ndarray, rng: random.Random) -> int:
        gen = np.random.default_rng(rng.getrandbits(64))
        scores = []
        for a, b in zip(lin.a, lin.b):
            inv = np.linalg.inv(a)
            theta = gen.multivariate_normal(inv @ b, v * v * inv)
            scores.append(float(x @ theta))
        return _argmax(scores, rng)
    return choose


POLICIES = {
    "thompson": thompson,
    "kl-ucb": kl_ucb,
    "ucb1": ucb1(1.0),
    "ucb1-0.1": ucb1(0.1),
    "reward-thompson": reward_thompson,
    "reward-ucb": reward_ucb,
}
# lin-ts at the server's default scale for LIN_TS (0.15).
LINEAR_POLICIES = {"linucb": linucb(0.5), "lin-ts": lin_ts(0.15)}


def run(sc: sim.Scenario, name: str, run_index: int, rounds: int = 0) -> Dict[str, float]:
    """Plays reference policy `name` on run `run_index` of the scenario;
    returns its final regret and how often it chose the best arm."""
    env = sim.Environment(sc, run_index)
    k = len(sc.arm_ids)
    rng = random.Random(sc.seed * 1_000_003 + run_index)
    rounds = rounds or sc.rounds
    regret, best_pulls = 0.0, 0
    if name in LINEAR_POLICIES:
        choose_lin = LINEAR_POLICIES[name]
        lin = Linear(k, sc.feature_dim)
    else:
        choose = POLICIES[name]
        st = Arms(k)
    for t in range(1, rounds + 1):
        ci = env.begin_round(t)
        if name in LINEAR_POLICIES:
            x = np.array(sc.contexts[ci].features, dtype=float)
            a = choose_lin(lin, x, rng)
        else:
            a = choose(st, t, rng)
        best = env.best(ci)
        regret += env.expected(ci, best) - env.expected(ci, a)
        best_pulls += a == best
        clicks, reward = env.outcome(t, ci, a)
        if name in LINEAR_POLICIES:
            lin.a[a] += np.outer(x, x)
            lin.b[a] += reward * x
        else:
            st.views[a] += 1
            st.clicks[a] += clicks
            if clicks:
                st.values[a].append(reward)
    return {"final_regret": regret, "best_arm_pulls": best_pulls}
