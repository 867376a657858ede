"""The client as a user installs it: `python -m build` makes a wheel and an
sdist, the wheel installs into a fresh virtual environment, and client tests
pass there against the installed copy (not this checkout's sources).

Kept fast and offline: the build uses this environment's setuptools
(--no-isolation), and the fresh environment sees the already-installed
dependencies (grpcio, protobuf, pytest...) through a .pth line instead of
downloading them; the wheel itself is installed with --no-deps, and its
declared dependencies are checked against the wheel's metadata.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import tarfile
import venv
import zipfile
from pathlib import Path

from conftest import REPO_ROOT, Server

PACKAGE = REPO_ROOT / "clients" / "python"


def test_wheel_and_sdist_install_and_pass_the_client_tests(tmp_path: Path, server: Server):
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--wheel", "--sdist",
                    "--outdir", str(dist), str(PACKAGE)],
                   check=True, capture_output=True, timeout=300)
    wheel = next(dist.glob("banditd-*.whl"))
    sdist = next(dist.glob("banditd-*.tar.gz"))

    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        meta = z.read(next(n for n in names if n.endswith("METADATA"))).decode()
        entry_points = z.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    for needed in ("banditd/cli.py", "banditd/py.typed", "banditd/v1/banditd_pb2.py",
                   "banditd/v1/banditd_pb2.pyi"):
        assert needed in names, needed
    assert "banditctl = banditd.cli:main" in entry_points
    for dep in ("grpcio", "protobuf", "googleapis-common-protos"):
        assert f"Requires-Dist: {dep}" in meta, dep
    with tarfile.open(sdist) as t:
        members = {m.name.split("/", 1)[1] for m in t.getmembers() if "/" in m.name}
    assert {"pyproject.toml", "src/banditd/cli.py", "src/banditd/v1/banditd_pb2.pyi"} <= members

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    # The dependencies, from this environment; not this checkout's banditd.
    (Path(site) / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                    "--no-deps", "--no-index", "--disable-pip-version-check", str(wheel)],
                   check=True, capture_output=True, timeout=120)
    where = subprocess.run([str(python), "-c", "import banditd; print(banditd.__file__)"],
                           check=True, capture_output=True, text=True, cwd=tmp_path).stdout
    assert where.startswith(site), where
    assert (env_dir / "bin" / "banditctl").exists()

    env = dict(os.environ, BANDITD_BINARY=str(server_binary_of(server)))
    run = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider",
         str(PACKAGE / "tests" / "test_client.py"), str(PACKAGE / "tests" / "test_banditctl.py")],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert " passed" in run.stdout


def server_binary_of(server: Server) -> str:
    return server.process.args[0]
