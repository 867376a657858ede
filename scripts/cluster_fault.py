#!/usr/bin/env python3
"""Write availability of a banditd cluster through one NATS node failure.

Starts, on loopback only, a 3-node NATS cluster (monitoring ports on) and 3
banditd replicas sharing one R3 stream, writes Feedback events with unique
event_ids to every replica at a steady rate, injects ONE fault into one NATS
node, and reports:

  * the longest write gap: the longest time in which no write to a replica
    completed successfully (per replica, the headline is the worst);
  * the errors clients saw (gRPC code and first message);
  * exactly-once totals: after the run, every failed event is retried with
    the same event_id until it succeeds, and each replica must count exactly
    one view per distinct event.

Faults (--fault): kill-stream-leader, stop-stream-leader, kill-meta-leader,
stop-meta-leader, kill-follower, stop-follower. "kill" is SIGKILL (the node
is restarted --down seconds later), "stop" is SIGSTOP for --down seconds
then SIGCONT. For the meta-leader faults the stream's leadership is moved
away from the meta leader first, so that the fault hits only the meta
layer; a follower is a node that leads neither.

Every loop is bounded; the script cleans up its processes. Prints one JSON
line (prefixed "RESULT ") and a summary. Used by scripts/cluster_fault.sh.
"""

import argparse
import collections
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import grpc

from banditd.v1 import banditd_pb2 as pb
from banditd.v1 import banditd_pb2_grpc as pb_grpc

STREAM = "BANDITD_EVENTS"


def free_port_base(n):
    """A base port with n free consecutive ports (loopback), below Linux's
    ephemeral range (32768-60999): a replica's or node's own outgoing
    connection could otherwise take a port before its server binds it."""
    for _ in range(50):
        base = random.randrange(20000, 32000 - n)
        ok = True
        for p in range(base, base + n):
            with socket.socket() as t:
                try:
                    t.bind(("127.0.0.1", p))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError("no free port range")


class Cluster:
    def __init__(self, args, workdir):
        self.args = args
        self.dir = workdir
        base = free_port_base(15)
        self.client_ports = [base + i for i in range(3)]
        self.route_ports = [base + 3 + i for i in range(3)]
        self.mon_ports = [base + 6 + i for i in range(3)]
        self.grpc_ports = [base + 9 + i for i in range(3)]
        self.nats = [None] * 3
        self.banditd = [None] * 3
        self.urls = [f"nats://127.0.0.1:{p}" for p in self.client_ports]

    def start_nats(self, i):
        routes = ",".join(f"nats://127.0.0.1:{p}" for p in self.route_ports)
        os.makedirs(f"{self.dir}/nats{i}", exist_ok=True)
        log = open(f"{self.dir}/nats{i}.log", "ab")
        conf = f"{self.dir}/nats{i}.conf"
        with open(conf, "w") as f:
            # Liveness of routes and clients (see docs/SCALING.md): a paused
            # node is dropped after ping_max unanswered pings.
            f.write(f'ping_interval: "{self.args.nats_ping_interval}"\n'
                    f"ping_max: {self.args.nats_ping_max}\n"
                    f'write_deadline: "{self.args.nats_write_deadline}"\n')
        self.nats[i] = subprocess.Popen(
            [self.args.nats_server, "-c", conf, "-a", "127.0.0.1",
             "-p", str(self.client_ports[i]), "-m", str(self.mon_ports[i]),
             "-n", f"nats{i}", "-js", "-sd", f"{self.dir}/nats{i}",
             "--cluster_name", "banditd",
             "--cluster", f"nats://127.0.0.1:{self.route_ports[i]}",
             "--routes", routes] + self.args.nats_flag,
            stdout=log, stderr=log)

    def start_banditd(self, i):
        mine = self.urls[i]
        others = [u for u in self.urls if u != mine]
        os.makedirs(f"{self.dir}/banditd{i}", exist_ok=True)
        log = open(f"{self.dir}/banditd{i}.log", "ab")
        self.banditd[i] = subprocess.Popen(
            [self.args.banditd, f"--port={self.grpc_ports[i]}",
             "--host=127.0.0.1", f"--data_dir={self.dir}/banditd{i}",
             "--metrics_port=0", "--cluster_nats=" + ",".join([mine] + others)]
            + self.args.banditd_flag,
            stdout=log, stderr=log)

    def jsz(self, i):
        url = (f"http://127.0.0.1:{self.mon_ports[i]}/jsz?"
               "accounts=true&streams=true")
        with urllib.request.urlopen(url, timeout=2) as r:
            return json.load(r)

    def leaders(self):
        """(meta leader index, stream leader index), from any live node."""
        for i in range(3):
            try:
                z = self.jsz(i)
            except OSError:
                continue
            meta = z.get("meta_cluster", {}).get("leader", "")
            stream = ""
            for acc in z.get("account_details", []) or []:
                for sd in acc.get("stream_detail", []) or []:
                    if sd.get("name") == STREAM:
                        stream = (sd.get("cluster") or {}).get("leader", "")
            if meta and stream:
                return int(meta[-1]), int(stream[-1])
        return None, None

    def up(self):
        for i in range(3):
            self.start_nats(i)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if all(self.jsz(i).get("meta_cluster", {}).get("leader")
                       for i in range(3)):
                    break
            except OSError:
                pass
            time.sleep(0.2)
        else:
            raise RuntimeError("NATS meta leader not elected in 30 s")
        for i in range(3):
            self.start_banditd(i)
            if i == 0:
                self.wait_serving(0)
        for i in range(3):
            self.wait_serving(i)

    def wait_serving(self, i):
        deadline = time.time() + 60
        while time.time() < deadline:
            with open(f"{self.dir}/banditd{i}.log", "rb") as f:
                if b"serving on" in f.read():
                    return
            if self.banditd[i].poll() is not None:
                raise RuntimeError(f"banditd{i} exited, see {self.dir}")
            time.sleep(0.1)
        raise RuntimeError(f"banditd{i} not serving in 60 s")

    def log_sizes(self):
        return [os.path.getsize(f"{self.dir}/nats{i}.log") for i in range(3)]

    def leader_changes(self, offsets):
        """Stream and meta leader elections since offsets (each is logged
        once, by the new leader)."""
        n = 0
        for i in range(3):
            with open(f"{self.dir}/nats{i}.log", "rb") as f:
                f.seek(offsets[i])
                for line in f:
                    if (b"new stream leader" in line or
                            b"Self is new JetStream cluster metadata leader"
                            in line):
                        n += 1
        return n

    def republished(self):
        """Record copies the replicas re-sent (their log lines)."""
        n = 0
        for i in range(3):
            with open(f"{self.dir}/banditd{i}.log", "rb") as f:
                for line in f:
                    m = re.search(rb"re-published (\d+) unacknowledged", line)
                    if m:
                        n += int(m.group(1))
        return n

    def down(self):
        for procs in (self.banditd, self.nats):
            for p in procs:
                if p is None or p.poll() is not None:
                    continue
                try:
                    p.send_signal(signal.SIGCONT)
                    p.terminate()
                    p.wait(timeout=10)
                except (subprocess.TimeoutExpired, ProcessLookupError):
                    p.kill()
                    p.wait(timeout=10)


