"""Kafka ingest against a real broker: exactly once across SIGKILL,
dead letters that never block a partition, and /metrics.

Events carry no event_id on purpose: the engine's de-duplication would hide
a record applied twice, and these tests must see it."""

from __future__ import annotations

import json
import re
import signal
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import banditd
from banditd.v1 import banditd_pb2 as pb
from confluent_kafka import Consumer, Producer

from conftest import Server, free_port, start_server


def produce(broker, topic: str, records: List[Tuple[Optional[bytes], bytes, list]]) -> None:
    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5, "acks": "all"})
    for key, value, headers in records:
        while True:
            try:
                p.produce(topic, value=value, key=key, headers=headers)
                break
            except BufferError:
                p.poll(0.1)
    assert p.flush(30) == 0


def event(room: str, arm: str, views: int, clicks: int) -> bytes:
    return json.dumps({"roomId": room, "armId": arm, "views": str(views),
                       "clicks": str(clicks)}).encode()


def views_and_clicks(client: banditd.Client, room: str) -> Dict[str, Tuple[float, float]]:
    return {a.arm_id: (a.counts.views, a.counts.clicks) for a in client.stats(room).arms}


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}; last {last!r}")


def kafka_flags(broker, topic: str, group: str, *more: str) -> List[str]:
    return [f"--kafka_brokers={broker.bootstrap}", f"--kafka_topics={topic}",
            f"--kafka_group={group}", *more]


def metric(port: int, name: str, labels: str = "") -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    m = re.search(rf"^{re.escape(name)}(?:{{{re.escape(labels)}}})? (\S+)$", text, re.M)
    return float(m.group(1)) if m else float("nan")


def test_sigkill_mid_stream_loses_and_doubles_nothing(broker, tmp_path: Path) -> None:
    topic, group, room = f"clicks-{uuid.uuid4().hex[:8]}", f"g-{uuid.uuid4().hex[:8]}", "kill"
    broker.create_topic(topic, partitions=2)
    # Small batches and frequent snapshots: the kill lands between many
    # commits, and recovery goes through a snapshot plus replay.
    metrics_port = free_port()
    # A small gathering bound: partitions pause and resume all along.
    flags = kafka_flags(broker, topic, group, "--kafka_batch_events=20",
                        "--kafka_max_gathered_events=60", "--snapshot_every_records=40",
                        f"--metrics_port={metrics_port}")
    first, second = 8000, 4000
    expected = {"a": [0, 0], "b": [0, 0]}

    def batch(n: int, start: int):
        out = []
        for i in range(start, start + n):
            arm = "ab"[i % 2]
            clicks = 1 if i % 3 == 0 else 0
            expected[arm][0] += 1
            expected[arm][1] += clicks
            out.append((str(i).encode(), event(room, arm, 1, clicks), []))
        return out

    data = tmp_path / "data"
    srv = start_server(data, extra=flags)
    with banditd.Client(srv.target) as c:
        c.create_room(room, ["a", "b"])
    produce(broker, topic, batch(first, 0))
    with banditd.Client(srv.target) as c:
        seen = wait_for(lambda: (sum(v for v, _ in views_and_clicks(c, room).values())
                                 if c.stats(room).total_views >= first * 0.15 else 0),
                        60, "the first records to apply")
    srv.process.send_signal(signal.SIGKILL)
    srv.process.wait(10)
    assert seen < first, "the kill must land mid-stream"

    srv = start_server(data, port=srv.port, extra=flags)
    try:
        assert "recovered from" in srv.log()
        produce(broker, topic, batch(second, first))
        total = first + second
        with banditd.Client(srv.target) as c:
            wait_for(lambda: c.stats(room).total_views >= total, 90, "every record")
            time.sleep(1.0)  # Anything applied twice would show by now.
            got = views_and_clicks(c, room)
        assert got == {arm: (float(v), float(k)) for arm, (v, k) in expected.items()}
        # The backlog outran the writer: partitions were paused and resumed
        # (backpressure) without a loss.
        assert metric(metrics_port, "banditd_kafka_partition_pauses_total") > 0
        assert metric(metrics_port, "banditd_kafka_records_total", 'outcome="rejected"') == 0
    finally:
        srv.stop()


