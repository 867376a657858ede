"""Fixtures of the Kafka ingest tests: one real KRaft broker for the session
(tests/kafka/broker.py) and the real banditd binary (the Python client
tests' launcher)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Iterator

import pytest

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

from broker import Broker  # noqa: E402

_spec = importlib.util.spec_from_file_location(
    "banditd_server_fixtures", REPO_ROOT / "clients" / "python" / "tests" / "conftest.py"
)
assert _spec is not None and _spec.loader is not None
fixtures = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = fixtures
_spec.loader.exec_module(fixtures)

Server = fixtures.Server
start_server = fixtures.start_server
free_port = fixtures.free_port


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    # With SASL and TLS listeners beside the plain one (test_kafka_security).
    b = Broker(tmp_path_factory.mktemp("kafka"), secure=True)
    b.start()
    yield b
    b.stop()
