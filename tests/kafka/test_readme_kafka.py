"""README "Feed it from Kafka": its blocks as written, against the tests'
broker (its address swapped in for localhost:9092) and free ports."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import banditd
from confluent_kafka import Consumer

from conftest import REPO_ROOT, free_port
from test_kafka_ingest import wait_for


def test_readme_kafka_section_runs(broker, tmp_path: Path) -> None:
    text = (REPO_ROOT / "README.md").read_text()
    start = text.index("## Feed it from Kafka\n")
    section = text[start:re.compile(r"\n##+ ").search(text, start + 5).start()]
    [sh] = re.findall(r"```sh\n(.*?)```", section, re.S)
    [py] = re.findall(r"```python\n(.*?)```", section, re.S)
    for topic in ("clicks", "clicks-dead"):
        broker.create_topic(topic)
    port, metrics_port = free_port(), free_port()
    sh = (sh.replace("localhost:9092", broker.bootstrap)
            .replace("--port=50093", f"--port={port}")
            .replace("--metrics_port=9465", f"--metrics_port={metrics_port}"))
    sh = sh.replace("build/banditd", str(REPO_ROOT / "build" / "banditd"))
    # exec: the shell becomes the server, which terminate() then stops.
    server = subprocess.Popen(["bash", "-c", "exec " + sh.rstrip().rstrip("&")],
                              stdout=open(tmp_path / "server.log", "wb"),
                              stderr=subprocess.STDOUT)
    try:
        with banditd.Client(f"127.0.0.1:{port}", timeout=5) as c:
            wait_for(lambda: _serving(c), 30, "the server")
            c.create_room("home", ["red", "green"])
            (tmp_path / "produce.py").write_text(py.replace("localhost:9092", broker.bootstrap))
            run = subprocess.run([sys.executable, str(tmp_path / "produce.py")],
                                 capture_output=True, text=True, timeout=60)
            assert run.returncode == 0, run.stderr
            wait_for(lambda: c.stats("home")["red"].counts.views == 1, 30, "the first record")
        consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "readme",
                             "auto.offset.reset": "earliest"})
        consumer.subscribe(["clicks-dead"])
        deadline, m = time.monotonic() + 30, None
        while time.monotonic() < deadline:
            m = consumer.poll(0.5)
            if m is not None and m.error() is None:
                break
        consumer.close()
        assert m is not None and m.error() is None
        headers = dict(m.headers())
        assert headers["banditd-error"].decode() == (
            'events[1].arm_id: arm "blue" not found in room "home"')
        with banditd.Client(f"127.0.0.1:{port}", timeout=5) as c:
            # Dead-lettered, so processed: the batch was refused whole.
            assert c.stats("home")["green"].counts.views == 0
    finally:
        server.terminate()
        server.wait(10)


def _serving(c: banditd.Client) -> bool:
    try:
        return c.health(timeout=1) == "SERVING"
    except banditd.BanditdError:
        return False