def test_invalid_records_are_dead_lettered_and_the_partition_flows(broker, tmp_path: Path) -> None:
    topic, dlq = f"mixed-{uuid.uuid4().hex[:8]}", f"dlq-{uuid.uuid4().hex[:8]}"
    broker.create_topic(topic, partitions=1)
    broker.create_topic(dlq, partitions=1)
    metrics_port = free_port()
    srv = start_server(tmp_path / "data", extra=kafka_flags(
        broker, topic, f"g-{uuid.uuid4().hex[:8]}", f"--kafka_dead_letter_topic={dlq}",
        f"--metrics_port={metrics_port}"))
    try:
        room = "dl"
        with banditd.Client(srv.target) as c:
            c.create_room(room, ["a", "b"])
        binary = pb.FeedbackEvent(room_id=room, arm_id="b", views=3, clicks=1)
        batch = pb.FeedbackRequest(events=[
            pb.FeedbackEvent(room_id=room, arm_id="a", views=1),
            pb.FeedbackEvent(room_id=room, arm_id="b", views=1)])
        records = [
            (None, event(room, "a", 1, 1), []),                        # ok
            (None, b"{not json", []),                                   # bad JSON
            (None, event(room, "zzz", 1, 0), []),                       # unknown arm
            (None, event(room, "a", 1, 0), [("content-type", b"text/csv")]),
            (None, binary.SerializeToString(),
             [("content-type", b"application/x-protobuf")]),            # ok, binary
            (None, batch.SerializeToString(),
             [("content-type", b"application/x-protobuf"),
              ("banditd-message", b"FeedbackRequest")]),                # ok, 2 events
            (None, json.dumps({"events": [{"roomId": room, "armId": "a", "views": "2"}]}).encode(),
             []),                                                       # ok, JSON batch
            (None, event(room, "a", -1, 0), []),                        # negative views
        ] + [(None, event(room, "a", 1, 0), []) for _ in range(20)]    # ok, after them
        produce(broker, topic, records)
        with banditd.Client(srv.target) as c:
            wait_for(lambda: c.stats(room).total_views >= 1 + 3 + 2 + 2 + 20, 60, "valid records")
            got = views_and_clicks(c, room)
        assert got == {"a": (1 + 1 + 2 + 20, 1), "b": (3 + 1, 1)}

        consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "dlq-reader",
                             "auto.offset.reset": "earliest"})
        consumer.subscribe([dlq])
        dead = []
        deadline = time.monotonic() + 30
        while len(dead) < 4 and time.monotonic() < deadline:
            m = consumer.poll(0.5)
            if m is not None and m.error() is None:
                dead.append(m)
        consumer.close()
        assert len(dead) == 4
        by_offset = {}
        for m in dead:
            h = {k: v.decode() for k, v in (m.headers() or [])}
            assert h["banditd-source-topic"] == topic
            assert h["banditd-source-partition"] == "0"
            by_offset[int(h["banditd-source-offset"])] = (h["banditd-error-code"], h["banditd-error"], m.value())
        assert sorted(by_offset) == [1, 2, 3, 7]
        assert by_offset[1][0] == "INVALID_ARGUMENT" and by_offset[1][1].startswith("payload: ")
        assert by_offset[1][2] == b"{not json"  # the record as it was
        assert by_offset[2][0] == "NOT_FOUND" and by_offset[2][1].startswith("events[0].arm_id: ")
        assert by_offset[3][1].startswith("header content-type: ")
        assert by_offset[7][1].startswith("events[0].views: ")

        wait_for(lambda: metric(metrics_port, "banditd_kafka_records_total",
                                'outcome="dead_lettered"') == 4, 10, "dead-letter metric")
        assert metric(metrics_port, "banditd_kafka_records_total", 'outcome="applied"') == 24
        assert metric(metrics_port, "banditd_kafka_records_total", 'outcome="rejected"') == 4
        wait_for(lambda: metric(metrics_port, "banditd_kafka_position",
                                f'topic="{topic}",partition="0"') == len(records), 10, "position")
        assert metric(metrics_port, "banditd_kafka_consumer_lag_records",
                      f'topic="{topic}",partition="0"') == 0
    finally:
        srv.stop()


