#!/usr/bin/env python3
"""Runs a simulation scenario and writes regret CSVs and a PNG.

    scripts/simulate.py scripts/scenarios/basic.json --backend both \
        --out /tmp/regret.csv --png /tmp/regret.png

--backend grpc drives the policies through a banditd server (--target, or a
server this script starts from build/banditd with a temporary data
directory); inprocess runs build/tools/banditd_sim (the C++ core linked
directly); both runs the two and plots them side by side. With both, the CSVs
are <out>.inprocess.csv and <out>.grpc.csv. See docs/SIMULATION.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator, List, Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "clients" / "python" / "src"))

import banditd  # noqa: E402
from banditd import sim  # noqa: E402


@contextlib.contextmanager
def local_server(binary: Path) -> Iterator[str]:
    """Starts banditd on a free port with a throwaway data directory."""
    with tempfile.TemporaryDirectory(prefix="banditd-sim-") as d:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        log = open(Path(d) / "server.log", "wb")
        proc = subprocess.Popen([str(binary), f"--port={port}", f"--data_dir={d}/data",
                                 "--durability=async", "--dashboard=false"],
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            target = f"127.0.0.1:{port}"
            with banditd.Client(target) as c:
                c.wait_until_serving(30)
            yield target
        finally:
            proc.terminate()
            proc.wait(15)
            log.close()


def run_inprocess(binary: Path, scenario: Path, out: Path, args: argparse.Namespace) -> None:
    cmd = [str(binary), f"--scenario={scenario}", f"--out={out}"]
    if args.rounds:
        cmd.append(f"--rounds={args.rounds}")
    if args.runs:
        cmd.append(f"--runs={args.runs}")
    if args.policies:
        cmd.append(f"--policies={args.policies}")
    subprocess.run(cmd, check=True)


def run_grpc(sc: sim.Scenario, target: Optional[str], binary: Path, out: Path) -> None:
    with contextlib.ExitStack() as stack:
        if not target:
            target = stack.enter_context(local_server(binary))
        with banditd.Client(target, timeout=60) as client:
            supported = []
            for p in sc.policies:
                if sim.server_accepts(client, p, dim=max(1, sc.feature_dim)):
                    supported.append(p)
                else:
                    print(f"simulate: skipping policy {p.name} (the server rejects {p.type})",
                          file=sys.stderr)
            start = time.monotonic()
            rows = sim.run_grpc(client, sc.with_policies(supported))
            print(f"simulate: gRPC run took {time.monotonic() - start:.1f}s", file=sys.stderr)
    sim.write_csv(rows, out)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scenario", type=Path)
    ap.add_argument("--backend", choices=("grpc", "inprocess", "both"), default="both")
    ap.add_argument("--target", help="host:port of a running banditd (default: start one)")
    ap.add_argument("--server-binary", type=Path,
                    default=Path(os.environ.get("BANDITD_BINARY", ROOT / "build" / "banditd")))
    ap.add_argument("--sim-binary", type=Path,
                    default=Path(os.environ.get("BANDITD_SIM_BINARY", ROOT / "build" / "tools" / "banditd_sim")))
    ap.add_argument("--out", type=Path, default=Path("regret.csv"))
    ap.add_argument("--png", type=Path, help="also plot the regret curves here")
    ap.add_argument("--rounds", type=int, default=0, help="override the scenario's rounds")
    ap.add_argument("--runs", type=int, default=0, help="override the scenario's runs")
    ap.add_argument("--policies", default="", help="comma-separated policy names (default: all)")
    args = ap.parse_args(argv)

    raw = json.loads(args.scenario.read_text())
    if args.rounds:
        raw["rounds"] = args.rounds
    if args.runs:
        raw["runs"] = args.runs
    sc = sim.parse_scenario(raw)
    if args.policies:
        sc = sc.with_policies(args.policies.split(","))

    args.out.parent.mkdir(parents=True, exist_ok=True)
    outputs = []
    if args.backend in ("inprocess", "both"):
        out = args.out if args.backend == "inprocess" else args.out.with_suffix(".inprocess.csv")
        run_inprocess(args.sim_binary, args.scenario, out, args)
        outputs.append(("in-process (banditd_sim)", out))
    if args.backend in ("grpc", "both"):
        out = args.out if args.backend == "grpc" else args.out.with_suffix(".grpc.csv")
        run_grpc(sc, args.target, args.server_binary, out)
        outputs.append(("gRPC server", out))

    panels = []
    for name, path in outputs:
        rows = sim.read_csv(path)
        panels.append((name, rows))
        print(f"{name}: {path}")
        for pol, reg in sorted(sim.final_regret(rows).items(), key=lambda kv: kv[1]):
            print(f"  {pol:24s} final cumulative regret {reg:9.2f}")
    if args.png:
        from banditd.plot import plot_regret

        plot_regret(panels, args.png, title=f"{sc.name}: {sc.rounds} rounds, {sc.runs} run(s)")
        print(f"plot: {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
