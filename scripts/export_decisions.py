#!/usr/bin/env python3
"""Exports a server's decision log to CSV or Parquet in the format
scripts/offline_eval.py (banditd.offline.read_log) reads.

    scripts/export_decisions.py --target localhost:50051 --room home \\
        --out decisions.csv            # or decisions.parquet (pyarrow)

The server must run with --decision_log. One row per Sample decision: the
arm it returned first, the reward reported for it with the decision_id, its
propensity, context items, candidates and features.
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

import banditd
from banditd import offline


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", default=banditd.DEFAULT_TARGET)
    ap.add_argument("--token", default=None, help="admin bearer token, when the server checks tokens")
    ap.add_argument("--room", default="", help="only this room (default: every room)")
    ap.add_argument("--after", type=int, default=0, help="resume after this sequence number")
    ap.add_argument("--max", type=int, default=0, help="at most this many decisions (0: all)")
    ap.add_argument("--only-with-outcomes", action="store_true",
                    help="leave out decisions whose first arm got no reported views")
    ap.add_argument("--out", required=True, help="output file: .csv, or .parquet/.pq")
    args = ap.parse_args(argv)
    with banditd.Client(args.target, token=args.token, timeout=600) as client:
        decisions = client.export_decisions(args.room, after_sequence=args.after, max_decisions=args.max)
        rows = offline.decision_rows(decisions, only_with_outcomes=args.only_with_outcomes)
    offline.write_log(rows, args.out)
    print(f"export_decisions: {len(rows)} decisions to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
