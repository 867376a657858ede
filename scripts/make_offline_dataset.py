#!/usr/bin/env python3
"""Generates a synthetic decision log for offline evaluation.

    scripts/make_offline_dataset.py --seed 7 --out datasets/offline/synthetic-seed7.csv

A uniform-random logging policy shows one of the candidate arms per event
(propensity 1 / number of candidates); the click is drawn from the true rate
of (device, arm). The true rates and the device mix are written next to the
log as <out>.meta.json, so an estimator can be checked against the truth.
The same seed and options always give byte-identical files. A .parquet
output needs pyarrow.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

DEVICES = (("device=ios", 0.5), ("device=android", 0.3), ("device=web", 0.2))


def generate(seed: int, rows: int, arms: int, min_candidates: int) -> Dict[str, Any]:
    rng = random.Random(seed)
    arm_ids = [f"a{i}" for i in range(arms)]
    base = {a: rng.uniform(0.02, 0.25) for a in arm_ids}
    true_ctr = {d: {a: round(min(0.95, base[a] * rng.uniform(0.4, 1.8)), 4) for a in arm_ids}
                for d, _ in DEVICES}
    weights = {d: w for d, w in DEVICES}
    events: List[Dict[str, Any]] = []
    for i in range(rows):
        device = rng.choices([d for d, _ in DEVICES], [w for _, w in DEVICES])[0]
        n = rng.randint(min_candidates, arms) if min_candidates < arms else arms
        cands = sorted(rng.sample(arm_ids, n), key=arm_ids.index)
        arm = rng.choice(cands)
        click = 1 if rng.random() < true_ctr[device][arm] else 0
        events.append({"event": f"e{i:06d}", "context": device, "candidates": ";".join(cands),
                       "arm": arm, "propensity": round(1.0 / n, 6), "reward": click})
    meta = {"seed": seed, "rows": rows, "arms": arm_ids, "min_candidates": min_candidates,
            "logging_policy": "uniform random over the candidates",
            "context_weights": weights, "true_ctr": true_ctr,
            "true_arm_ctr": {a: round(sum(weights[d] * true_ctr[d][a] for d in weights), 6)
                             for a in arm_ids}}
    return {"events": events, "meta": meta}


def write(data: Dict[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    cols = ["event", "context", "candidates", "arm", "propensity", "reward"]
    if out.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(data["events"]), out)
    else:
        with open(out, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=cols, lineterminator="\n")
            w.writeheader()
            w.writerows(data["events"])
    Path(str(out) + ".meta.json").write_text(json.dumps(data["meta"], indent=2, sort_keys=True) + "\n")


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--rows", type=int, default=4000)
    ap.add_argument("--arms", type=int, default=10)
    ap.add_argument("--min-candidates", type=int, default=10,
                    help="each event's candidate set has between this many and --arms arms "
                         "(default: all arms every time)")
    ap.add_argument("--out", type=Path, default=Path("datasets/offline/synthetic-seed7.csv"))
    args = ap.parse_args(argv)
    if not 1 <= args.min_candidates <= args.arms:
        ap.error("--min-candidates must be in [1, --arms]")
    write(generate(args.seed, args.rows, args.arms, args.min_candidates), args.out)
    print(f"wrote {args.out} ({args.rows} events) and {args.out}.meta.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
