"""Tokens and TLS against a real server (--auth_tokens_file, --tls_cert)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

import banditd
from conftest import REPO_ROOT, free_port, server_binary

TESTDATA = REPO_ROOT / "tests" / "testing" / "testdata"
ADMIN = "admin-token-python-0123456789"
CLIENT = "client-token-python-0123456789"


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("tls")
    tokens = tmp / "tokens"
    tokens.write_text(f"# role token\nadmin {ADMIN}\nclient {CLIENT}\n")
    port = free_port()
    log_path = tmp / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(server_binary()), f"--port={port}", f"--data_dir={tmp / 'data'}",
             f"--auth_tokens_file={tokens}", f"--tls_cert={TESTDATA / 'localhost.crt'}",
             f"--tls_key={TESTDATA / 'localhost.key'}"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    roots = (TESTDATA / "localhost.crt").read_bytes()
    target = f"localhost:{port}"
    with banditd.Client(target, root_certificates=roots, timeout=2.0) as c:
        deadline = time.monotonic() + 30
        while True:
            try:
                if c.health(timeout=1.0) == "SERVING":  # health needs no token
                    break
            except banditd.BanditdError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("banditd did not start:\n" + log_path.read_text())
            time.sleep(0.05)
    yield target, roots, log_path
    proc.terminate()
    proc.wait(15)


def test_tokens_and_roles_over_tls(tls_server, room_id):
    target, roots, log_path = tls_server
    with banditd.Client(target, root_certificates=roots, token=ADMIN) as admin, \
            banditd.Client(target, root_certificates=roots, token=CLIENT) as client, \
            banditd.Client(target, root_certificates=roots) as anonymous:
        with pytest.raises(banditd.UnauthenticatedError):
            anonymous.create_room(room_id, ["a", "b"])
        with pytest.raises(banditd.PermissionDeniedError):
            client.create_room(room_id, ["a", "b"])
        admin.create_room(room_id, ["a", "b"])
        client.feedback(room_id, "a", views=4, clicks=1)
        assert client.stats(room_id).total_views == 4
        with pytest.raises(banditd.UnauthenticatedError):
            anonymous.stats(room_id)
        with pytest.raises(banditd.PermissionDeniedError):
            client.delete_room(room_id)
        admin.delete_room(room_id)
    log = log_path.read_text()
    assert ADMIN not in log and CLIENT not in log


def test_plaintext_client_cannot_reach_tls_server(tls_server):
    target, _, _ = tls_server
    with banditd.Client(target, token=ADMIN, timeout=2.0) as c:
        with pytest.raises(banditd.BanditdError):
            c.health(timeout=2.0)


def test_async_client_sends_token(tls_server, room_id):
    import asyncio

    target, roots, _ = tls_server

    async def run():
        async with banditd.AsyncClient(target, root_certificates=roots, token=ADMIN) as c:
            await c.create_room(room_id, ["x"])
            await c.delete_room(room_id)

    asyncio.run(run())


def test_refuses_plaintext_off_loopback(tmp_path: Path):
    proc = subprocess.run(
        [str(server_binary()), "--host=0.0.0.0", "--port=0", f"--data_dir={tmp_path}"],
        capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0
    assert "--allow_insecure" in proc.stderr
