"""Events/s ingested from Kafka beside the Feedback RPC at the same batch
size (scripts/bench_kafka.sh runs this; see docs/BENCHMARKS.md, "Kafka
ingest").

Kafka: N one-event records are produced to a fresh topic first, then a
fresh banditd (--kafka_batch_events=BATCH, sync durability) consumes them;
the rate is events over the time from the first applied event to the last
(GetStats polled every 20 ms), and the server CPU over that window.
RPC: banditd_grpc_load --mode=feedback --feedback_batch=BATCH against a
fresh banditd, closed loop at CONCURRENCY calls. Rounds alternate the two;
medians are printed."""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "kafka"))
sys.path.insert(0, str(ROOT / "clients" / "python" / "src"))

import banditd  # noqa: E402
from broker import Broker  # noqa: E402
from confluent_kafka import Producer  # noqa: E402
from banditd.v1 import banditd_pb2 as pb  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_banditd(binary: str, data: Path, *flags: str):
    port = free_port()
    log = open(data.parent / f"{data.name}.log", "wb")
    proc = subprocess.Popen([binary, f"--port={port}", f"--data_dir={data}", *flags],
                            stdout=log, stderr=subprocess.STDOUT)
    client = banditd.Client(f"127.0.0.1:{port}", timeout=5)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if client.health(timeout=1) == "SERVING":
                return proc, port, client
        except banditd.BanditdError:
            time.sleep(0.05)
    raise RuntimeError("banditd did not start")


def produce(args, broker: Broker, fmt: str) -> str:
    """A fresh topic holding --events one-event records in `fmt`; every
    round consumes all of it with a fresh server and group."""
    topic = f"bench-{fmt}-{uuid.uuid4().hex[:8]}"
    broker.create_topic(topic, partitions=args.partitions)
    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 20,
                  "batch.num.messages": 10000, "queue.buffering.max.messages": 1000000})
    arms = [f"arm_{i}" for i in range(100)]
    headers = [("content-type", b"application/x-protobuf")] if fmt == "binary" else None
    for i in range(args.events):
        arm = arms[i % len(arms)]
        if fmt == "binary":
            value = pb.FeedbackEvent(room_id="bench", arm_id=arm, views=1).SerializeToString()
        else:
            value = json.dumps({"roomId": "bench", "armId": arm, "views": 1}).encode()
        while True:
            try:
                p.produce(topic, value=value, key=str(i).encode(), headers=headers)
                break
            except BufferError:
                p.poll(0.05)
    assert p.flush(120) == 0
    return topic


def kafka_round(args, binary: str, broker: Broker, work: Path, topic: str,
                arms: list[str]) -> tuple[float, float]:
    data = work / f"k-{uuid.uuid4().hex[:8]}"
    # Records for a missing room are dead-lettered: create the room on a
    # server without Kafka first, then restart it on the same data.
    proc, _, client = start_banditd(binary, data)
    client.create_room("bench", arms)
    proc.terminate()
    proc.wait(30)
    client.close()
    proc, _, client = start_banditd(
        binary, data, f"--kafka_brokers={broker.bootstrap}", f"--kafka_topics={topic}",
        f"--kafka_group=g-{data.name}", f"--kafka_batch_events={args.batch}", "--kafka_start=earliest")
    try:
        t0 = c0 = None
        v0 = 0.0
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            views = client.stats("bench").total_views
            now = time.monotonic()
            if t0 is None and views > 0:
                t0, c0, v0 = now, cpu_seconds(proc.pid), views
            if views >= args.events:
                break
            time.sleep(0.02)
        t1, c1 = time.monotonic(), cpu_seconds(proc.pid)
        assert views == args.events, views
        rate = (args.events - v0) / (t1 - t0)
        return rate, (c1 - c0) / (args.events - v0) * 1e6
    finally:
        proc.terminate()
        proc.wait(30)
        client.close()


def rpc_round(args, work: Path) -> tuple[float, float]:
    data = work / f"r-{uuid.uuid4().hex[:8]}"
    proc, port, client = start_banditd(args.banditd, data)
    try:
        out = subprocess.run(
            [args.load, f"--target=127.0.0.1:{port}", "--mode=feedback",
             f"--feedback_batch={args.batch}", f"--concurrency={args.concurrency}",
             f"--duration={args.duration}s", f"--server_pid={proc.pid}"],
            capture_output=True, text=True, check=True).stdout
        calls = float(re.search(r"\s([\d.]+)/s", out).group(1))
        cpu = float(re.search(r"server CPU\s+([\d.]+) us/call", out).group(1))
        return calls * args.batch, cpu / args.batch
    finally:
        proc.terminate()
        proc.wait(30)
        client.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--banditd", default=str(ROOT / "build" / "banditd"))
    ap.add_argument("--load", default=str(ROOT / "build" / "bench" / "banditd_grpc_load"))
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--partitions", type=int, default=1)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--formats", default="json,binary")
    ap.add_argument("--baseline", default="",
                    help="another banditd binary (e.g. main's) whose Kafka rounds alternate "
                         "with --banditd's, reported as kafka_<format>_baseline")
    args = ap.parse_args()
    print(f"== {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
          f"{args.events} events, batch {args.batch}, {args.partitions} partition(s), "
          f"RPC concurrency {args.concurrency}, {args.rounds} rounds")
    results: dict[str, list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        arms = [f"arm_{i}" for i in range(100)]
        binaries = [("", args.banditd)] + ([("_baseline", args.baseline)] if args.baseline else [])
        with Broker(work / "broker") as broker:
            topics = {fmt: produce(args, broker, fmt) for fmt in args.formats.split(",")}
            for r in range(args.rounds):
                for (suffix, binary), fmt in [(b, f) for f in topics for b in binaries]:
                    name = f"kafka_{fmt}{suffix}"
                    results.setdefault(name, []).append(
                        kafka_round(args, binary, broker, work, topics[fmt], arms))
                    print(f"round {r + 1} {name:12s} {results[name][-1][0]:>10,.0f} events/s"
                          f"  server CPU {results[name][-1][1]:.2f} us/event", flush=True)
                results.setdefault("rpc", []).append(rpc_round(args, work))
                print(f"round {r + 1} {'rpc':12s} {results['rpc'][-1][0]:>10,.0f} events/s"
                      f"  server CPU {results['rpc'][-1][1]:.2f} us/event", flush=True)
    print(f"== medians (load average after {os.getloadavg()[0]:.1f})")
    rpc = statistics.median(r for r, _ in results["rpc"])
    for name, rows in results.items():
        rate = statistics.median(r for r, _ in rows)
        cpu = statistics.median(c for _, c in rows)
        print(f"{name:12s} {rate:>10,.0f} events/s  {rate / rpc:4.2f}x RPC  "
              f"server CPU {cpu:.2f} us/event")


if __name__ == "__main__":
    main()
