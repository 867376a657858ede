"""Growing a live million-arm room (issue 17): the latency of AddArms of one
arm and of RemoveArm, end to end through the Python client, against a floor
from the same run (GetRoom in the BASIC view: the same client, connection
and write-free path, a reply of the same size); then a sustained stream of
new arms (--rate arms/s, in calls of --batch) while another process runs
Sample k=10 in a loop, with Sample's latency beside its latency without the
stream.

  .venv/bin/python bench/arms/arms_growth.py --target=127.0.0.1:50181

Needs a running banditd (scripts/bench_arms.sh starts one)."""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import time

import banditd
from banditd import _ops


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


def fmt(name, ms):
    return (f"{name:<34} n={len(ms):<6} p50 {pct(ms, 50):8.3f} ms  p99 {pct(ms, 99):8.3f} ms"
            f"  max {max(ms):8.3f} ms")


def timed(fn):
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000


def sampler(target, room, seconds, out):
    with banditd.Client(target, timeout=30) as c:
        lat = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            lat.append(timed(lambda: c.sample(room, k=10)))
        out.put(lat)


def sample_for(target, room, seconds):
    q = mp.Queue()
    p = mp.Process(target=sampler, args=(target, room, seconds, q))
    p.start()
    lat = q.get()
    p.join()
    return lat


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", required=True)
    ap.add_argument("--arms", type=int, default=1_000_000)
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--rate", type=float, default=1000.0, help="new arms per second")
    ap.add_argument("--batch", type=int, default=10, help="arms per AddArms call in the stream")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--max_receive_mb", type=int, default=0,
                    help="raise the client's receive limit (for a server that echoes every arm)")
    args = ap.parse_args()
    room = "growing"
    options = []
    if args.max_receive_mb:
        options = [("grpc.max_receive_message_length", args.max_receive_mb << 20)]
    with banditd.Client(args.target, timeout=120, options=options) as c:
        t = time.perf_counter()
        c.create_room(room, [f"item-{i:07d}" for i in range(args.arms)], policy="ucb1")
        print(f"created {args.arms} arms in {time.perf_counter() - t:.1f} s")
        c.feedback(room, "item-0000001", views=10, clicks=1)
        floor, add, remove = [], [], []
        for i in range(args.calls):
            floor.append(timed(lambda: c._invoke(_ops.get_room_page(room, "basic"), None)))
            add.append(timed(lambda: c._invoke(_ops.add_arms(room, [f"new-{i}"]), None)))
            remove.append(timed(lambda: c.remove_arm(room, f"new-{i}")))
        print(fmt("floor: GetRoom BASIC", floor))
        print(fmt("AddArms, 1 arm", add))
        print(fmt("RemoveArm", remove))
        print(f"AddArms p50 / floor p50: {pct(add, 50) / pct(floor, 50):.2f}x")

        quiet = sample_for(args.target, room, args.seconds / 2)
        print(fmt("Sample k=10, no stream", quiet))
        q = mp.Queue()
        p = mp.Process(target=sampler, args=(args.target, room, args.seconds, q))
        p.start()
        interval = args.batch / args.rate
        stream, added = [], 0
        start = time.monotonic()
        next_at = start
        while time.monotonic() - start < args.seconds:
            ids = [f"s-{added + j}" for j in range(args.batch)]
            stream.append(timed(lambda: c._invoke(_ops.add_arms(room, ids), None)))
            added += args.batch
            next_at += interval
            time.sleep(max(0.0, next_at - time.monotonic()))
        elapsed = time.monotonic() - start
        busy = q.get()
        p.join()
        print(fmt(f"AddArms, {args.batch} arms, in the stream", stream))
        print(f"stream: {added} arms in {elapsed:.1f} s = {added / elapsed:.0f} arms/s "
              f"(target {args.rate:.0f})")
        print(fmt("Sample k=10, with the stream", busy))
        print(f"Sample p50 with / without the stream: {pct(busy, 50) / pct(quiet, 50):.2f}x, "
              f"p99 {pct(busy, 99) / pct(quiet, 99):.2f}x")
        print(f"room now holds {c.get_room(room, view='basic').arm_count} arms")


if __name__ == "__main__":
    main()
