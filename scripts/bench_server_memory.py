"""Memory of the server process holding a 1M-arm room (issue 17's bytes per
arm), as a client sees it: starts the server binary with a fresh data
directory, creates a room of N arms (ids arm_0 .. arm_{N-1}) and gives every
arm one view in the whole-room segment, in Feedback batches of 10,000, over
gRPC or the HTTP/JSON API; then reads the process's RSS (VmRSS) after
--settle seconds. Then SIGTERM, a restart on the same data directory (the
room comes back from the snapshot and log), and the RSS again. Prints RSS
over the idle process (before the room) per arm, and as a ratio to the floor
of 32 bytes per arm (the room's four 8-byte counters: views, clicks, reward,
reward squared).

  scripts/bench_server_memory.sh [--binary=build-release/server/banditd]
      [--api=grpc|http] [--arms=1000000] [--settle=3] [--event_ids]
      [-- SERVER FLAGS...]
"""
import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "clients", "python", "src"))

FLOOR_BYTES_PER_ARM = 32
BATCH = 10_000


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status_mib(pid, field):
    """A memory field of /proc/PID/status (VmRSS, VmHWM: the peak RSS)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError("no " + field)


def rss_mib(pid):
    return status_mib(pid, "VmRSS")


class Server:
    def __init__(self, binary, data_dir, extra):
        self.grpc_port, self.http_port = free_port(), free_port()
        self.metrics_port = free_port()
        self.proc = subprocess.Popen(
            [binary, "--host=127.0.0.1", f"--port={self.grpc_port}",
             f"--http_port={self.http_port}", f"--metrics_port={self.metrics_port}",
             f"--data_dir={data_dir}", *extra],
            stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(data_dir, "server.log"), "a"))
        deadline = time.time() + 300
        while True:
            try:
                urllib.request.urlopen(
                    f"http://127.0.0.1:{self.http_port}/openapi.json", timeout=1).read()
                break
            except Exception:
                if self.proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"server did not start (see {data_dir}/server.log)")
                time.sleep(0.2)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=120)


def setup_http(server, arms, event_ids):
    def post(path, body):
        req = urllib.request.Request(
            f"http://127.0.0.1:{server.http_port}{path}", data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=600) as r:
            r.read()
    post("/v1/rooms", {"roomId": "big", "armIds": [f"arm_{i}" for i in range(arms)]})
    for s in range(0, arms, BATCH):
        post("/v1/feedback", {"events": [
            {"roomId": "big", "armId": f"arm_{i}", "views": 1,
             **({"eventId": f"ev-{i}"} if event_ids else {})}
            for i in range(s, min(arms, s + BATCH))]})


def setup_grpc(server, arms, event_ids):
    import grpc
    from banditd.v1 import banditd_pb2 as pb
    from banditd.v1 import banditd_pb2_grpc
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}",
                               options=[("grpc.max_send_message_length", 256 << 20)]) as ch:
        stub = banditd_pb2_grpc.BanditServiceStub(ch)
        stub.CreateRoom(pb.CreateRoomRequest(
            room_id="big", arm_ids=[f"arm_{i}" for i in range(arms)]), timeout=600)
        for s in range(0, arms, BATCH):
            stub.Feedback(pb.FeedbackRequest(events=[
                pb.FeedbackEvent(room_id="big", arm_id=f"arm_{i}", views=1,
                                 event_id=f"ev-{i}" if event_ids else "")
                for i in range(s, min(arms, s + BATCH))]), timeout=600)


def create_small_room(server):
    import grpc
    from banditd.v1 import banditd_pb2 as pb
    from banditd.v1 import banditd_pb2_grpc
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as ch:
        banditd_pb2_grpc.BanditServiceStub(ch).CreateRoom(
            pb.CreateRoomRequest(room_id="small", arm_ids=["a", "b"]), timeout=60)


def poll_dashboard(server, room, polls):
    """Milliseconds per /api/stats poll of `room` (the dashboard's every
    second), its reply's bytes, and the server's RSS / peak RSS change."""
    url = f"http://127.0.0.1:{server.metrics_port}/api/stats?room={room}&segment="
    rss0, hwm0 = rss_mib(server.proc.pid), status_mib(server.proc.pid, "VmHWM")
    times, size = [], 0
    for _ in range(polls):
        t0 = time.perf_counter()
        body = urllib.request.urlopen(url, timeout=60).read()
        times.append(1000 * (time.perf_counter() - t0))
        size = len(body)
    times.sort()
    return (times[len(times) // 2], times[-1], size,
            rss_mib(server.proc.pid) - rss0, status_mib(server.proc.pid, "VmHWM") - hwm0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", default=os.path.join(ROOT, "build-release/server/banditd"))
    ap.add_argument("--api", choices=["grpc", "http"], default="grpc")
    ap.add_argument("--arms", type=int, default=1_000_000)
    ap.add_argument("--settle", type=float, default=3.0,
                    help="seconds between the last call and the RSS reading")
    ap.add_argument("--event_ids", action="store_true",
                    help="give each Feedback event an event_id (held by the "
                    "server's de-duplication window, --event_id_window)")
    ap.add_argument("--dashboard_polls", type=int, default=0,
                    help="after setup, poll the dashboard's /api/stats of the "
                    "big room (and of a 2-arm room, the floor) this often")
    ap.add_argument("server_flags", nargs="*")
    args = ap.parse_args()
    data_dir = tempfile.mkdtemp(prefix="banditd-mem-")
    try:
        server = Server(args.binary, data_dir, args.server_flags)
        time.sleep(args.settle)
        idle = rss_mib(server.proc.pid)
        (setup_grpc if args.api == "grpc" else setup_http)(server, args.arms, args.event_ids)
        held = rss_mib(server.proc.pid)
        time.sleep(args.settle)
        setup = rss_mib(server.proc.pid)
        polls = None
        if args.dashboard_polls > 0:
            create_small_room(server)
            polls = [(room, poll_dashboard(server, room, args.dashboard_polls))
                     for room in ("small", "big")]
        server.stop()
        server = Server(args.binary, data_dir, args.server_flags)
        held2 = rss_mib(server.proc.pid)
        time.sleep(args.settle)
        restart = rss_mib(server.proc.pid)
        server.stop()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)

    def per_arm(mib):
        return (mib - idle) * 1048576 / args.arms
    print(f"{os.path.relpath(args.binary, ROOT)} {' '.join(args.server_flags)} "
          f"({args.api}, {args.arms} arms{', event ids' if args.event_ids else ''}): idle {idle:.1f} MiB")
    for name, before, after in (("after setup", held, setup), ("after restart", held2, restart)):
        print(f"  {name:14s} {after:7.1f} MiB: {per_arm(after):6.1f} B/arm over idle "
              f"({per_arm(after) / FLOOR_BYTES_PER_ARM:.2f}x the {FLOOR_BYTES_PER_ARM} B floor); "
              f"{per_arm(before):.1f} B/arm at once")
    for room, (median, worst, size, rss, hwm) in polls or []:
        print(f"  dashboard /api/stats of {room!r}, {args.dashboard_polls} polls: "
              f"median {median:.1f} ms, max {worst:.1f} ms, reply {size} bytes; "
              f"RSS {rss:+.1f} MiB, peak RSS {hwm:+.1f} MiB")


if __name__ == "__main__":
    main()
