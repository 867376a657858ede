"""banditd's command line: --help lists its own flags, --version names the
version and commit, and --flagfile reads flags from a file."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BINARY = Path(os.environ.get("BANDITD_BINARY") or ROOT / "build" / "banditd")


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BINARY), *args], capture_output=True, text=True, timeout=30)


def test_help_lists_banditd_flags_with_their_text():
    result = run("--help")
    text = result.stdout + result.stderr
    assert "No flags matched" not in text
    assert "Flags from server/main.cc" in text
    # One of each file that defines flags (server/main.cc, server/flags/*):
    # a file the linker dropped or --help left out would lose its flags.
    for flag in ("--port", "--data_dir", "--http_port", "--tls_cert",
                 "--auth_tokens_file", "--durability", "--metrics_port",
                 "--max_rooms", "--cluster_nats", "--kafka_brokers"):
        assert f"    {flag} (" in text, flag
    assert "Directory of the SQLite database." in text
    # Abseil's own flags stay out of --help (they are in --helpfull).
    assert "--flagfile (" not in text


def test_version_prints_project_version_and_commit():
    result = run("--version")
    assert result.returncode == 0
    cmake = (ROOT / "CMakeLists.txt").read_text()
    version = re.search(r"project\(banditd VERSION (\S+)", cmake).group(1)
    m = re.fullmatch(r"banditd (\S+) \(git ([0-9a-f]{12}(-dirty)?|unknown)\)\n", result.stdout)
    assert m, result.stdout
    assert m.group(1) == version
    if m.group(2) != "unknown" and (ROOT / ".git").exists():
        # A commit of this repository (the build re-stamps it every time).
        commit = m.group(2).split("-")[0]
        known = subprocess.run(["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=ROOT)
        assert known.returncode == 0, commit


def test_flagfile_sets_flags(tmp_path: Path):
    flags = tmp_path / "banditd.flags"
    flags.write_text("--port=-5\n")
    result = run(f"--flagfile={flags}", f"--data_dir={tmp_path / 'data'}")
    assert result.returncode != 0
    assert "-5" in result.stderr
