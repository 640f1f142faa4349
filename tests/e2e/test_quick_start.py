"""The README's two commands, from a fresh clone in a new virtual environment."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests import readme
from tests.helpers import REPO_ROOT


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    # A clean environment: nothing from this test run's virtualenv or catalog configuration.
    env = {
        key: value
        for key, value in os.environ.items()
        if key != "VIRTUAL_ENV" and not key.startswith(("PYICEBERG_", "NIGHTSCOUT_", "DAGSTER_"))
    }
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(str(REPO_ROOT))
    )
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=1200)


@pytest.mark.slow
def test_readme_commands_work_from_a_fresh_clone(tmp_path: Path):
    # The README's quick start block, as written (its comments aside).
    block = readme.block("Quick start", "make demo", language="bash")
    commands = [line.partition("#")[0].split() for line in block.text.splitlines()]
    assert commands == [["make", "demo"], ["make", "test"]], block.text
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO_ROOT), str(clone)], check=True)

    demo = run(["make", "demo"], clone)
    assert demo.returncode == 0, demo.stdout[-4000:] + demo.stderr[-4000:]
    for day in ("2024-01-01", "2024-01-02", "2024-01-03"):
        assert re.search(rf"{day}: dlt_glucose_entries inserted=288 ", demo.stdout), demo.stdout
    assert "raw.glucose_entries: 864 rows" in demo.stdout
    assert (clone / ".cascade" / "catalog.db").is_file()  # the embedded default catalog

    # The test command, narrowed to one module (the whole suite is what runs this test).
    tests = run(["make", "test", "PYTEST_ARGS=tests/compiler/test_compiler_project.py -q"], clone)
    assert tests.returncode == 0, tests.stdout[-4000:] + tests.stderr[-4000:]
    assert re.search(r"\d+ passed", tests.stdout)
