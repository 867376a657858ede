#!/usr/bin/env python3
"""Offline policy evaluation of banditd policies on a decision log.

    scripts/offline_eval.py datasets/offline/synthetic-seed7.csv \
        --md /tmp/offline.md --csv /tmp/offline.csv --png /tmp/offline.png

Each policy runs in its own room of a banditd server (--target, or one this
script starts from build/banditd with a temporary data directory). Policies
are given as TYPE[:param=value...], NAME=TYPE[:...] or fixed:ARM (a baseline
that always shows ARM). Prints the markdown table
"policy | CTR@k | precision@k | recall@k | replay CTR | IPS CTR | matched events".
Definitions: docs/SIMULATION.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path
from typing import List, Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "clients" / "python" / "src"))
sys.path.insert(0, str(ROOT / "scripts"))

import banditd  # noqa: E402
from banditd import offline, sim  # noqa: E402
from simulate import local_server  # noqa: E402

DEFAULT_POLICIES = ["ucb1", "bucb", "thompson", "egreedy=epsilon_greedy:epsilon=0.1", "ctr", "random"]


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("log", type=Path, help="decision log (.csv, or .parquet with pyarrow)")
    ap.add_argument("--policies", default=",".join(DEFAULT_POLICIES),
                    help="comma-separated policies (default: %(default)s)")
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--min-support", type=int, default=10,
                    help="shows of an arm in a context needed before it can be relevant")
    ap.add_argument("--target", help="host:port of a running banditd (default: start one)")
    ap.add_argument("--server-binary", type=Path,
                    default=Path(os.environ.get("BANDITD_BINARY", ROOT / "build" / "banditd")))
    ap.add_argument("--skip-unsupported", action="store_true",
                    help="drop policies the server rejects instead of failing")
    ap.add_argument("--md", type=Path, help="write the markdown table here")
    ap.add_argument("--csv", type=Path, help="write every metric as CSV here")
    ap.add_argument("--png", type=Path, help="plot running replay CTR and the metrics here")
    args = ap.parse_args(argv)

    events = offline.read_log(args.log)
    if any(e.propensity is None for e in events):
        # Refuse before starting a server when IPS cannot be trusted.
        try:
            offline.estimate_propensities(events, offline.log_arms(events))
        except offline.PropensityError as err:
            print(f"offline_eval: {err}", file=sys.stderr)
            return 2
    pols = [offline.OfflinePolicy.parse(p) for p in args.policies.split(",") if p]
    with contextlib.ExitStack() as stack:
        target = args.target or stack.enter_context(local_server(args.server_binary))
        with banditd.Client(target, timeout=60) as client:
            if args.skip_unsupported:
                dim = len(events[0].features) or 1
                kept = [p for p in pols if p.spec is None or sim.server_accepts(client, p.spec, dim)]
                for p in pols:
                    if p not in kept:
                        print(f"offline_eval: skipping {p.name} (the server rejects it)", file=sys.stderr)
                pols = kept
            start = time.monotonic()
            results = offline.evaluate(client, events, pols, k=args.k, seed=args.seed,
                                       min_support=args.min_support)
            print(f"offline_eval: {len(events)} events x {len(pols)} policies in "
                  f"{time.monotonic() - start:.1f}s", file=sys.stderr)
    table = offline.markdown_table(results, args.k)
    print(table, end="")
    models = {r.propensity_model for r in results}
    if "uniform" in models:
        print("(propensities estimated: the log fits uniform logging within each candidate set, "
              "p = 1/|candidates|)")
    elif "frequency" in models:
        print("(propensities estimated: the log's arm frequencies per context and candidate set)")
    if args.md:
        args.md.write_text(table)
    if args.csv:
        offline.write_results_csv(results, args.csv)
    if args.png:
        from banditd.plot import plot_offline

        plot_offline(results, args.png, k=args.k, title=f"offline evaluation: {args.log.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
