"""Fixtures that run the real banditd binary.

The binary is $BANDITD_BINARY, or build/banditd at the repository root. Each
server gets a free port on 127.0.0.1 and its own temporary data directory, and
is ready once the gRPC health service reports SERVING.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Optional

import pytest

import banditd

REPO_ROOT = Path(__file__).resolve().parents[3]


def server_binary() -> Path:
    path = Path(os.environ.get("BANDITD_BINARY") or REPO_ROOT / "build" / "banditd")
    if not path.exists():
        pytest.fail(f"banditd binary not found at {path}; build it with scripts/build.sh "
                    "or set BANDITD_BINARY")
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    process: subprocess.Popen
    port: int
    data_dir: Path
    log_path: Path

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 15.0) -> Optional[int]:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode


def start_server(data_dir: Path, port: Optional[int] = None, extra: List[str] = ()) -> Server:
    binary = server_binary()
    data_dir.mkdir(parents=True, exist_ok=True)
    last_error = ""
    for _ in range(3):  # a free port can be taken between probe and bind
        p = port or free_port()
        log_path = data_dir.parent / f"{data_dir.name}-server-{p}.log"
        log = open(log_path, "wb")
        proc = subprocess.Popen(
            [str(binary), f"--port={p}", f"--data_dir={data_dir}", *extra],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        server = Server(proc, p, data_dir, log_path)
        with banditd.Client(server.target, timeout=2.0) as c:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    if c.health(timeout=1.0) == "SERVING":
                        return server
                except banditd.BanditdError:
                    pass
                time.sleep(0.05)
        server.stop()
        last_error = server.log()
        if port:
            break
    raise RuntimeError(f"banditd did not become SERVING; log:\n{last_error}")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One banditd shared by the session (tests use unique room ids)."""
    srv = start_server(tmp_path_factory.mktemp("banditd") / "data")
    yield srv
    srv.stop()


@pytest.fixture
def client(server: Server) -> Iterator[banditd.Client]:
    with banditd.Client(server.target) as c:
        yield c


@pytest.fixture
def room_id() -> str:
    """A room id no other test uses."""
    return f"t-{uuid.uuid4().hex[:12]}"
