"""README sections run as written.

* "TLS and tokens": its sh blocks (its own server on 50091, secrets and data
  in a temporary directory), then its Python snippet with this checkout's
  client, then its Go snippet as a complete program in the clients/go
  module, then the block that stops the server.
* "In short" (Python client): type-checks with mypy (pinned in
  clients/python/requirements-dev.txt).
(The "Call it over HTTP" and banditctl sections have their own tests in
tests/http and clients/python/tests.)
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
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
