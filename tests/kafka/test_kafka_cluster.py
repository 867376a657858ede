"""Kafka ingest in cluster mode: two replicas in one consumer group share a
topic's partitions; one is SIGKILLed mid-stream and the group hands its
partitions to the other, which resumes from the offsets replicated in the
JetStream records. Nothing is lost or counted twice."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path

import banditd

from conftest import REPO_ROOT, free_port, start_server
from test_kafka_ingest import event, kafka_flags, produce, views_and_clicks, wait_for


def nats_server() -> str:
    path = os.environ.get("NATS_SERVER") or shutil.which(
        "nats-server", path=f"{REPO_ROOT / '.tools' / 'bin'}:{os.environ.get('PATH', '')}")
    assert path, "nats-server is not installed: run scripts/setup.sh"
    return path


def test_rebalance_after_a_replica_dies_loses_and_doubles_nothing(broker, tmp_path: Path) -> None:
    port = free_port()
    nats = subprocess.Popen(
        [nats_server(), "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(tmp_path / "nats")],
        stdout=open(tmp_path / "nats.log", "wb"), stderr=subprocess.STDOUT)
    replicas = []
    try:
        topic, group, room = f"cl-{uuid.uuid4().hex[:8]}", f"g-{uuid.uuid4().hex[:8]}", "cl"
        broker.create_topic(topic, partitions=4)
        flags = [f"--cluster_nats=nats://127.0.0.1:{port}", "--cluster_replicas=1",
                 *kafka_flags(broker, topic, group, "--kafka_batch_events=20",
                              "--kafka_properties=session.timeout.ms=6000,"
                              "heartbeat.interval.ms=500")]
        for name in ("a", "b"):
            replicas.append(start_server(tmp_path / name, extra=flags))
        a, b = replicas
        with banditd.Client(a.target) as c:
            c.create_room(room, ["x", "y"])
        # b admits records against its own copy of the room.
        with banditd.Client(b.target) as c:
            wait_for(lambda: _has_room(c, room), 30, "the room on b")
        # Both replicas hold a share of the partitions before the kill.
        wait_for(lambda: "assigned" in a.log() and "assigned" in b.log(), 60, "both assigned")

        expected = {"x": [0, 0], "y": [0, 0]}
        records = []
        for i in range(6000):
            arm = "xy"[i % 2]
            clicks = 1 if i % 5 == 0 else 0
            expected[arm][0] += 1
            expected[arm][1] += clicks
            records.append((str(i).encode(), event(room, arm, 1, clicks), []))
        # Produced while b dies: half before, half after.
        producer = threading.Thread(target=lambda: produce(broker, topic, records[3000:]))
        produce(broker, topic, records[:3000])
        with banditd.Client(a.target) as c:
            wait_for(lambda: c.stats(room).total_views >= 1000, 60, "records applied")
        assigned_before = a.log().count("kafka: assigned")
        b.process.send_signal(signal.SIGKILL)
        b.process.wait(10)
        producer.start()
        producer.join()
        with banditd.Client(a.target) as c:
            wait_for(lambda: c.stats(room).total_views >= 6000, 120, "every record on a")
            time.sleep(1.0)
            got = views_and_clicks(c, room)
        assert got == {arm: (float(v), float(k)) for arm, (v, k) in expected.items()}
        assert a.log().count("kafka: assigned") > assigned_before, "a took over b's partitions"
    finally:
        for r in replicas:
            if r.process.poll() is None:
                r.stop()
        nats.terminate()
        nats.wait(10)


def _has_room(c: banditd.Client, room: str) -> bool:
    try:
        c.stats(room)
        return True
    except banditd.BanditdError:
        return False
