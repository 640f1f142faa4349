"""One distribution, two import packages under the `cascade` namespace, from a built wheel."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.helpers import REPO_ROOT

# Slow: a wheel built and installed in a new virtual environment.
pytestmark = pytest.mark.slow


def test_a_built_wheel_installs_and_runs_without_the_source_tree(tmp_path: Path):
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "-w", str(dist), str(REPO_ROOT)],
        check=True,
    )  # fmt: skip
    [wheel] = dist.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "cascade/compiler/render/schema_module.py" in names
    assert "cascade/runtime/run.py" in names
    assert "cascade/__init__.py" not in names  # a PEP 420 namespace, shared with other dists

    target = tmp_path / "installed"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
         str(wheel)],
        check=True,
    )  # fmt: skip
    # -S skips site-packages' .pth files, so the editable install of this checkout is invisible;
    # the dependencies come from site-packages through PYTHONPATH.
    site_packages = sysconfig.get_paths()["purelib"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), site_packages])}
    probe = (
        "import cascade.compiler.cli, cascade.runtime\n"
        "print(cascade.compiler.cli.__file__)\nprint(cascade.runtime.__file__)\n"
    )
    where = subprocess.run(
        [sys.executable, "-S", "-c", probe], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert all(path.startswith(str(target)) for path in where), where

    script = target / "bin" / "cascade"
    check = subprocess.run(
        [sys.executable, "-S", str(script), "check", "--project", str(REPO_ROOT)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "up to date" in check.stdout
