"""Runs the README's "Call it over HTTP" section as written.

Its sh blocks run in order in one bash (the first starts the section's own
server in the background, the last stops it), from the repository root.
"""

from __future__ import annotations

import re
import subprocess

from conftest import REPO_ROOT, server_binary


def section_blocks(title: str) -> list[str]:
    text = (REPO_ROOT / "README.md").read_text()
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    section = text[start:end if end != -1 else len(text)]
    return re.findall(r"```sh\n(.*?)```", section, flags=re.S)


def test_readme_http_section_runs():
    server_binary()  # fails clearly when the binary is not built
    blocks = section_blocks("Call it over HTTP")
    assert len(blocks) == 4
    script = "set -euo pipefail\n" + "\n".join(blocks)
    run = subprocess.run(["bash", "-c", script], cwd=REPO_ROOT, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert '"roomId":"http-home"' in out
    assert '"decisionId"' in out
    assert '"appliedEvents":"2"' in out
    assert '"totalViews":2' in out
    assert re.search(r'"code":5.*http-nowhere.*\n HTTP 404', out, re.S), out
