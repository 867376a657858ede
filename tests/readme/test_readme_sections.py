"""README sections run as written.

* "TLS and tokens": its sh blocks (its own server on 50091, secrets and data
  in a temporary directory), then its Python snippet with this checkout's
  client, then its Go snippet as a complete program in the clients/go
  module, then the block that stops the server.
* "In short" (Python client): runs against a server of its own, and
  type-checks with mypy --strict (pinned in clients/python/requirements-dev.txt).
* "Metrics": runs as written (its own server on 50092 / 9464).
* "Quick start": scripts/serve.sh as written (setup_server.sh, the Release
  build in build-release/, then the server), with free ports and a temporary
  data directory appended as its banditd arguments; checked with real calls
  over HTTP, stopped with SIGTERM.
* "Scale out with NATS JetStream": runs as written (3 nats-server nodes of
  .tools/bin, 3 replicas, on the block's own ports), its cluster recorded in a
  temporary state file; scripts/cluster_down.sh runs whatever happens.
* "Install as a Debian package": scripts/test_deb.sh (part "deb" of
  scripts/test.sh, as root) reads the block from this README and runs it.
* Every other block: README_BLOCKS says where it runs, or why it does not.
(The "Call it over HTTP" and banditctl sections have their own tests in
tests/http and clients/python/tests.)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYTHON = ROOT / ".venv" / "bin" / "python"


def section(title: str) -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index(f"{title}\n")
    # Up to the next heading (outside code blocks a heading starts "## ").
    end = re.compile(r"\n##+ ").search(text, start + len(title))
    return text[start:end.start() if end else len(text)]


def blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.S)


def go_binary() -> str:
    return shutil.which("go") or "/usr/local/go/bin/go"


def test_tls_section_runs(tmp_path: Path):
    text = section("### TLS and tokens")
    sh, py, go = blocks(text, "sh"), blocks(text, "python"), blocks(text, "go")
    assert (len(sh), len(py), len(go)) == (2, 1, 1)
    # The Go program goes into the clients/go module (a "_" directory: not
    # part of ./... patterns), removed afterwards.
    go_dir = ROOT / "clients" / "go" / f"_readme_{uuid.uuid4().hex[:8]}"
    go_dir.mkdir()
    (go_dir / "main.go").write_text(go[0])
    (tmp_path / "snippet.py").write_text(py[0])
    script = "\n".join([
        "set -euo pipefail",
        sh[0],
        f'"{PYTHON}" "{tmp_path / "snippet.py"}"',
        f'(cd "{go_dir}" && "{go_binary()}" run ./main.go)',
        sh[1],
    ])
    try:
        run = subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True,
                             text=True, timeout=300)
    finally:
        shutil.rmtree(go_dir)
    out = run.stdout
    assert run.returncode == 0, out + run.stderr
    assert '"room_id": "tls-home"' in out  # grpcurl CreateRoom, with the admin token
    assert re.search(r"\['(red|green)'\]", out), out  # Python, with the client token
    assert re.search(r"^show (red|green)$", out, re.M), out  # Go
    # Nothing was written into the checkout.
    assert not (ROOT / "server.key").exists() and not (ROOT / "tokens").exists()


def test_in_short_python_snippet_type_checks(tmp_path: Path):
    text = section("## Python client and notebooks")
    [snippet] = blocks(text, "python")
    path = tmp_path / "in_short.py"
    path.write_text(snippet)
    run = subprocess.run(
        [str(PYTHON), "-m", "mypy", "--strict", "--follow-imports=silent",
         "--ignore-missing-imports", "--no-incremental", str(path)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Success" in run.stdout


def test_metrics_section_runs():
    [script] = blocks(section("### Metrics"), "sh")
    # As a user's shell runs it: -e, but no pipefail (`| head` may close
    # the pipe early). promtool's exit status is the pipeline's.
    run = subprocess.run(["bash", "-eu", "-c", script], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "banditd_store_recovery_replayed_records 0" in run.stdout


def test_in_short_python_snippet_runs(tmp_path: Path):
    """The snippet as written, against a server of its own (its address
    swapped in for localhost:50051)."""
    sys.path.insert(0, str(ROOT / "clients" / "python" / "tests"))
    try:
        from conftest import start_server  # the client tests' launcher
    finally:
        sys.path.pop(0)
    [snippet] = blocks(section("## Python client and notebooks"), "python")
    server = start_server(tmp_path / "data")
    try:
        code = snippet.replace('"localhost:50051"', f'"{server.target}"')
        assert code != snippet
        code += "\nprint(client.stats('py-home').to_dataframe()['clicks'].sum())\n"
        (tmp_path / "in_short.py").write_text(code)
        run = subprocess.run([str(PYTHON), str(tmp_path / "in_short.py")],
                             capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr
        assert run.stdout.strip() == "1.0"
    finally:
        server.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def post_json(url: str, body: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as reply:
        return json.loads(reply.read())


def test_quick_start_serve_sh_runs(tmp_path: Path):
    """scripts/serve.sh as the Quick start gives it, its arguments (banditd's,
    later flags win) moving it to free ports and a temporary data directory.
    The first run builds build-release/ (minutes; a no-op after)."""
    [block] = blocks(section("## Quick start"), "sh")
    command = block.split("#", 1)[0].strip()
    assert command == "scripts/serve.sh", block
    port, http_port = free_port(), free_port()
    log = tmp_path / "serve.log"
    with open(log, "w") as out:
        # serve.sh execs banditd: the process is the server.
        server = subprocess.Popen(
            ["bash", "-c", f'exec {command} "$@"', "serve.sh", f"--port={port}",
             f"--http_port={http_port}", f"--data_dir={tmp_path / 'data'}"],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 1500
        while f"serving on 127.0.0.1:{port}" not in log.read_text():
            assert server.poll() is None, log.read_text()[-4000:]
            assert time.monotonic() < deadline, log.read_text()[-4000:]
            time.sleep(0.5)
        text = log.read_text()
        assert "[setup-server]" in text and "[build-server]" in text, text[-4000:]
        cache = (ROOT / "build-release" / "CMakeCache.txt").read_text()
        assert "CMAKE_BUILD_TYPE:STRING=Release" in cache
        base = f"http://127.0.0.1:{http_port}"
        for _ in range(100):  # the HTTP listener starts beside gRPC's
            try:
                urllib.request.urlopen(f"{base}/openapi.json", timeout=5).close()
                break
            except OSError:
                time.sleep(0.1)
        created = post_json(f"{base}/v1/rooms", {"roomId": "serve-home",
                                                 "armIds": ["red", "green"]})
        assert created["room"]["roomId"] == "serve-home", created
        sampled = post_json(f"{base}/v1/rooms/serve-home:sample", {"k": 1})
        assert sampled["arms"][0]["armId"] in ("red", "green"), sampled
        assert (tmp_path / "data" / "banditd.db").exists()
    finally:
        server.send_signal(signal.SIGTERM)
        rc = server.wait(timeout=60)
    assert rc == 0, log.read_text()[-4000:]


def test_nats_cluster_section_runs(tmp_path: Path):
    [script] = blocks(section("## Scale out with NATS JetStream"), "sh")
    env = dict(os.environ,
               PATH=f"{ROOT / '.tools' / 'bin'}:{os.environ['PATH']}",
               CLUSTER_STATE=str(tmp_path / "cluster.dir"))
    busy = []
    for port in [14222, 14223, 14224, 16222, 16223, 16224,
                 15061, 15062, 15063, 9161, 9162, 9163]:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                busy.append(port)
    assert not busy, f"the README cluster's ports are taken: {busy}"
    try:
        # As a user's shell runs it: -e, no pipefail (grep | ...).
        run = subprocess.run(["bash", "-eu", "-c", script], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=300)
    finally:
        subprocess.run(["bash", "scripts/cluster_down.sh"], cwd=ROOT, env=env,
                       capture_output=True, timeout=120)
    out = run.stdout
    assert run.returncode == 0, out + run.stderr
    assert '"room_id": "shop"' in out  # CreateRoom on the first replica
    # GetStats on the third replica has the write made on the second.
    stats = out[out.rindex('"room_id": "shop"'):]
    assert re.search(r'"arm_id": "a",\s*"enabled": true,\s*"counts": \{\s*"views": 1,\s*"clicks": 1',
                     stats), stats
    assert re.search(r'^banditd_cluster_applied_sequence\{stream="BANDITD_EVENTS"\} [1-9]',
                     out, re.M), out
    assert "cluster down" in out
    # The recommended NATS build (scripts/setup.sh builds it) ran the nodes.
    assert "nats-server-tuned: v" in out, out


# Every code block of the README: where it runs as written, or why it does
# not. Keyed by (heading, first line of the block); a new block fails
# test_every_readme_block_is_accounted_for until it is listed here.
RUN = "runs in "
NOT_RUN = "not run: "
README_BLOCKS = {
    ("## Quick start", "scripts/serve.sh"):
        RUN + "tests/readme (test_quick_start_serve_sh_runs)",
    ("## Python client and notebooks", "scripts/serve.sh &"):
        RUN + "clients/python/tests/test_example.py (the walkthrough, against a "
        "test server instead of serve.sh's)",
    ("## Python client and notebooks", "import banditd"):
        RUN + "tests/readme (test_in_short_python_snippet_runs, _type_checks)",
    ("## Command line: banditctl", "banditctl rooms create"):
        RUN + "clients/python/tests/test_banditctl.py::test_readme_banditctl_section_runs",
    ("## Inspect with grpcurl", "export PATH="):
        RUN + "clients/python/tests/test_grpcurl.py::test_readme_commands_run_as_written",
    ("## Call it over HTTP", "DATA=$(mktemp -d)"): RUN + "tests/http/test_readme_http.py",
    ("## Call it over HTTP", "curl -s -X POST"): RUN + "tests/http/test_readme_http.py",
    ("## Call it over HTTP", "curl -s -w"): RUN + "tests/http/test_readme_http.py",
    ("## Call it over HTTP", "kill %1"): RUN + "tests/http/test_readme_http.py",
    ("### TLS and tokens", "export PATH="): RUN + "tests/readme (test_tls_section_runs)",
    ("### TLS and tokens", "import os"): RUN + "tests/readme (test_tls_section_runs)",
    ("### TLS and tokens", "package main"): RUN + "tests/readme (test_tls_section_runs)",
    ("### TLS and tokens", "kill \"$TLS_SERVER\""): RUN + "tests/readme (test_tls_section_runs)",
    ("### Install as a Debian package", "bash scripts/build_server.sh"):
        RUN + "scripts/test_deb.sh (part deb of scripts/test.sh: needs root, "
        "installs the package, checks and purges it)",
    ("### Metrics", "build/banditd --port=50092"):
        RUN + "tests/readme (test_metrics_section_runs)",
    ("## Scale out with NATS JetStream", "scripts/cluster_up.sh"):
        RUN + "tests/readme (test_nats_cluster_section_runs)",
    ("## Feed it from Kafka", "build/banditd --port=50093"):
        RUN + "tests/kafka/test_readme_kafka.py (against the tests' broker)",
    ("## Feed it from Kafka", "import json"):
        RUN + "tests/kafka/test_readme_kafka.py (against the tests' broker)",
    ("## Simulate and evaluate offline", "# Both paths"):
        RUN + "clients/python/tests/test_sim.py (simulate.py both paths, smaller runs)",
    ("## Simulate and evaluate offline", ".venv/bin/python scripts/make_offline_dataset.py"):
        RUN + "clients/python/tests/test_offline.py (smaller runs)",
}


def test_every_readme_block_is_accounted_for():
    text = (ROOT / "README.md").read_text()
    headings = [(m.start(), m.group(0)) for m in re.finditer(r"^#{2,3} .*$", text, re.M)]
    found = set()
    for m in re.finditer(r"```\w*\n(.*?)```", text, re.S):
        heading = [h for at, h in headings if at < m.start()][-1]
        first = m.group(1).split("\n", 1)[0]
        keys = [k for k in README_BLOCKS if k[0] == heading and first.startswith(k[1])]
        assert keys, f"README block under {heading!r} starting {first!r} is not in README_BLOCKS"
        found.add(keys[0])
    assert found == set(README_BLOCKS), set(README_BLOCKS) - found
    for where in README_BLOCKS.values():
        if where.startswith(RUN):
            path = where[len(RUN):].split(" ")[0].split("::")[0]
            assert (ROOT / path).exists(), path
