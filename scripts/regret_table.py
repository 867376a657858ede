#!/usr/bin/env python3
"""Regret table of a scenario: the server's policies (build/tools/banditd_sim,
the C++ core in-process) beside the reference implementations of
clients/python/tests/reference_policies.py, on the same simulated worlds.

    nice -n 10 scripts/regret_table.py scripts/scenarios/sparse_revenue.json \
        [--runs 20] [--rounds 20000] [--no-reference]

Prints a Markdown table: final regret mean +- sd over the runs, the share of
rounds that chose the best arm (mean, and the lowest run), for the server
and, where a reference exists under the same policy name, the reference.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "clients" / "python" / "src"))
sys.path.insert(0, str(ROOT / "clients" / "python" / "tests"))

from banditd import sim  # noqa: E402
import reference_policies as ref  # noqa: E402


def server_runs(binary: Path, scenario: Path, runs: int, rounds: int) -> dict:
    cmd = [str(binary), f"--scenario={scenario}", "--summary", "--strict"]
    if runs:
        cmd.append(f"--runs={runs}")
    if rounds:
        cmd.append(f"--rounds={rounds}")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    rows = defaultdict(list)
    for r in csv.DictReader(io.StringIO(out)):
        rows[r["policy"]].append((float(r["final_regret"]), int(r["best_arm_pulls"]),
                                  int(r["rounds"])))
    return rows


def fmt(values: list) -> str:
    m = statistics.mean(values)
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{m:.1f} +- {sd:.1f}"


def share(rows: list) -> str:
    s = [b / n for _, b, n in rows]
    return f"{100 * statistics.mean(s):.1f} % (min {100 * min(s):.1f} %)"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario", type=Path)
    ap.add_argument("--runs", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=0)
    ap.add_argument("--binary", type=Path, default=ROOT / "build" / "tools" / "banditd_sim")
    ap.add_argument("--no-reference", action="store_true")
    args = ap.parse_args()
    sc = sim.load_scenario(args.scenario)
    runs = args.runs or sc.runs
    rounds = args.rounds or sc.rounds
    server = server_runs(args.binary, args.scenario, runs, rounds)
    print(f"{sc.name}: {rounds} rounds, {runs} runs (seeds {sc.seed}..{sc.seed + runs - 1})\n")
    print("| policy | regret (server) | best arm chosen (server) "
          "| regret (reference) | best arm chosen (reference) |")
    print("|---|---|---|---|---|")
    for spec in sc.policies:
        rows = server.get(spec.name)
        if not rows:
            continue
        ref_cells = ["", ""]
        if not args.no_reference and (spec.name in ref.POLICIES or spec.name in ref.LINEAR_POLICIES):
            rr = [ref.run(sc, spec.name, r, rounds) for r in range(runs)]
            ref_rows = [(x["final_regret"], x["best_arm_pulls"], rounds) for x in rr]
            ref_cells = [fmt([x[0] for x in ref_rows]), share(ref_rows)]
        print(f"| {spec.name} | {fmt([x[0] for x in rows])} | {share(rows)} | "
              f"{ref_cells[0]} | {ref_cells[1]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
