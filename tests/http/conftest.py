"""Fixtures for the HTTP/JSON API tests: the real banditd with --http_port.

Reuses the Python client tests' server launcher (clients/python/tests), so
every server gets free ports, its own data directory and a health check.
"""

from __future__ import annotations

import importlib.util
import json
import ssl
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "banditd_server_fixtures", REPO_ROOT / "clients" / "python" / "tests" / "conftest.py"
)
assert _spec is not None and _spec.loader is not None
fixtures = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = fixtures  # dataclasses look their module up
_spec.loader.exec_module(fixtures)

Server = fixtures.Server
start_server = fixtures.start_server
free_port = fixtures.free_port
server_binary = fixtures.server_binary
TESTDATA = REPO_ROOT / "tests" / "testing" / "testdata"


@dataclass
class Http:
    """A tiny JSON-over-HTTP caller (the standard library only)."""

    base: str
    token: Optional[str] = None
    context: Optional[ssl.SSLContext] = None

    def call(self, method: str, path: str, body: Any = None,
             raw: Optional[bytes] = None,
             headers: Optional[Dict[str, str]] = None) -> Tuple[int, Any]:
        data = raw if raw is not None else (
            None if body is None else json.dumps(body).encode())
        request = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        for k, v in (headers or {}).items():
            request.add_header(k, v)
        try:
            with urllib.request.urlopen(request, timeout=10, context=self.context) as r:
                status, text = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read()
        return status, (json.loads(text) if text else None)

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        status, reply = self.call(method, path, body)
        assert status == 200, (method, path, status, reply)
        return reply


@dataclass
class HttpServer:
    server: Server
    http_port: int

    @property
    def http(self) -> Http:
        return Http(f"http://127.0.0.1:{self.http_port}")


def start_http_server(data_dir: Path, extra: List[str] = ()) -> HttpServer:
    last: Optional[Exception] = None
    for _ in range(3):  # a free port can be taken between probe and bind
        http_port = free_port()
        try:
            srv = start_server(data_dir, extra=[f"--http_port={http_port}", *extra])
            return HttpServer(srv, http_port)
        except RuntimeError as e:
            last = e
    raise RuntimeError(f"cannot start banditd with --http_port: {last}")


@pytest.fixture(scope="module")
def http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    srv = start_http_server(tmp_path_factory.mktemp("http") / "data")
    yield srv
    srv.server.stop()


@pytest.fixture
def http(http_server: HttpServer) -> Http:
    return http_server.http
