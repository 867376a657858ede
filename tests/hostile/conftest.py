"""Fixtures for the hostile-client suite: the real banditd binary, attacked.

Reuses the Python client tests' server launcher (clients/python/tests), so
every server gets a free port, its own data directory and a health check.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Iterator

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "banditd_server_fixtures", REPO_ROOT / "clients" / "python" / "tests" / "conftest.py"
)
assert _spec is not None and _spec.loader is not None
fixtures = importlib.util.module_from_spec(_spec)
# Registered before it runs: its dataclasses look their module up by name.
sys.modules[_spec.name] = fixtures
_spec.loader.exec_module(fixtures)

Server = fixtures.Server
start_server = fixtures.start_server
free_port = fixtures.free_port
server_binary = fixtures.server_binary


def rss_bytes(pid: int) -> int:
    """Resident set size of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[Server]:
    """A server of its own, for tests that restart, flood or kill it."""
    srv = start_server(tmp_path / "data")
    yield srv
    srv.stop()
