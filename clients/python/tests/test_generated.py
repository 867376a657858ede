"""The committed stubs (Python and Go) match proto/ and the pinned generators,
and the package ships them."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from conftest import REPO_ROOT


def test_generated_stubs_are_up_to_date() -> None:
    proc = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "gen_clients.sh"), "--check"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, (
        "stubs are stale: run scripts/gen_clients.sh and commit\n" + proc.stdout + proc.stderr
    )


def test_stubs_importable_as_banditd_v1() -> None:
    from banditd.v1 import banditd_pb2, banditd_pb2_grpc

    assert banditd_pb2.DESCRIPTOR.package == "banditd.v1"
    assert hasattr(banditd_pb2_grpc, "BanditServiceStub")


def test_wheel_contains_stubs_and_types(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(REPO_ROOT / "clients" / "python")],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    wheel = next(tmp_path.glob("banditd-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for f in ["banditd/__init__.py", "banditd/_client.py", "banditd/_aio.py", "banditd/py.typed",
              "banditd/v1/banditd_pb2.py", "banditd/v1/banditd_pb2.pyi", "banditd/v1/banditd_pb2_grpc.py"]:
        assert f in names, f