def nats_request(port, subject, payload=b"", timeout=3.0):
    """A request over the plain NATS protocol (no client library needed)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        f = s.makefile("rb")
        f.readline()  # INFO
        s.sendall(b'CONNECT {"verbose":false,"headers":false}\r\n'
                  b"SUB _INBOX.fault 1\r\n"
                  + f"PUB {subject} _INBOX.fault {len(payload)}\r\n".encode()
                  + payload + b"\r\nPING\r\n")
        deadline = time.time() + timeout
        while time.time() < deadline:
            line = f.readline()
            if line.startswith(b"MSG"):
                n = int(line.split()[-1])
                return f.read(n + 2)[:-2]
            if line.startswith(b"PING"):
                s.sendall(b"PONG\r\n")
    return b""


class Writer(threading.Thread):
    """Open-loop Feedback writer to one replica: one event per call."""

    def __init__(self, index, port, args, stop, t0):
        super().__init__(daemon=True)
        self.index = index
        self.args = args
        self.stop = stop
        self.t0 = t0
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        self.stub = pb_grpc.BanditServiceStub(self.channel)
        self.lock = threading.Lock()
        self.ok_times = []        # completion times (s since t0) of successes
        self.failed = []          # event ids to retry
        self.errors = collections.Counter()
        self.first_message = {}
        self.latencies = []
        self.error_latencies = []  # how long failed calls waited
        self.sent = 0
        self.in_flight = threading.Semaphore(args.max_in_flight)

    def event(self, n):
        return f"w{self.index}-{n}"

    def run(self):
        interval = 1.0 / self.args.rate
        n = 0
        next_send = time.monotonic()
        while not self.stop.is_set():
            now = time.monotonic()
            if now < next_send:
                time.sleep(next_send - now)
                continue
            next_send += interval
            if not self.in_flight.acquire(timeout=1.0):
                continue
            eid = self.event(n)
            n += 1
            self.sent += 1
            start = time.monotonic()
            fut = self.stub.Feedback.future(
                pb.FeedbackRequest(events=[pb.FeedbackEvent(
                    room_id="fault", arm_id=f"a{n % 4}", views=1,
                    event_id=eid)]),
                timeout=self.args.call_deadline)
            fut.add_done_callback(
                lambda f, eid=eid, start=start: self.done(f, eid, start))

    def done(self, fut, eid, start):
        self.in_flight.release()
        end = time.monotonic()
        err = fut.exception()
        with self.lock:
            if err is None:
                self.ok_times.append(end - self.t0)
                self.latencies.append(end - start)
            else:
                code = err.code().name
                self.errors[code] += 1
                self.error_latencies.append(end - start)
                self.first_message.setdefault(code, err.details())
                self.failed.append(eid)


def longest_gap(times, t_from, t_to):
    """(length, start) of the longest interval without a success."""
    times = [t_from] + sorted(t for t in times if t_from <= t <= t_to) + [t_to]
    return max((b - a, a) for a, b in zip(times, times[1:]))


def create_room(stub) -> None:
    """Creates the room, retrying UNAVAILABLE (no stream leader yet) for 10 s.

    ALREADY_EXISTS after a retry: an earlier attempt was stored after all.
    """
    deadline = time.monotonic() + 10
    retried = False
    while True:
        try:
            stub.CreateRoom(pb.CreateRoomRequest(
                room_id="fault", arm_ids=["a0", "a1", "a2", "a3"]), timeout=10)
            return
        except grpc.RpcError as e:
            if retried and e.code() == grpc.StatusCode.ALREADY_EXISTS:
                return
            if (e.code() != grpc.StatusCode.UNAVAILABLE
                    or time.monotonic() > deadline):
                raise
            retried = True
            time.sleep(0.2)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nats-server", required=True)
    ap.add_argument("--banditd", required=True)
    ap.add_argument("--fault", default="kill-stream-leader",
                    choices=["kill-stream-leader", "stop-stream-leader",
                             "kill-meta-leader", "stop-meta-leader",
                             "kill-follower", "stop-follower", "none"])
    ap.add_argument("--rate", type=float, default=50,
                    help="calls per second per replica")
    ap.add_argument("--before", type=float, default=4)
    ap.add_argument("--down", type=float, default=10)
    ap.add_argument("--after", type=float, default=8)
    ap.add_argument("--call-deadline", type=float, default=5)
    ap.add_argument("--max-in-flight", type=int, default=200)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--nats-ping-interval", default="2m",
                    help="nats-server ping_interval (its default: 2m)")
    ap.add_argument("--nats-ping-max", type=int, default=2)
    ap.add_argument("--nats-write-deadline", default="10s",
                    help="nats-server write_deadline (its default: 10s)")
    ap.add_argument("--banditd-flag", action="append", default=[],
                    help="extra banditd flag (repeatable)")
    ap.add_argument("--nats-flag", action="append", default=[],
                    help="extra nats-server flag (repeatable), e.g. "
                    "--nats-flag=--raft_election_timeout_min=1s")
    args = ap.parse_args()

    workdir = tempfile.mkdtemp(prefix="banditd-fault.")
    cluster = Cluster(args, workdir)
    result = {"fault": args.fault, "nats_server": args.nats_server,
              "nats_ping_interval": args.nats_ping_interval,
              "nats_write_deadline": args.nats_write_deadline,
              "dir": workdir}
    try:
        cluster.up()
        with grpc.insecure_channel(
                f"127.0.0.1:{cluster.grpc_ports[0]}") as ch:
            stub = pb_grpc.BanditServiceStub(ch)
            create_room(stub)
        time.sleep(1)
        meta, leader = cluster.leaders()
        if args.fault.endswith("meta-leader") and meta == leader:
            nats_request(cluster.client_ports[0],
                         f"$JS.API.STREAM.LEADER.STEPDOWN.{STREAM}")
            for _ in range(50):
                time.sleep(0.2)
                meta, leader = cluster.leaders()
                if meta is not None and meta != leader:
                    break
        if args.fault.endswith("stream-leader"):
            victim = leader
        elif args.fault.endswith("meta-leader"):
            victim = meta
        else:
            victim = next((i for i in range(3) if i not in (meta, leader)),
                          None)
        result.update(meta_leader=f"nats{meta}", stream_leader=f"nats{leader}")
        if args.fault != "none" and (victim is None or
                                     (args.fault.endswith("meta-leader")
                                      and meta == leader)):
            raise RuntimeError(
                f"cannot choose a node for {args.fault}: meta nats{meta}, "
                f"stream leader nats{leader}")
        result["victim"] = f"nats{victim}" if victim is not None else None

        log_offsets = cluster.log_sizes()
        stop = threading.Event()
        t0 = time.monotonic()
        writers = [Writer(i, cluster.grpc_ports[i], args, stop, t0)
                   for i in range(3)]
        for w in writers:
            w.start()
        time.sleep(args.before)
        t_fault = time.monotonic() - t0
        if args.fault.startswith("kill"):
            cluster.nats[victim].kill()
            cluster.nats[victim].wait()
            time.sleep(args.down)
            cluster.start_nats(victim)
        elif args.fault.startswith("stop"):
            cluster.nats[victim].send_signal(signal.SIGSTOP)
            time.sleep(args.down)
            cluster.nats[victim].send_signal(signal.SIGCONT)
        else:
            time.sleep(args.down)
        t_recover = time.monotonic() - t0
        time.sleep(args.after)
        stop.set()
        t_end = time.monotonic() - t0
        for w in writers:
            w.join(timeout=10)
        # Let in-flight calls finish (bounded by their deadline).
        time.sleep(args.call_deadline + 0.5)

        gaps_at = [longest_gap(w.ok_times, args.before * 0.5, t_end)
                   for w in writers]
        gaps = [g for g, _ in gaps_at]
        worst_at = max(gaps_at)[1]
        errors = collections.Counter()
        messages = {}
        for w in writers:
            errors.update(w.errors)
            for k, v in w.first_message.items():
                messages.setdefault(k, v)
        lat = sorted(x for w in writers for x in w.latencies)
        err_lat = [x for w in writers for x in w.error_latencies]
        result.update(
            t_fault=round(t_fault, 2), t_recover=round(t_recover, 2),
            longest_gap_s=round(max(gaps), 3),
            gap_per_replica_s=[round(g, 3) for g in gaps],
            # When the worst gap began, from the fault (negative: before).
            gap_start_after_fault_s=round(worst_at - t_fault, 2),
            sent=sum(w.sent for w in writers),
            succeeded=sum(len(w.ok_times) for w in writers),
            errors=dict(errors), error_messages=messages,
            errors_per_replica=[dict(w.errors) for w in writers],
            latency_p50_ms=round(1000 * lat[len(lat) // 2], 1) if lat else None,
            latency_p99_ms=(round(1000 * lat[int(len(lat) * 0.99)], 1)
                            if lat else None),
            latency_max_ms=round(1000 * lat[-1], 1) if lat else None,
            error_latency_max_ms=(round(1000 * max(err_lat), 1)
                                  if err_lat else None),
            leader_changes=cluster.leader_changes(log_offsets),
            republished=cluster.republished())

        # Exactly once: retry every failed event with its id until it
        # succeeds (bounded), then every replica must count each event once.
        retried = 0
        pending = [(w, eid) for w in writers for eid in w.failed]
        for attempt in range(20):
            left = []
            for w, eid in pending:
                try:
                    w.stub.Feedback(pb.FeedbackRequest(events=[
                        pb.FeedbackEvent(room_id="fault", arm_id="a0",
                                         views=1, event_id=eid)]),
                        timeout=args.call_deadline)
                    retried += 1
                except grpc.RpcError:
                    left.append((w, eid))
            pending = left
            if not pending:
                break
            time.sleep(1)
        expected = sum(w.sent for w in writers)
        views = []
        seqs = []
        for _ in range(100):
            views, seqs = [], []
            for w in writers:
                s = w.stub.GetStats(pb.GetStatsRequest(room_id="fault"),
                                    timeout=5)
                views.append(int(sum(a.counts.views for a in s.arms)))
                seqs.append(s.applied_sequence)
            if len(set(seqs)) == 1:
                break
            time.sleep(0.1)
        # Stream size, for the capacity model (docs/SCALING.md).
        for i in range(3):
            try:
                z = cluster.jsz(i)
            except OSError:
                continue
            for acc in z.get("account_details", []) or []:
                for sd in acc.get("stream_detail", []) or []:
                    st = sd.get("state", {})
                    if sd.get("name") == STREAM and st.get("messages"):
                        result["stream_messages"] = st["messages"]
                        result["stream_bytes"] = st["bytes"]
                        result["bytes_per_record"] = round(
                            st["bytes"] / st["messages"], 1)
            if "stream_bytes" in result:
                break
        result.update(retried=retried, unretried=len(pending),
                      expected_views=expected, views=views,
                      applied_sequence=seqs,
                      exactly_once=all(v == expected for v in views)
                      and not pending)
    finally:
        cluster.down()
        if not args.keep and "exactly_once" in result:
            subprocess.run(["rm", "-rf", workdir], check=False)
    print("RESULT " + json.dumps(result))
    print(f"{args.fault}: longest write gap {result.get('longest_gap_s')} s "
          f"(per replica {result.get('gap_per_replica_s')}; began "
          f"{result.get('gap_start_after_fault_s')} s after the fault), "
          f"errors {result.get('errors')} (slowest "
          f"{result.get('error_latency_max_ms')} ms), leader changes "
          f"{result.get('leader_changes')}, re-sent copies "
          f"{result.get('republished')}, exactly once "
          f"{result.get('exactly_once')} (views {result.get('views')}, "
          f"expected {result.get('expected_views')})")
    return 0 if result.get("exactly_once") else 1


if __name__ == "__main__":
    sys.exit(main())