def test_records_for_a_room_created_late_wait_for_it(broker, tmp_path: Path) -> None:
    """A record whose room is not found is read again for
    --kafka_missing_room_wait before it is dead-lettered (a cluster replica
    may not have applied a room created elsewhere yet): records produced
    before their room exists are applied once it does, none dead-lettered."""
    topic, dlq = f"late-{uuid.uuid4().hex[:8]}", f"dlq-{uuid.uuid4().hex[:8]}"
    broker.create_topic(topic, partitions=1)
    broker.create_topic(dlq, partitions=1)
    metrics_port = free_port()
    srv = start_server(tmp_path / "data", extra=kafka_flags(
        broker, topic, f"g-{uuid.uuid4().hex[:8]}", f"--kafka_dead_letter_topic={dlq}",
        f"--metrics_port={metrics_port}", "--kafka_missing_room_wait=60s"))
    try:
        produce(broker, topic, [(None, event("late", "a", 1, i % 2), []) for i in range(5)])
        wait_for(lambda: metric(metrics_port, "banditd_kafka_missing_room_holds_total") >= 2,
                 30, "the first record held")
        with banditd.Client(srv.target) as c:
            c.create_room("late", ["a"])
            wait_for(lambda: views_and_clicks(c, "late") == {"a": (5, 2)}, 30,
                     "the held records applied")
        assert metric(metrics_port, "banditd_kafka_records_total", 'outcome="dead_lettered"') == 0
        assert metric(metrics_port, "banditd_kafka_records_total", 'outcome="rejected"') == 0
    finally:
        srv.stop()


def test_a_batch_refused_whole_is_retried_record_by_record(broker, tmp_path: Path) -> None:
    """Each record fits --max_segments_per_room alone, but not together: the
    committer refuses the gathered batch, the consumer seeks back to the
    logged position and submits the records one by one, so exactly the
    records past the limit are dead-lettered and the rest apply once."""
    topic, dlq = f"seg-{uuid.uuid4().hex[:8]}", f"dlq-{uuid.uuid4().hex[:8]}"
    broker.create_topic(topic)
    broker.create_topic(dlq)
    metrics_port = free_port()
    srv = start_server(tmp_path / "data", extra=kafka_flags(
        broker, topic, f"g-{uuid.uuid4().hex[:8]}", f"--kafka_dead_letter_topic={dlq}",
        "--kafka_linger=500ms", "--max_segments_per_room=3", f"--metrics_port={metrics_port}"))
    try:
        room = "seg"
        with banditd.Client(srv.target) as c:
            c.create_room(room, ["a"])
            produce(broker, topic, [
                (None, json.dumps({"roomId": room, "armId": "a", "segment": f"s{i}",
                                   "views": "1"}).encode(), [])
                for i in range(6)])
            wait_for(lambda: metric(metrics_port, "banditd_kafka_records_total",
                                    'outcome="dead_lettered"') == 3, 60, "3 dead letters")
            assert c.stats(room).total_views == 3
            for i in range(3):
                assert c.stats(room, f"s{i}")["a"].counts.views == 1
        assert metric(metrics_port, "banditd_kafka_batches_total", 'outcome="retried"') >= 1
        assert metric(metrics_port, "banditd_kafka_records_total", 'outcome="applied"') == 3
        consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "dlq-seg",
                             "auto.offset.reset": "earliest"})
        consumer.subscribe([dlq])
        dead = []
        deadline = time.monotonic() + 30
        while len(dead) < 3 and time.monotonic() < deadline:
            m = consumer.poll(0.5)
            if m is not None and m.error() is None:
                dead.append({k: v.decode() for k, v in m.headers()})
        consumer.close()
        assert sorted(int(h["banditd-source-offset"]) for h in dead) == [3, 4, 5]
        assert {h["banditd-error-code"] for h in dead} == {"RESOURCE_EXHAUSTED"}
        assert all("max_segments_per_room" in h["banditd-error"] for h in dead)
    finally:
        srv.stop()
